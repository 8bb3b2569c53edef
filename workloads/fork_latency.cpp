// fork-latency: fork a process holding `size` of prefaulted private anonymous
// memory; the child exits at once.  The paper's headline experiment.
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <ctime>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "run/folio.h"
#include "run/fork_trial.h"
#include "base/sysinfo.h"
#include "run/workload.h"

namespace odfb {
namespace {

class ForkLatency final : public Workload {
public:
	std::string description() const override
	{
		return "fork of a prefaulted private anonymous region; child exits at once";
	}
	std::vector<Metric> metrics() const override
	{
		return {Metric::ns("fork_ns"),
			Metric::ns("fork_cpu_ns"),
			Metric::ns("child_start_ns"),
			Metric::ns("clone_kernel_ns"),
			Metric::bytes("child_pgtables_bytes"),
			Metric::bytes("parent_pgtables_bytes"),
			Metric::count("parent_faults"),
			Metric::count("child_faults"),
			Metric::count("rusage_parent_minflt"),
			Metric::count("rusage_child_minflt"),
			Metric::count("tables_shared_est"),
			Metric::count("parent_vmas"),
			Metric::count("copy_page_range_calls"),
			Metric::ns("copy_page_range_ns"),
			Metric::count("cpte_fork"),
			Metric::count("cpte_fault"),
			Metric::count("handle_cow_pte_calls"),
			Metric::count("tfork_table_copies"),
			Metric::flag("odf_verified"),
			Metric::flag("folio_verified"),
			{"folio_exact_fraction", "fraction", true},
			Metric::count("large_folio_pages")};
	}
	void validate(const Params &p) const override
	{
		for (auto &[k, v] : p.extra.items())
			if (k != "thp")
				throw std::invalid_argument(fmt::format("params.{}: unknown parameter for fork-latency (known: thp)", k));
		if (p.extra.contains("thp") && !p.extra["thp"].is_boolean())
			throw std::invalid_argument("params.thp: must be true or false");
	}

	// Fork on every page size: 4K, 2M (thp) and the mTHP sizes.
	std::string not_applicable(Mode m) const override
	{
		return mode_folio_kb(m) ? "" : Workload::not_applicable(m);
	}

	nlohmann::json setup(TrialEnv &env, const Params &p) override
	{
		unsigned kb = mode_folio_kb(env.mode);
		auto before = kb ? folio_stats(kb) : std::map<std::string, uint64_t>{};
		region_ = std::make_unique<Region>(p.size_bytes, p.extra.value("thp", false) || kb);
		MissingMetrics missing(env);
		missing.need("clone_syscall", {"clone_kernel_ns"});
		missing.need("sched_process_fork", {"child_pgtables_bytes", "parent_pgtables_bytes", "tables_shared_est"});
		missing.need("page_fault_user", {"parent_faults", "child_faults"});
		missing.need("copy_page_range", {"copy_page_range_calls", "copy_page_range_ns"});
		auto j = region_->setup_json();
		j["missing_metrics"] = missing.json();
		if (auto f = folio_setup_evidence(env, *region_, before); !f.is_null())
			j["folio"] = f;
		return j;
	}

	nlohmann::json trial(TrialEnv &env, const Params &) override
	{
		int pfd[2];
		if (pipe2(pfd, O_CLOEXEC) != 0)
			throw std::runtime_error(fmt::format("pipe: {}", std::strerror(errno)));
		pid_t self = getpid();
		env.procs.track(self);
		struct rusage ru0, rc0, ru1, rc1;
		int vmas = count_vmas(self);
		getrusage(RUSAGE_SELF, &ru0);
		getrusage(RUSAGE_CHILDREN, &rc0);

		struct timespec c0, c1;
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
		uint64_t t0 = now_ns();
		pid_t pid = env.fork_fn();
		if (pid == 0) {
			uint64_t tc = now_ns();
			(void)!write(pfd[1], &tc, sizeof(tc));
			_exit(0);
		}
		uint64_t t1 = now_ns();
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
		if (pid < 0) {
			int e = errno;
			close(pfd[0]);
			close(pfd[1]);
			throw std::runtime_error(fmt::format("fork failed: {}", std::strerror(e)));
		}
		close(pfd[1]);
		uint64_t tc = 0;
		ssize_t got = read(pfd[0], &tc, sizeof(tc));
		close(pfd[0]);
		int status = 0;
		waitpid(pid, &status, 0);
		getrusage(RUSAGE_SELF, &ru1);
		getrusage(RUSAGE_CHILDREN, &rc1);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			throw std::runtime_error(fmt::format("trial child {} died: status {:#x}", pid, status));

		nlohmann::json t;
		auto ps = read_record(t, env, self, "parent");
		auto cs = read_record(t, env, pid, "child", Record::Child);
		env.procs.forget(pid);

		t["fork_ns"] = t1 - t0;
		// The CPU time the parent spent in fork(): the wall time less any wait
		// for a CPU, so it holds still on a busy machine.
		t["fork_cpu_ns"] = (c1.tv_sec - c0.tv_sec) * 1'000'000'000ll + (c1.tv_nsec - c0.tv_nsec);
		if (vmas >= 0)
			t["parent_vmas"] = vmas;
		if (got == sizeof(tc) && tc >= t0)
			t["child_start_ns"] = tc - t0;
		t["rusage_parent_minflt"] = ru1.ru_minflt - ru0.ru_minflt;
		t["rusage_child_minflt"] = rc1.ru_minflt - rc0.ru_minflt;
		if (ps && env.probe("clone_syscall") && ps->clones == 1)
			t["clone_kernel_ns"] = ps->clone_ns_last;
		if (env.probe("page_fault_user")) {
			if (ps)
				t["parent_faults"] = ps->faults_user;
			if (cs)
				t["child_faults"] = cs->faults_user;
		}
		record_fork_evidence(t, env, ps ? &*ps : nullptr, pid, region_->pte_mapped_bytes());
		record_copy_counters(t, env, ps ? &*ps : nullptr, cs ? &*cs : nullptr);
		if (!is_odf_mode(env.mode))  // pagemap of an ODF process is a hazard (docs/odf-kernels.md §4)
			record_folio_evidence(t, env, *region_);
		return t;
	}

private:
	std::unique_ptr<Region> region_;
};

}  // namespace
}  // namespace odfb

using odfb::ForkLatency;
ODFBENCH_WORKLOAD("fork-latency", ForkLatency)
