// redis-snapshot: a real redis-server (Debian's), filled to `size`, takes a
// BGSAVE while an open-loop client population (harness/run/open_loop.h) sends it
// GETs and SETs at a fixed rate.  The fork inside BGSAVE is what ODF speeds
// up; Redis reports it itself as latest_fork_usec.  The SETs overwrite keys of
// the filled dataset, so the parent takes copy-on-write faults while the
// child saves: the cost ODF moves from fork time to fault time.
//
// Redis runs on a unix socket in the cell's scratch directory: no TCP port,
// no persistence of its own (save ""), its files removed with the cell.
// ODF: mode odf starts redis through the launcher (on from its first
// instruction); mode odf-procfs writes /proc/<redis>/use_odf before BGSAVE.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "run/fork_trial.h"
#include "odf/switch.h"
#include "run/open_loop.h"
#include "base/sysinfo.h"
#include "run/workload.h"
#include "redis_client.h"

namespace odfb {
namespace {

constexpr uint64_t kSaveTimeoutNs = 600'000'000'000ull;
// Load outside the snapshot more than this behind schedule: the client did
// not sustain the rate (load_kept_up false).
constexpr uint64_t kBehindLimitNs = 10'000'000;
constexpr size_t kMaxSeriesBins = 4000;

// The load's defaults.  4000 requests/s over 4 connections is sustained with
// room to spare on a 2-core machine beside Redis and its BGSAVE child
// (docs/workloads.md has the measurement); a machine that cannot (a TCG guest)
// gets a fraction of the highest rate it carried in a ramp, when the spec does
// not fix the rate.
constexpr double kDefaultRate = 4000;
constexpr double kDefaultRateFraction = 0.5;
constexpr int kRampStepMs = 400;
constexpr double kDefaultWriteFraction = 0.2;
constexpr unsigned kDefaultConnections = 4;
constexpr int64_t kDefaultBaselineMs = 500, kDefaultAfterMs = 500, kDefaultBinMs = 10;
constexpr int64_t kDefaultMaxSamples = 1'000'000;

// Validation of the optional numeric params: clear messages, never a JSON
// type error (the spec fuzzer calls validate() with anything).
std::optional<double> number_param(const Params &p, const char *k)
{
	if (!p.extra.contains(k))
		return std::nullopt;
	const auto &v = p.extra[k];
	if (!v.is_number())
		throw std::invalid_argument(fmt::format("params.{}: expected a number, got {}", k, v.dump()));
	return v.get<double>();
}

std::optional<int64_t> integer_param(const Params &p, const char *k, int64_t lo, int64_t hi, const char *what)
{
	if (!p.extra.contains(k))
		return std::nullopt;
	const auto &v = p.extra[k];
	if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(hi)) ||
	    v.get<int64_t>() < lo || v.get<int64_t>() > hi)
		throw std::invalid_argument(fmt::format("params.{}: expected an integer from {} to {} ({}), got {}", k, lo, hi, what, v.dump()));
	return v.get<int64_t>();
}

struct LoadParams {
	double rate = kDefaultRate, write_fraction = kDefaultWriteFraction;
	bool rate_auto = true;  // no params.rate: min(kDefaultRate, rate_fraction x the highest rate a ramp carried)
	double rate_fraction = kDefaultRateFraction;
	unsigned connections = kDefaultConnections;
	int64_t baseline_ms = kDefaultBaselineMs, after_ms = kDefaultAfterMs, bin_ms = kDefaultBinMs;
	int64_t max_samples = kDefaultMaxSamples;
};

