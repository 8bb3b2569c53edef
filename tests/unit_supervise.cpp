// SupervisedGroup: the one primitive behind cells, checks and QEMU.  Each
// case is a real process group: output, a deadline, a crash, a hang with a
// grandchild, and the second-signal kill.
#include <gtest/gtest.h>

#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

#include "base/supervise.h"
#include "base/sysinfo.h"

using namespace odfb;

namespace {
bool alive(pid_t pid) { return kill(pid, 0) == 0; }

// Polls until the group's output closes or `ms` pass.
SupervisedGroup::Output drain(SupervisedGroup &g, std::string &out, int ms)
{
	uint64_t t0 = now_ns();
	auto r = SupervisedGroup::Output::Idle;
	while ((now_ns() - t0) / 1'000'000 < static_cast<uint64_t>(ms))
		if ((r = g.poll_output(out, 50)) == SupervisedGroup::Output::Closed)
			break;
	return r;
}
}  // namespace

TEST(Supervise, OutputThenCleanExit)
{
	SupervisedGroup g([](int fd) { (void)!write(fd, "hello\n", 6); });
	std::string out;
	EXPECT_EQ(drain(g, out, 10000), SupervisedGroup::Output::Closed);
	EXPECT_EQ(out, "hello\n");
	ASSERT_TRUE(g.wait(10000));
	EXPECT_TRUE(WIFEXITED(g.status()));
	EXPECT_EQ(WEXITSTATUS(g.status()), 0);
}

TEST(Supervise, CapturedStderrComesInWholeLinesApartFromTheOutput)
{
	SupervisedGroup::Options o;
	o.capture_stderr = true;
	SupervisedGroup g(
		[](int fd) {
			(void)!write(2, "first\nsec", 9);
			(void)!write(fd, "out\n", 4);
			(void)!write(2, "ond\npartial", 11);
		},
		o);
	std::string out, err;
	EXPECT_EQ(drain(g, out, 10000), SupervisedGroup::Output::Closed);
	EXPECT_EQ(out, "out\n");  // stderr never mixes into the output channel
	err = g.take_stderr_lines();
	EXPECT_EQ(err, "first\nsecond\n");  // the partial line waits for its end
	ASSERT_TRUE(g.wait(10000));
	EXPECT_EQ(g.take_stderr_lines(true), "partial\n");  // all: the rest, ended
	EXPECT_EQ(g.take_stderr_lines(true), "");
}

TEST(Supervise, ChildIsItsOwnGroupLeader)
{
	SupervisedGroup g([](int fd) {
		pid_t pg = getpgrp();
		(void)!write(fd, &pg, sizeof(pg));
		pause();
	});
	std::string out;
	while (out.size() < sizeof(pid_t))
		ASSERT_NE(g.poll_output(out, 10000), SupervisedGroup::Output::Closed);
	pid_t pg;
	memcpy(&pg, out.data(), sizeof(pg));
	EXPECT_EQ(pg, g.pid());
	EXPECT_NE(pg, getpgrp());
	EXPECT_TRUE(g.stop());
}

TEST(Supervise, DeadlinePassesWithoutOutputAndStopKills)
{
	SupervisedGroup g([](int) { pause(); });
	std::string out;
	EXPECT_EQ(g.poll_output(out, 100), SupervisedGroup::Output::Idle);
	EXPECT_TRUE(out.empty());
	ASSERT_TRUE(g.stop(0, 10000));
	EXPECT_TRUE(WIFSIGNALED(g.status()));
	EXPECT_EQ(WTERMSIG(g.status()), SIGKILL);
	EXPECT_EQ(wait_status_text(g.status()), "killed by signal 9 (Killed)");
}

TEST(Supervise, CrashIsReportedWithItsSignal)
{
	SupervisedGroup g([](int) { raise(SIGSEGV); });
	std::string out;
	EXPECT_EQ(drain(g, out, 10000), SupervisedGroup::Output::Closed);
	ASSERT_TRUE(g.wait(10000));
	EXPECT_TRUE(WIFSIGNALED(g.status()));
	EXPECT_EQ(WTERMSIG(g.status()), SIGSEGV);
}

// A hung child that forked: stop() ends the grandchild too (same group),
// even though the grandchild keeps the pipe open.
TEST(Supervise, StopKillsTheWholeGroupOfAHang)
{
	SupervisedGroup g([](int fd) {
		pid_t gc = fork();
		if (gc == 0) {
			pause();
			_exit(0);
		}
		(void)!write(fd, &gc, sizeof(gc));
		pause();
	});
	std::string out;
	while (out.size() < sizeof(pid_t))
		ASSERT_NE(g.poll_output(out, 10000), SupervisedGroup::Output::Closed);
	pid_t gc;
	memcpy(&gc, out.data(), sizeof(gc));
	ASSERT_TRUE(alive(gc));
	EXPECT_EQ(g.poll_output(out, 200), SupervisedGroup::Output::Idle);  // hung: nothing more comes
	ASSERT_TRUE(g.stop());
	// The orphaned grandchild is init's (or a subreaper's) to reap: wait until it is gone.
	for (int i = 0; i < 500 && alive(gc); ++i)
		usleep(10000);
	EXPECT_FALSE(alive(gc)) << "grandchild " << gc << " survived the group kill";
}

// First SIGINT: interrupted() and nothing else; second: the live group is
// killed and the process exits 130.  Run in a child so this test survives.
TEST(Supervise, SecondSignalKillsTheGroupAndExits130)
{
	int pfd[2];
	ASSERT_EQ(pipe(pfd), 0);
	pid_t tester = fork();
	if (tester == 0) {
		close(pfd[0]);
		install_signal_handlers();
		SupervisedGroup g([](int) { pause(); });
		pid_t leader = g.pid();
		(void)!write(pfd[1], &leader, sizeof(leader));
		for (;;) {
			std::string out;
			g.poll_output(out, 50);
			if (interrupted()) {
				char c = 'i';
				(void)!write(pfd[1], &c, 1);
				while (true)
					pause();
			}
		}
	}
	close(pfd[1]);
	pid_t leader;
	ASSERT_EQ(read(pfd[0], &leader, sizeof(leader)), static_cast<ssize_t>(sizeof(leader)));
	kill(tester, SIGINT);
	char c = 0;
	ASSERT_EQ(read(pfd[0], &c, 1), 1);
	EXPECT_EQ(c, 'i');
	EXPECT_TRUE(alive(leader)) << "the first signal must only ask to stop";
	kill(tester, SIGINT);
	int status = 0;
	ASSERT_EQ(waitpid(tester, &status, 0), tester);
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 130);
	for (int i = 0; i < 500 && alive(leader); ++i)
		usleep(10000);
	EXPECT_FALSE(alive(leader)) << "the supervised group outlived the second signal";
	close(pfd[0]);
}
