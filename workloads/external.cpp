// external: an unmodified program as a workload, described in the spec:
//   "params": {"command": ["prog", "arg", "{out}"], "env": {"K": "V"},
//              "metric": {"name": "ops_per_s", "regex": "([0-9.]+) ops/s"}}
//   or        "metric": {"name": "p99_ms", "json_file": "{out}", "key": "p99"}
// `{out}` becomes a fresh file in the cell's scratch directory.  ODF is applied
// through the launcher (mode odf) or /proc/<pid>/use_odf right after start
// (odf-procfs), so the program needs no change.  `size` is what the program
// holds: the memory guard checks it, and the ODF evidence is judged against it.
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <stdexcept>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "run/fork_trial.h"
#include "odf/switch.h"
#include "base/sysinfo.h"
#include "run/workload.h"

namespace odfb {
namespace {

class External final : public Workload {
public:
	std::string description() const override
	{
		return "a program given in the spec (params.command, params.metric: regex on stdout or a JSON file)";
	}
	std::vector<Metric> metrics() const override
	{
		return {{"metric", "", false}, Metric::ns("wall_ns"), Metric::count("forks"), Metric::flag("odf_verified")};
	}
	// The program's metric: its unit and direction come from the spec.
	std::vector<Metric> metrics_for(const Params &p) const override
	{
		auto m = metrics();
		auto spec = p.extra.value("metric", nlohmann::json::object());
		m[0].unit = spec.value("unit", spec.value("name", std::string()));
		m[0].higher_is_better = spec.value("higher_is_better", false);
		return m;
	}
	bool switches_odf_itself() const override { return true; }
	void validate(const Params &p) const override
	{
		const auto &x = p.extra;
		for (auto &[k, v] : x.items())
			if (k != "command" && k != "env" && k != "metric" && k != "timeout_s" && k != "files")
				throw std::invalid_argument(fmt::format("params.{}: unknown parameter for external (known: command, env, metric, timeout_s, files)", k));
		// files: host paths `odfbench vm` carries into the guest (the program's data, an interpreter's modules)
		if (x.contains("files")) {
			if (!x["files"].is_array())
				throw std::invalid_argument("params.files: must be an array of absolute paths");
			for (const auto &f : x["files"])
				if (!f.is_string() || f.get<std::string>().empty() || f.get<std::string>()[0] != '/')
					throw std::invalid_argument("params.files: every element must be an absolute path");
		}
		if (!x.contains("command") || !x["command"].is_array() || x["command"].empty())
			throw std::invalid_argument("params.command: required, a non-empty array of strings");
		for (const auto &a : x["command"])
			if (!a.is_string())
				throw std::invalid_argument("params.command: every element must be a string");
		if (x.contains("env")) {
			if (!x["env"].is_object())
				throw std::invalid_argument("params.env: must be an object of strings");
			for (auto &[k, v] : x["env"].items())
				if (!v.is_string())
					throw std::invalid_argument(fmt::format("params.env.{}: must be a string", k));
		}
		if (!x.contains("metric") || !x["metric"].is_object() || !x["metric"].contains("name") || !x["metric"]["name"].is_string())
			throw std::invalid_argument("params.metric: required, an object with a \"name\"");
		const auto &m = x["metric"];
		bool rx = m.contains("regex"), js = m.contains("json_file");
		if (rx == js)
			throw std::invalid_argument("params.metric: give exactly one of \"regex\" or \"json_file\" (+ \"key\")");
		if (rx) {
			try {
				std::regex re(m["regex"].get<std::string>());
				if (re.mark_count() < 1)
					throw std::invalid_argument("params.metric.regex: needs one capture group around the number");
			} catch (const std::regex_error &e) {
				throw std::invalid_argument(fmt::format("params.metric.regex: invalid: {}", e.what()));
			}
		} else if (!m.contains("key") || !m["key"].is_string()) {
			throw std::invalid_argument("params.metric.key: required with json_file");
		}
		if (x.contains("timeout_s") && (!x["timeout_s"].is_number() || x["timeout_s"].get<double>() <= 0))
			throw std::invalid_argument("params.timeout_s: must be a positive number");
	}

	nlohmann::json setup(TrialEnv &env, const Params &p) override
	{
		std::filesystem::create_directories(env.scratch);
		MissingMetrics missing(env);
		missing.need("sched_process_fork", {"forks", "odf_verified"});
		return {{"command", p.extra["command"]}, {"missing_metrics", missing.json()}};
	}