// Every load parameter, checked; throws std::invalid_argument naming it.
LoadParams load_params(const Params &p)
{
	LoadParams l;
	if (p.extra.contains("rate") && p.extra["rate"] == "auto") {
		l.rate_auto = true;
	} else if (auto r = number_param(p, "rate")) {
		if (!(*r > 0) || *r > 1e6)
			throw std::invalid_argument(fmt::format(
				"params.rate: requests per second, all connections together: must be > 0 and at most 1000000, or \"auto\", got {}",
				*r));
		l.rate = *r;
		l.rate_auto = false;
	}
	if (auto f = number_param(p, "rate_fraction")) {
		if (!(*f > 0 && *f <= 1))
			throw std::invalid_argument(fmt::format(
				"params.rate_fraction: the share of the highest rate the ramp carried to load the server with: must be > 0 and at most 1, got {}",
				*f));
		if (!l.rate_auto)
			throw std::invalid_argument("params.rate_fraction: only without a fixed params.rate (the rate is then chosen by a ramp)");
		l.rate_fraction = *f;
	}
	if (auto w = number_param(p, "write_fraction")) {
		if (!(*w >= 0 && *w <= 1))
			throw std::invalid_argument(fmt::format("params.write_fraction: the fraction of requests that are SETs: must be from 0 to 1, got {}", *w));
		l.write_fraction = *w;
	}
	if (auto c = integer_param(p, "connections", 1, 64, "client connections, one thread each"))
		l.connections = static_cast<unsigned>(*c);
	if (auto b = integer_param(p, "baseline_ms", 1, 600'000, "load before BGSAVE"))
		l.baseline_ms = *b;
	if (auto a = integer_param(p, "after_ms", 1, 600'000, "load after the snapshot ends"))
		l.after_ms = *a;
	if (auto b = integer_param(p, "bin_ms", 1, 10'000, "bin of the latency series"))
		l.bin_ms = *b;
	if (auto m = integer_param(p, "max_samples", 1000, 100'000'000, "latency samples kept"))
		l.max_samples = *m;
	for (auto [ms, k] : {std::pair{l.baseline_ms, "baseline_ms"}, std::pair{l.after_ms, "after_ms"}})
		if (l.rate * static_cast<double>(ms) / 1000 < 1)
			throw std::invalid_argument(fmt::format("params.{}: {} ms at rate {} holds no request", k, ms, l.rate));
	double outside = l.rate * static_cast<double>(l.baseline_ms + l.after_ms) / 1000;
	if (outside * 2 > static_cast<double>(l.max_samples))
		throw std::invalid_argument(fmt::format(
			"params.max_samples: {} leaves too little room for the snapshot: the load before and after it alone sends {:.0f} requests",
			l.max_samples, outside));
	return l;
}

class RedisSnapshot final : public Workload {
public:
	~RedisSnapshot() override { stop(); }
	std::string description() const override
	{
		return "redis-server filled to `size` takes a BGSAVE under open-loop GET/SET load (latest_fork_usec, client latency "
		       "before/during/after the snapshot)";
	}
	std::vector<Metric> metrics() const override
	{
		std::vector<Metric> m = {Metric::us("latest_fork_usec"), Metric::ns("clone_kernel_ns"), Metric::ns("fork_outside_clone_ns"),
					 Metric::ns("snapshot_ns")};
		for (const char *phase : {"during", "before", "after"})
			for (const char *q : {"p50", "p99", "p999", "max"})
				m.push_back(Metric::ns(fmt::format("{}_{}_ns", phase, q)));
		for (const char *n : {"load_behind_ns"})
			m.push_back(Metric::ns(n));
		for (const char *n : {"redis_faults", "child_faults"})
			m.push_back(Metric::count(n));
		m.push_back(Metric::flag("odf_verified"));
		return m;
	}
	bool switches_odf_itself() const override { return true; }
	void validate(const Params &p) const override
	{
		static const char *known[] = {"baseline_ms", "after_ms", "server",      "rate",       "rate_fraction",
					      "write_fraction", "connections", "bin_ms", "max_samples"};
		for (const auto &item : p.extra.items()) {
			const std::string &k = item.key();
			if (std::none_of(std::begin(known), std::end(known), [&k](const char *n) { return k == n; }))
				throw std::invalid_argument(fmt::format(
					"params.{}: unknown parameter for redis-snapshot (known: rate, rate_fraction, write_fraction, connections, "
					"baseline_ms, after_ms, bin_ms, max_samples, server)",
					k));
		}
		if (p.extra.contains("server") && (!p.extra["server"].is_string() || p.extra["server"].get<std::string>().empty()))
			throw std::invalid_argument(fmt::format("params.server: expected a program name or path, got {}", p.extra["server"].dump()));
		load_params(p);
		if (p.size_bytes < (16ull << 20))
			throw std::invalid_argument("size: redis-snapshot needs at least 16M");
	}
	uint64_t footprint(const Params &p) const override
	{
		const auto m = p.extra.find("max_samples");  // validate() has checked it; no type error here either way
		uint64_t samples = m != p.extra.end() && m->is_number_unsigned() ? m->get<uint64_t>() : kDefaultMaxSamples;
		return p.size_bytes * 2 + (64ull << 20) + samples * sizeof(OpenLoopSample);
	}

	static std::string log_tail(const std::string &path)
	{
		std::string text = file_tail(path, 400);
		return text.empty() ? "its log is empty (what it wrote to stderr went to odfbench's stderr)" : "the end of its log: " + text;
	}

	nlohmann::json setup(TrialEnv &env, const Params &p) override
	{
		std::string server = p.extra.value("server", "redis-server");
		load_ = load_params(p);
		std::filesystem::create_directories(env.scratch);
		dir_ = env.scratch + "/redis";
		std::filesystem::create_directories(dir_);
		socket_ = dir_ + "/redis.sock";
		std::vector<std::string> argv = {server, "--port", "0", "--unixsocket", socket_, "--unixsocketperm", "700", "--save", "",
						 "--appendonly", "no", "--dir", dir_, "--dbfilename", "dump.rdb", "--logfile", dir_ + "/redis.log",
						 "--daemonize", "no", "--enable-debug-command", "local", "--maxmemory", "0"};
		bool odf = env.mode == Mode::Odf;
		auto l = launch_program(argv, odf, *env.odf);
		pid_ = l.pid;
		via_ = l.via;
		Redis r(socket_);
		uint64_t t0 = now_ns();
		while (!r.connect()) {
			if (now_ns() - t0 > 10'000'000'000ull || waitpid(via_ > 0 ? via_ : pid_, nullptr, WNOHANG) != 0)
				// the cell's scratch directory goes with the cell: the log's end goes in the reason
				throw std::runtime_error(fmt::format("{} did not come up on {}; {}", server, socket_, log_tail(dir_ + "/redis.log")));
			usleep(20000);
		}
		std::string version = r.info("server", "redis_version");
		// DEBUG POPULATE: keys key:0.. with kRedisValueBytes each, filled by redis itself.
		keys_ = std::max<uint64_t>(1000, p.size_bytes / (kRedisValueBytes + 96));
		uint64_t tf = now_ns();
		r.cmd({"DEBUG", "POPULATE", std::to_string(keys_), "key", std::to_string(kRedisValueBytes)});
		uint64_t fill_ns = now_ns() - tf;
		uint64_t used = std::stoull(r.info("memory", "used_memory"));
		used_memory_ = used;
		MissingMetrics missing(env);
		missing.need("clone_syscall", {"clone_kernel_ns", "fork_outside_clone_ns"});
		missing.need("page_fault_user", {"redis_faults", "child_faults"});
		missing.need("sched_process_fork", {"odf_verified"});
		nlohmann::json chosen = {{"by", "params.rate"}};
		if (load_.rate_auto) {
			// The highest rate of the ramp the server carries, times rate_fraction:
			// room for the snapshot's child and for its backlog to drain after.
			std::vector<double> rates;
			for (double r = kDefaultRate / load_.rate_fraction; r >= 50; r /= 2)
				rates.push_back(std::floor(r));
			auto steps = rate_ramp(socket_, keys_, load_.write_fraction, load_.connections, rates, kRampStepMs, kBehindLimitNs);
			if (!steps.back()[2].get<bool>())
				throw std::runtime_error(fmt::format(
					"redis-snapshot: the server carried none of the ramp's rates down to {:.0f} requests/s (nine requests in ten "
					"within {} ms of schedule for {} ms): this machine cannot run an open-loop load (fix params.rate to try anyway)",
					rates.back(), kBehindLimitNs / 1'000'000, kRampStepMs));
			double carried = steps.back()[0].get<double>();
			load_.rate = std::min(kDefaultRate, std::floor(load_.rate_fraction * carried));
			chosen = {{"by", "rate ramp"},
				  {"carried_per_s", carried},
				  {"fraction", load_.rate_fraction},
				  {"ceiling_per_s", kDefaultRate},
				  {"step_ms", kRampStepMs},
				  {"steps", steps}};
		}
		nlohmann::json load = {{"rate_per_s", load_.rate},
				       {"rate_chosen", chosen},
				       {"write_fraction", load_.write_fraction},
				       {"connections", load_.connections},
				       {"baseline_ms", load_.baseline_ms},
				       {"after_ms", load_.after_ms},
				       {"bin_ms", load_.bin_ms},
				       {"max_samples", load_.max_samples},
				       {"schedule_interval_ns", 1e9 / load_.rate},
				       {"behind_limit_ns", kBehindLimitNs}};
		return {{"redis_version", version}, {"redis_pid", pid_},     {"keys", keys_},
			{"value_bytes", kRedisValueBytes},  {"used_memory", used},  {"fill_ns", fill_ns},
			{"load", load},                {"launch", l.evidence}, {"missing_metrics", missing.json()}};
	}

	nlohmann::json trial(TrialEnv &env, const Params &) override
	{
		nlohmann::json t;
		if (env.mode == Mode::OdfProcfs) {
			// READY on 6.0.6: the BGSAVE fork turns it on (later writes are ignored).
			t["enable"] = enable_procfs(pid_);
		}
		unlink((dir_ + "/dump.rdb").c_str());
		Redis ctl(socket_);
		if (!ctl.connect())
			throw std::runtime_error("cannot connect to redis");

		// The load: open loop, each connection its own thread and hiredis
		// context.  Its destructor stops and joins it, whatever throws below.
		std::vector<std::shared_ptr<LoadConn>> conns(load_.connections);
		OpenLoopConfig cfg;
		cfg.rate_per_s = load_.rate;
		cfg.connections = load_.connections;
		cfg.max_samples = static_cast<size_t>(load_.max_samples);
		OpenLoop load(cfg, [&](unsigned c) {
			auto lc = std::make_shared<LoadConn>(socket_, keys_, load_.write_fraction, 7 + c);
			lc->connect();
			conns[c] = lc;  // each connection's thread writes only its own slot
			return OpenLoop::Request([lc] { return lc->request(); });
		});
		uint64_t t0 = load.start();
		sleep_until_ns(t0 + static_cast<uint64_t>(load_.baseline_ms) * 1'000'000ull);

		env.procs.track(pid_);
		uint64_t t_save = now_ns();
		ctl.cmd({"BGSAVE"});
		uint64_t t_reply = now_ns();  // Redis replies after its fork() returned
		// The end of the snapshot: the child's exit (a pidfd), else Redis's
		// own INFO (which lags it by up to a serverCron period, 100 ms).
		uint64_t deadline = t_save + kSaveTimeoutNs;
		pid_t child = first_child(pid_);
		int pfd = child > 0 ? static_cast<int>(syscall(SYS_pidfd_open, child, 0)) : -1;
		if (pfd >= 0 && parent_pid(child) != pid_) {  // reaped and its pid reused in between
			close(pfd);
			pfd = -1;
		}
		uint64_t t_exit = 0, t_info = 0;
		if (pfd >= 0) {
			struct pollfd pf = {pfd, POLLIN, 0};
			while (now_ns() < deadline) {
				int n = poll(&pf, 1, 1000);
				if (n > 0) {
					t_exit = now_ns();
					break;
				}
				if (n < 0 && errno != EINTR)
					break;
			}
			close(pfd);
		}
		while (now_ns() < deadline) {
			if (ctl.info("persistence", "rdb_bgsave_in_progress") == "0") {
				t_info = now_ns();
				break;
			}
			usleep(t_exit ? 2000 : 10000);
		}
		if (!t_info)
			throw std::runtime_error("BGSAVE did not finish in 600 s");
		uint64_t t_end = t_exit ? t_exit : t_info;
		// The load runs on until after_ms past the snapshot's end: stop()
		// returns once every request due before then is answered.
		load.stop(t_end + static_cast<uint64_t>(load_.after_ms) * 1'000'000ull);

		// Cross-checks of the load: a trial that fails them is no measurement.
		const auto &tot = load.totals();
		auto problems = load.problems();
		if (tot.failed)
			problems.push_back(fmt::format("{} of {} requests failed (first: {})", tot.failed, tot.sent, tot.first_error));
		if (!problems.empty()) {
			std::string all;
			for (const auto &p : problems)
				all += (all.empty() ? "" : "; ") + p;
			throw std::runtime_error("redis-snapshot load: " + all);
		}
		if (ctl.info("persistence", "rdb_last_bgsave_status") != "ok")
			throw std::runtime_error("BGSAVE failed (rdb_last_bgsave_status not ok; see redis.log)");

		// Phases.  Before: answered before BGSAVE was sent.  During: the rest
		// due before the snapshot ended (a request in flight when BGSAVE went
		// out waits behind the fork, so it is counted here).  After: due
		// after the snapshot ended.
		const auto &s = load.samples();
		auto is_before = [&](const OpenLoopSample &x) { return x.intended_ns < t_save && x.intended_ns + x.latency_ns <= t_save; };
		auto before = latency_stats(s, is_before);
		auto during = latency_stats(s, [&](const OpenLoopSample &x) { return !is_before(x) && x.intended_ns < t_end; });
		auto after = latency_stats(s, [&](const OpenLoopSample &x) { return x.intended_ns >= t_end; });
		put_latency_stats(t, "before", before);
		put_latency_stats(t, "during", during);
		put_latency_stats(t, "after", after);
		uint64_t writes = 0;
		for (const auto &c : conns)
			writes += c ? c->sets() : 0;
		t["requests_scheduled"] = tot.scheduled;
		t["requests_sent"] = tot.sent;
		t["requests_answered"] = tot.answered;
		t["requests_failed"] = tot.failed;
		t["writes_sent"] = writes;
		t["schedule_max_gap_ns"] = tot.max_gap_ns;
		// Whether the server carried the load outside the snapshot: on time
		// before it, and back on time once the snapshot's backlog drained.  A
		// trial that did not measured a queue: an error with its numbers.
		auto carried = load_carried(s, t_save, t_end, t_end + static_cast<uint64_t>(load_.after_ms) * 1'000'000ull, load_.rate,
					    kBehindLimitNs, "BGSAVE");
		t["load_behind_ns"] = std::max(carried.before_behind_ns, carried.recovered_behind_ns);
		t["load_kept_up"] = carried.kept_up;
		if (!carried.kept_up) {
			bool on_time_before = carried.before_behind_ns <= kBehindLimitNs;
			throw std::runtime_error(fmt::format(
				"redis-snapshot: {} ({})", carried.why,
				on_time_before ? "the snapshot's backlog did not drain: raise params.after_ms, or lower the rate"
				: load_.rate_auto ? "lower params.rate_fraction"
						  : "lower params.rate, or leave it out to run at half the highest rate a ramp carries"));
		}

		t["latest_fork_usec"] = std::stoull(ctl.info("stats", "latest_fork_usec"));
		t["bgsave_reply_ns"] = t_reply - t_save;
		t["snapshot_ns"] = t_end - t_save;
		t["snapshot_info_ns"] = t_info - t_save;
		t["snapshot_end_by"] = t_exit ? "child exit" : "INFO rdb_bgsave_in_progress";
		uint64_t span = s.empty() ? 0 : s.back().intended_ns - s.front().intended_ns;
		uint64_t bin = std::max<uint64_t>(static_cast<uint64_t>(load_.bin_ms) * 1'000'000ull,
						  (span / kMaxSeriesBins + 999'999) / 1'000'000 * 1'000'000);
		t["latency_series"] = latency_series(s, t_save, bin);  // [ns since BGSAVE, worst latency in the bin, requests]
		t["latency_series_bin_ns"] = bin;
		t["snapshot_window_ns"] = {0, t_end - t_save};

		// Probe records: a process without one gets no metric (and is named
		// in t["untracked"]), never a measured 0.
		auto ps = read_record(t, env, pid_, "redis-server");
		pid_t bpf_child = ps && ps->forks ? static_cast<pid_t>(ps->last_child_tgid) : 0;
		if (bpf_child <= 0)
			bpf_child = child;
		auto cs = bpf_child > 0 ? read_record(t, env, bpf_child, "bgsave-child", Record::Child) : std::nullopt;
		if (child > 0)
			t["bgsave_child_pid"] = child;
		if (ps && env.probe("clone_syscall")) {
			t["redis_clones"] = ps->clones;
			if (ps->clones == 1) {  // the BGSAVE fork and nothing else
				t["clone_kernel_ns"] = ps->clone_ns_last;
				// Redis times fork() from user space around the clone syscall:
				// the difference is what lies outside the syscall (docs/workloads.md).
				t["fork_outside_clone_ns"] = static_cast<int64_t>(t["latest_fork_usec"].get<uint64_t>() * 1000) -
							     static_cast<int64_t>(ps->clone_ns_last);
			}
		}
		if (env.probe("page_fault_user")) {
			if (ps)
				t["redis_faults"] = ps->faults_user;
			if (cs)
				t["child_faults"] = cs->faults_user;
		}
		record_fork_evidence(t, env, ps ? &*ps : nullptr, bpf_child, used_memory_);
		if (bpf_child > 0)
			env.procs.forget(bpf_child);
		t["use_odf_after"] = read_use_odf(pid_);
		return t;
	}

private:
	void stop()
	{
		if (pid_ <= 0)
			return;
		Redis r(socket_);
		if (r.connect()) {
			try {
				r.cmd({"SHUTDOWN", "NOSAVE"});
			} catch (...) {  // the connection drops as it exits
			}
		}
		for (int i = 0; i < 50 && waitpid(via_ > 0 ? via_ : pid_, nullptr, WNOHANG) == 0; ++i)
			usleep(100000);
		kill(pid_, SIGKILL);
		if (via_ > 0)
			kill(via_, SIGKILL);
		waitpid(via_ > 0 ? via_ : pid_, nullptr, 0);
		std::error_code ec;
		std::filesystem::remove_all(dir_, ec);
		pid_ = -1;
	}

	std::string dir_, socket_;
	pid_t pid_ = -1, via_ = -1;
	uint64_t keys_ = 0, used_memory_ = 0;
	LoadParams load_;
};

}  // namespace
}  // namespace odfb

using odfb::RedisSnapshot;
ODFBENCH_WORKLOAD("redis-snapshot", RedisSnapshot)
