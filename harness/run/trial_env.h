// What a workload (or a check) sees inside its runner.
#pragma once
#include <functional>
#include <map>
#include <string>

#include <sys/types.h>

#include "run/mode.h"
#include "odf/detect.h"
#include "probe/hist_table.h"
#include "probe/proc_table.h"

namespace odfb {

struct TrialEnv {
	Mode mode = Mode::Fork;
	const OdfInfo *odf = nullptr;
	ProcTable procs{-1};
	HistTable hists{-1, -1};  // emptied and the fault gate opened before each trial
	std::map<std::string, bool> probe_attached;
	std::map<std::string, std::string> probe_reason;
	// fork() for fork/odf-procfs and for odf on 6.0.6; the tfork syscall
	// for odf on the paper kernel, where the switch is the fork itself.
	std::function<pid_t()> fork_fn;
	// A per-cell scratch directory (created on first use); the main process
	// removes it after the cell, even when the cell was killed.
	std::string scratch;
	bool probe(const std::string &name) const
	{
		auto it = probe_attached.find(name);
		return it != probe_attached.end() && it->second;
	}
};

}  // namespace odfb
