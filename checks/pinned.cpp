// Pages pinned before or around a fork: what a pin reads or writes must stay
// the page the pinning process sees.  vmsplice pins pages into a pipe (the
// CVE-2020-29374 case of the kernel's cow selftest); io_uring's fixed buffers
// are a longterm read/write pin.  A read-only longterm pin needs the kernel's
// gup_test (CONFIG_GUP_TEST, debugfs), which no suite kernel has: not tested.
#include <linux/io_uring.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "thp_util.h"

namespace odfb::checks {
namespace {

constexpr uint64_t kPipePages = 16;  // a pipe's default capacity

// Reads exactly n bytes from the pipe.
std::string drain_pipe(int fd, std::vector<char> &out, size_t n)
{
	out.resize(n);
	for (size_t got = 0; got < n;) {
		ssize_t k = read(fd, out.data() + got, n - got);
		if (k <= 0)
			return fmt::format("reading the pipe: {}", k < 0 ? strerror(errno) : "EOF");
		got += static_cast<size_t>(k);
	}
	return "";
}

// The parent vmsplices before fork and unmaps; the child then overwrites its
// copy: the pipe must still hold the parent's data, not the child's.
Verdict vmsplice_before_fork(CheckCtx &ctx, char *p)
{
	size_t n = kPipePages * page_size();
	std::vector<char> old(p, p + n), got;
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0)
		return fail(fmt::format("pipe: {}", strerror(errno)));
	iovec iov = {p, n};
	ssize_t moved = vmsplice(fds[1], &iov, 1, 0);
	if (moved != static_cast<ssize_t>(n))
		return fail(fmt::format("vmsplice: {}", moved < 0 ? strerror(errno) : "short"));
	Duet d(ctx);
	if (d.is_child()) {
		d.wait_turn();  // the parent has unmapped
		memset(p, 0xff, n);
		d.child_exit("");
	}
	if (munmap(p, n) != 0)
		return fail(fmt::format("munmap: {}", strerror(errno)));
	std::string child = d.join();
	std::string f = drain_pipe(fds[0], got, n);
	close(fds[0]);
	close(fds[1]);
	if (f.empty() && got != old)
		f = "the pipe holds the child's later write: a page pinned before fork leaked from the child into the parent";
	return verdict_of(first_of({child, f}));
}

}  // namespace

ODFBENCH_CHECK({"vmsplice-before-fork", "pinning",
		"the parent vmsplices 16 pages into a pipe, forks and unmaps them; the child's writes do not reach the pipe",
		[](CheckCtx &ctx) {
			Region r(kWindow);
			Verdict v = vmsplice_before_fork(ctx, r.p());
			return v;
		}})

ODFBENCH_CHECK({"vmsplice-before-fork-thp", "pinning", "as vmsplice-before-fork, on a PTE-mapped THP", [](CheckCtx &ctx) {
			ThpRegion r(1);
			if (!r.unsupported_why().empty())
				return unsupported(r.unsupported_why());
			if (auto e = pte_map(r); !e.empty())
				return fail(e);
			return vmsplice_before_fork(ctx, r.p());
		}})

ODFBENCH_CHECK({"vmsplice-in-child", "pinning",
		"after fork the child vmsplices 16 pages into a pipe and unmaps them; the parent's later writes do not reach the pipe",
		[](CheckCtx &ctx) {
			Region r(kWindow);
			size_t n = kPipePages * page_size();
			std::vector<char> old(r.p(), r.p() + n);
			Duet d(ctx);
			if (d.is_child()) {
				int fds[2];
				if (pipe2(fds, O_CLOEXEC) != 0)
					d.child_exit(fmt::format("pipe: {}", strerror(errno)));
				iovec iov = {r.p(), n};
				if (vmsplice(fds[1], &iov, 1, 0) != static_cast<ssize_t>(n))
					d.child_exit(fmt::format("vmsplice: {}", strerror(errno)));
				if (munmap(r.p(), n) != 0)
					d.child_exit(fmt::format("munmap: {}", strerror(errno)));
				d.hand_over();  // the parent writes
				std::vector<char> got;
				std::string f = drain_pipe(fds[0], got, n);
				if (f.empty() && got != old)
					f = "the child's pipe holds the parent's later write: the parent's write leaked into the child";
				d.child_exit(f);
			}
			d.wait_turn();
			memset(r.p(), 0xff, n);
			return verdict_of(d.join());
		}})

