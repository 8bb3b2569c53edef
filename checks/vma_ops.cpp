// Operations on a region after fork that, under ODF, must unshare (copy) the
// PTE table first: mprotect, madvise, mremap, partial munmap, VMA split,
// mlock; and a region faulted in through GUP (MAP_POPULATE) before fork.
#include <sys/mman.h>

#include "check_util.h"

namespace odfb::checks {
namespace {

std::string sys_error(const char *what) { return fmt::format("{} failed: {}", what, strerror(errno)); }

uint64_t pages_in(uint64_t bytes) { return bytes / page_size(); }

// [lo, hi) in pages: 1 MiB to 3 MiB, across the first 2 MiB edge.
constexpr uint64_t kLo = 1ull << 20, kHi = 3ull << 20;
bool in_range(uint64_t i) { return i >= pages_in(kLo) && i < pages_in(kHi); }

Verdict madvise_check(CheckCtx &ctx, int advice, const char *name, int64_t tag_in_range)
{
	Region r(4 * kWindow);
	return op_after_fork(
		ctx, r,
		[&](Region &r) {
			if (madvise(r.p() + kLo, kHi - kLo, advice) != 0)
				return errno == EINVAL ? fmt::format("madvise({}) unsupported: EINVAL", name) : sys_error(name);
			return std::string();
		},
		[&](uint64_t i) { return in_range(i) ? tag_in_range : 1; });
}

}  // namespace

ODFBENCH_CHECK({"mprotect", "vma-ops", "child makes 2 MiB across a table edge read-only, reads it, makes it writable and writes",
		[](CheckCtx &ctx) {
			Region r(4 * kWindow);
			return op_after_fork(
				ctx, r,
				[](Region &r) {
					if (mprotect(r.p() + kLo, kHi - kLo, PROT_READ) != 0)
						return sys_error("mprotect(PROT_READ)");
					std::string f = expect_pages(r.p(), r.pages(), [](uint64_t) { return 1; }, "the child (read-only)");
					if (mprotect(r.p() + kLo, kHi - kLo, PROT_READ | PROT_WRITE) != 0)
						return sys_error("mprotect(PROT_READ|PROT_WRITE)");
					for (uint64_t i = pages_in(kLo); i < pages_in(kHi); i += 16)
						set_page(r.p(), i, 7);
					return f;
				},
				[](uint64_t i) { return in_range(i) && (i - pages_in(kLo)) % 16 == 0 ? 7 : 1; });
		}})

ODFBENCH_CHECK({"madvise-dontneed", "vma-ops", "MADV_DONTNEED in the child zero-fills its range there, and only there",
		[](CheckCtx &ctx) { return madvise_check(ctx, MADV_DONTNEED, "MADV_DONTNEED", 0); }})
ODFBENCH_CHECK({"madvise-cold", "vma-ops", "MADV_COLD in the child keeps every page's contents",
		[](CheckCtx &ctx) { return madvise_check(ctx, MADV_COLD, "MADV_COLD", 1); }})
ODFBENCH_CHECK({"madvise-pageout", "vma-ops", "MADV_PAGEOUT in the child keeps every page's contents",
		[](CheckCtx &ctx) { return madvise_check(ctx, MADV_PAGEOUT, "MADV_PAGEOUT", 1); }})

ODFBENCH_CHECK({"madvise-free", "vma-ops", "MADV_FREE in the child: each page keeps its data or reads zero, and a new write sticks",
		[](CheckCtx &ctx) {
			Region r(4 * kWindow);
			return op_after_fork(
				ctx, r,
				[](Region &r) {
					if (madvise(r.p() + kLo, kHi - kLo, MADV_FREE) != 0)
						return sys_error("madvise(MADV_FREE)");
					for (uint64_t i = pages_in(kLo); i < pages_in(kHi); ++i) {
						uint64_t a;
						memcpy(&a, r.page(i), 8);
						if (a != 0 && a != word(1, i))
							return fmt::format("the child sees freed page {} as {:#x}: neither its data nor zero", i, a);
					}
					for (uint64_t i = pages_in(kLo); i < pages_in(kHi); ++i)
						set_page(r.p(), i, 8);
					return std::string();
				},
				[](uint64_t i) { return in_range(i) ? 8 : 1; });
		}})

ODFBENCH_CHECK({"mremap", "vma-ops", "child moves the first 4 MiB elsewhere; the moved and the unmoved pages keep their contents",
		[](CheckCtx &ctx) {
			Region r(4 * kWindow);
			auto moved = std::make_shared<char *>(nullptr);
			return op_after_fork(
				ctx, r,
				[&](Region &r) {
					void *dst = mmap(nullptr, 2 * kWindow, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
					if (dst == MAP_FAILED)
						return sys_error("mmap");
					void *m = mremap(r.p(), 2 * kWindow, 2 * kWindow, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
					if (m == MAP_FAILED)
						return sys_error("mremap");
					for (uint64_t i = 0; i < pages_in(2 * kWindow); ++i) {
						uint64_t a;
						memcpy(&a, static_cast<char *>(m) + i * page_size(), 8);
						if (a != word(1, i))
							return fmt::format("the child sees moved page {} as {:#x}", i, a);
					}
					return std::string();
				},
				[](uint64_t i) { return i < pages_in(2 * kWindow) ? kSkip : 1; });
		}})

ODFBENCH_CHECK({"munmap-partial", "vma-ops", "child unmaps 64 KiB inside a 2 MiB window; every other page keeps its contents",
		[](CheckCtx &ctx) {
			Region r(4 * kWindow);
			uint64_t lo = kWindow + (512 << 10), hi = lo + (64 << 10);
			return op_after_fork(
				ctx, r,
				[&](Region &r) { return munmap(r.p() + lo, hi - lo) == 0 ? std::string() : sys_error("munmap"); },
				[&](uint64_t i) { return i >= pages_in(lo) && i < pages_in(hi) ? kSkip : 1; });
		}})

ODFBENCH_CHECK({"vma-split", "vma-ops", "child splits the VMA inside a window (one read-only page), then writes beside the split",
		[](CheckCtx &ctx) {
			Region r(4 * kWindow);
			uint64_t split = pages_in(kWindow) + 100;
			return op_after_fork(
				ctx, r,
				[&](Region &r) {
					if (mprotect(r.page(split), page_size(), PROT_READ) != 0)
						return sys_error("mprotect");
					set_page(r.p(), split - 1, 9);
					set_page(r.p(), split + 1, 9);
					return std::string();
				},
				[&](uint64_t i) { return i == split - 1 || i == split + 1 ? 9 : 1; });
		}})

ODFBENCH_CHECK({"mlock", "vma-ops", "child mlocks a window and writes in it", [](CheckCtx &ctx) {
			Region r(4 * kWindow);
			return op_after_fork(
				ctx, r,
				[](Region &r) {
					if (mlock(r.p() + kWindow, kWindow) != 0)
						return sys_error("mlock");
					std::string f = expect_pages(r.p(), r.pages(), [](uint64_t) { return 1; }, "the child (after mlock)");
					set_page(r.p(), pages_in(kWindow) + 3, 11);
					munlock(r.p() + kWindow, kWindow);
					return f;
				},
				[](uint64_t i) { return i == pages_in(kWindow) + 3 ? 11 : 1; });
		}})

ODFBENCH_CHECK({"map-populate", "vma-ops", "a region faulted in with MAP_POPULATE (GUP) before fork stays isolated", [](CheckCtx &ctx) {
			Region r(4 * kWindow, 1, MAP_POPULATE);
			return op_after_fork(
				ctx, r,
				[](Region &r) {
					for (uint64_t i : edge_pages(r.pages()))
						set_page(r.p(), i, 12);
					return std::string();
				},
				[&](uint64_t i) { return edge_pages(r.pages()).count(i) ? 12 : 1; });
		}})

}  // namespace odfb::checks
