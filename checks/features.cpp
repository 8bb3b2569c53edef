// Kernel features that meet ODF's shared tables: THP, KSM, userfaultfd
// write-protect, /proc readers that walk page tables, io_uring's
// ring mmap, and a multithreaded parent that writes while it forks.
#include <atomic>
#include <fstream>
#include <linux/io_uring.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <thread>
#include <vector>

#include "check_util.h"
#include "base/sysinfo.h"

namespace odfb::checks {
namespace {

// Reads a whole file the way `cat` would; returns bytes read, or -errno.
long slurp(const std::string &path)
{
	int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char buf[65536];
	long total = 0;
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += n;
	close(fd);
	return n < 0 ? -errno : total;
}

}  // namespace

ODFBENCH_CHECK({"thp", "features", "a THP region (MADV_HUGEPAGE) stays isolated across fork", [](CheckCtx &ctx) {
			std::string mode = read_text("/sys/kernel/mm/transparent_hugepage/enabled");
			if (mode.find("[never]") != std::string::npos || mode.empty())
				return unsupported("transparent hugepages are off (never) or absent");
			Region r(4 * kWindow, 1, 0, false);
			madvise(r.p(), r.bytes(), MADV_HUGEPAGE);
			fill_pages(r.p(), r.bytes(), 1);
			return op_after_fork(
				ctx, r,
				[](Region &r) {
					for (uint64_t i : edge_pages(r.pages()))
						set_page(r.p(), i, 2);
					return std::string();
				},
				[&](uint64_t i) { return edge_pages(r.pages()).count(i) ? 2 : 1; });
		}})

ODFBENCH_CHECK({"ksm", "features", "KSM merges identical pages of an ODF child; writes afterwards stay private", [](CheckCtx &ctx) {
			std::string run = read_text("/sys/kernel/mm/ksm/run");
			if (run.empty())
				return unsupported("no KSM in this kernel (/sys/kernel/mm/ksm absent)");
			bool started = false;
			if (run[0] != '1') {
				// ksmd is host-wide: only started inside an odfbench VM.
				if (!ctx.in_vm())
					return unsupported("ksmd is not running, and odfbench does not start it outside `odfbench vm`");
				write_text("/sys/kernel/mm/ksm/pages_to_scan", "5000");
				write_text("/sys/kernel/mm/ksm/sleep_millisecs", "10");
				started = write_text("/sys/kernel/mm/ksm/run", "1");
			}
			Region r(2 * kWindow, 1, 0, false);
			memset(r.p(), 0x5a, r.bytes());  // identical pages: mergeable
			std::string f = ctx.in_child([&]() -> std::string {
				if (madvise(r.p(), r.bytes(), MADV_MERGEABLE) != 0)
					return fmt::format("madvise(MADV_MERGEABLE): {}", strerror(errno));
				uint64_t t0 = now_ns();
				long sharing = 0;
				while (now_ns() - t0 < 15'000'000'000ull) {
					sharing = std::atol(read_text("/sys/kernel/mm/ksm/pages_sharing").c_str());
					if (sharing > 0)
						break;
					usleep(50000);
				}
				if (sharing == 0)
					return "ksmd merged nothing within 15 s";
				r.p()[page_size() * 3] = 0x11;
				for (uint64_t i = 0; i < r.pages(); ++i)
					for (uint64_t b = 0; b < static_cast<uint64_t>(page_size()); b += 512)
						if (r.p()[i * page_size() + b] != (i == 3 && b == 0 ? 0x11 : 0x5a))
							return fmt::format("the child sees byte {} of page {} wrong after KSM merged", b, i);
				return std::string();
			});
			std::string g;
			for (uint64_t i = 0; i < r.bytes() && g.empty(); i += 512)
				if (r.p()[i] != 0x5a)
					g = fmt::format("the parent sees byte {} changed", i);
			if (started)
				write_text("/sys/kernel/mm/ksm/run", "2");  // unmerge everything and stop again
			return verdict_of(first_of({f, g}));
		}})

ODFBENCH_CHECK({"uffd-wp", "features", "userfaultfd write-protect in an ODF child delivers the fault, then the write lands",
		[](CheckCtx &ctx) {
			Region r(2 * kWindow);
			// Is uffd-wp there at all?  Asked in a throwaway fd before forking.
			int probe = static_cast<int>(syscall(__NR_userfaultfd, O_CLOEXEC));
			if (probe < 0)
				return unsupported(fmt::format("userfaultfd: {}", strerror(errno)));
			uffdio_api api = {.api = UFFD_API, .features = UFFD_FEATURE_PAGEFAULT_FLAG_WP, .ioctls = 0};
			bool wp = ioctl(probe, UFFDIO_API, &api) == 0 && (api.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP);
			close(probe);
			if (!wp)
				return unsupported("userfaultfd has no write-protect feature here");
			std::string f = ctx.in_child([&]() -> std::string {
				int uffd = static_cast<int>(syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK));
				uffdio_api a = {.api = UFFD_API, .features = UFFD_FEATURE_PAGEFAULT_FLAG_WP, .ioctls = 0};
				if (uffd < 0 || ioctl(uffd, UFFDIO_API, &a) != 0)
					return fmt::format("userfaultfd setup: {}", strerror(errno));
				uffdio_register reg = {.range = {reinterpret_cast<uintptr_t>(r.p()), r.bytes()},
						       .mode = UFFDIO_REGISTER_MODE_WP, .ioctls = 0};
				if (ioctl(uffd, UFFDIO_REGISTER, &reg) != 0)
					return fmt::format("UFFDIO_REGISTER(WP): {}", strerror(errno));
				uffdio_writeprotect wpr = {.range = {reinterpret_cast<uintptr_t>(r.p()), r.bytes()},
							   .mode = UFFDIO_WRITEPROTECT_MODE_WP};
				if (ioctl(uffd, UFFDIO_WRITEPROTECT, &wpr) != 0)
					return fmt::format("UFFDIO_WRITEPROTECT: {}", strerror(errno));
				uint64_t target = r.pages() / 2 + 1;  // in the second table
				std::atomic<bool> written{false};
				std::thread writer([&] {
					set_page(r.p(), target, 13);
					written = true;
				});
				pollfd p = {uffd, POLLIN, 0};
				std::string err;
				if (poll(&p, 1, 5000) != 1) {
					err = written ? "the write went through a write-protected page: no fault was delivered"
						      : "no write-protect fault within 5 s";
				} else {
					uffd_msg msg;
					if (read(uffd, &msg, sizeof(msg)) != sizeof(msg) || msg.event != UFFD_EVENT_PAGEFAULT ||
					    !(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP))
						err = "the event was not a write-protect fault";
					else if (msg.arg.pagefault.address / page_size() != reinterpret_cast<uintptr_t>(r.page(target)) / page_size())
						err = fmt::format("the fault named page {:#x}, not the written one",
								  static_cast<uint64_t>(msg.arg.pagefault.address));
					else if (written)
						err = "the write completed before the fault was resolved";
				}
				uffdio_writeprotect un = {.range = {reinterpret_cast<uintptr_t>(r.p()), r.bytes()}, .mode = 0};
				ioctl(uffd, UFFDIO_WRITEPROTECT, &un);
				writer.join();
				close(uffd);
				return first_of({err, expect_pages(r.p(), r.pages(), [&](uint64_t i) { return i == target ? 13 : 1; },
								  "the child")});
			});
			return verdict_of(first_of({f, expect_pages(r.p(), r.pages(), [](uint64_t) { return 1; }, "the parent")}));
		}})