namespace {

// The smallest io_uring that submits one request and waits for it.
class Ring {
public:
	explicit Ring(std::string &why)
	{
		io_uring_params p = {};
		fd_ = static_cast<int>(syscall(__NR_io_uring_setup, 2, &p));
		if (fd_ < 0) {
			why = fmt::format("io_uring_setup: {}", strerror(errno));
			return;
		}
		sq_len_ = p.sq_off.array + p.sq_entries * sizeof(uint32_t);
		cq_len_ = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
		sqe_len_ = p.sq_entries * sizeof(io_uring_sqe);
		sq_ = mmap(nullptr, sq_len_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, IORING_OFF_SQ_RING);
		cq_ = mmap(nullptr, cq_len_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, IORING_OFF_CQ_RING);
		sqes_ = mmap(nullptr, sqe_len_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, IORING_OFF_SQES);
		if (sq_ == MAP_FAILED || cq_ == MAP_FAILED || sqes_ == MAP_FAILED) {
			why = fmt::format("mmap of io_uring's rings: {} (the io-uring check shows it too)", strerror(errno));
			return;
		}
		p_ = p;
	}
	~Ring()
	{
		for (auto [m, len] : {std::pair{sq_, sq_len_}, {cq_, cq_len_}, {sqes_, sqe_len_}})
			if (m != MAP_FAILED)
				munmap(m, len);
		if (fd_ >= 0)
			close(fd_);
	}
	int fd() const { return fd_; }
	// One IORING_OP_WRITE_FIXED of buffer 0 ([addr, addr + len)) to `file` at 0; the result.
	long write_fixed(int file, void *addr, uint32_t len)
	{
		auto *sq = static_cast<char *>(sq_);
		auto *tail = reinterpret_cast<uint32_t *>(sq + p_.sq_off.tail);
		uint32_t mask = *reinterpret_cast<uint32_t *>(sq + p_.sq_off.ring_mask), t = *tail;
		auto *sqe = static_cast<io_uring_sqe *>(sqes_) + (t & mask);
		*sqe = {};
		sqe->opcode = IORING_OP_WRITE_FIXED;
		sqe->fd = file;
		sqe->addr = reinterpret_cast<uint64_t>(addr);
		sqe->len = len;
		sqe->buf_index = 0;
		reinterpret_cast<uint32_t *>(sq + p_.sq_off.array)[t & mask] = t & mask;
		__atomic_store_n(tail, t + 1, __ATOMIC_RELEASE);
		if (syscall(__NR_io_uring_enter, fd_, 1, 1, IORING_ENTER_GETEVENTS, nullptr, 0) < 0)
			return -errno;
		auto *cq = static_cast<char *>(cq_);
		auto *head = reinterpret_cast<uint32_t *>(cq + p_.cq_off.head);
		uint32_t h = *head, cmask = *reinterpret_cast<uint32_t *>(cq + p_.cq_off.ring_mask);
		if (h == __atomic_load_n(reinterpret_cast<uint32_t *>(cq + p_.cq_off.tail), __ATOMIC_ACQUIRE))
			return -EAGAIN;
		long res = reinterpret_cast<io_uring_cqe *>(cq + p_.cq_off.cqes)[h & cmask].res;
		__atomic_store_n(head, h + 1, __ATOMIC_RELEASE);
		return res;
	}

private:
	int fd_ = -1;
	io_uring_params p_ = {};
	size_t sq_len_ = 0, cq_len_ = 0, sqe_len_ = 0;
	void *sq_ = MAP_FAILED, *cq_ = MAP_FAILED, *sqes_ = MAP_FAILED;
};

}  // namespace

ODFBENCH_CHECK({"iouring-fixed-buffer-fork", "pinning",
		"16 pages registered as an io_uring fixed buffer (a longterm R/W pin), then fork; the parent rewrites them and "
		"io_uring writes the buffer to a file: the file holds the parent's new data, the child its old",
		[](CheckCtx &ctx) {
			std::string why;
			Ring ring(why);
			if (!why.empty())
				return unsupported(why);
			Region r(kWindow);
			uint32_t n = static_cast<uint32_t>(kPipePages * page_size());
			iovec iov = {r.p(), n};
			if (syscall(__NR_io_uring_register, ring.fd(), IORING_REGISTER_BUFFERS, &iov, 1) != 0)
				return unsupported(fmt::format("IORING_REGISTER_BUFFERS: {}", strerror(errno)));
			int file = memfd_create("odfbench-pin", MFD_CLOEXEC);
			if (file < 0)
				return fail(fmt::format("memfd_create: {}", strerror(errno)));
			Duet d(ctx);
			if (d.is_child()) {
				d.wait_turn();  // the parent has rewritten and written out its pages
				d.child_exit(expect_pages(r.p(), kPipePages, [](uint64_t) { return 1; }, "the child"));
			}
			fill_pages(r.p(), n, kParentTag);
			long res = ring.write_fixed(file, r.p(), n);
			std::vector<char> got(n);
			std::string f = res != n ? fmt::format("IORING_OP_WRITE_FIXED: {}", res < 0 ? strerror(static_cast<int>(-res)) : "short")
			      : pread(file, got.data(), n, 0) != n ? fmt::format("reading the file back: {}", strerror(errno))
			      : memcmp(got.data(), r.p(), n) != 0 ? "the file holds other data than the parent's pages: the pin no longer maps "
								    "the parent's pages after fork"
								  : "";
			close(file);
			return verdict_of(first_of({d.join(), f}));
		}})

}  // namespace odfb::checks
