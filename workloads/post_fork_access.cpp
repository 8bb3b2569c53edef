// post-fork-access: fork a prefaulted region, then the child, the parent or
// both read or write a fraction of its pages.  ODF makes the fork cheap and
// moves the page-table copying into these faults; this measures both halves.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <numeric>
#include <random>
#include <stdexcept>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "run/fork_trial.h"
#include "base/sysinfo.h"
#include "run/workload.h"

namespace odfb {
namespace {

struct AccessResult {
	uint64_t ns = 0;
	uint64_t minflt = 0;      // getrusage: the independent count
	bool counted = false;     // the probe record existed before and after: the counters below are measurements
	bool gated = true;        // the fault-histogram gate opened and closed around the access
	uint64_t bpf_faults = 0;  // page_fault_user during the access only
	uint64_t cpte_fault = 0, hcp_reused = 0, fallback_fault = 0, tfork_copies = 0;
};

class PostForkAccess final : public Workload {
public:
	bool counts_faults() const override { return true; }
	std::string description() const override
	{
		return "fork, then the child/parent/both read or write a fraction of the region (the cost ODF moves into faults)";
	}
	std::vector<Metric> metrics() const override
	{
		return {Metric::ns("total_ns"),
			Metric::ns("fork_ns"),
			Metric::ns("child_access_ns"),
			Metric::ns("parent_access_ns"),
			Metric::count("child_faults"),
			Metric::count("parent_faults"),
			Metric::count("child_minflt"),
			Metric::count("parent_minflt"),
			Metric::ns("ns_per_fault"),
			Metric::count("pages_touched"),
			Metric::count("cpte_fault"),
			Metric::count("handle_cow_pte_reused"),
			Metric::count("cow_pte_fallback_fault"),
			Metric::count("tfork_table_copies"),
			Metric::flag("odf_verified")};
	}
	void validate(const Params &p) const override
	{
		for (auto &[k, v] : p.extra.items())
			if (k != "who" && k != "fraction" && k != "pattern" && k != "op" && k != "thp" && k != "seed")
				throw std::invalid_argument(fmt::format(
					"params.{}: unknown parameter for post-fork-access (known: who, fraction, pattern, op, thp, seed)", k));
		auto one_of = [&](const char *k, std::initializer_list<const char *> allowed) {
			if (!p.extra.contains(k))
				return;
			if (!p.extra[k].is_string() ||
			    std::none_of(allowed.begin(), allowed.end(), [&](const char *a) { return p.extra[k] == a; }))
				throw std::invalid_argument(fmt::format("params.{}: must be one of {}", k, fmt::join(allowed, ", ")));
		};
		one_of("who", {"child", "parent", "both"});
		one_of("pattern", {"seq", "random"});
		one_of("op", {"read", "write"});
		if (p.extra.contains("fraction") &&
		    (!p.extra["fraction"].is_number() || p.extra["fraction"].get<double>() <= 0 || p.extra["fraction"].get<double>() > 1))
			throw std::invalid_argument("params.fraction: must be a number in (0, 1]");
		if (p.extra.contains("thp") && !p.extra["thp"].is_boolean())
			throw std::invalid_argument("params.thp: must be true or false");
		if (p.extra.contains("seed") && !p.extra["seed"].is_number_unsigned())
			throw std::invalid_argument("params.seed: must be a non-negative integer");
	}
	uint64_t footprint(const Params &p) const override
	{
		// Every written page is copied once per writer.
		if (p.extra.value("op", "write") != std::string("write"))
			return p.size_bytes;
		double f = p.extra.value("fraction", 1.0);
		int writers = p.extra.value("who", "child") == std::string("both") ? 2 : 1;
		return p.size_bytes + static_cast<uint64_t>(f * writers * static_cast<double>(p.size_bytes));
	}

	nlohmann::json setup(TrialEnv &env, const Params &p) override
	{
		who_ = p.extra.value("who", "child");
		write_ = p.extra.value("op", "write") == std::string("write");
		region_ = std::make_unique<Region>(p.size_bytes, p.extra.value("thp", false));
		double f = p.extra.value("fraction", 1.0);
		uint64_t n = region_->pages(), k = std::max<uint64_t>(1, static_cast<uint64_t>(f * static_cast<double>(n)));
		pages_.resize(n);
		std::iota(pages_.begin(), pages_.end(), 0);
		if (p.extra.value("pattern", "seq") == std::string("random")) {
			std::mt19937_64 rng(p.extra.value("seed", 42u));
			std::shuffle(pages_.begin(), pages_.end(), rng);
		}
		pages_.resize(k);
		MissingMetrics missing(env);
		missing.need("page_fault_user", {"child_faults", "parent_faults", "ns_per_fault"});
		missing.need("sched_process_fork", {"child_pgtables_bytes", "tables_shared_est"});
		auto j = region_->setup_json();
		j["pages_touched"] = k;
		j["missing_metrics"] = missing.json();
		return j;
	}

