// The mechanism choice replayed on described kernels: no root, no BPF.
// Expected strings are the report's exact words (results files keep them).
#include <gtest/gtest.h>

#include <cerrno>
#include <functional>
#include <ostream>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "probe/choice.h"
#include "probe/table.h"

using namespace odfb;

namespace odfb {
void PrintTo(ProbeUse u, std::ostream *os)
{
	*os << (u == ProbeUse::Primary ? "Primary" : u == ProbeUse::Fallback ? "Fallback" : "None");
}
}  // namespace odfb

namespace {

// This host: BTF, tracefs with syscall events (no tfork), every function in
// kallsyms and BTF, fentry test attach fine.
ProbeFacts host()
{
	ProbeFacts f;
	f.kernel_btf = f.in_btf = f.kallsyms_readable = f.in_kallsyms = true;
	f.tracefs = "/sys/kernel/tracing";
	f.syscall_events = {"enter_clone", "exit_clone", "enter_clone3", "exit_clone3",
			    "enter_fork",  "exit_fork",  "enter_vfork",  "exit_vfork"};
	return f;
}

using Strings = std::vector<std::string>;

struct Case {
	const char *name;
	const char *probe;
	std::function<void(ProbeFacts &)> kernel;
	ProbeUse use;
	Strings programs;
	std::string primary_err;  // from the choice
	std::string reason;       // what the report says once attached, or why not
	bool fentry_test = false;
};

const Strings kSyscallTracepoints = {"enter_clone", "exit_clone", "enter_clone3", "exit_clone3",
				     "enter_fork",  "exit_fork",  "enter_vfork",  "exit_vfork"};
const std::string kEperm = "fentry: Operation not permitted (1)";

const Case kCases[] = {
	{"fentry_available", "copy_page_range", [](ProbeFacts &) {}, ProbeUse::Primary, {"cpr_fentry", "cpr_fexit"}, "", "", true},
	{"fentry_eperm_falls_back_to_kprobe", "copy_page_range", [](ProbeFacts &f) { f.fentry_err = -EPERM; },
	 ProbeUse::Fallback, {"cpr_kprobe", "cpr_kretprobe"}, kEperm, "fell back: " + kEperm, true},
	{"fentry_enotsupp_says_no_jit", "handle_cow_pte", [](ProbeFacts &f) { f.fentry_err = -524; }, ProbeUse::Fallback,
	 {"hcp_kprobe", "hcp_kretprobe"}, "fentry: Unknown error 524 (524) (no BPF JIT/trampoline on this kernel)",
	 "fell back: fentry: Unknown error 524 (524) (no BPF JIT/trampoline on this kernel)", true},
	{"fentry_failing_and_kprobe_disabled", "copy_page_range",
	 [](ProbeFacts &f) {
		 f.fentry_err = -EPERM;
		 f.allow_kprobe = false;
	 },
	 ProbeUse::None, {}, kEperm + "; kprobe disabled by option", kEperm + "; kprobe disabled by option", true},
	{"fentry_disabled_by_option", "copy_page_range", [](ProbeFacts &f) { f.allow_fentry = false; }, ProbeUse::Fallback,
	 {"cpr_kprobe", "cpr_kretprobe"}, "fentry disabled by option", "fell back: fentry disabled by option"},
	{"function_without_kernel_btf", "tfork_one_pte_table", [](ProbeFacts &f) { f.kernel_btf = f.in_btf = false; },
	 ProbeUse::Fallback, {"tfork_kprobe"}, "fentry needs kernel BTF (/sys/kernel/btf/vmlinux absent)",
	 "fell back: fentry needs kernel BTF (/sys/kernel/btf/vmlinux absent)"},
	{"function_not_in_btf", "cow_pte_fallback", [](ProbeFacts &f) { f.in_btf = false; }, ProbeUse::Fallback,
	 {"fallback_kprobe"}, "cow_pte_fallback not in kernel BTF", "fell back: cow_pte_fallback not in kernel BTF"},
	{"function_not_in_kallsyms", "copy_page_range_tfork", [](ProbeFacts &f) { f.in_kallsyms = false; }, ProbeUse::None, {},
	 "", "copy_page_range_tfork is not in /proc/kallsyms"},
	{"kallsyms_unreadable", "handle_cow_pte",
	 [](ProbeFacts &f) { f.in_kallsyms = f.kallsyms_readable = false; }, ProbeUse::None, {}, "",
	 "handle_cow_pte is not in /proc/kallsyms (unreadable)"},
	{"only_compiler_specialized_symbol", "copy_pte_range",
	 [](ProbeFacts &f) {
		 f.in_kallsyms = false;
		 f.kallsyms_specialized = "copy_pte_range.isra.0";
	 },
	 ProbeUse::None, {}, "", "only the compiler-specialized copy_pte_range.isra.0 is in /proc/kallsyms"},
	{"fault_table_copy_off_patchset", "fault_table_copy", [](ProbeFacts &f) { f.variant = OdfVariant::None; }, ProbeUse::None,
	 {}, "", "not attempted: only patchset-6.0 kernels copy a shared table in copy_pte_range(dst == src)"},
	{"fault_table_copy_on_patchset", "fault_table_copy", [](ProbeFacts &f) { f.variant = OdfVariant::Patchset60; },
	 ProbeUse::Primary, {"table_copy_fentry"}, "", "", true},
	{"tp_btf_available", "sched_process_fork", [](ProbeFacts &) {}, ProbeUse::Primary, {"fork_btf"}, "", ""},
	{"no_btf_refuses_tp_btf", "page_fault_user", [](ProbeFacts &f) { f.kernel_btf = f.in_btf = false; }, ProbeUse::Fallback,
	 {"fault_raw"}, "tp_btf needs kernel BTF (/sys/kernel/btf/vmlinux absent)",
	 "fell back: tp_btf needs kernel BTF (/sys/kernel/btf/vmlinux absent)"},
	{"tracepoint_not_in_btf", "sched_process_fork", [](ProbeFacts &f) { f.in_btf = false; }, ProbeUse::Fallback,
	 {"fork_raw"}, "btf_trace_sched_process_fork not in kernel BTF",
	 "fell back: btf_trace_sched_process_fork not in kernel BTF"},
	{"tp_btf_disabled_by_option", "sched_process_fork", [](ProbeFacts &f) { f.allow_tp_btf = false; }, ProbeUse::Fallback,
	 {"fork_raw"}, "tp_btf disabled by option", "fell back: tp_btf disabled by option"},
	{"syscall_tracepoints_without_tfork", "clone_syscall", [](ProbeFacts &) {}, ProbeUse::Primary, kSyscallTracepoints, "",
	 ""},
	{"syscall_tracepoints_with_tfork", "clone_syscall",
	 [](ProbeFacts &f) { f.syscall_events.insert({"enter_tfork", "exit_tfork"}); }, ProbeUse::Primary,
	 [] {
		 auto p = kSyscallTracepoints;
		 p.insert(p.end(), {"enter_tfork", "exit_tfork"});
		 return p;
	 }(),
	 "", ""},
	{"no_syscall_events", "clone_syscall", [](ProbeFacts &f) { f.syscall_events.clear(); }, ProbeUse::Fallback,
	 {"enter_raw", "exit_raw"}, "/sys/kernel/tracing/events/syscalls/sys_enter_clone absent (CONFIG_FTRACE_SYSCALLS off?)",
	 "fell back: /sys/kernel/tracing/events/syscalls/sys_enter_clone absent (CONFIG_FTRACE_SYSCALLS off?)"},
	{"one_syscall_event_is_not_enough", "clone_syscall", [](ProbeFacts &f) { f.syscall_events = {"enter_clone"}; },
	 ProbeUse::Fallback, {"enter_raw", "exit_raw"},
	 "/sys/kernel/tracing/events/syscalls/sys_enter_clone absent (CONFIG_FTRACE_SYSCALLS off?)",
	 "fell back: /sys/kernel/tracing/events/syscalls/sys_enter_clone absent (CONFIG_FTRACE_SYSCALLS off?)"},
	{"no_tracefs", "clone_syscall", [](ProbeFacts &f) { f.tracefs.clear(); }, ProbeUse::Fallback, {"enter_raw", "exit_raw"},
	 "no tracefs (mount it on /sys/kernel/tracing)", "fell back: no tracefs (mount it on /sys/kernel/tracing)"},
	{"syscall_tracepoints_disabled_by_option", "clone_syscall", [](ProbeFacts &f) { f.allow_tp_btf = false; },
	 ProbeUse::Fallback, {"enter_raw", "exit_raw"}, "syscall tracepoints disabled by option",
	 "fell back: syscall tracepoints disabled by option"},
};

Strings names(const std::vector<const char *> &v) { return Strings(v.begin(), v.end()); }

// The report's reason, as the loader composes it when nothing fails to load.
std::string report_reason(const ProbeChoice &c)
{
	if (c.use == ProbeUse::None)
		return c.reason.empty() ? c.primary_err : c.reason;
	return attached_reason(c);
}

class ProbeChoiceCase : public testing::TestWithParam<Case> {};

}  // namespace

