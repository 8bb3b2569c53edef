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

namespace odfb {

struct RunOptions {
	bool progress = true;        // a progress line when stderr is a terminal
	double mem_fraction = 0.8;   // of MemAvailable
	int cell_timeout_s = 1800;   // a cell still running after this is killed and reported as hung
	// page_fault_user: "auto" (only for workloads whose measure is fault
	// counts, see Workload::counts_faults), "on" or "off".
	std::string fault_probe = "auto";
};

// Installs SIGINT/SIGTERM handling: the first signal stops the run cleanly,
// the second kills the current tree and exits at once.
void install_signal_handlers();
bool interrupted();
// waitpid(pid) for at most timeout_ms: a process stuck in a wedged kernel
// ignores SIGKILL, and odfbench must not hang on it.  True if reaped.
bool reap_within(pid_t pid, int &status, int timeout_ms);

// The process group a second signal kills at once (0: none).
void set_signal_victim(pid_t pgid);

// Why `need` bytes may not be allocated now ("" if they may): more than
// `fraction` of MemAvailable.
std::string memory_guard(uint64_t need, double fraction);

// For fit_to_memory specs: drops what the memory guard would refuse, noting it in spec.capped.
void fit_to_memory(RunSpec &spec, const RunOptions &opts);

// Refuses sizes the memory guard would refuse; throws SpecError naming them.
void check_memory(const RunSpec &spec, const RunOptions &opts);

// Returns the process exit code: 0 complete, 1 failed, 130 interrupted.
int run_spec(const RunSpec &spec, const OdfInfo &odf, Probes &probes, ResultsFile &out, const RunOptions &opts);

// Summaries of every numeric metric over the measured (non-warmup) trials.
nlohmann::json summarize_trials(const nlohmann::json &trials);

}  // namespace odfb
