// odfbench check: the ODF correctness matrix (checks/*.cpp).
#include <algorithm>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <sys/prctl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "check/check.h"
#include "cli.h"
#include "vm/carried.h"
#include "odf/detect.h"
#include "record/results_file.h"
#include "run/spec.h"
#include "base/supervise.h"

namespace odfb::cli {
namespace {

struct CheckArgs {
	std::string modes = "fork,odf", output, only, cells;
	bool json = false, markdown = false, no_progress = false, list = false;
	int timeout_s = 30;
};

// Bad options throw std::invalid_argument (exit 2), anything else exits 1.
int check(const CheckArgs &a)
{
	CheckOptions o;
	o.modes.clear();
	std::string m;
	std::stringstream ss(a.modes);
	while (std::getline(ss, m, ',')) {
		Mode mode = parse_mode(m);  // throws naming the mode
		if (mode != Mode::Fork && mode != Mode::Odf)
			throw std::invalid_argument(fmt::format("check runs under fork and odf only, not {} (odf-procfs switches the same kernel state)", m));
		o.modes.push_back(mode);
	}
	if (o.modes.empty())
		throw std::invalid_argument("--modes: empty");
	if (a.timeout_s < 1)
		throw std::invalid_argument(fmt::format("--timeout: {} is out of range [1, 3600]", a.timeout_s));
	o.timeout_s = a.timeout_s;
	o.only = a.only;
	o.progress = !a.no_progress;
	bool matched = a.only.empty();
	for (const auto &c : all_checks())
		matched |= c.name.find(a.only) != std::string::npos;
	if (!matched)
		throw std::invalid_argument(fmt::format("--only: no check name contains \"{}\"", a.only));
	if (!a.cells.empty()) {
		try {
			o.cells = parse_cell_list(a.cells, all_checks().size());
		} catch (const SpecError &e) {
			throw std::invalid_argument(e.what());
		}
	}
	if (const char *s = getenv("ODFBENCH_STREAM"))
		o.stream_path = s;
	std::unique_ptr<ResultsFile> out;
	if (!a.output.empty())
		out = std::make_unique<ResultsFile>(a.output);  // claimed before any check runs
	if (out)
		o.checkpoint = [&](const nlohmann::json &doc, const nlohmann::json &current) {
			nlohmann::json partial = doc;
			partial["checks"].push_back(current);
			partial["status"] = "interrupted";  // until the last write says otherwise
			out->write(partial);
		};
	install_signal_handlers();
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	auto doc = run_checks(detect_odf(), o);
	if (out)
		out->write(doc);
	if (a.json)
		std::cout << doc.dump(2) << "\n";
	else if (a.markdown)
		std::cout << checks_markdown(doc);
	else
		std::cout << checks_text(doc);
	bool bad = checks_failed(doc);
	if (out)
		fmt::print(stderr, "check: {}\n", out->path());
	return interrupted() ? 130 : bad ? 1 : 0;
}

}  // namespace

void add_check_command(CLI::App &app, int &exit_code)
{
	// Under `odfbench vm`: one unit per check (--only and --cells select them),
	// dealt among --jobs guests; the host prints the matrix merged from every boot.
	CarriedCommand carried;
	carried.loads_probes = true;
	carried.units = [](const std::vector<std::string> &args) {
		std::optional<std::vector<size_t>> only_cells;
		if (auto c = arg_value(args, "--cells"); !c.empty())
			only_cells = parse_cell_list(c, all_checks().size());
		std::vector<size_t> sel;
		for (size_t k : select_checks(arg_value(args, "--only")))
			if (!only_cells || std::binary_search(only_cells->begin(), only_cells->end(), k))
				sel.push_back(k);
		return sel;
	};
	carried.render = [](const nlohmann::json &doc, const std::vector<std::string> &args) {
		if (std::find(args.begin(), args.end(), "--json") != args.end())
			return doc.dump(2) + "\n";
		return std::find(args.begin(), args.end(), "--markdown") != args.end() ? checks_markdown(doc) : checks_text(doc);
	};
	carried.failed = checks_failed;
	register_carried_command("check", std::move(carried));

	auto a = std::make_shared<CheckArgs>();
	auto *sub = app.add_subcommand("check", "ODF correctness matrix: semantic tests under fork and under ODF");
	sub->add_option("-m,--modes", a->modes, "fork,odf")->capture_default_str();
	sub->add_flag("--json", a->json, "JSON on stdout");
	sub->add_flag("--markdown", a->markdown, "The matrix as a markdown table");
	sub->add_option("-o,--output", a->output, "Also write the JSON here (must not exist)");
	sub->add_option("--timeout", a->timeout_s, "Seconds per test before it counts as hung")->capture_default_str();
	sub->add_option("--cells", a->cells, "Run only these check indices (the order of --list, from 0), e.g. 0,4-7");
	sub->add_option("--only", a->only, "Run only this check (exact name), or those whose name contains this");
	sub->add_flag("--no-progress", a->no_progress, "No progress line");
	sub->add_flag("--list", a->list, "List the checks (one name per line) and exit");
	sub->callback([a, &exit_code] {
		if (a->list) {
			for (const auto &c : all_checks())
				fmt::print("{}\n", c.name);
			exit_code = 0;
			return;
		}
		if (geteuid() != 0)
			die("check needs root (it reads /dev/kmsg and /proc/<pid>/use_odf of its children)");
		try {
			exit_code = check(*a);
		} catch (const std::invalid_argument &e) {
			die(e.what());
		} catch (const std::exception &e) {
			die(e.what(), 1);
		}
	});
}

}  // namespace odfb::cli
