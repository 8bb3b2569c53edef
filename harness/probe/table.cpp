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
		{"handle_mm_fault", "odf_tables", Function, {"hmf_fentry", "hmf_fexit"}, {"hmf_kprobe", "hmf_kretprobe"}, "handle_mm_fault",
		 OdfVariant::Patchset60, "only attached on patchset-6.0 kernels, where it tells fault-time cow_pte_fallback from munmap/exit"},
		{"tfork_one_pte_table", "odf_tables", Function, {"tfork_fentry"}, {"tfork_kprobe"}, "tfork_one_pte_table"},
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