TEST_P(ProbeChoiceCase, Outcome)
{
	const Case &k = GetParam();
	const ProbeDef *d = find_probe_def(k.probe);
	ASSERT_NE(d, nullptr) << k.probe;
	ProbeFacts f = host();
	k.kernel(f);
	EXPECT_EQ(needs_fentry_test(*d, f), k.fentry_test);
	ProbeChoice c = choose_mechanism(*d, f);
	EXPECT_EQ(c.def, d);
	EXPECT_EQ(c.use, k.use);
	EXPECT_EQ(names(c.programs()), k.programs);
	EXPECT_EQ(c.primary_err, k.primary_err);
	EXPECT_EQ(report_reason(c), k.reason);
}

INSTANTIATE_TEST_SUITE_P(Kernels, ProbeChoiceCase, testing::ValuesIn(kCases),
			 [](const testing::TestParamInfo<Case> &i) { return std::string(i.param.name); });

TEST(ProbeChoice, ReportWords)
{
	auto word = [](const char *probe, ProbeUse use) {
		ProbeChoice c;
		c.def = find_probe_def(probe);
		c.use = use;
		return std::pair<std::string, std::string>{mechanism(c), program_type(c)};
	};
	using P = std::pair<std::string, std::string>;
	EXPECT_EQ(word("copy_page_range", ProbeUse::Primary), (P{"fentry", "fentry/fexit"}));
	EXPECT_EQ(word("copy_page_range", ProbeUse::Fallback), (P{"kprobe", "kprobe/kretprobe"}));
	EXPECT_EQ(word("page_fault_user", ProbeUse::Primary), (P{"tp_btf", "tp_btf"}));
	EXPECT_EQ(word("page_fault_user", ProbeUse::Fallback), (P{"tracepoint", "raw_tp"}));
	EXPECT_EQ(word("clone_syscall", ProbeUse::Primary), (P{"syscall-tracepoint", "tracepoint"}));
	EXPECT_EQ(word("clone_syscall", ProbeUse::Fallback), (P{"tracepoint", "raw_tp"}));
	EXPECT_EQ(word("clone_syscall", ProbeUse::None), (P{"none", ""}));
}

