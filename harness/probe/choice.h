// Which mechanism each probe uses, decided from facts about the kernel and
// nothing else: no libbpf, no filesystem, so the unit tests can replay any
// kernel's facts without root.  probes.cpp gathers the facts and loads.
#pragma once
#include <set>
#include <string>
#include <vector>

#include "odf/detect.h"
#include "probe/table.h"

namespace odfb {

// What the loader found out, as far as it bears on one probe.
struct ProbeFacts {
	OdfVariant variant = OdfVariant::None;
	bool kernel_btf = false;          // vmlinux BTF loaded
	bool in_btf = false;              // Function: its BTF func; Tracepoint: btf_trace_<tp>
	bool kallsyms_readable = false;
	bool in_kallsyms = false;         // the exact name is a text symbol
	std::string kallsyms_specialized;  // else its compiler copy, e.g. "copy_pte_range.isra.0"
	std::string tracefs;              // e.g. /sys/kernel/tracing; "" when not mounted
	std::set<std::string> syscall_events;  // primary programs whose syscalls/sys_<program> exists
	int fentry_err = 0;               // fentry test attach: 0 or -errno; only read if needs_fentry_test()
	bool allow_fentry = true, allow_kprobe = true, allow_tp_btf = true;
};

enum class ProbeUse { None, Primary, Fallback };

struct ProbeChoice {
	const ProbeDef *def = nullptr;
	ProbeUse use = ProbeUse::None;
	std::vector<const char *> primary;  // def->primary less what this kernel lacks
	std::string primary_err;            // why not the primary mechanism
	std::string reason;                 // why not attached; the loader adds load failures
	const std::vector<const char *> &programs() const;
};

// Whether choose_mechanism() will read facts.fentry_err: the test attach
// loads a program, so the loader runs it only then (and the capabilities
// report the first one run).
bool needs_fentry_test(const ProbeDef &def, const ProbeFacts &facts);
ProbeChoice choose_mechanism(const ProbeDef &def, const ProbeFacts &facts);

// A primary-mechanism program of the object failed to load (`why`): move a
// probe on its primary to its fallback for the retry.  False if it was not
// on its primary.
bool fall_back_after_load_failure(ProbeChoice &c, const std::string &why, bool allow_kprobe);

// The report's words for a choice that is attempted.
const char *program_type(const ProbeChoice &c);  // fentry/fexit, kprobe/kretprobe, tp_btf, tracepoint, raw_tp
const char *mechanism(const ProbeChoice &c);     // fentry, kprobe, tp_btf, syscall-tracepoint, tracepoint
// `why`, after why the primary was not used when it was not.
std::string after_primary_err(const ProbeChoice &c, const std::string &why);
// The reason of an attached probe: empty, or "fell back: ...".
std::string attached_reason(const ProbeChoice &c);

// "Operation not permitted (1)" for -1 or 1.
std::string errtext(int err);

}  // namespace odfb
