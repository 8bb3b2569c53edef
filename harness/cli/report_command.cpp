// odfbench report: the evaluation as one self-contained HTML page and its
// markdown twin.  This file checks the inputs and the outputs before any work,
// computes the fork-vs-ODF comparison (the same as `odfbench compare`), and
// hands the page to plots/report.py, which writes it to temp files that are
// moved into place only when complete.
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "base/version.h"
#include "cli.h"
#include "compare/compare.h"
#include "record/results_file.h"
#include "base/supervise.h"

namespace odfb::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char *kPython = "/usr/bin/python3";  // Debian's, with matplotlib
constexpr int kScriptTimeoutMs = 10 * 60 * 1000;

struct ReportArgs {
	std::vector<std::string> files;
	std::string output, markdown;
};

bool is_check_file(const nlohmann::json &doc)
{
	return doc.is_object() && doc.value("kind", "") == "odfbench-check" && doc.contains("checks") && doc["checks"].is_array() &&
	       doc.contains("modes") && doc["modes"].is_array() && doc.contains("kernel") && doc["kernel"].is_object() &&
	       doc.contains("odf") && doc["odf"].is_object();
}

// A results file, or a check file; anything else is bad input naming the file.
void validate_input(const std::string &path, std::vector<std::string> &result_paths, std::vector<nlohmann::json> &results)
{
	std::error_code ec;
	if (!fs::is_regular_file(path, ec))
		throw std::invalid_argument(fmt::format("{}: no such file", path));
	nlohmann::json doc = parse_json_file(path);
	if (is_check_file(doc))
		return;
	if (doc.is_object() && doc.contains("results") && doc["results"].is_array() && doc.contains("run") && doc["run"].is_object()) {
		// What the page reads of every file; anything less is named here, not in a Python traceback.
		const auto &run = doc["run"];
		for (const char *k : {"kernel", "odf"})
			if (!run.contains(k) || !run[k].is_object())
				throw std::invalid_argument(fmt::format("{}: not a complete odfbench results file (run.{} missing)", path, k));
		for (const auto &r : doc["results"])
			if (!r.is_object() || !r.contains("workload") || !r["workload"].is_string() || !r.contains("mode") ||
			    !r["mode"].is_string() || !r.contains("status") || !r["status"].is_string() || !r.contains("params") ||
			    !r["params"].is_object())
				throw std::invalid_argument(
					fmt::format("{}: not a complete odfbench results file (a result without workload, mode, status or params)", path));
		result_paths.push_back(path);
		results.push_back(std::move(doc));
		return;
	}
	throw std::invalid_argument(fmt::format("{}: not an odfbench results file (run/results) or check file (kind odfbench-check)", path));
}

void claim_output(const std::string &path, const char *what)
{
	if (fs::exists(fs::symlink_status(path)))
		throw std::invalid_argument(fmt::format("{} {} already exists: odfbench never overwrites a report", what, path));
	fs::path parent = fs::path(path).parent_path();
	std::error_code ec;
	if (!parent.empty() && !fs::is_directory(parent, ec))
		throw std::invalid_argument(fmt::format("{} {}: directory {} does not exist", what, path, parent.string()));
	if (access(parent.empty() ? "." : parent.c_str(), W_OK) != 0)
		throw std::invalid_argument(fmt::format("{} {}: directory is not writable", what, path));
}

// Moves a finished temp file to its name unless something took the name meanwhile
// (link() fails on an existing name, where rename() would replace it).
void publish(const std::string &tmp, const std::string &path)
{
	if (link(tmp.c_str(), path.c_str()) != 0) {
		int e = errno;
		unlink(tmp.c_str());
		die(fmt::format("cannot write {}: {}", path, std::strerror(e)), 1);
	}
	unlink(tmp.c_str());
}

