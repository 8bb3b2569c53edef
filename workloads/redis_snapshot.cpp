// redis-snapshot: a real redis-server (Debian's), filled to `size`, takes a
// BGSAVE while a client measures request latency.  The fork inside BGSAVE is
// what ODF speeds up; Redis reports it itself as latest_fork_usec.
//
// Redis runs on a unix socket in the cell's scratch directory: no TCP port,
// no persistence of its own (save ""), its files removed with the cell.
// ODF: mode odf starts redis through the launcher (on from its first
// instruction); mode odf-procfs writes /proc/<redis>/use_odf before BGSAVE.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <thread>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include "fork_trial.h"
#include "odf_switch.h"
#include "sysinfo.h"
#include "workload.h"

namespace odfb {
namespace {

constexpr int kValueBytes = 1024;

class Redis {
public:
	explicit Redis(const std::string &socket) : socket_(socket) {}
	~Redis()
	{
		if (c_)
			redisFree(c_);
	}
	bool connect()
	{
		if (c_)
			redisFree(c_);
		c_ = redisConnectUnix(socket_.c_str());
		return c_ && !c_->err;
	}
	// The reply as text (status, string, or integer); throws on an error reply.
	std::string cmd(const std::vector<std::string> &args)
	{
		std::vector<const char *> argv;
		std::vector<size_t> lens;
		for (const auto &a : args) {
			argv.push_back(a.c_str());
			lens.push_back(a.size());
		}
		auto *r = static_cast<redisReply *>(redisCommandArgv(c_, static_cast<int>(argv.size()), argv.data(), lens.data()));
		if (!r)
			throw std::runtime_error(fmt::format("redis {}: {}", args[0], c_->errstr));
		std::string out;
		if (r->type == REDIS_REPLY_ERROR) {
			std::string e(r->str, r->len);
			freeReplyObject(r);
			throw std::runtime_error(fmt::format("redis {}: {}", args[0], e));
		}
		if (r->type == REDIS_REPLY_INTEGER)
			out = std::to_string(r->integer);
		else if (r->str)
			out.assign(r->str, r->len);
		freeReplyObject(r);
		return out;
	}
	// A field of INFO <section>, or "".
	std::string info(const std::string &section, const std::string &field)
	{
		std::string s = cmd({"INFO", section});
		auto at = s.find(field + ":");
		if (at == std::string::npos)
			return "";
		auto end = s.find_first_of("\r\n", at);
		return s.substr(at + field.size() + 1, end - at - field.size() - 1);
	}

private:
	std::string socket_;
	redisContext *c_ = nullptr;
};

struct Sample {
	uint64_t at_ns, latency_ns;
};

struct Percentiles {
	double p50 = 0, p99 = 0, p999 = 0, max = 0;
	size_t n = 0;
};

Percentiles percentiles(std::vector<uint64_t> v)
{
	Percentiles p;
	p.n = v.size();
	if (v.empty())
		return p;
	std::sort(v.begin(), v.end());
	auto at = [&](double q) { return static_cast<double>(v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))]); };
	p.p50 = at(0.5);
	p.p99 = at(0.99);
	p.p999 = at(0.999);
	p.max = static_cast<double>(v.back());
	return p;
}

class RedisSnapshot final : public Workload {
public:
	~RedisSnapshot() override { stop(); }
	std::string name() const override { return "redis-snapshot"; }
	std::string description() const override
	{
		return "redis-server filled to `size` takes a BGSAVE under client load (latest_fork_usec, client tail latency)";
	}
	std::vector<std::string> metrics() const override
	{
		return {"latest_fork_usec", "clone_kernel_ns", "snapshot_ns", "window_p50_ns", "window_p99_ns", "window_p999_ns",
			"window_max_ns", "baseline_p50_ns", "baseline_p99_ns", "baseline_max_ns", "redis_faults", "child_faults", "odf_verified"};
	}
	bool switches_odf_itself() const override { return true; }
	void validate(const Params &p) const override
	{
		for (auto &[k, v] : p.extra.items())
			if (k != "baseline_ms" && k != "server")
				throw std::invalid_argument(fmt::format("params.{}: unknown parameter for redis-snapshot (known: baseline_ms, server)", k));
		if (p.size_bytes < (16ull << 20))
			throw std::invalid_argument("size: redis-snapshot needs at least 16M");
	}
	uint64_t footprint(const Params &p) const override { return p.size_bytes * 2 + (64ull << 20); }

