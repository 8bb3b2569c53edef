// Signals and supervised process groups: the one way odfbench runs a child it
// may have to stop (a cell's runner, a correctness check, QEMU).  The child
// gets a process group of its own and a pipe back; the parent polls it with a
// deadline, kills the whole group, and never waits unboundedly, because a
// process stuck in a wedged kernel ignores SIGKILL.
#pragma once
#include <functional>
#include <string>

#include <sys/types.h>

namespace odfb {

// SIGINT/SIGTERM: the first only sets interrupted(), so the run stops cleanly
// and writes what it has; the second kills the live supervised group and
// exits 130 at once.
void install_signal_handlers();
bool interrupted();

// waitpid(pid) for at most timeout_ms; true if reaped (status set).
bool reap_within(pid_t pid, int &status, int timeout_ms);

// "killed by signal 11 (Segmentation fault)" or "exited with status 3".
std::string wait_status_text(int status);

class SupervisedGroup {
public:
	struct Options {
		bool die_with_parent = true;  // PR_SET_PDEATHSIG: odfbench killed, the group goes too
		bool stdio_to_pipe = false;   // the child's stdout and stderr are the pipe (for exec)
		// The child's stderr goes to a second pipe, read by poll_output and handed
		// out by take_stderr_lines: a progress line is cleared before it is shown.
		bool capture_stderr = false;
	};
	// Forks.  The child leads a new process group and runs body(out_fd), then
	// _exit(0) if body returns; out_fd is the pipe back to the parent.  While
	// this object lives, a second signal kills its group.
	explicit SupervisedGroup(const std::function<void(int out_fd)> &body);
	SupervisedGroup(const std::function<void(int out_fd)> &body, Options o);
	~SupervisedGroup();
	SupervisedGroup(const SupervisedGroup &) = delete;
	SupervisedGroup &operator=(const SupervisedGroup &) = delete;

	pid_t pid() const { return pid_; }
	enum class Output { Data, Idle, Closed };
	// Waits up to timeout_ms for output and appends what arrived.  Closed once
	// every writer has gone (the group exited or closed the pipe).
	Output poll_output(std::string &out, int timeout_ms);
	// With capture_stderr: the complete lines the group wrote to stderr since the
	// last call; with all (once the group is stopped), a last partial line too.
	std::string take_stderr_lines(bool all = false);
	// Ends the group: SIGTERM and up to grace_ms for the leader to go (0: none),
	// then SIGKILL to the whole group.  Reaps the leader within reap_ms, and
	// what it can of the rest (the caller is a subreaper or init reaps them).
	// True if the leader was reaped; status() is then its wait status.
	bool stop(int grace_ms = 0, int reap_ms = 10000);
	// The leader is expected to exit by itself: wait for it at most reap_ms,
	// then stop() the group anyway.
	bool wait(int reap_ms);
	int status() const { return status_; }

private:
	pid_t pid_ = -1;
	int out_fd_ = -1;
	int err_fd_ = -1;
	std::string err_;
	void drain_stderr(int timeout_ms);
	int status_ = 0;
	bool reaped_ = false;
	void reap_group_members();
};

}  // namespace odfb