TEST(ProbeChoice, LoadFailureMovesPrimariesToFallback)
{
	const std::string why = "load failed: Invalid argument (22): libbpf: prog 'x': failed to load";
	auto retry = [&](const char *probe, bool allow_kprobe, ProbeFacts f = host()) {
		ProbeChoice c = choose_mechanism(*find_probe_def(probe), f);
		bool moved = fall_back_after_load_failure(c, why, allow_kprobe);
		return std::tuple{moved, c.use, c.primary_err};
	};
	EXPECT_EQ(retry("copy_page_range", true), std::tuple(true, ProbeUse::Fallback, "fentry " + why));
	// No "; kprobe disabled by option" on this path.
	EXPECT_EQ(retry("copy_page_range", false), std::tuple(true, ProbeUse::None, "fentry " + why));
	EXPECT_EQ(retry("sched_process_fork", false), std::tuple(true, ProbeUse::Fallback, "tp_btf " + why));
	EXPECT_EQ(retry("clone_syscall", true), std::tuple(true, ProbeUse::Fallback, "syscall tracepoints " + why));
	ProbeFacts eperm = host();
	eperm.fentry_err = -EPERM;
	EXPECT_EQ(retry("copy_page_range", true, eperm), std::tuple(false, ProbeUse::Fallback, kEperm));

	ProbeChoice c = choose_mechanism(*find_probe_def("sched_process_fork"), host());
	fall_back_after_load_failure(c, why, true);
	EXPECT_EQ(after_primary_err(c, "object not loaded"), "tp_btf " + why + "; object not loaded");
	EXPECT_EQ(attached_reason(c), "fell back: tp_btf " + why);
}

TEST(ProbeChoice, TableHasEveryPerFaultProbeAndDistinctNames)
{
	for (const auto &n : kPerFaultProbes)
		EXPECT_NE(find_probe_def(n), nullptr) << n;
	std::set<std::string> seen;
	for (const auto &d : probe_defs()) {
		EXPECT_TRUE(seen.insert(d.name).second) << d.name;
		EXPECT_FALSE(d.primary.empty()) << d.name;
		EXPECT_FALSE(d.fallback.empty()) << d.name;
		EXPECT_EQ(d.only_on == OdfVariant::None, d.only_why == nullptr) << d.name;
	}
	EXPECT_EQ(find_probe_def("no_such_probe"), nullptr);
}
