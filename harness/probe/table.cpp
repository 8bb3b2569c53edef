#include "probe/table.h"

namespace odfb {

const std::vector<ProbeDef> &probe_defs()
{
	using enum ProbeKind;
	static const std::vector<ProbeDef> defs = {
		{"sched_process_fork", "fork_tree", Tracepoint, {"fork_btf"}, {"fork_raw"}, "sched_process_fork"},
		// The syscall subset a kernel lacks (tfork off the paper kernel) is
		// dropped at run time; the raw_tp pair sees every syscall.
		{"clone_syscall", "clone_latency", SyscallEvents,
		 {"enter_clone", "exit_clone", "enter_clone3", "exit_clone3", "enter_fork", "exit_fork", "enter_vfork", "exit_vfork",
		  "enter_tfork", "exit_tfork"},
		 {"enter_raw", "exit_raw"}, "sys_enter"},
		{"page_fault_user", "page_faults", Tracepoint, {"fault_btf"}, {"fault_raw"}, "page_fault_user"},
		{"copy_page_range", "fork_copy", Function, {"cpr_fentry", "cpr_fexit"}, {"cpr_kprobe", "cpr_kretprobe"}, "copy_page_range"},
		{"copy_page_range_tfork", "fork_copy", Function, {"cprt_fentry", "cprt_fexit"}, {"cprt_kprobe", "cprt_kretprobe"},
		 "copy_page_range_tfork"},
		{"copy_pte_range", "odf_tables", Function, {"cpte_fentry"}, {"cpte_kprobe"}, "copy_pte_range"},
		{"handle_cow_pte", "odf_tables", Function, {"hcp_fentry", "hcp_fexit"}, {"hcp_kprobe", "hcp_kretprobe"}, "handle_cow_pte"},
		{"cow_pte_fallback", "odf_tables", Function, {"fallback_fentry"}, {"fallback_kprobe"}, "cow_pte_fallback"},
		{"tfork_one_pte_table", "odf_tables", Function, {"tfork_fentry"}, {"tfork_kprobe"}, "tfork_one_pte_table"},
		// fault_latency: the window, then the markers that split it by what the fault did.
		{"fault_latency", "fault_latency", Function, {"fault_fentry", "fault_fexit"}, {"fault_kprobe", "fault_kretprobe"},
		 "handle_mm_fault"},
		{"fault_page_copy", "fault_latency", Function, {"page_copy_fentry"}, {"page_copy_kprobe"}, "wp_page_copy"},
		{"fault_table_copy", "fault_latency", Function, {"table_copy_fentry"}, {"table_copy_kprobe"}, "copy_pte_range",
		 OdfVariant::Patchset60, "only patchset-6.0 kernels copy a shared table in copy_pte_range(dst == src)"},
		{"fault_tfork_table_copy", "fault_latency", Function, {"tfork_copy_fentry"}, {"tfork_copy_kprobe"}, "tfork_one_pte_table",
		 OdfVariant::Paper56, "only the paper kernel has tfork_one_pte_table"},
		{"dup_mm", "fork_phases", Function, {"dup_mm_fentry", "dup_mm_fexit"}, {"dup_mm_kprobe", "dup_mm_kretprobe"}, "dup_mm"},
		{"anon_vma_fork", "fork_phases", Function, {"avf_fentry", "avf_fexit"}, {"avf_kprobe", "avf_kretprobe"}, "anon_vma_fork"},
		{"__pte_alloc", "fork_phases", Function, {"pte_alloc_fentry", "pte_alloc_fexit"}, {"pte_alloc_kprobe", "pte_alloc_kretprobe"},
		 "__pte_alloc"},
	};
	return defs;
}

const ProbeDef *find_probe_def(std::string_view name)
{
	for (const auto &d : probe_defs())
		if (name == d.name)
			return &d;
	return nullptr;
}

}  // namespace odfb
