#include "base/supervise.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

namespace odfb {

namespace {
volatile sig_atomic_t g_signals = 0;
volatile sig_atomic_t g_victim = 0;  // pgid of the live supervised group

void on_signal(int)
{
	g_signals = g_signals + 1;
	if (g_signals >= 2) {
		if (g_victim > 0)
			kill(-g_victim, SIGKILL);
		const char msg[] = "\nodfbench: second interrupt, exiting now\n";
		(void)!write(2, msg, sizeof(msg) - 1);
		_exit(130);
	}
}
}  // namespace

void install_signal_handlers()
{
	struct sigaction sa = {};
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, nullptr);
	sigaction(SIGTERM, &sa, nullptr);
}

bool interrupted() { return g_signals > 0; }

bool reap_within(pid_t pid, int &status, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 10) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return true;
		usleep(10000);
	}
	return false;
}

std::string wait_status_text(int status)
{
	if (WIFSIGNALED(status))
		return fmt::format("killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
	return fmt::format("exited with status {}", WEXITSTATUS(status));
}

SupervisedGroup::SupervisedGroup(const std::function<void(int)> &body) : SupervisedGroup(body, Options{}) {}

SupervisedGroup::SupervisedGroup(const std::function<void(int)> &body, Options o)
{
	int pfd[2], efd[2] = {-1, -1};
	if (pipe2(pfd, O_CLOEXEC) != 0)
		throw std::runtime_error(fmt::format("pipe: {}", std::strerror(errno)));
	if (o.capture_stderr && pipe2(efd, O_CLOEXEC) != 0) {
		int e = errno;
		close(pfd[0]);
		close(pfd[1]);
		throw std::runtime_error(fmt::format("pipe: {}", std::strerror(e)));
	}
	pid_ = fork();
	if (pid_ < 0) {
		int e = errno;
		for (int fd : {pfd[0], pfd[1], efd[0], efd[1]})
			if (fd >= 0)
				close(fd);
		throw std::runtime_error(fmt::format("fork: {}", std::strerror(e)));
	}
	if (pid_ == 0) {
		setpgid(0, 0);  // its own group: one kill ends the whole tree
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		if (o.die_with_parent)
			prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(pfd[0]);
		if (o.capture_stderr) {
			close(efd[0]);
			dup2(efd[1], 2);  // dup2 clears O_CLOEXEC: exec'd programs keep it
			close(efd[1]);
		}
		if (o.stdio_to_pipe) {
			int devnull = open("/dev/null", O_RDONLY);
			dup2(devnull, 0);
			dup2(pfd[1], 1);
			dup2(pfd[1], 2);
		}
		body(pfd[1]);
		_exit(0);
	}
	setpgid(pid_, pid_);  // both sides: no window where a kill(-pid) misses
	close(pfd[1]);
	out_fd_ = pfd[0];
	if (o.capture_stderr) {
		close(efd[1]);
		err_fd_ = efd[0];
	}
	g_victim = pid_;
}

SupervisedGroup::~SupervisedGroup()
{
	if (!reaped_ && pid_ > 0)
		stop();
	if (out_fd_ >= 0)
		close(out_fd_);
	if (err_fd_ >= 0)
		close(err_fd_);
	if (g_victim == pid_)
		g_victim = 0;
}

SupervisedGroup::Output SupervisedGroup::poll_output(std::string &out, int timeout_ms)
{
	if (out_fd_ < 0) {
		drain_stderr(0);
		return Output::Closed;
	}
	pollfd p[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
	int pr = poll(p, err_fd_ >= 0 ? 2 : 1, timeout_ms);
	if (pr <= 0)
		return Output::Idle;  // timeout, or EINTR: the caller checks interrupted()
	if (err_fd_ >= 0 && p[1].revents)
		drain_stderr(0);
	if (!p[0].revents)
		return Output::Idle;
	char buf[65536];
	ssize_t n = read(out_fd_, buf, sizeof(buf));
	if (n < 0 && errno == EINTR)
		return Output::Idle;
	if (n <= 0) {
		close(out_fd_);
		out_fd_ = -1;
		return Output::Closed;
	}
	out.append(buf, static_cast<size_t>(n));
	return Output::Data;
}

void SupervisedGroup::drain_stderr(int timeout_ms)
{
	while (err_fd_ >= 0) {
		pollfd p = {err_fd_, POLLIN, 0};
		if (poll(&p, 1, timeout_ms) <= 0)
			return;
		char buf[4096];
		ssize_t n = read(err_fd_, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(err_fd_);
			err_fd_ = -1;
			return;
		}
		err_.append(buf, static_cast<size_t>(n));
	}
}

std::string SupervisedGroup::take_stderr_lines(bool all)
{
	drain_stderr(0);
	size_t end = err_.size();
	if (!all) {  // still running: whole lines only
		size_t nl = err_.rfind('\n');
		if (nl == std::string::npos)
			return "";
		end = nl + 1;
	}
	std::string lines = err_.substr(0, end);
	err_.erase(0, end);
	if (!lines.empty() && lines.back() != '\n')
		lines += '\n';
	return lines;
}

void SupervisedGroup::reap_group_members()
{
	for (int i = 0; i < 500; ++i) {
		pid_t p = waitpid(-pid_, nullptr, WNOHANG);
		if (p < 0 && errno == ECHILD)
			return;
		if (p == 0)
			usleep(10000);
	}
}

bool SupervisedGroup::stop(int grace_ms, int reap_ms)
{
	if (pid_ <= 0)
		return false;
	if (!reaped_) {
		if (grace_ms > 0) {
			kill(-pid_, SIGTERM);
			reaped_ = reap_within(pid_, status_, grace_ms);
		}
		kill(-pid_, SIGKILL);  // the leader and anything it left behind
		if (!reaped_)
			reaped_ = reap_within(pid_, status_, reap_ms);
	} else {
		kill(-pid_, SIGKILL);
	}
	reap_group_members();  // as subreaper we inherit what the kill orphaned
	if (g_victim == pid_)
		g_victim = 0;
	return reaped_;
}

bool SupervisedGroup::wait(int reap_ms)
{
	if (!reaped_)
		reaped_ = reap_within(pid_, status_, reap_ms);
	return stop() && reaped_;
}

}  // namespace odfb
