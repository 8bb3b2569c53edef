// `odfbench overhead`: do the probes distort what they measure?  Fork latency
// and page-fault cost with all probes attached vs none (A/B interleaved in one
// process), the user/kernel fork gap, timer cost, and prefault speed.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "probe/probes.h"

namespace odfb {

struct OverheadOptions {
	std::vector<uint64_t> sizes{256ull << 20, 1ull << 30};
	int reps = 100;                       // per side, per size
	int fault_reps = 40;                  // per side, for the fault and syscall A/B
	int syscalls = 200000;                // getppid() calls per syscall sample
	uint64_t fault_bytes = 256ull << 20;  // 65536 faults per repetition
	uint64_t prefault_bytes = 1ull << 30;
};

// bench/overhead.json: {"kind": "overhead", "sizes": ["256M", "1G"], "reps": 100,
// "fault_reps": 40, "fault_region": "256M", "syscalls": 200000, "prefault": "1G"};
// every key optional, anything else is an error.  Throws SpecError.
// (overhead_config.cpp)
OverheadOptions load_overhead_config(const std::string &path);
void validate(const OverheadOptions &o);

// Classic fork only: it never switches ODF on, so it may run in odfbench's
// own process (the links it toggles are this process's).
nlohmann::json measure_overhead(Probes &probes, const OverheadOptions &o);
// docs/performance.md from that JSON alone (overhead_report.cpp).
std::string overhead_markdown(const nlohmann::json &j);

}  // namespace odfb
