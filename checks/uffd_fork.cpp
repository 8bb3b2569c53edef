// userfaultfd across fork: with UFFD_FEATURE_EVENT_FORK the child inherits
// the registered ranges, gets a userfaultfd of its own (handed to the monitor
// in a UFFD_EVENT_FORK message), and its faults go there; write-protected
// pages stay write-protected in the child.  The monitor is a process of its
// own (forked before any range is registered): a monitor thread would make
// the forking process multithreaded, a case of its own (multithreaded-fork).
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "base/supervise.h"
#include "base/sysinfo.h"
#include "cow_util.h"

namespace odfb::checks {
namespace {

constexpr uint32_t kParentFill = 40, kChildFill = 41;  // what the monitor supplies for a missing page

int new_uffd(uint64_t features, std::string &why)
{
	int fd = static_cast<int>(syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK));
	if (fd < 0) {
		why = fmt::format("userfaultfd: {}", strerror(errno));
		return -1;
	}
	uffdio_api api = {.api = UFFD_API, .features = features, .ioctls = 0};
	if (ioctl(fd, UFFDIO_API, &api) != 0 || (api.features & features) != features) {
		why = fmt::format("userfaultfd lacks the features {:#x} here: {}", features, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

bool send_fd(int sock, int fd)
{
	char byte = 'f';
	iovec iov = {&byte, 1};
	alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))] = {};
	msghdr m = {};
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = ctl;
	m.msg_controllen = sizeof ctl;
	cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &m, 0) == 1;
}

