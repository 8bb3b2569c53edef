// odfbench run: an experiment spec, from a file or from flags.
#include <cstdlib>
#include <fstream>
#include <memory>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "vm/carried.h"
#include "odf/detect.h"
#include "record/results_file.h"
#include "run/runner.h"
#include "run/spec.h"
#include "base/supervise.h"
#include "base/sysinfo.h"

namespace odfb::cli {
namespace {

struct RunArgs {
	std::string spec_path, workload, sizes, modes, output, params_json;
	int reps = -1, warmup = -1;  // -1: not given
	bool no_progress = false;
	std::string fault_probe = "auto";
	int cell_timeout = 1800;
	std::string shard, cells;
	ProbeFlags pf;
};

// The spec from a file or from the flags; throws SpecError.
RunSpec build_spec(const RunArgs &a)
{
	RunSpec spec;
	if (!a.spec_path.empty()) {
		if (!a.workload.empty() || !a.sizes.empty() || !a.modes.empty() || !a.params_json.empty())
			throw SpecError("give either a spec file or --workload/--sizes/--modes/--params, not both");
		spec = load_spec_file(a.spec_path);
		for (auto &e : spec.experiments) {
			if (a.reps >= 0)
				e.reps = a.reps;
			if (a.warmup >= 0)
				e.warmup = a.warmup;
		}
	} else {
		if (a.workload.empty())
			throw SpecError("--workload is required without a spec file");
		nlohmann::json j = {{"workload", a.workload}};
		if (a.sizes.empty())
			throw SpecError("--sizes is required without a spec file");
		j["sizes"] = a.sizes;
		if (!a.modes.empty())
			j["modes"] = a.modes;
		if (a.reps != -1)
			j["reps"] = a.reps;
		if (a.warmup != -1)
			j["warmup"] = a.warmup;
		if (!a.params_json.empty()) {
			try {
				j["params"] = nlohmann::json::parse(a.params_json);
			} catch (const nlohmann::json::parse_error &) {
				throw SpecError(fmt::format("--params: not valid JSON: {}", a.params_json));
			}
		}
		spec = parse_spec(j);
	}
	if (!a.output.empty())
		spec.output = a.output;
	if (a.reps == 0 || a.reps < -1)
		throw SpecError(fmt::format("--reps: {} is out of range [1, 1000000]", a.reps));
	if (a.warmup < -1)
		throw SpecError(fmt::format("--warmup: {} is out of range [0, 1000000]", a.warmup));
	return spec;
}

// Everything is validated before any work starts, so bad input leaves no file.
int run(const RunArgs &a)
{
	RunSpec spec;
	try {
		spec = build_spec(a);
	} catch (const SpecError &e) {
		die(e.what());
	}
	std::string why;
	if (!have_bpf_privileges(why))
		die(why);
	RunOptions ropts;
	ropts.progress = !a.no_progress;
	if (a.cell_timeout < 1)
		die(fmt::format("--cell-timeout: {} is out of range [1, 1000000]", a.cell_timeout));
	ropts.cell_timeout_s = a.cell_timeout;
	ropts.fault_probe = a.fault_probe;
	if (const char *s = getenv("ODFBENCH_STREAM"))
		ropts.stream_path = s;
	std::vector<Cell> cells;
	try {
		auto all = expand_cells(spec);
		std::optional<std::vector<size_t>> only;
		if (!a.cells.empty())
			only = parse_cell_list(a.cells, all.size());
		if (!a.shard.empty())
			ropts.shard = parse_shard(a.shard);
		cells = select_cells(all, ropts.shard, only);
		if (cells.empty() && ropts.shard && !only)
			throw SpecError(fmt::format("shard {} of this spec is empty: its {} cells form {} groups (a workload at one size, "
						    "every mode), fewer than {}",
						    a.shard, all.size(), all.empty() ? 0 : all.back().group + 1, ropts.shard->count));
		if (cells.empty())
			throw SpecError(fmt::format("shard {} of this spec's {} cells is empty", a.shard, all.size()));
		if (spec.fit_to_memory) {
			cells = fit_to_memory(spec, cells, ropts);
			for (const auto &c : spec.capped)
				fmt::print(stderr, "capped: {}\n", c);
			if (cells.empty())
				throw SpecError("every cell of this run is beyond the memory guard on this machine");
		}
		check_memory(spec, cells, ropts);
	} catch (const SpecError &e) {
		die(e.what());
	}
	std::unique_ptr<ResultsFile> out;
	try {
		out = std::make_unique<ResultsFile>(spec.output ? *spec.output : ResultsFile::default_path("results", spec.name));
	} catch (const std::exception &e) {
		die(e.what());
	}
	OdfInfo odf = detect_odf();
	std::unique_ptr<Probes> probes;
	try {
		probes = Probes::open(odf, a.pf.options());
	} catch (const std::exception &e) {
		unlink(out->path().c_str());  // nothing was measured: leave no file
		die(e.what());
	}
	install_signal_handlers();
	try {
		return run_spec(spec, cells, odf, *probes, *out, ropts);
	} catch (const std::exception &e) {
		die(e.what(), 1);
	}
}

}  // namespace

// What `vm` carries for a spec: each external experiment's program (argv[0],
// resolved on the host's PATH like execvp would; vm adds its libraries and
// loader) and its params.files, read-only at the same paths.
std::vector<CarriedFile> carry_for_run(const std::vector<std::string> &args)
{
	std::vector<CarriedFile> out;
	for (size_t i = 1; i < args.size(); ++i) {
		const std::string &a = args[i];
		if (a == "-o" || a == "--output" || a == "--params" || a == "--shard" || a == "--cells") {
			++i;
			continue;
		}
		if (!a.ends_with(".json") || access(a.c_str(), R_OK) != 0)
			continue;
		nlohmann::json spec;
		try {
			spec = nlohmann::json::parse(std::ifstream(a));
		} catch (const std::exception &e) {
			throw std::invalid_argument(fmt::format("{}: not JSON: {}", a, e.what()));
		}
		for (const auto &x : spec.value("experiments", nlohmann::json::array())) {
			if (!x.is_object() || x.value("workload", "") != "external")
				continue;
			auto p = x.value("params", nlohmann::json::object());
			if (p.contains("command") && p["command"].is_array() && !p["command"].empty() && p["command"][0].is_string()) {
				std::string prog = p["command"][0].get<std::string>();
				std::string host = prog.find('/') != std::string::npos ? prog : find_program(prog);
				if (host.empty() || access(host.c_str(), X_OK) != 0)
					throw std::invalid_argument(fmt::format(
						"{}: external program {} is not an executable on the host{}", a, prog,
						prog.find('/') != std::string::npos ? "" : " (not on PATH)"));
				// execvp in the guest finds it on the guest's PATH only at a PATH directory.
				out.push_back({host, host});
			}
			if (p.contains("files")) {
				if (!p["files"].is_array())
					throw std::invalid_argument(fmt::format("{}: params.files: must be an array of host paths", a));
				for (const auto &f : p["files"])
					if (!f.is_string() || f.get<std::string>().empty() || f.get<std::string>()[0] != '/')
						throw std::invalid_argument(fmt::format("{}: params.files: every element must be an absolute host path", a));
					else
						out.push_back({f.get<std::string>(), f.get<std::string>()});
			}
		}
	}
	return out;
}

void add_run_command(CLI::App &app, int &exit_code)
{
	// Under `odfbench vm`: resumed by cells (the stream says which finished),
	// and the one command that runs on several kernels as an A/B.
	CarriedCommand carried;
	carried.loads_probes = true;
	carried.several_kernels = true;
	carried.carry = carry_for_run;
	register_carried_command("run", std::move(carried));

	auto a = std::make_shared<RunArgs>();
	auto *sub = app.add_subcommand("run", "Run an experiment spec, or one given by flags");
	sub->add_option("spec", a->spec_path, "Experiment spec (JSON), e.g. bench/fork-latency-quick.json");
	sub->add_option("-w,--workload", a->workload, "Workload name (see `odfbench list`)");
	sub->add_option("-s,--sizes", a->sizes, "Footprints, e.g. 64M,256M,1G");
	sub->add_option("-m,--modes", a->modes, "fork,odf,odf-procfs, or any strategy `odfbench list` shows (thp, mthp-64K, uffd-wp, vfork, ...)");
	sub->add_option("-n,--reps", a->reps, "Measured trials per cell");
	sub->add_option("--warmup", a->warmup, "Warmup trials per cell (not summarized)");
	sub->add_option("-o,--output", a->output, "Results file (must not exist); default results/<name>-<time>.json");
	sub->add_option("--params", a->params_json, "Workload parameters as a JSON object, e.g. '{\"thp\":true}'");
	sub->add_flag("--no-progress", a->no_progress, "No progress line");
	sub->add_option("--fault-probe", a->fault_probe,
			"Per-fault probes (page_fault_user; on ODF 6.0.6 also handle_cow_pte, handle_mm_fault, "
			"cow_pte_fallback): auto (live only for workloads that measure faults), on, off")
		->check(CLI::IsMember({"auto", "on", "off"}))
		->capture_default_str();
	sub->add_option("--cell-timeout", a->cell_timeout, "Seconds before a (workload, size, mode) cell counts as hung and is killed")
		->capture_default_str();
	sub->add_option("--shard", a->shard,
			"I/N: run only the cell groups (a workload at one size, every mode) whose index is I-1 modulo N "
			"(spread a spec over N machines, fork and ODF of a group on the same one; compare and the figures "
			"take the N files as one run)");
	sub->add_option("--cells", a->cells, "Run only these cell indices of the spec, e.g. 0,3,7-9 (run.selection lists them)");
	a->pf.add(sub);
	sub->callback([a, &exit_code] { exit_code = run(*a); });
}

}  // namespace odfb::cli
