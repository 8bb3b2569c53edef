// fork-latency: fork a process holding `size` of prefaulted private anonymous
// memory; the child exits at once.  The paper's headline experiment.
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "odf_switch.h"
#include "sysinfo.h"
#include "workload.h"

namespace odfb {
namespace {

class ForkLatency final : public Workload {
public:
	~ForkLatency() override
	{
		if (region_)
			munmap(region_, size_);
	}
	std::string name() const override { return "fork-latency"; }
	std::string description() const override
	{
		return "fork of a prefaulted private anonymous region; child exits at once";
	}
	std::vector<std::string> metrics() const override
	{
		return {"fork_ns", "child_start_ns", "clone_kernel_ns", "child_pgtables_bytes", "parent_pgtables_bytes",
			"parent_faults", "child_faults", "rusage_parent_minflt", "rusage_child_minflt", "tables_shared_est",
			"parent_vmas", "copy_page_range_calls", "copy_page_range_ns", "cpte_fork", "cpte_fault", "handle_cow_pte_calls",
			"tfork_table_copies", "odf_verified"};
	}
	void validate(const Params &p) const override
	{
		for (auto &[k, v] : p.extra.items())
			if (k != "thp")
				throw std::invalid_argument(fmt::format("params.{}: unknown parameter for fork-latency (known: thp)", k));
		if (p.extra.contains("thp") && !p.extra["thp"].is_boolean())
			throw std::invalid_argument("params.thp: must be true or false");
	}

	nlohmann::json setup(TrialEnv &env, const Params &p) override
	{
		size_ = p.size_bytes;
		bool thp = p.extra.value("thp", false);
		region_ = static_cast<char *>(mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
		if (region_ == MAP_FAILED) {
			region_ = nullptr;
			throw std::runtime_error(fmt::format("mmap of {} bytes failed: {}", size_, std::strerror(errno)));
		}
		madvise(region_, size_, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
		// Touch, never MAP_POPULATE: GUP marks ODF tables exclusive (facts §4).
		uint64_t t0 = now_ns();
		long page = sysconf(_SC_PAGESIZE);
		for (uint64_t off = 0; off < size_; off += page)
			region_[off] = 1;
		uint64_t dt = now_ns() - t0;

		nlohmann::json missing = nlohmann::json::object();
		auto need = [&](const char *probe, std::initializer_list<const char *> ms) {
			if (env.probe(probe))
				return;
			for (auto *m : ms)
				missing[m] = fmt::format("probe {} not attached: {}", probe, env.probe_reason[probe]);
		};
		need("clone_syscall", {"clone_kernel_ns"});
		need("sched_process_fork", {"child_pgtables_bytes", "parent_pgtables_bytes", "tables_shared_est"});
		need("page_fault_user", {"parent_faults", "child_faults"});
		need("copy_page_range", {"copy_page_range_calls", "copy_page_range_ns"});
		return {{"prefault_ns", dt},
			{"prefault_bytes_per_s", dt ? static_cast<double>(size_) * 1e9 / static_cast<double>(dt) : 0.0},
			{"thp", thp},
			{"vm_pte_kb_after_prefault", proc_status_kb(getpid(), "VmPTE")},
			{"missing_metrics", missing}};
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

		uint64_t t0 = now_ns();
		pid_t pid = env.fork_fn();
		if (pid == 0) {
			uint64_t tc = now_ns();
			(void)!write(pfd[1], &tc, sizeof(tc));
			_exit(0);
		}
		uint64_t t1 = now_ns();
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

		auto ps = env.procs.read(self).value_or(proc_stats{});
		auto cs = env.procs.read(pid).value_or(proc_stats{});
		env.procs.forget(pid);

		nlohmann::json t;
		t["fork_ns"] = t1 - t0;
		if (vmas >= 0)
			t["parent_vmas"] = vmas;
		if (got == sizeof(tc) && tc >= t0)
			t["child_start_ns"] = tc - t0;
		t["rusage_parent_minflt"] = ru1.ru_minflt - ru0.ru_minflt;
		t["rusage_child_minflt"] = rc1.ru_minflt - rc0.ru_minflt;
		if (env.probe("clone_syscall") && ps.clones == 1)
			t["clone_kernel_ns"] = ps.clone_ns_last;
		if (env.probe("page_fault_user")) {
			t["parent_faults"] = ps.faults_user;
			t["child_faults"] = cs.faults_user;
		}
		if (env.probe("sched_process_fork") && ps.forks == 1 && ps.last_child_tgid == static_cast<__u32>(pid)) {
			auto ev = fork_evidence(*env.odf, ps, size_);
			t["child_pgtables_bytes"] = ps.last_child_pgtables_bytes;
			t["parent_pgtables_bytes"] = ps.last_parent_pgtables_bytes;
			t["tables_shared_est"] = ev.tables_shared_est;
			t["sharing_observed"] = ev.sharing_observed;
			if (ev.flag_known)
				t["odf_flag_in_child"] = ev.flag_in_child;
			t["odf_verified"] = env.mode != Mode::Fork && ev.flag_known && ev.flag_in_child && ev.sharing_observed;
		} else {
			t["odf_verified"] = false;
		}
		if (env.probe("copy_page_range")) {
			t["copy_page_range_calls"] = ps.cpr_calls;
			t["copy_page_range_ns"] = ps.cpr_ns;
		}
		if (env.probe("copy_page_range_tfork")) {
			t["copy_page_range_tfork_calls"] = ps.cpr_tfork_calls;
			t["copy_page_range_tfork_ns"] = ps.cpr_tfork_ns;
		}
		if (env.probe("copy_pte_range")) {
			t["cpte_fork"] = ps.cpte_fork;
			t["cpte_fault"] = ps.cpte_fault + cs.cpte_fault;
		}
		if (env.probe("handle_cow_pte")) {
			t["handle_cow_pte_calls"] = ps.hcp_calls + cs.hcp_calls;
			t["handle_cow_pte_reused"] = ps.hcp_ret1 + cs.hcp_ret1;
		}
		if (env.probe("cow_pte_fallback"))
			t["cow_pte_fallback_fault"] = ps.fallback_fault + cs.fallback_fault;
		if (env.probe("tfork_one_pte_table"))
			t["tfork_table_copies"] = ps.tfork_table_copies + cs.tfork_table_copies;
		return t;
	}

private:
	char *region_ = nullptr;
	uint64_t size_ = 0;
};

}  // namespace
}  // namespace odfb

using odfb::ForkLatency;
ODFBENCH_WORKLOAD(ForkLatency)
