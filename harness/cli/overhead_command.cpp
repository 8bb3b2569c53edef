// odfbench overhead: what the probes cost (docs/performance.md).
#include <algorithm>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "odf/detect.h"
#include "overhead/overhead.h"
#include "record/results_file.h"
#include "base/sizes.h"
#include "run/spec.h"
#include "base/supervise.h"
#include "base/sysinfo.h"

namespace odfb::cli {
namespace {

struct OverheadArgs {
	OverheadOptions flags;  // the values given on the command line; count() says which were
	std::string output, markdown, sizes = "256M,1G", config, report;
	CLI::Option *reps = nullptr, *fault_reps = nullptr, *sizes_opt = nullptr;
};

// --report: measure nothing, only render an earlier results file.
int report(const OverheadArgs &a)
{
	nlohmann::json j;
	try {
		j = read_json_file(a.report, "--report");
	} catch (const SpecError &e) {
		die(e.what());
	}
	if (!j.is_object() || j.value("kind", "") != "odfbench-overhead")
		die(fmt::format("--report {}: not an odfbench overhead results file", a.report));
	try {
		std::string md = overhead_markdown(j);
		std::cout << md;
		if (!a.markdown.empty())
			replace_file_atomically(a.markdown, md);
		return 0;
	} catch (const std::exception &e) {
		die(fmt::format("--report {}: {}", a.report, e.what()), 1);
	}
}

int overhead(const OverheadArgs &a)
{
	std::string why;
	if (!have_bpf_privileges(why))
		die(why);
	OverheadOptions ovo;
	try {
		if (!a.config.empty())
			ovo = load_overhead_config(a.config);
		if (a.reps->count())
			ovo.reps = a.flags.reps;
		if (a.fault_reps->count())
			ovo.fault_reps = a.flags.fault_reps;
		if (a.sizes_opt->count() || a.config.empty())
			ovo.sizes = parse_size_list(a.sizes, "--sizes");
		validate(ovo);
		uint64_t biggest = std::max(*std::max_element(ovo.sizes.begin(), ovo.sizes.end()), ovo.prefault_bytes);
		if (auto m = memory_guard(biggest, kMemFraction); !m.empty())
			throw SpecError(fmt::format("overhead: {} {}", format_size(biggest), m));
	} catch (const SpecError &e) {
		die(e.what());
	}
	std::unique_ptr<ResultsFile> out;
	try {
		out = std::make_unique<ResultsFile>(a.output.empty() ? ResultsFile::default_path("results", "overhead") : a.output);
	} catch (const std::exception &e) {
		die(e.what());
	}
	install_signal_handlers();
	try {
		auto probes = Probes::open(detect_odf());
		auto j = measure_overhead(*probes, ovo);
		out->write(j);
		std::string md = overhead_markdown(j);
		std::cout << md;
		if (!a.markdown.empty())
			replace_file_atomically(a.markdown, md);
		fmt::print(stderr, "overhead: {}\n", out->path());
		return j["status"] == "complete" ? 0 : 130;
	} catch (const std::exception &e) {
		die(e.what(), 1);
	}
}

}  // namespace

void add_overhead_command(CLI::App &app, int &exit_code)
{
	auto a = std::make_shared<OverheadArgs>();
	auto *sub = app.add_subcommand("overhead", "Probe overhead: fork and fault cost with vs without probes, timer, prefault");
	sub->add_option("config", a->config, "Overhead config (bench/overhead.json); flags override it");
	a->reps = sub->add_option("-n,--reps", a->flags.reps, "Fork pairs per size")->capture_default_str();
	a->sizes_opt = sub->add_option("-s,--sizes", a->sizes, "Fork footprints")->capture_default_str();
	a->fault_reps = sub->add_option("--fault-reps", a->flags.fault_reps, "Page-fault and syscall pairs")->capture_default_str();
	sub->add_option("-o,--output", a->output, "Results JSON (must not exist); default results/overhead-<time>.json");
	sub->add_option("--markdown", a->markdown, "Also write the report here, replacing it (docs/performance.md)");
	sub->add_option("--report", a->report, "Measure nothing: write the report of an earlier overhead JSON")
		->check(CLI::ExistingFile);
	sub->callback([a, &exit_code] { exit_code = a->report.empty() ? overhead(*a) : report(*a); });
}

}  // namespace odfb::cli