	nlohmann::json trial(TrialEnv &env, const Params &p) override
	{
		std::string out = fmt::format("{}/out-{}", env.scratch, trial_++), stdout_path = out + ".stdout";
		std::vector<std::string> argv;
		for (const auto &a : p.extra["command"]) {
			std::string s = a.get<std::string>();
			for (size_t at; (at = s.find("{out}")) != std::string::npos;)
				s.replace(at, 5, out);
			argv.push_back(s);
		}
		env.procs.clear();
		env.procs.track(getpid());  // the program and its descendants become tracked
		uint64_t t0 = now_ns();
		auto l = launch_program(argv, env.mode == Mode::Odf, *env.odf, [&] {
			if (p.extra.contains("env"))
				for (auto &[k, v] : p.extra["env"].items())
					setenv(k.c_str(), v.get<std::string>().c_str(), 1);
			int fd = open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
			dup2(fd, 1);
			// stderr kept too: when the program cannot start (a library or its
			// interpreter missing in a guest) the loader says why there.
			int efd = open((stdout_path + ".stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
			dup2(efd, 2);
		});
		nlohmann::json t;
		if (env.mode == Mode::OdfProcfs)
			t["enable"] = enable_procfs(l.pid);  // its next fork turns it on
		double limit = p.extra.value("timeout_s", 600.0);
		int status = 0;
		pid_t waited = l.via > 0 ? l.via : l.pid;
		while (waitpid(waited, &status, WNOHANG) == 0) {
			if ((now_ns() - t0) / 1e9 > limit) {
				kill(l.pid, SIGKILL);
				waitpid(waited, &status, 0);
				throw std::runtime_error(fmt::format("{} ran longer than params.timeout_s = {} s", argv[0], limit));
			}
			usleep(2000);
		}
		t["wall_ns"] = now_ns() - t0;
		if (WIFSIGNALED(status) || (l.via > 0 && WIFEXITED(status) && WEXITSTATUS(status) > 128))
			throw std::runtime_error(fmt::format("{} was killed by SIG{}", argv[0],
							     sigabbrev_np(WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status) - 128)));
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			throw std::runtime_error(fmt::format("{} exited with status {}{}{}", argv[0], WEXITSTATUS(status),
							     WEXITSTATUS(status) == 127 ? " (could not start)" : "", stderr_tail(stdout_path + ".stderr")));
		t["metric"] = read_metric(p.extra["metric"], stdout_path, out);
		t["metric_name"] = p.extra["metric"]["name"];
		t["launch"] = l.evidence;
		auto ps = read_record(t, env, l.pid, "program", Record::Child);
		if (ps && env.probe("sched_process_fork"))
			t["forks"] = ps->forks;
		if (ps && ps->forks > 0) {
			proc_stats last = *ps;
			last.forks = 1;  // judged on its last fork
			record_fork_evidence(t, env, &last, static_cast<pid_t>(ps->last_child_tgid), p.size_bytes);
		} else {
			t["odf_verified"] = false;  // a program that never forks gets nothing from ODF
		}
		return t;
	}

private:
	// The end of the program's stderr, for an error message ("" if empty).
	static std::string stderr_tail(const std::string &path)
	{
		std::string text = file_tail(path, 600);
		return text.empty() ? "" : ": " + text;
	}
	static double read_metric(const nlohmann::json &m, const std::string &stdout_path, const std::string &out)
	{
		if (m.contains("regex")) {
			std::ifstream in(stdout_path);
			std::string text{std::istreambuf_iterator<char>(in), {}};
			std::smatch match;
			std::regex re(m["regex"].get<std::string>());
			if (!std::regex_search(text, match, re))
				throw std::runtime_error(fmt::format("metric {}: regex {} matched nothing in the program's output",
								     m["name"].get<std::string>(), m["regex"].get<std::string>()));
			try {
				return std::stod(match[1].str());
			} catch (const std::exception &) {
				throw std::runtime_error(fmt::format("metric {}: \"{}\" is not a number", m["name"].get<std::string>(), match[1].str()));
			}
		}
		std::string path = m["json_file"].get<std::string>();
		if (path == "{out}")
			path = out;
		nlohmann::json j;
		try {
			j = nlohmann::json::parse(std::ifstream(path));
		} catch (const std::exception &e) {
			throw std::runtime_error(fmt::format("metric {}: cannot read JSON from {}: {}", m["name"].get<std::string>(), path, e.what()));
		}
		auto key = m["key"].get<std::string>();
		if (!j.contains(key) || !j[key].is_number())
			throw std::runtime_error(fmt::format("metric {}: {} has no number at key \"{}\"", m["name"].get<std::string>(), path, key));
		return j[key].get<double>();
	}
	int trial_ = 0;
};

}  // namespace
}  // namespace odfb

using odfb::External;
ODFBENCH_WORKLOAD("external", External)