int recv_fd(int sock)
{
	char byte;
	iovec iov = {&byte, 1};
	alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))] = {};
	msghdr m = {};
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = ctl;
	m.msg_controllen = sizeof ctl;
	if (recvmsg(sock, &m, 0) != 1)
		return -1;
	cmsghdr *c = CMSG_FIRSTHDR(&m);
	int fd = -1;
	if (c && c->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

// The monitor: takes the parent's userfaultfd, reads the fork event, then
// serves both processes' faults until the parent says "done"; reports
// "<parent faults> <child faults> <fork events>" or what went wrong.
[[noreturn]] void monitor(int sock, bool wp, char *base)
{
	int ufd[2] = {recv_fd(sock), -1};
	int faults[2] = {0, 0}, forks = 0;
	std::string err = ufd[0] < 0 ? "the monitor got no userfaultfd" : "";
	uint64_t t0 = now_ns();
	while (err.empty() && now_ns() - t0 < 20'000'000'000ull) {
		pollfd p[3] = {{sock, POLLIN, 0}, {ufd[0], POLLIN, 0}, {ufd[1], POLLIN, 0}};
		if (poll(p, ufd[1] >= 0 ? 3 : 2, 100) < 0)
			continue;
		if (p[0].revents) {  // "done" from the parent (or it is gone)
			char done[8];
			(void)!read(sock, done, sizeof done);  // consumed: a socket closed with unread data resets its peer
			break;
		}
		for (int k = 0; k < 2 && err.empty(); ++k) {
			if (ufd[k] < 0 || !(p[k + 1].revents & POLLIN))
				continue;
			uffd_msg msg;
			if (read(ufd[k], &msg, sizeof msg) != sizeof msg)
				continue;
			if (msg.event == UFFD_EVENT_FORK) {
				++forks;
				ufd[1] = static_cast<int>(msg.arg.fork.ufd);
				continue;
			}
			if (msg.event != UFFD_EVENT_PAGEFAULT)
				continue;
			++faults[k];
			uint64_t page = msg.arg.pagefault.address & ~static_cast<uint64_t>(page_size() - 1);
			if (wp) {
				uffdio_writeprotect un = {.range = {page, static_cast<uint64_t>(page_size())}, .mode = 0};
				if (ioctl(ufd[k], UFFDIO_WRITEPROTECT, &un) != 0)
					err = fmt::format("UFFDIO_WRITEPROTECT (unprotect): {}", strerror(errno));
			} else {
				std::vector<char> src(page_size(), 0);
				uint64_t i = (page - reinterpret_cast<uint64_t>(base)) / page_size();
				set_page(src.data() - i * page_size(), i, k == 0 ? kParentFill : kChildFill);
				uffdio_copy cp = {.dst = page, .src = reinterpret_cast<uint64_t>(src.data()),
						  .len = static_cast<uint64_t>(page_size()), .mode = 0, .copy = 0};
				if (ioctl(ufd[k], UFFDIO_COPY, &cp) != 0)
					err = fmt::format("UFFDIO_COPY: {}", strerror(errno));
			}
		}
	}
	std::string report = err.empty() ? fmt::format("{} {} {}", faults[0], faults[1], forks) : err;
	(void)!write(sock, report.data(), report.size());
	_exit(0);
}

// Parent and child each cause one fault in the registered range, served by
// the monitor: `touch(i)` is a read of a missing page, or a write to a
// write-protected one; `after(i)` what page i must then hold.
Verdict across_fork(CheckCtx &ctx, bool wp)
{
	uint64_t features = UFFD_FEATURE_EVENT_FORK | (wp ? UFFD_FEATURE_PAGEFAULT_FLAG_WP : 0);
	std::string why;
	if (int probe = new_uffd(features, why); probe < 0)
		return unsupported(why);
	else
		close(probe);
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return fail(fmt::format("socketpair: {}", strerror(errno)));
	Region r(2 * kWindow);
	uint64_t half = r.pages() / 2;
	if (!wp && madvise(r.page(half), r.bytes() / 2, MADV_DONTNEED) != 0)  // the second table: missing pages
		return fail(fmt::format("madvise(MADV_DONTNEED): {}", strerror(errno)));
	pid_t mon = ctx.fork_raw();
	if (mon < 0)
		return fail(fmt::format("fork: {}", strerror(errno)));
	if (mon == 0) {
		ctx.child_started();
		close(sv[0]);
		monitor(sv[1], wp, r.p());
	}
	close(sv[1]);
	auto end_monitor = [&](std::string &report) {
		(void)!write(sv[0], "done", 4);
		char buf[256];
		ssize_t n = read(sv[0], buf, sizeof buf);
		report.assign(buf, n > 0 ? static_cast<size_t>(n) : 0);
		close(sv[0]);
		int st = 0;
		waitpid(mon, &st, 0);
		if (report.empty())
			report = fmt::format("no report; the monitor {}", wait_status_text(st));
	};
	int uffd = new_uffd(features, why);
	uffdio_register reg = {.range = {reinterpret_cast<uint64_t>(r.p()), r.bytes()},
			       .mode = wp ? UFFDIO_REGISTER_MODE_WP : UFFDIO_REGISTER_MODE_MISSING, .ioctls = 0};
	uffdio_writeprotect prot = {.range = {reinterpret_cast<uint64_t>(r.p()), r.bytes()}, .mode = UFFDIO_WRITEPROTECT_MODE_WP};
	std::string setup = uffd < 0 ? why
			    : ioctl(uffd, UFFDIO_REGISTER, &reg) != 0 ? fmt::format("UFFDIO_REGISTER: {}", strerror(errno))
			    : wp && ioctl(uffd, UFFDIO_WRITEPROTECT, &prot) != 0 ? fmt::format("UFFDIO_WRITEPROTECT: {}", strerror(errno))
			    : !send_fd(sv[0], uffd) ? fmt::format("passing the userfaultfd: {}", strerror(errno))
										   : "";
	if (uffd >= 0)
		close(uffd);  // the monitor holds it now
	if (!setup.empty()) {
		std::string report;
		end_monitor(report);
		return fail(setup);
	}
	// Parent's page p in the second table, child's page c in the first (wp) or second (missing).
	uint64_t pp = half + 7, cp = wp ? 5 : half + 9;
	auto touch = [&](uint64_t i, uint32_t tag) {
		if (wp)
			set_page(r.p(), i, tag);
		else
			(void)*reinterpret_cast<volatile char *>(r.page(i));
	};
	auto view = [&](uint64_t mine, uint32_t tag) {
		return [=](uint64_t i) -> int64_t { return i == mine ? tag : !wp && i >= half ? kSkip : 1; };
	};
	uint32_t ctag = wp ? kChildTag : kChildFill, ptag = wp ? kParentTag : kParentFill;
	Duet d(ctx);  // the fork event: the monitor gets the child's userfaultfd
	if (d.is_child()) {
		touch(cp, kChildTag);
		d.child_exit(expect_pages(r.p(), r.pages(), view(cp, ctag), "the child"));
	}
	touch(pp, kParentTag);
	std::string child = d.join();
	std::string mine = expect_pages(r.p(), r.pages(), view(pp, ptag), "the parent");
	std::string report;
	end_monitor(report);
	int pf = -1, cf = -1, forks = -1;
	if (sscanf(report.c_str(), "%d %d %d", &pf, &cf, &forks) != 3)
		return verdict_of(first_of({child, mine, "the monitor: " + report}));
	std::string counts = forks != 1 ? fmt::format("the monitor saw {} fork events, not 1", forks)
			     : cf != 1 ? fmt::format("the child's {} was served by {} faults on its userfaultfd, not 1: {}",
						    wp ? "write to a write-protected page" : "read of a missing page", cf,
						    cf == 0 ? "the child did not inherit the registration" : "")
			     : pf != 1 ? fmt::format("the parent's fault came {} times to the monitor, not once", pf) : "";
	return verdict_of(first_of({child, mine, counts}));
}

}  // namespace

ODFBENCH_CHECK({"uffd-event-fork", "userfaultfd",
		"UFFD_FEATURE_EVENT_FORK over a range with missing pages: the child's userfaultfd comes in a fork event, each "
		"side's missing page is filled by the monitor with its own data",
		[](CheckCtx &ctx) { return across_fork(ctx, false); }})
ODFBENCH_CHECK({"uffd-wp-fork", "userfaultfd",
		"a write-protected range (uffd-wp, EVENT_FORK) inherited by the child: its write faults to its own userfaultfd, "
		"the parent's to the parent's, and each write lands on its side only",
		[](CheckCtx &ctx) { return across_fork(ctx, true); }})

}  // namespace odfb::checks
