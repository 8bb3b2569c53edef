// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Concern: user-mode page faults of the trial's processes.  The x86
 * exceptions:page_fault_user tracepoint fires once per fault exception, the
 * same events getrusage counts as minflt+majflt for faults taken in user mode. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "procs.bpf.h"

static __always_inline int on_fault(void)
{
	struct proc_stats *ps = current_proc();
	if (ps)
		ADD(ps->faults_user, 1);
	return 0;
}

SEC("tp_btf/page_fault_user")
int BPF_PROG(fault_btf) { return on_fault(); }
SEC("raw_tp/page_fault_user")
int BPF_PROG(fault_raw) { return on_fault(); }

char LICENSE[] SEC("license") = "Dual BSD/GPL";
