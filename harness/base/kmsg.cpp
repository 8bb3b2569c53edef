#include "base/kmsg.h"

#include <cerrno>
#include <fcntl.h>
#include <regex>
#include <sched.h>
#include <unistd.h>

namespace odfb {

KernelLine classify_kernel_line(const std::string &line)
{
	// Reports after which the kernel carries on (mm/memory.c print_bad_pte,
	// kernel/fork.c check_mm, mm/page_alloc.c bad_page, WARN_ON, a PTE that
	// decodes as a swap entry no swap device has, pmd_clear_bad): findings.
	static const std::regex warning(
		R"((^|\] )(BUG: Bad rss-counter state|BUG: non-zero pgtables_bytes on freeing mm|BUG: Bad page map|BUG: Bad page state|BUG: Bad page cache|WARNING: CPU: \d+ PID: \d+ at |\w+: Bad swap (file|offset) entry|[\w/.-]+:\d+: bad p(md|ud|4d|gd) ))");
	// After the printk timestamp, or at the start of a line without one.
	static const std::regex fatal(
		R"((^|\] )(BUG: |Oops|Kernel panic - not syncing|general protection fault|kernel BUG at |Unable to handle (kernel|page fault)|watchdog: BUG: soft lockup|watchdog: Watchdog detected hard LOCKUP|rcu: INFO: rcu_\w+ (self-)?detected stall|rcu: INFO: rcu_\w+ detected stalls))");
	if (std::regex_search(line, warning))
		return KernelLine::Warning;
	if (std::regex_search(line, fatal))
		return KernelLine::Fatal;
	return KernelLine::Other;
}

KmsgReader::KmsgReader()
{
	fd_ = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd_ >= 0 && lseek(fd_, 0, SEEK_END) < 0) {
		close(fd_);
		fd_ = -1;
	}
}

KmsgReader::~KmsgReader()
{
	if (fd_ >= 0)
		close(fd_);
}

std::vector<std::string> KmsgReader::drain()
{
	std::vector<std::string> out;
	if (fd_ < 0)
		return out;
	char buf[8192];
	for (;;) {
		ssize_t n = read(fd_, buf, sizeof buf - 1);
		if (n < 0 && errno == EPIPE)
			continue;  // records were overwritten before we read them: go on with the next
		if (n <= 0)
			break;
		// "prio,seq,usec,flags;message\n" then " KEY=value" continuation lines.
		std::string rec(buf, n);
		auto semi = rec.find(';');
		if (semi == std::string::npos)
			continue;
		auto end = rec.find('\n', semi);
		out.push_back(rec.substr(semi + 1, end == std::string::npos ? std::string::npos : end - semi - 1));
	}
	return out;
}

void run_on_every_cpu()
{
	cpu_set_t old;
	if (sched_getaffinity(0, sizeof old, &old) != 0)
		return;
	for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
		if (!CPU_ISSET(cpu, &old))
			continue;
		cpu_set_t one;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		if (sched_setaffinity(0, sizeof one, &one) == 0)
			sched_yield();
	}
	sched_setaffinity(0, sizeof old, &old);
}

std::vector<std::string> drain_settled(KmsgReader &r, int quiet_ms, int max_ms)
{
	std::vector<std::string> all;
	if (!r.ok())
		return all;
	// An idle CPU keeps the last mm it ran as its lazy mm until it next runs a
	// task: the mm is freed, and checked, only then.  Running there now makes
	// a dead process's mm report before the next cell starts (seen under TCG:
	// 350 ms late otherwise).
	run_on_every_cpu();
	int quiet = 0;
	for (int waited = 0; waited < max_ms && quiet < quiet_ms; waited += 10) {
		usleep(10000);
		auto more = r.drain();
		quiet = more.empty() ? quiet + 10 : 0;
		all.insert(all.end(), more.begin(), more.end());
	}
	return all;
}

std::vector<std::string> kernel_problem_lines(const std::vector<std::string> &lines, size_t cap)
{
	std::vector<std::string> out;
	for (const auto &l : lines)
		if (classify_kernel_line(l) != KernelLine::Other && out.size() < cap)
			out.push_back(l);
	return out;
}

}  // namespace odfb