int report(ReportArgs a)
{
	std::vector<std::string> result_paths;
	std::vector<nlohmann::json> results;
	std::string script = std::string(ODFBENCH_SOURCE_DIR) + "/plots/report.py";
	try {
		for (const auto &f : a.files)
			validate_input(f, result_paths, results);
		if (a.output.empty()) {
			fs::create_directories("results");
			a.output = ResultsFile::default_path("results", "report", ".html");
		}
		claim_output(a.output, "output");
		if (!a.markdown.empty()) {
			if (fs::weakly_canonical(fs::absolute(a.markdown)) == fs::weakly_canonical(fs::absolute(a.output)))
				throw std::invalid_argument("--markdown and -o name the same file");
			claim_output(a.markdown, "--markdown");
		}
		if (!fs::is_regular_file(script))
			throw std::invalid_argument(fmt::format("{} not found: report reads it from odfbench's source tree", script));
		if (access(kPython, X_OK) != 0)
			throw std::invalid_argument(fmt::format("{} not found: install python3-matplotlib", kPython));
	} catch (const std::invalid_argument &e) {
		die(e.what());
	} catch (const fs::filesystem_error &e) {
		die(e.what());
	}

	std::string tmp_html = fmt::format("{}.tmp.{}", a.output, getpid());
	std::string tmp_md = a.markdown.empty() ? "" : fmt::format("{}.tmp.{}", a.markdown, getpid());
	std::string tmp_cmp = fmt::format("{}.compare.tmp.{}", a.output, getpid());
	auto cleanup = [&] {
		for (const auto &t : {tmp_html, tmp_md, tmp_cmp})
			if (!t.empty())
				unlink(t.c_str());
	};
	try {
		// Shards merged first, as report.py merges them: the comparison's run
		// numbers must be the page's.
		std::vector<std::string> merged_paths;
		std::vector<nlohmann::json> merged;
		for (auto &[p, d] : merge_shards(result_paths, results)) {
			merged_paths.push_back(p);
			merged.push_back(std::move(d));
		}
		replace_file_atomically(tmp_cmp, compare_runs(merged_paths, merged).dump());
	} catch (const std::exception &e) {
		cleanup();
		die(e.what(), 1);
	}

	std::vector<std::string> argv = {kPython, script, "--html", tmp_html, "--html-name", fs::path(a.output).filename().string(),
					 "--compare", tmp_cmp, "--tool", tool_version()};
	if (!a.markdown.empty()) {
		argv.push_back("--markdown");
		argv.push_back(tmp_md);
	}
	argv.push_back("--");
	argv.insert(argv.end(), a.files.begin(), a.files.end());
	install_signal_handlers();
	SupervisedGroup py([&](int) {
		std::vector<char *> args;
		for (auto &s : argv)
			args.push_back(s.data());
		args.push_back(nullptr);
		execv(kPython, args.data());
		fmt::print(stderr, "odfbench: error: exec {}: {}\n", kPython, std::strerror(errno));
		_exit(127);
	});
	bool reaped = py.wait(kScriptTimeoutMs);
	int st = py.status();
	if (!reaped || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		cleanup();
		die(fmt::format("{} failed ({}); no report written", script, reaped ? wait_status_text(st) : "did not finish"), 1);
	}
	unlink(tmp_cmp.c_str());
	publish(tmp_html, a.output);
	if (!a.markdown.empty())
		publish(tmp_md, a.markdown);
	fmt::print("report: {}\n", a.output);
	if (!a.markdown.empty())
		fmt::print("report (markdown): {}\n", a.markdown);
	return 0;
}

}  // namespace

void add_report_command(CLI::App &app, int &exit_code)
{
	auto a = std::make_shared<ReportArgs>();
	auto *sub = app.add_subcommand("report", "One self-contained HTML page (and markdown twin) from results and check files");
	sub->add_option("files", a->files, "Results files (odfbench run) and check files (odfbench check --json -o)")->required();
	sub->add_option("-o,--output", a->output, "HTML file to write (must not exist); default results/report-<time>.html");
	sub->add_option("--markdown", a->markdown, "Also write the markdown twin here (must not exist)");
	sub->callback([a, &exit_code] { exit_code = report(*a); });
}

}  // namespace odfb::cli
