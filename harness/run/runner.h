// Runs a spec: one fresh process tree per (workload, size, mode) cell, with
// the memory guard, ODF switching, progress, interruption and checkpoints.
#pragma once
#include <optional>
#include <string>
#include <vector>
#include <sys/types.h>

#include <nlohmann/json_fwd.hpp>

#include "odf/detect.h"
#include "probe/probes.h"
#include "record/results_file.h"
#include "run/spec.h"
#include "base/sysinfo.h"

namespace odfb {

struct RunOptions {
	bool progress = true;        // a progress line when stderr is a terminal
	double mem_fraction = kMemFraction;  // of MemAvailable
	int cell_timeout_s = 1800;   // a cell still running after this is killed and reported as hung
	// page_fault_user: "auto" (only for workloads whose measure is fault
	// counts, see Workload::counts_faults), "on" or "off".
	std::string fault_probe = "auto";
	std::optional<Shard> shard;   // recorded in run.selection
	std::string stream_path;      // ODFBENCH_STREAM: each finished cell as it finishes
};

// For fit_to_memory specs: the cells the memory guard allows; the others are
// noted in spec.capped.
std::vector<Cell> fit_to_memory(RunSpec &spec, const std::vector<Cell> &cells, const RunOptions &opts);

// Refuses cells the memory guard would refuse; throws SpecError naming them.
void check_memory(const RunSpec &spec, const std::vector<Cell> &cells, const RunOptions &opts);

// Runs `cells` of `spec`.  Returns the process exit code: 0 complete, 1
// failed, 130 interrupted.
int run_spec(const RunSpec &spec, const std::vector<Cell> &cells, const OdfInfo &odf, Probes &probes, ResultsFile &out,
	     const RunOptions &opts);

}  // namespace odfb
