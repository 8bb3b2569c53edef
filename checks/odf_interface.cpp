// The 6.0.6 patch set's switch, as docs/odf-kernels.md §1 describes it: each
// check starts from a process with ODF off and confirms (pass) or refutes
// (fail) one documented behaviour.  The paper kernel's switch is tfork.
#include <sys/prctl.h>
#include <sys/wait.h>

#include "check_util.h"
#include "odf/switch.h"

namespace odfb::checks {
namespace {

std::optional<Verdict> needs_patchset(const CheckCtx &ctx)
{
	if (ctx.odf().variant != OdfVariant::Patchset60)
		return unsupported("a 6.0.6 patch-set interface; this kernel's ODF is switched by tfork");
	return std::nullopt;
}

// A plain child that exits at once: any clone turns READY into ON.
void fork_and_reap(CheckCtx &ctx)
{
	pid_t pid = ctx.fork_raw();
	if (pid == 0) {
		ctx.child_started();
		_exit(0);
	}
	if (pid > 0)
		waitpid(pid, nullptr, 0);
}

// In a fresh child of the runner (ODF off), do `prepare`, then exec
// `odfbench __odf-probe`, which prints use_odf before and after one fork.
std::string exec_probe(CheckCtx &ctx, const std::function<void()> &prepare)
{
	int pfd[2];
	if (pipe2(pfd, 0) != 0)
		return "";
	pid_t pid = ctx.fork_raw();
	if (pid == 0) {
		ctx.child_started();
		close(pfd[0]);
		dup2(pfd[1], 1);
		prepare();
		execl("/proc/self/exe", "odfbench", "__odf-probe", nullptr);
		_exit(127);
	}
	close(pfd[1]);
	std::string out;
	char buf[256];
	ssize_t n;
	while ((n = read(pfd[0], buf, sizeof(buf))) > 0)
		out.append(buf, static_cast<size_t>(n));
	close(pfd[0]);
	waitpid(pid, nullptr, 0);
	while (!out.empty() && out.back() == '\n')
		out.pop_back();
	return out;
}

void write_use_odf_self()
{
	int fd = open("/proc/self/use_odf", O_WRONLY);
	if (fd >= 0) {
		(void)!write(fd, "1", 1);
		close(fd);
	}
}

}  // namespace

ODFBENCH_CHECK({"use-odf-reads-0-until-clone", "odf-interface",
		"after prctl(65), /proc/self/use_odf reads 0; after the first clone it reads 1",
		[](CheckCtx &ctx) {
			if (auto v = needs_patchset(ctx))
				return *v;
			std::string before = read_use_odf(getpid());
			if (prctl(65, 0, 0, 0, 0) != 0)
				return fail(fmt::format("prctl(65) failed: {}", strerror(errno)));
			std::string ready = read_use_odf(getpid());
			fork_and_reap(ctx);
			std::string on = read_use_odf(getpid());
			if (before != "0" || ready != "0" || on != "1")
				return fail(fmt::format("use_odf read {} before, {} after prctl, {} after a clone (expected 0, 0, 1)", before,
							ready, on));
			return pass();
		},
		true})

ODFBENCH_CHECK({"prctl-einval-after-first-fork", "odf-interface",
		"a second prctl(65) fails with EINVAL once a clone has turned ODF on (the suite reads that as already on)",
		[](CheckCtx &ctx) {
			if (auto v = needs_patchset(ctx))
				return *v;
			int first = prctl(65, 0, 0, 0, 0);
			int again_before_clone = prctl(65, 0, 0, 0, 0);
			fork_and_reap(ctx);
			errno = 0;
			int after = prctl(65, 0, 0, 0, 0);
			int e = errno;
			if (first != 0)
				return fail(fmt::format("the first prctl(65) failed: {}", strerror(errno)));
			if (after != -1 || e != EINVAL)
				return fail(fmt::format("prctl(65) after the first clone returned {} ({}), not EINVAL", after, strerror(e)));
			return Verdict{"pass", fmt::format("a second prctl(65) before any clone returned {}", again_before_clone)};
		},
		true})

ODFBENCH_CHECK({"echo-then-exec-does-not-enable", "odf-interface",
		"`echo 1 > /proc/self/use_odf; exec prog`: READY is lost on exec, so prog's forks are classic",
		[](CheckCtx &ctx) {
			if (auto v = needs_patchset(ctx))
				return *v;
			std::string out = exec_probe(ctx, write_use_odf_self);
			if (out.empty())
				return fail("the exec'd probe printed nothing");
			if (out != "before=0 after=0")
				return fail(fmt::format("the exec'd program reports {}: ODF was enabled across exec", out));
			return Verdict{"pass", out};
		},
		true})

ODFBENCH_CHECK({"echo-fork-exec-enables", "odf-interface",
		"`echo 1 > use_odf`, fork, exec in the child (the launcher path): the exec'd program runs with ODF on",
		[](CheckCtx &ctx) {
			if (auto v = needs_patchset(ctx))
				return *v;
			// prepare: set READY, then fork; the grandchild execs with ODF on.
			std::string out = exec_probe(ctx, [] {
				write_use_odf_self();
				pid_t p = fork();
				if (p > 0) {
					int st = 0;
					waitpid(p, &st, 0);
					_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
				}
			});
			if (out != "before=1 after=1")
				return fail(fmt::format("the exec'd program reports {}, expected before=1 after=1", out.empty() ? "nothing" : out));
			return Verdict{"pass", out};
		},
		true})

}  // namespace odfb::checks
