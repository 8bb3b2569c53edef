// What the suite probes, as data: each probe's .bpf.c object, its programs
// per mechanism, and the kernel name the choice looks up.  Adding a probe is
// a row here plus its programs in bpf/.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "odf/detect.h"

namespace odfb {

// Tracepoint: tp_btf, else raw_tp.  Function: fentry/fexit, else kprobe.
// SyscallEvents: per-syscall tracepoints (syscalls:sys_enter_<name>), else a
// raw_tp on every syscall.
enum class ProbeKind { Tracepoint, Function, SyscallEvents };

// One probe = one concern's attach point, with a program set per mechanism.
struct ProbeDef {
	const char *name;
	const char *object;  // bpf/<object>.bpf.c
	ProbeKind kind;
	std::vector<const char *> primary;   // fentry/fexit, tp_btf or syscall tracepoint programs
	std::vector<const char *> fallback;  // kprobe/kretprobe or raw_tp programs
	const char *btf_name;                // BTF func, or tracepoint (btf_trace_<tp>)
	OdfVariant only_on = OdfVariant::None;  // None: any kernel
	const char *only_why = nullptr;
};

// In report order.
const std::vector<ProbeDef> &probe_defs();
const ProbeDef *find_probe_def(std::string_view name);  // nullptr if unknown

// Probes that run on every page fault of every process while live.  They cost
// each fault about 100 ns on this machine's host kernel and far more under
// TCG (docs/performance.md), so the runner makes them live per cell
// (`--fault-probe`).  cow_pte_fallback's fault/other split needs
// fault_latency's handle_mm_fault window.
inline const std::vector<std::string> kPerFaultProbes = {"page_fault_user",  "handle_cow_pte",   "cow_pte_fallback",
							 "fault_latency",    "fault_page_copy",  "fault_table_copy",
							 "fault_tfork_table_copy"};

}  // namespace odfb