	nlohmann::json setup(TrialEnv &env, const Params &p) override
	{
		std::string server = p.extra.value("server", "redis-server");
		baseline_ns_ = p.extra.value("baseline_ms", 300) * 1'000'000ull;
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
				throw std::runtime_error(fmt::format("{} did not come up on {} (see {}/redis.log)", server, socket_, dir_));
			usleep(20000);
		}
		std::string version = r.info("server", "redis_version");
		// DEBUG POPULATE: keys key:0.. with kValueBytes each, filled by redis itself.
		keys_ = std::max<uint64_t>(1000, p.size_bytes / (kValueBytes + 96));
		uint64_t tf = now_ns();
		r.cmd({"DEBUG", "POPULATE", std::to_string(keys_), "key", std::to_string(kValueBytes)});
		uint64_t fill_ns = now_ns() - tf;
		uint64_t used = std::stoull(r.info("memory", "used_memory"));
		used_memory_ = used;
		MissingMetrics missing(env);
		missing.need("clone_syscall", {"clone_kernel_ns"});
		missing.need("page_fault_user", {"redis_faults", "child_faults"});
		missing.need("sched_process_fork", {"odf_verified"});
		return {{"redis_version", version}, {"redis_pid", pid_},     {"keys", keys_},
			{"value_bytes", kValueBytes},  {"used_memory", used},  {"fill_ns", fill_ns},
			{"launch", l.evidence},        {"missing_metrics", missing.json()}};
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

		std::atomic<bool> stop{false};
		std::vector<Sample> samples;
		std::string load_error;
		std::thread load([&] {
			Redis c(socket_);
			if (!c.connect()) {
				load_error = "load client cannot connect";
				return;
			}
			std::mt19937_64 rng(7);
			samples.reserve(1 << 20);
			while (!stop) {
				std::string key = fmt::format("key:{}", rng() % keys_);
				uint64_t a = now_ns();
				try {
					c.cmd({"GET", key});
				} catch (const std::exception &e) {
					load_error = e.what();
					return;
				}
				uint64_t b = now_ns();
				samples.push_back({a, b - a});
			}
		});
		// Whatever throws below, the load thread is stopped and joined first.
		struct StopAndJoin {
			std::atomic<bool> &stop;
			std::thread &t;
			~StopAndJoin()
			{
				stop = true;
				if (t.joinable())
					t.join();
			}
		} guard{stop, load};
		usleep(static_cast<useconds_t>(baseline_ns_ / 1000));
		env.procs.track(pid_);
		uint64_t t_save = now_ns();
		ctl.cmd({"BGSAVE"});
		uint64_t t_done = 0;
		while (now_ns() - t_save < 600'000'000'000ull) {
			usleep(10000);
			if (ctl.info("persistence", "rdb_bgsave_in_progress") == "0") {
				t_done = now_ns();
				break;
			}
		}
		usleep(100000);
		stop = true;
		load.join();  // samples are complete from here on
		if (!load_error.empty())
			throw std::runtime_error(load_error);
		if (!t_done)
			throw std::runtime_error("BGSAVE did not finish in 600 s");
		if (ctl.info("persistence", "rdb_last_bgsave_status") != "ok")
			throw std::runtime_error("BGSAVE failed (rdb_last_bgsave_status not ok; see redis.log)");

		std::vector<uint64_t> before, during;
		for (const auto &s : samples) {
			if (s.at_ns + s.latency_ns < t_save)
				before.push_back(s.latency_ns);
			else if (s.at_ns < t_done)
				during.push_back(s.latency_ns);
		}
		auto pb = percentiles(before), pw = percentiles(during);
		t["latest_fork_usec"] = std::stoull(ctl.info("stats", "latest_fork_usec"));
		t["snapshot_ns"] = t_done - t_save;
		t["baseline_requests"] = pb.n;
		t["baseline_p50_ns"] = pb.p50;
		t["baseline_p99_ns"] = pb.p99;
		t["baseline_max_ns"] = pb.max;
		t["window_requests"] = pw.n;
		t["window_p50_ns"] = pw.p50;
		t["window_p99_ns"] = pw.p99;
		t["window_p999_ns"] = pw.p999;
		t["window_max_ns"] = pw.max;
		// The latency series, thinned to at most 2000 points, for the figure.
		nlohmann::json series = nlohmann::json::array();
		size_t step = std::max<size_t>(1, samples.size() / 2000);
		for (size_t i = 0; i < samples.size(); i += step) {
			uint64_t worst = 0;
			for (size_t j = i; j < std::min(samples.size(), i + step); ++j)
				worst = std::max(worst, samples[j].latency_ns);
			series.push_back({static_cast<int64_t>(samples[i].at_ns) - static_cast<int64_t>(t_save), worst});
		}
		t["latency_series"] = series;  // [ns since BGSAVE, worst latency in the bucket]
		t["snapshot_window_ns"] = {0, t_done - t_save};

		auto ps = env.procs.read(pid_).value_or(proc_stats{});
		pid_t child = static_cast<pid_t>(ps.last_child_tgid);
		auto cs = env.procs.read(child).value_or(proc_stats{});
		if (env.probe("clone_syscall") && ps.clones >= 1)
			t["clone_kernel_ns"] = ps.clone_ns_last;
		if (env.probe("page_fault_user")) {
			t["redis_faults"] = ps.faults_user;
			t["child_faults"] = cs.faults_user;
		}
		record_fork_evidence(t, env, ps, child, used_memory_);
		env.procs.forget(child);
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
	uint64_t keys_ = 0, used_memory_ = 0, baseline_ns_ = 0;
};

}  // namespace
}  // namespace odfb

using odfb::RedisSnapshot;
ODFBENCH_WORKLOAD(RedisSnapshot)
