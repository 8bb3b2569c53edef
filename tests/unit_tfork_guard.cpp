// The paper kernel's tfork guard, on this (mainline) kernel, where 439 is
// faccessat2: the filter must turn a 439 that carries a path into ENOSYS,
// let the argument-less 439 (tfork's shape) reach the kernel, and leave
// glibc's faccessat() working through its fallback.
#include <cerrno>
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "odf/tfork_guard.h"

namespace {
bool has_faccessat2()
{
	utsname u{};
	int major = 0, minor = 0;
	uname(&u);
	sscanf(u.release, "%d.%d", &major, &minor);
	return major > 5 || (major == 5 && minor >= 8);
}
}  // namespace

TEST(TforkGuard, FailsFaccessat2WithAPathAndPassesTheArgumentlessShape)
{
	if (!has_faccessat2())
		GTEST_SKIP() << "kernel before 5.8: syscall 439 does not exist here";
	// Without the filter, 439 is faccessat2 and "/" exists.
	ASSERT_EQ(syscall(439, AT_FDCWD, "/", F_OK, 0), 0);
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		try {
			odfb::install_tfork_seccomp_filter();
		} catch (...) {
			_exit(100);
		}
		int bad = 0;
		errno = 0;
		if (!(syscall(439, AT_FDCWD, "/", F_OK, 0) == -1 && errno == ENOSYS))
			bad |= 1;
		errno = 0;
		if (!(syscall(439, 0, "/", F_OK, 0) == -1 && errno == ENOSYS))  // the path decides, not the dirfd
			bad |= 1;
		errno = 0;
		// tfork's shape reaches the kernel: faccessat2 with a NULL path is EFAULT there.
		if (!(syscall(439, 0, 0, 0, 0, 0) == -1 && errno == EFAULT))
			bad |= 2;
		if (faccessat(AT_FDCWD, "/", F_OK, AT_EACCESS) != 0 || faccessat(AT_FDCWD, "/nonexistent-odfb", F_OK, 0) == 0)
			bad |= 4;  // glibc's fallback still answers, both ways
		_exit(bad);
	}
	int st = 0;
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT_TRUE(WIFEXITED(st));
	EXPECT_EQ(WEXITSTATUS(st), 0) << "bits: 1 = path not refused, 2 = argument-less call blocked, 4 = faccessat broken, 100 = "
					  "filter not installed";
}
