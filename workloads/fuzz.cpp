// fuzz: fork-server throughput.  The target (workloads/targets/) builds an
// in-memory SQLite database of `size` once, then forks for every test case.
// Driven by AFL++ (afl-fuzz on an afl-clang-fast build) where both exist, by a
// built-in driver speaking the same fork-server protocol otherwise.
// ODF: mode odf launches the whole tree (afl-fuzz or the target) with ODF on;
// odf-procfs writes the target's /proc/<pid>/use_odf before its first fork.
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <stdexcept>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "run/fork_trial.h"
#include "odf/switch.h"
#include "base/sysinfo.h"
#include "run/workload.h"

namespace odfb {
namespace {

constexpr int kForkServerFd = 198;  // AFL's FORKSRV_FD; status comes back on 199

std::string sibling(const std::string &name)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return "";
	self[n] = 0;
	std::string p = (std::filesystem::path(self).parent_path() / name).string();
	return access(p.c_str(), X_OK) == 0 ? p : "";
}

// Test cases the built-in driver cycles through: reads, range scans and
// writes (which make the child copy pages, as a fuzzed target would).
std::string make_case(std::mt19937_64 &rng, uint64_t rows)
{
	uint64_t a = rng() % rows + 1, b = a + rng() % 64;
	switch (rng() % 4) {
	case 0:
		return fmt::format("SELECT length(v) FROM t WHERE id = {};", a);
	case 1:
		return fmt::format("SELECT count(*) FROM t WHERE id BETWEEN {} AND {};", a, b);
	case 2:
		return fmt::format("UPDATE t SET v = randomblob(200) WHERE id = {};", a);
	default:
		return fmt::format("SELECT hex(substr(v, {}, 8)) FROM t WHERE id = {};", rng() % 3000 + 1, a);
	}
}

class Fuzz final : public Workload {
public:
	~Fuzz() override { stop_target(); }
	std::string description() const override
	{
		return "fork-server throughput on an in-memory SQLite database of `size` (AFL++ if present, else built-in driver)";
	}
	std::vector<Metric> metrics() const override
	{
		return {Metric::rate("execs_per_s"), Metric::count("execs"), Metric::count("bpf_forks"), Metric::flag("odf_verified")};
	}
	bool switches_odf_itself() const override { return true; }
	void validate(const Params &p) const override
	{
		for (auto &[k, v] : p.extra.items())
			if (k != "driver" && k != "seconds" && k != "layout")
				throw std::invalid_argument(fmt::format("params.{}: unknown parameter for fuzz (known: driver, seconds, layout)", k));
		// layout: where the fork server's database lives.  heap (default, what
		// users run): SQLite's malloc, on the brk heap.  mmap: its page cache in
		// one 2 MiB-aligned private anonymous mapping, which the paper kernel
		// (5.6.19) shares at fork (it never shares the heap).
		if (p.extra.contains("layout") && !(p.extra["layout"] == "heap" || p.extra["layout"] == "mmap"))
			throw std::invalid_argument("params.layout: must be heap or mmap");
		if (p.extra.contains("driver") &&
		    !(p.extra["driver"] == "auto" || p.extra["driver"] == "afl" || p.extra["driver"] == "builtin"))
			throw std::invalid_argument("params.driver: must be one of auto, afl, builtin");
		if (p.extra.contains("seconds") && (!p.extra["seconds"].is_number() || p.extra["seconds"].get<double>() <= 0))
			throw std::invalid_argument("params.seconds: must be a positive number");
	}
	uint64_t footprint(const Params &p) const override { return p.size_bytes * 2 + (64ull << 20); }

	nlohmann::json setup(TrialEnv &env, const Params &p) override
	{
		size_ = p.size_bytes;
		layout_ = p.extra.value("layout", "heap");
		rows_ = size_ / 4096 + 1;
		std::string want = p.extra.value("driver", "auto");
		afl_fuzz_ = find_program("afl-fuzz");
		afl_target_ = sibling("odfbench-fuzz-target-afl");
		target_ = sibling("odfbench-fuzz-target");
		nlohmann::json j;
		if (want == "afl" || (want == "auto" && !afl_fuzz_.empty() && !afl_target_.empty())) {
			if (afl_fuzz_.empty() || afl_target_.empty())
				throw std::runtime_error(fmt::format("driver afl: needs afl-fuzz ({}) and odfbench-fuzz-target-afl ({})",
								     afl_fuzz_.empty() ? "not found; apt-get install afl++" : afl_fuzz_,
								     afl_target_.empty() ? "not built: afl-clang-fast was missing at build time" : afl_target_));
			driver_ = "afl";
			seconds_ = p.extra.value("seconds", 5.0);
		} else {
			if (target_.empty())
				throw std::runtime_error("odfbench-fuzz-target not found next to odfbench");
			driver_ = "builtin";
			seconds_ = p.extra.value("seconds", 1.0);
			j["why_builtin"] = want == "builtin" ? "asked for" : afl_fuzz_.empty() ? "afl-fuzz not found" : "no afl-clang-fast build of the target";
			start_target(env);
			j["target_start_ns"] = target_start_ns_;
			j["launch"] = launch_evidence_;
		}
		j["driver"] = driver_;
		j["layout"] = layout_;
		std::filesystem::create_directories(env.scratch);
		MissingMetrics missing(env);
		missing.need("sched_process_fork", {"bpf_forks", "odf_verified"});
		j["missing_metrics"] = missing.json();
		return j;
	}

