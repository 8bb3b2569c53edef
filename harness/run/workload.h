// A workload runs inside a fresh process tree (the "runner") that odfbench
// creates for each (workload, params, mode) cell.  Adding one is one file in
// workloads/ that ends with ODFBENCH_WORKLOAD(MyClass).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <sys/types.h>
#include <nlohmann/json.hpp>

#include "run/trial_env.h"
#include "run/workload_metric.h"

namespace odfb {

struct Params {
	uint64_t size_bytes = 0;
	nlohmann::json extra = nlohmann::json::object();  // workload-specific
};

class Workload {
public:
	virtual ~Workload() = default;
	// The name it was registered under (ODFBENCH_WORKLOAD).
	const std::string &name() const { return name_; }
	virtual std::string description() const = 0;
	virtual std::vector<Metric> metrics() const = 0;
	// The descriptors of one cell: what metrics() says, unless the params
	// change a metric's meaning (external: its unit and direction).
	virtual std::vector<Metric> metrics_for(const Params &) const { return metrics(); }
	// "" when this workload can run under strategy `m`; else why not (the
	// cell is recorded as "not-applicable" with that reason).  The default:
	// fork and the two ODF modes only.
	virtual std::string not_applicable(Mode m) const;
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

private:
	friend std::unique_ptr<Workload> make_workload(const std::string &name);
	std::string name_;
};

// Registration by name, as Google Benchmark does: looking a workload up
// constructs that one only, and a registration runs no workload code, so
// the order of static initialization cannot matter.
using WorkloadFactory = std::function<std::unique_ptr<Workload>()>;
bool register_workload(const char *name, WorkloadFactory f);
std::unique_ptr<Workload> make_workload(const std::string &name);  // nullptr if unknown
std::vector<std::string> workload_names();  // sorted

}  // namespace odfb

#define ODFBENCH_WORKLOAD(name, Class)                                                      \
	namespace {                                                                         \
	[[maybe_unused]] const bool odfbench_registered_##Class =                           \
		::odfb::register_workload(name, [] { return std::make_unique<Class>(); }); \
	}
