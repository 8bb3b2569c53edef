// Runs a spec: one fresh process tree per (workload, size, mode) cell, with
// the memory guard, ODF switching, progress, interruption and checkpoints.
#pragma once
#include <string>
#include <sys/types.h>

#include <nlohmann/json_fwd.hpp>

#include "odf_detect.h"
#include "probes.h"
#include "results_file.h"
#include "spec.h"
#include "sysinfo.h"

namespace odfb {

struct RunOptions {
	bool progress = true;        // a progress line when stderr is a terminal
	double mem_fraction = kMemFraction;  // of MemAvailable
	int cell_timeout_s = 1800;   // a cell still running after this is killed and reported as hung
	// page_fault_user: "auto" (only for workloads whose measure is fault
	// counts, see Workload::counts_faults), "on" or "off".
	std::string fault_probe = "auto";
};

// For fit_to_memory specs: drops what the memory guard would refuse, noting it in spec.capped.
void fit_to_memory(RunSpec &spec, const RunOptions &opts);

// Refuses sizes the memory guard would refuse; throws SpecError naming them.
void check_memory(const RunSpec &spec, const RunOptions &opts);

// Returns the process exit code: 0 complete, 1 failed, 130 interrupted.
int run_spec(const RunSpec &spec, const OdfInfo &odf, Probes &probes, ResultsFile &out, const RunOptions &opts);

// Summaries of every numeric metric over the measured (non-warmup) trials.
nlohmann::json summarize_trials(const nlohmann::json &trials);

}  // namespace odfb