	nlohmann::json trial(TrialEnv &env, const Params &) override
	{
		return driver_ == "afl" ? afl_trial(env) : builtin_trial(env);
	}

private:
	// Evidence from the last child the fork server made.
	// Judged on the fork server's last fork alone.
	void evidence(nlohmann::json &t, TrialEnv &env, pid_t server)
	{
		auto ps = read_record(t, env, server, "fork-server", Record::Child);
		if (ps && env.probe("sched_process_fork"))
			t["bpf_forks"] = ps->forks;
		if (!ps) {
			t["odf_verified"] = false;
			return;
		}
		proc_stats one = *ps;
		one.forks = 1;
		record_fork_evidence(t, env, &one, static_cast<pid_t>(ps->last_child_tgid), size_);
	}

	void start_target(TrialEnv &env)
	{
		int ctl[2], st[2];
		if (pipe(ctl) || pipe(st))
			throw std::runtime_error(fmt::format("pipe: {}", std::strerror(errno)));
		case_path_ = env.scratch + "/case.sql";
		std::filesystem::create_directories(env.scratch);
		std::ofstream(case_path_) << "SELECT 1;";
		std::string bytes = std::to_string(size_);
		auto l = launch_program({target_, case_path_}, env.mode == Mode::Odf, *env.odf, [&] {
			setenv("ODFB_FUZZ_BYTES", bytes.c_str(), 1);
			setenv("ODFB_FUZZ_LAYOUT", layout_.c_str(), 1);
			dup2(ctl[0], kForkServerFd);
			dup2(st[1], kForkServerFd + 1);
		});
		close(ctl[0]);
		close(st[1]);
		ctl_ = ctl[1];
		st_ = st[0];
		pid_ = l.pid;
		via_ = l.via;
		launch_evidence_ = l.evidence;
		uint64_t t0 = now_ns();
		pollfd p = {st_, POLLIN, 0};
		uint32_t hello;
		if (poll(&p, 1, 300000) != 1 || read(st_, &hello, 4) != 4)
			throw std::runtime_error("the fuzz target did not say hello within 300 s");
		target_start_ns_ = now_ns() - t0;
		if (env.mode == Mode::OdfProcfs)
			launch_evidence_["procfs"] = enable_procfs(pid_);
	}

	void stop_target()
	{
		if (pid_ <= 0)
			return;
		close(ctl_);  // EOF: the fork server exits
		close(st_);
		kill(pid_, SIGKILL);
		if (via_ > 0)
			waitpid(via_, nullptr, 0);
		else
			waitpid(pid_, nullptr, 0);
		pid_ = -1;
	}

	nlohmann::json builtin_trial(TrialEnv &env)
	{
		env.procs.track(pid_);
		std::mt19937_64 rng(execs_total_ + 1);
		uint64_t execs = 0, t0 = now_ns(), window = static_cast<uint64_t>(seconds_ * 1e9), t = t0;
		while (t - t0 < window) {
			std::string c = make_case(rng, rows_);
			int fd = open(case_path_.c_str(), O_WRONLY | O_TRUNC);
			if (fd < 0 || write(fd, c.data(), c.size()) != static_cast<ssize_t>(c.size()))
				throw std::runtime_error(fmt::format("writing the test case: {}", std::strerror(errno)));
			close(fd);
			uint32_t req = 0;
			int32_t child = 0, status = 0;
			if (write(ctl_, &req, 4) != 4 || read(st_, &child, 4) != 4 || read(st_, &status, 4) != 4)
				throw std::runtime_error("the fork server stopped answering");
			if (!WIFEXITED(status))
				throw std::runtime_error(fmt::format("a test case child ended with status {:#x}", status));
			env.procs.forget(child);
			++execs;
			t = now_ns();
		}
		execs_total_ += execs;
		nlohmann::json tr = {{"execs", execs}, {"execs_per_s", static_cast<double>(execs) * 1e9 / static_cast<double>(t - t0)}};
		evidence(tr, env, pid_);
		return tr;
	}