ODFBENCH_CHECK({"proc-readers", "features",
		"reading smaps, smaps_rollup, pagemap and numa_maps of an ODF child (and parent) loses no mapping", [](CheckCtx &ctx) {
			Region r(4 * kWindow);
			auto read_all_views = [&](pid_t pid) -> std::string {
				for (const char *f : {"smaps", "smaps_rollup", "numa_maps"}) {
					long n = slurp(fmt::format("/proc/{}/{}", pid, f));
					if (n < 0 && n != -ENOENT)
						return fmt::format("reading /proc/{}/{} failed: {}", pid, f, strerror(static_cast<int>(-n)));
				}
				// pagemap spans the whole address space: read the region's entries.
				int fd = open(fmt::format("/proc/{}/pagemap", pid).c_str(), O_RDONLY | O_CLOEXEC);
				if (fd < 0)
					return fmt::format("opening /proc/{}/pagemap failed: {}", pid, strerror(errno));
				std::vector<uint64_t> e(r.pages());
				off_t off = static_cast<off_t>(reinterpret_cast<uintptr_t>(r.p()) / page_size() * 8);
				ssize_t n = pread(fd, e.data(), e.size() * 8, off);
				close(fd);
				if (n != static_cast<ssize_t>(e.size() * 8))
					return fmt::format("reading /proc/{}/pagemap failed: {}", pid, n < 0 ? strerror(errno) : "short read");
				for (size_t i = 0; i < e.size(); ++i)
					if (!(e[i] >> 63))
						return fmt::format("pagemap of {} says page {} is not present", pid, i);
				return "";
			};
			std::string f = ctx.in_child([&] {
				std::string e = read_all_views(getpid());
				return first_of({e, expect_pages(r.p(), r.pages(), [](uint64_t) { return 1; }, "the child after reading its /proc views")});
			});
			std::string g = read_all_views(getpid());
			return verdict_of(first_of({f, g, expect_pages(r.p(), r.pages(), [](uint64_t) { return 1; }, "the parent after reading its /proc views")}));
		}})

