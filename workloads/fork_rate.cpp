// fork-rate: how many fork+exit+wait cycles a small process completes per
// second: the no-regression check for small, frequent forks, which ODF's extra
// work per writable entry could slow down.
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "run/fork_trial.h"
#include "base/sysinfo.h"
#include "run/workload.h"

namespace odfb {
namespace {

class ForkRate final : public Workload {
public:
	std::string description() const override { return "fork+exit+wait cycles per second of a process holding `size` (keep it small)"; }
	std::vector<Metric> metrics() const override
	{
		return {Metric::rate("forks_per_s"), Metric::ns("cycle_ns"), Metric::count("cycles"), Metric::flag("odf_verified")};
	}
	void validate(const Params &p) const override
	{
		for (auto &[k, v] : p.extra.items())
			if (k != "window_ms")
				throw std::invalid_argument(fmt::format("params.{}: unknown parameter for fork-rate (known: window_ms)", k));
		if (p.extra.contains("window_ms") && (!p.extra["window_ms"].is_number_integer() || p.extra["window_ms"].get<int>() < 10))
			throw std::invalid_argument("params.window_ms: must be an integer >= 10");
	}
	nlohmann::json setup(TrialEnv &, const Params &p) override
	{
		region_ = std::make_unique<Region>(p.size_bytes, false);
		window_ns_ = p.extra.value("window_ms", 200) * 1'000'000ull;
		return region_->setup_json();
	}
	nlohmann::json trial(TrialEnv &env, const Params &) override
	{
		pid_t self = getpid();
		env.procs.track(self);
		uint64_t cycles = 0, t0 = now_ns(), t = t0;
		nlohmann::json ev;
		while (t - t0 < window_ns_) {
			pid_t pid = env.fork_fn();
			if (pid == 0)
				_exit(0);
			if (pid < 0)
				throw std::runtime_error(fmt::format("fork failed: {}", std::strerror(errno)));
			waitpid(pid, nullptr, 0);
			if (cycles == 0) {  // the first child's evidence stands for the rest
				auto ps = read_record(ev, env, self, "parent");
				record_fork_evidence(ev, env, ps ? &*ps : nullptr, pid, region_->pte_mapped_bytes());
			}
			env.procs.forget(pid);
			++cycles;
			t = now_ns();
		}
		nlohmann::json r = {{"cycles", cycles},
				    {"forks_per_s", static_cast<double>(cycles) * 1e9 / static_cast<double>(t - t0)},
				    {"cycle_ns", static_cast<double>(t - t0) / static_cast<double>(cycles)},
				    {"odf_verified", ev.value("odf_verified", false)},
				    {"odf_evidence", "the first child of the window"}};
		if (ev.contains("untracked"))
			r["untracked"] = ev["untracked"];
		if (auto ps = read_record(r, env, self, "parent"); ps && env.probe("sched_process_fork"))
			r["bpf_forks"] = ps->forks;
		return r;
	}

private:
	std::unique_ptr<Region> region_;
	uint64_t window_ns_ = 0;
};

}  // namespace
}  // namespace odfb

using odfb::ForkRate;
ODFBENCH_WORKLOAD("fork-rate", ForkRate)