	nlohmann::json trial(TrialEnv &env, const Params &) override
	{
		int go[2], report[2];
		if (pipe2(go, O_CLOEXEC) || pipe2(report, O_CLOEXEC))
			throw std::runtime_error(fmt::format("pipe: {}", std::strerror(errno)));
		pid_t self = getpid();
		env.procs.track(self);
		// Fault latencies of the accesses alone (each process opens the gate
		// around its own), not of the harness's own work in between.
		if (env.hists.valid() && !env.hists.set_fault_gate(false))
			throw std::runtime_error(fmt::format("cannot close the fault-histogram gate: {}", std::strerror(errno)));
		bool child_touches = who_ != "parent", parent_touches = who_ != "child";

		uint64_t t0 = now_ns();
		pid_t pid = env.fork_fn();
		if (pid == 0) {
			// The child waits, so the parent is measured with the child alive
			// (the tables stay shared), and reports before it exits.
			char c;
			(void)!read(go[0], &c, 1);
			AccessResult r;
			if (child_touches)
				r = access(env, getpid());
			(void)!write(report[1], &r, sizeof(r));
			(void)!read(go[0], &c, 1);
			_exit(0);
		}
		uint64_t t1 = now_ns();
		if (pid < 0) {
			int e = errno;
			for (int fd : {go[0], go[1], report[0], report[1]})
				close(fd);
			throw std::runtime_error(fmt::format("fork failed: {}", std::strerror(e)));
		}
		close(go[0]);
		close(report[1]);
		auto ps_fork = env.procs.read(self);
		(void)!write(go[1], "g", 1);
		AccessResult cr;
		bool got = read(report[0], &cr, sizeof(cr)) == sizeof(cr);
		AccessResult pr;
		if (parent_touches)
			pr = access(env, self);  // after the child's, while it still lives
		(void)!write(go[1], "x", 1);
		close(go[1]);
		close(report[0]);
		int status = 0;
		waitpid(pid, &status, 0);
		if (!got || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			throw std::runtime_error(fmt::format("trial child {} died: status {:#x}", pid, status));
		env.procs.forget(pid);

		nlohmann::json t;
		t["fork_ns"] = t1 - t0;
		t["fault_histogram_window"] = "access";
		if (ps_fork)
			record_fork_phases(t, env, *ps_fork);
		uint64_t total = t1 - t0, faults = 0, access_ns = 0;
		bool counted = true;
		auto put = [&](const char *who, const AccessResult &r) {
			if (!r.gated)
				throw std::runtime_error(fmt::format("the {}'s access could not set the fault-histogram gate", who));
			t[fmt::format("{}_access_ns", who)] = r.ns;
			t[fmt::format("{}_minflt", who)] = r.minflt;
			total += r.ns;
			access_ns += r.ns;
			if (!r.counted) {
				if (!t.contains("untracked"))
					t["untracked"] = nlohmann::json::array();
				t["untracked"].push_back(who);
				counted = false;
			} else if (env.probe("page_fault_user")) {
				t[fmt::format("{}_faults", who)] = r.bpf_faults;
				faults += r.bpf_faults;
			}
		};
		if (child_touches)
			put("child", cr);
		if (parent_touches)
			put("parent", pr);
		t["total_ns"] = total;
		t["pages_touched"] = pages_.size();
		if (faults)
			t["ns_per_fault"] = static_cast<double>(access_ns) / static_cast<double>(faults);
		if (!counted) {
			record_fork_evidence(t, env, ps_fork ? &*ps_fork : nullptr, pid, region_->pte_mapped_bytes());
			return t;
		}
		if (env.probe("copy_pte_range"))
			t["cpte_fault"] = cr.cpte_fault + pr.cpte_fault;
		if (env.probe("handle_cow_pte"))
			t["handle_cow_pte_reused"] = cr.hcp_reused + pr.hcp_reused;
		if (env.probe("cow_pte_fallback") && env.probe("fault_latency"))
			t["cow_pte_fallback_fault"] = cr.fallback_fault + pr.fallback_fault;
		if (env.probe("tfork_one_pte_table"))
			t["tfork_table_copies"] = cr.tfork_copies + pr.tfork_copies;
		record_fork_evidence(t, env, ps_fork ? &*ps_fork : nullptr, pid, region_->pte_mapped_bytes());
		return t;
	}

private:
	// Touches the chosen pages in this process; counters are read from the
	// BPF map before and after, so only the access phase is counted.
	AccessResult access(TrialEnv &env, pid_t me)
	{
		// The bracket's calls once before it: a child's first use of a stack
		// page is a copy-on-write fault, which must not land between the
		// counters and the fault-histogram gate (seen: one fault in 16,387).
		struct rusage warm;
		getrusage(RUSAGE_SELF, &warm);
		(void)env.procs.read(me);
		(void)(env.hists.valid() && env.hists.set_fault_gate(false));
		(void)now_ns();
		auto before = env.procs.read(me);
		struct rusage ru0, ru1;
		getrusage(RUSAGE_SELF, &ru0);
		char *base = region_->data();
		long page = region_->page_size();
		volatile char sink = 0;
		bool gated = !env.hists.valid() || env.hists.set_fault_gate(true);
		uint64_t t0 = now_ns();
		if (write_)
			for (uint64_t pg : pages_)
				base[pg * page] = 2;
		else
			for (uint64_t pg : pages_)
				sink = sink + base[pg * page];
		uint64_t dt = now_ns() - t0;
		gated = (!env.hists.valid() || env.hists.set_fault_gate(false)) && gated;
		getrusage(RUSAGE_SELF, &ru1);
		auto after = env.procs.read(me);
		AccessResult r;
		r.ns = dt;
		r.minflt = ru1.ru_minflt - ru0.ru_minflt;
		r.gated = gated;
		if (!before || !after)
			return r;
		r.counted = true;
		r.bpf_faults = after->faults_user - before->faults_user;
		r.cpte_fault = after->cpte_fault - before->cpte_fault;
		r.hcp_reused = after->hcp_ret1 - before->hcp_ret1;
		r.fallback_fault = after->fallback_fault - before->fallback_fault;
		r.tfork_copies = after->tfork_table_copies - before->tfork_table_copies;
		return r;
	}

	std::unique_ptr<Region> region_;
	std::vector<uint64_t> pages_;
	std::string who_ = "child";
	bool write_ = true;
};

}  // namespace
}  // namespace odfb

using odfb::PostForkAccess;
ODFBENCH_WORKLOAD("post-fork-access", PostForkAccess)