ODFBENCH_CHECK({"io-uring", "features", "io_uring_setup and the ring mmap work in an ODF process", [](CheckCtx &ctx) {
			io_uring_params probe_params = {};
			int probe = static_cast<int>(syscall(__NR_io_uring_setup, 4, &probe_params));
			if (probe < 0)
				return unsupported(fmt::format("io_uring_setup: {}", strerror(errno)));
			close(probe);
			Region r(2 * kWindow);
			std::string f = ctx.in_child([&]() -> std::string {
				io_uring_params p = {};
				int fd = static_cast<int>(syscall(__NR_io_uring_setup, 4, &p));
				if (fd < 0)
					return fmt::format("io_uring_setup in the child: {}", strerror(errno));
				size_t len = p.sq_off.array + p.sq_entries * sizeof(uint32_t);
				void *ring = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
				int e = errno;
				close(fd);
				if (ring == MAP_FAILED)
					return fmt::format("mmap of the SQ ring failed: {}", strerror(e));
				uint32_t entries = *reinterpret_cast<uint32_t *>(static_cast<char *>(ring) + p.sq_off.ring_entries);
				munmap(ring, len);
				if (entries != p.sq_entries)
					return fmt::format("the SQ ring reads {} entries, not {}", entries, p.sq_entries);
				return expect_pages(r.p(), r.pages(), [](uint64_t) { return 1; }, "the child");
			});
			return verdict_of(f);
		}})

ODFBENCH_CHECK({"multithreaded-fork", "concurrency",
		"two threads write rounds over a region while the main thread forks 20 times; every child sees a consistent snapshot",
		[](CheckCtx &ctx) {
			Region r(8 * kWindow, 0, 0, false);
			uint64_t n = r.pages(), half = n / 2;
			fill_pages(r.p(), r.bytes(), 1);
			std::atomic<bool> stop{false};
			std::atomic<uint32_t> rounds[2] = {1, 1};
			// Thread k rewrites its half, page by page in order, with round numbers 2, 3, ...
			auto writer = [&](int k) {
				for (uint32_t round = 2; !stop; ++round) {
					for (uint64_t i = k * half; i < (k + 1) * half; ++i)
						set_page(r.p(), i, round);
					rounds[k] = round;
				}
			};
			std::thread t0(writer, 0), t1(writer, 1);
			std::string f;
			for (int c = 0; c < 20 && f.empty(); ++c) {
				f = ctx.in_child([&]() -> std::string {
					for (int k = 0; k < 2; ++k) {
						uint32_t first = 0, prev = 0;
						for (uint64_t i = k * half; i < (k + 1) * half; ++i) {
							uint64_t a, b;
							memcpy(&a, r.page(i), 8);
							memcpy(&b, r.page(i) + page_size() - 8, 8);
							uint32_t ta = a >> 32, tb = b >> 32;
							if ((a & 0xffffffffu) != i || (b & 0xffffffffu) != i || ta == 0)
								return fmt::format("child {}: page {} holds {:#x}/{:#x}: not this page's data", c, i, a, b);
							if (ta != tb && ta != tb + 1)
								return fmt::format("child {}: page {} torn across rounds {} and {}", c, i, ta, tb);
							if (i == k * half)
								first = prev = ta;
							if (ta > prev || first - ta > 1)
								return fmt::format("child {}: page {} from round {} after round {}: not a snapshot", c, i, ta, prev);
							prev = ta;
						}
					}
					return std::string();
				});
				usleep(2000);
			}
			stop = true;
			t0.join();
			t1.join();
			std::string g = expect_pages(r.p(), n, [&](uint64_t i) { return static_cast<int64_t>(rounds[i < half ? 0 : 1].load()); },
						     "the parent after the writers stopped");
			return verdict_of(first_of({f, g}));
		}})

}  // namespace odfb::checks
