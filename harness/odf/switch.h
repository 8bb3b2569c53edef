// Switching ODF on, the way each variant expects, and only ever in a process
// odfbench created: on 6.0.6 the flag can never be cleared again.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <sys/types.h>
#include <nlohmann/json.hpp>

#include "odf/detect.h"
#include "run/trial_env.h"

extern "C" {
#include <linux/types.h>
#include "odfbench.h"
}

namespace odfb {

// The pid of the odfbench process that must never be switched; set in main().
void set_protected_pid(pid_t pid);

// /proc/<pid>/use_odf as text ("0"/"1"), or "" if absent.
std::string read_use_odf(pid_t pid);

// In the runner (never the main process): the in-process switch.
// 6.0.6: prctl(65) sets READY and the next clone turns it on; paper: the
// switch is syscall 439 itself, so env.fork_fn becomes tfork.  Throws
// std::runtime_error if the kernel refuses.
nlohmann::json enable_in_process(TrialEnv &env);

// From the main process, for a runner it created: write /proc/<pid>/use_odf.
nlohmann::json enable_procfs(pid_t runner);

// Starts an unmodified program.  With `odf`, ODF is on from its first
// instruction (docs/odf-kernels.md §1): on 6.0.6 an intermediate process sets READY and
// forks (now ON, inherited across exec) and the grandchild execs; on the
// paper kernel the intermediate tforks.  `in_child` runs just before exec
// (redirections).  Returns the program's pid; `via` is the intermediate's,
// which exits with the program's status.
struct Launched {
	pid_t pid = -1, via = -1;
	nlohmann::json evidence;  // use_odf of the program after launch
};
Launched launch_program(const std::vector<std::string> &argv, bool odf, const OdfInfo &info,
			const std::function<void()> &in_child = {});

// What one fork left behind, judged against the region it was meant to share.
struct ForkEvidence {
	bool flag_known = false;      // the variant's "ODF on" mm flag bit is meaningful
	bool flag_in_child = false;
	bool sharing_observed = false;
	bool judgeable = false;         // the region spans 4+ whole PTE tables (8 MiB)
	int64_t tables_shared_est = 0;  // (parent - child) pgtables_bytes / 4096
};

ForkEvidence fork_evidence(const OdfInfo &odf, const proc_stats &parent_after_fork, uint64_t region_bytes);

}  // namespace odfb
