// fork-exec: a parent holding `size` of prefaulted private anonymous memory
// starts a small program and waits for it, the way a shell or a server that
// forks only to exec does (lmbench's lat_proc exec, at large footprints).
// The strategy is the mode: fork (+execv), vfork (+execv), posix-spawn, or
// odf/odf-procfs (fork with ODF on, then execv).
#include <cerrno>
#include <cstring>
#include <spawn.h>
#include <stdexcept>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "run/fork_trial.h"
#include "base/sysinfo.h"
#include "run/workload.h"

extern char **environ;

namespace odfb {
namespace {

class ForkExec final : public Workload {
public:
	std::string description() const override
	{
		return "a parent holding a prefaulted region starts a program (fork+exec, vfork+exec, posix_spawn) and waits for it";
	}
	std::vector<Metric> metrics() const override
	{
		return {Metric::ns("exec_ns"),
			Metric::ns("spawn_return_ns"),
			Metric::ns("exit_ns"),
			Metric::ns("clone_kernel_ns"),
			Metric::bytes("child_pgtables_bytes"),
			Metric::bytes("parent_pgtables_bytes"),
			Metric::flag("child_mm_shared"),
			Metric::count("rusage_parent_minflt"),
			Metric::count("rusage_child_minflt"),
			Metric::count("parent_faults"),
			Metric::flag("odf_verified")};
	}
	std::string not_applicable(Mode m) const override
	{
		if (m == Mode::Vfork || m == Mode::PosixSpawn)
			return "";
		return Workload::not_applicable(m);
	}
	void validate(const Params &p) const override
	{
		for (auto &[k, v] : p.extra.items())
			if (k != "program")
				throw std::invalid_argument(fmt::format("params.{}: unknown parameter for fork-exec (known: program)", k));
		if (p.extra.contains("program") && (!p.extra["program"].is_string() || p.extra["program"].get<std::string>().empty()))
			throw std::invalid_argument("params.program: must be a non-empty path");
	}

	nlohmann::json setup(TrialEnv &env, const Params &p) override
	{
		prog_ = find_program(p.extra.value("program", std::string("true")));
		if (prog_.empty() || access(prog_.c_str(), X_OK) != 0)
			throw std::runtime_error(fmt::format("params.program: {} is not an executable on PATH",
							     p.extra.value("program", std::string("true"))));
		region_ = std::make_unique<Region>(p.size_bytes, false);
		MissingMetrics missing(env);
		missing.need("clone_syscall", {"clone_kernel_ns"});
		missing.need("sched_process_fork", {"child_pgtables_bytes", "parent_pgtables_bytes", "child_mm_shared"});
		missing.need("page_fault_user", {"parent_faults"});
		auto j = region_->setup_json();
		j["program"] = prog_;
		j["missing_metrics"] = missing.json();
		return j;
	}

	nlohmann::json trial(TrialEnv &env, const Params &) override
	{
		// The child's copy of the write end closes at exec (O_CLOEXEC): EOF
		// on the read end is the moment the program has been exec'd.
		int pfd[2];
		if (pipe2(pfd, O_CLOEXEC) != 0)
			throw std::runtime_error(fmt::format("pipe: {}", std::strerror(errno)));
		pid_t self = getpid();
		env.procs.track(self);
		struct rusage ru0, rc0, ru1, rc1;
		getrusage(RUSAGE_SELF, &ru0);
		getrusage(RUSAGE_CHILDREN, &rc0);
		char *argv[] = {const_cast<char *>(prog_.c_str()), nullptr};

		uint64_t t0 = now_ns();
		pid_t pid = -1;
		int err = 0;
		switch (env.mode) {
		case Mode::Vfork:
			pid = vfork();
			if (pid == 0) {
				execv(argv[0], argv);
				_exit(127);
			}
			err = errno;
			break;
		case Mode::PosixSpawn:
			err = posix_spawn(&pid, argv[0], nullptr, nullptr, argv, environ);
			if (err)
				pid = -1;
			break;
		default:  // fork, odf, odf-procfs: env.fork_fn is the mode's fork
			pid = env.fork_fn();
			if (pid == 0) {
				execv(argv[0], argv);
				_exit(127);
			}
			err = errno;
		}
		uint64_t t1 = now_ns();
		close(pfd[1]);
		if (pid < 0) {
			close(pfd[0]);
			throw std::runtime_error(fmt::format("{} failed: {}", mode_name(env.mode), std::strerror(err)));
		}
		char c;
		while (read(pfd[0], &c, 1) < 0 && errno == EINTR) {
		}
		uint64_t t2 = now_ns();
		close(pfd[0]);
		int status = 0;
		waitpid(pid, &status, 0);
		uint64_t t3 = now_ns();
		getrusage(RUSAGE_SELF, &ru1);
		getrusage(RUSAGE_CHILDREN, &rc1);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			throw std::runtime_error(fmt::format("{} exited with status {:#x}", prog_, status));

		nlohmann::json t;
		auto ps = read_record(t, env, self, "parent");
		env.procs.forget(pid);
		t["spawn_return_ns"] = t1 - t0;
		t["exec_ns"] = t2 - t0;
		t["exit_ns"] = t3 - t0;
		t["rusage_parent_minflt"] = ru1.ru_minflt - ru0.ru_minflt;
		t["rusage_child_minflt"] = rc1.ru_minflt - rc0.ru_minflt;
		if (ps && env.probe("clone_syscall")) {
			t["clones"] = ps->clones;
			if (ps->clones == 1)
				t["clone_kernel_ns"] = ps->clone_ns_last;
		}
		if (ps && env.probe("page_fault_user"))
			t["parent_faults"] = ps->faults_user;
		if (ps && env.probe("sched_process_fork") && ps->forks == 1 && ps->last_child_tgid == static_cast<__u32>(pid)) {
			// vfork and posix_spawn share the parent's mm (CLONE_VM): the
			// child's page tables are the parent's, none copied.
			t["child_mm_shared"] = ps->last_child_pgtables_bytes == ps->last_parent_pgtables_bytes;
		}
		t["odf_verified"] = false;  // replaced by the evidence in the ODF modes
		if (is_odf_mode(env.mode))
			record_fork_evidence(t, env, ps ? &*ps : nullptr, pid, region_->pte_mapped_bytes());
		else if (ps && env.probe("sched_process_fork") && ps->forks == 1) {
			t["child_pgtables_bytes"] = ps->last_child_pgtables_bytes;
			t["parent_pgtables_bytes"] = ps->last_parent_pgtables_bytes;
		}
		return t;
	}

private:
	std::string prog_;
	std::unique_ptr<Region> region_;
};

}  // namespace
}  // namespace odfb

using odfb::ForkExec;
ODFBENCH_WORKLOAD("fork-exec", ForkExec)
