// A workload runs inside a fresh process tree (the "runner") that odfbench
// creates for each (workload, params, mode) cell.  Adding one is one file in
// workloads/ that ends with ODFBENCH_WORKLOAD(MyClass).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <sys/types.h>
#include <nlohmann/json.hpp>

#include "odf_detect.h"
#include "probes.h"

namespace odfb {

enum class Mode { Fork, Odf, OdfProcfs };
const char *mode_name(Mode m);
Mode parse_mode(const std::string &s);  // throws std::invalid_argument

struct Params {
	uint64_t size_bytes = 0;
	nlohmann::json extra = nlohmann::json::object();  // workload-specific
};

// What a workload sees inside its runner.
struct TrialEnv {
	Mode mode = Mode::Fork;
	const OdfInfo *odf = nullptr;
	ProcTable procs{-1};
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

class Workload {
public:
	virtual ~Workload() = default;
	virtual std::string name() const = 0;
	virtual std::string description() const = 0;
	virtual std::vector<std::string> metrics() const = 0;
	// Bad params: throw std::invalid_argument naming the parameter.
	virtual void validate(const Params &) const {}
	// Bytes the cell will hold at its peak, for the memory guard.
	virtual uint64_t footprint(const Params &p) const { return p.size_bytes; }
	// Once per cell, in the runner, before ODF is switched on.
	virtual nlohmann::json setup(TrialEnv &env, const Params &p) = 0;
	// One trial: its raw metrics.  Numbers are summarized, bools counted.
	virtual nlohmann::json trial(TrialEnv &env, const Params &p) = 0;
	// True for workloads that run an unmodified program and switch ODF on
	// for it themselves (launcher or /proc/<pid>/use_odf); the runner then
	// leaves its own process alone.
	virtual bool switches_odf_itself() const { return false; }
	// True when per-process fault counts are part of what this workload
	// measures.  The per-fault probes (kPerFaultProbes) cost every fault on
	// the machine about 100 ns (docs/performance.md), so under
	// `--fault-probe auto` they are live only for workloads that say yes here.
	virtual bool counts_faults() const { return false; }
};

using WorkloadFactory = std::function<std::unique_ptr<Workload>()>;
bool register_workload(WorkloadFactory f);
std::unique_ptr<Workload> make_workload(const std::string &name);  // nullptr if unknown
std::vector<std::string> workload_names();

}  // namespace odfb

#define ODFBENCH_WORKLOAD(Class)                                                      \
	namespace {                                                                   \
	[[maybe_unused]] const bool odfbench_registered_##Class =                     \
		::odfb::register_workload([] { return std::make_unique<Class>(); }); \
	}
