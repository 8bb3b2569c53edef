// concurrent-fork: N processes, each holding `size` of prefaulted memory,
// fork at the same moment (the paper: 3 x 1 GB).  Shows how fork cost grows
// when several large forks contend for the same machine.
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "run/fork_trial.h"
#include "base/sysinfo.h"
#include "run/workload.h"

namespace odfb {
namespace {

struct HolderReport {
	uint64_t fork_ns = 0, start_ns = 0, end_ns = 0;
	proc_stats stats{};
	bool tracked = false;  // false: no record, stats are not a measurement
	pid_t child = 0;
	int err = 0;
};

class ConcurrentFork final : public Workload {
public:
	~ConcurrentFork() override { stop_holders(); }
	std::string description() const override
	{
		return "N processes each holding `size` fork at once (params.procs, default 3)";
	}
	std::vector<Metric> metrics() const override
	{
		return {Metric::ns("fork_ns"), Metric::ns("fork_ns_max"), Metric::ns("fork_ns_min"), Metric::rate("forks_per_s"),
			Metric::count("procs"), Metric::flag("odf_verified")};
	}
	void validate(const Params &p) const override
	{
		for (auto &[k, v] : p.extra.items())
			if (k != "procs")
				throw std::invalid_argument(fmt::format("params.{}: unknown parameter for concurrent-fork (known: procs)", k));
		if (p.extra.contains("procs") &&
		    (!p.extra["procs"].is_number_integer() || p.extra["procs"].get<int>() < 1 || p.extra["procs"].get<int>() > 64))
			throw std::invalid_argument("params.procs: must be an integer in [1, 64]");
	}
	uint64_t footprint(const Params &p) const override { return p.size_bytes * p.extra.value("procs", 3); }

	nlohmann::json setup(TrialEnv &env, const Params &p) override
	{
		procs_ = p.extra.value("procs", 3);
		size_ = p.size_bytes;
		MissingMetrics missing(env);
		missing.need("sched_process_fork", {"odf_verified"});
		return {{"procs", procs_}, {"missing_metrics", missing.json()}};
	}

	nlohmann::json trial(TrialEnv &env, const Params &) override
	{
		// Holders start at the first trial, after ODF was switched on in the
		// runner, so they inherit it (or, on the paper kernel, fork with tfork).
		if (holders_.empty())
			start_holders(env);
		for (auto &h : holders_)
			(void)!write(h.go, "g", 1);
		std::vector<HolderReport> reps(holders_.size());
		for (size_t i = 0; i < holders_.size(); ++i)
			if (read(holders_[i].report, &reps[i], sizeof(HolderReport)) != sizeof(HolderReport))
				throw std::runtime_error(fmt::format("holder {} died", holders_[i].pid));
		nlohmann::json t, each = nlohmann::json::array();
		uint64_t sum = 0, mx = 0, mn = UINT64_MAX, first = UINT64_MAX, last = 0;
		bool verified = true;
		for (size_t i = 0; i < reps.size(); ++i) {
			const auto &r = reps[i];
			if (r.err)
				throw std::runtime_error(fmt::format("holder fork failed: {}", std::strerror(r.err)));
			sum += r.fork_ns;
			mx = std::max(mx, r.fork_ns);
			mn = std::min(mn, r.fork_ns);
			first = std::min(first, r.start_ns);
			last = std::max(last, r.end_ns);
			nlohmann::json ev;
			if (!r.tracked)
				ev["untracked"] = {fmt::format("holder {}", holders_[i].pid)};
			record_fork_evidence(ev, env, r.tracked ? &r.stats : nullptr, r.child, size_);
			if (ev.contains("untracked"))
				for (auto &u : ev["untracked"])
					t["untracked"].push_back(u);
			verified &= ev["odf_verified"].get<bool>();
			ev["fork_ns"] = r.fork_ns;
			each.push_back(ev);
		}
		t["fork_ns"] = sum / reps.size();
		t["fork_ns_max"] = mx;
		t["fork_ns_min"] = mn;
		t["procs"] = reps.size();
		t["forks_per_s"] = last > first ? static_cast<double>(reps.size()) * 1e9 / static_cast<double>(last - first) : 0.0;
		t["holders"] = each;
		t["odf_verified"] = is_odf_mode(env.mode) && verified;
		if (env.probe("sched_process_fork")) {
			bool shared = false;
			for (auto &e : each)
				shared |= e.value("sharing_observed", false);
			t["sharing_observed"] = shared;
		}
		return t;
	}

private:
	struct Holder {
		pid_t pid;
		int go, report;
	};

	void start_holders(TrialEnv &env)
	{
		for (int i = 0; i < procs_; ++i) {
			int go[2], rep[2], ready[2];
			if (pipe2(go, O_CLOEXEC) || pipe2(rep, O_CLOEXEC) || pipe2(ready, O_CLOEXEC))
				throw std::runtime_error(fmt::format("pipe: {}", std::strerror(errno)));
			pid_t pid = env.fork_fn();
			if (pid < 0)
				throw std::runtime_error(fmt::format("fork of holder: {}", std::strerror(errno)));
			if (pid == 0) {
				close(go[1]);
				close(rep[0]);
				close(ready[0]);
				for (auto &h : holders_) {  // earlier holders' ends: their EOF must not wait for us
					close(h.go);
					close(h.report);
				}
				holder_main(env, go[0], rep[1], ready[1]);
			}
			close(go[0]);
			close(rep[1]);
			close(ready[1]);
			char c;
			if (read(ready[0], &c, 1) != 1)  // its region is prefaulted
				throw std::runtime_error(fmt::format("holder {} failed to set up", pid));
			close(ready[0]);
			holders_.push_back({pid, go[1], rep[0]});
		}
	}

	[[noreturn]] void holder_main(TrialEnv &env, int go, int report, int ready)
	{
		try {
			Region region(size_, false);
			(void)!write(ready, "r", 1);
			close(ready);
			char c;
			while (read(go, &c, 1) == 1) {
				HolderReport r;
				pid_t self = getpid();
				env.procs.track(self);
				r.start_ns = now_ns();
				pid_t pid = env.fork_fn();
				if (pid == 0)
					_exit(0);
				r.end_ns = now_ns();
				r.fork_ns = r.end_ns - r.start_ns;
				if (pid < 0)
					r.err = errno;
				else
					waitpid(pid, nullptr, 0);
				r.child = pid;
				if (auto ps = env.procs.read(self)) {
					r.stats = *ps;
					r.tracked = true;
				}
				env.procs.forget(pid);
				(void)!write(report, &r, sizeof(r));
			}
		} catch (...) {
		}
		_exit(0);
	}

	void stop_holders()
	{
		for (auto &h : holders_) {
			close(h.go);  // EOF: the holder exits
			close(h.report);
			waitpid(h.pid, nullptr, 0);
		}
		holders_.clear();
	}

	int procs_ = 3;
	uint64_t size_ = 0;
	std::vector<Holder> holders_;
};

}  // namespace
}  // namespace odfb

using odfb::ConcurrentFork;
ODFBENCH_WORKLOAD("concurrent-fork", ConcurrentFork)