	nlohmann::json afl_trial(TrialEnv &env)
	{
		std::string dir = fmt::format("{}/afl-{}", env.scratch, trials_++);
		std::filesystem::create_directories(dir + "/in");
		std::mt19937_64 rng(trials_);
		for (int i = 0; i < 4; ++i)
			std::ofstream(fmt::format("{}/in/seed{}.sql", dir, i)) << make_case(rng, rows_);
		std::string bytes = std::to_string(size_);
		env.procs.clear();  // the last trial's thousands of children
		env.procs.track(getpid());  // afl-fuzz, its fork server and their children become tracked
		std::vector<std::string> argv = {afl_fuzz_, "-i", dir + "/in", "-o", dir + "/out", "-m", "none", "-t", "5000",
						 "-V", fmt::format("{:.0f}", std::max(1.0, seconds_)), "--", afl_target_, "@@"};
		std::string log = dir + "/afl.log";
		auto l = launch_program(argv, env.mode == Mode::Odf, *env.odf, [&] {
			for (const char *kv : {"AFL_NO_UI=1", "AFL_SKIP_CPUFREQ=1", "AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1",
					       "AFL_NO_AFFINITY=1", "AFL_FORKSRV_INIT_TMOUT=300000", "AFL_NO_CRASH_README=1"})
				putenv(const_cast<char *>(kv));
			setenv("ODFB_FUZZ_BYTES", bytes.c_str(), 1);
			setenv("ODFB_FUZZ_LAYOUT", layout_.c_str(), 1);
			int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
			dup2(fd, 1);
			dup2(fd, 2);
		});
		// The fork server is afl-fuzz's long-lived child.
		pid_t server = -1;
		bool procfs_done = env.mode != Mode::OdfProcfs;
		uint64_t t0 = now_ns();
		int status = 0;
		for (;;) {
			pid_t w = waitpid(l.via > 0 ? l.via : l.pid, &status, WNOHANG);
			if (w != 0)
				break;
			if (server < 0) {
				if (pid_t c = first_child(l.pid); c > 0) {
					server = c;
					if (!procfs_done) {
						enable_procfs(server);  // READY before its first fork request, with luck; see the evidence
						procfs_done = true;
					}
				}
			}
			if (now_ns() - t0 > static_cast<uint64_t>((seconds_ + 600) * 1e9)) {
				kill(l.pid, SIGKILL);
				throw std::runtime_error("afl-fuzz ran 600 s past its -V limit");
			}
			usleep(5000);
		}
		std::ifstream stats(dir + "/out/default/fuzzer_stats");
		std::map<std::string, std::string> kv;
		std::string line;
		while (std::getline(stats, line)) {
			auto c = line.find(':');
			if (c == std::string::npos)
				continue;
			auto trim = [](std::string s) {
				s.erase(0, s.find_first_not_of(' '));
				s.erase(s.find_last_not_of(' ') + 1);
				return s;
			};
			kv[trim(line.substr(0, c))] = trim(line.substr(c + 1));
		}
		if (kv.empty())
			throw std::runtime_error(fmt::format("afl-fuzz wrote no fuzzer_stats (exit status {:#x}); see {}", status, log));
		nlohmann::json t = {{"execs", std::stoull(kv["execs_done"])},
				    {"execs_per_s", std::stod(kv["execs_per_sec"])},
				    {"afl_run_time_s", std::stod(kv.count("run_time") ? kv["run_time"] : "0")},
				    {"afl_launch", l.evidence}};
		if (server > 0) {
			evidence(t, env, server);
			t["server_use_odf"] = read_use_odf(server);
		} else {
			t["odf_verified"] = false;
		}
		std::error_code ec;
		std::filesystem::remove_all(dir, ec);
		return t;
	}

	uint64_t size_ = 0, rows_ = 0, execs_total_ = 0, target_start_ns_ = 0;
	double seconds_ = 1.0;
	int trials_ = 0;
	std::string driver_, afl_fuzz_, afl_target_, target_, case_path_, layout_ = "heap";
	pid_t pid_ = -1, via_ = -1;
	int ctl_ = -1, st_ = -1;
	nlohmann::json launch_evidence_;
};

}  // namespace
}  // namespace odfb

using odfb::Fuzz;
ODFBENCH_WORKLOAD("fuzz", Fuzz)
