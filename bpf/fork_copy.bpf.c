// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Concern: the page-table copy work fork does, one call per VMA.
 * copy_page_range on 6.0.6 and mainline; copy_page_range_tfork on the paper
 * kernel.  Each target has an fentry/fexit pair and a kprobe/kretprobe pair;
 * the harness autoloads one pair, the libbpf-tools way. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "procs.bpf.h"

static __always_inline int cpr_enter(__u32 kind)
{
	if (current_proc())
		inflight_start(kind);
	return 0;
}

static __always_inline int cpr_exit(__u32 kind)
{
	struct proc_stats *ps = current_proc();
	__u64 d;
	if (!ps)
		return 0;
	if (!inflight_end(kind, &d)) {
		unmatched(ps);
		return 0;
	}
	if (kind == INFLIGHT_CPR) {
		ADD(ps->cpr_calls, 1);
		ADD(ps->cpr_ns, d);
		hist_add(ps, HIST_CPR, d);
	} else {
		ADD(ps->cpr_tfork_calls, 1);
		ADD(ps->cpr_tfork_ns, d);
		hist_add(ps, HIST_CPR_TFORK, d);
	}
	return 0;
}

SEC("fentry/copy_page_range")
int BPF_PROG(cpr_fentry) { return cpr_enter(INFLIGHT_CPR); }
SEC("fexit/copy_page_range")
int BPF_PROG(cpr_fexit) { return cpr_exit(INFLIGHT_CPR); }
SEC("kprobe/copy_page_range")
int BPF_KPROBE(cpr_kprobe) { return cpr_enter(INFLIGHT_CPR); }
SEC("kretprobe/copy_page_range")
int BPF_KRETPROBE(cpr_kretprobe) { return cpr_exit(INFLIGHT_CPR); }

SEC("fentry/copy_page_range_tfork")
int BPF_PROG(cprt_fentry) { return cpr_enter(INFLIGHT_CPR_TFORK); }
SEC("fexit/copy_page_range_tfork")
int BPF_PROG(cprt_fexit) { return cpr_exit(INFLIGHT_CPR_TFORK); }
SEC("kprobe/copy_page_range_tfork")
int BPF_KPROBE(cprt_kprobe) { return cpr_enter(INFLIGHT_CPR_TFORK); }
SEC("kretprobe/copy_page_range_tfork")
int BPF_KRETPROBE(cprt_kretprobe) { return cpr_exit(INFLIGHT_CPR_TFORK); }

char LICENSE[] SEC("license") = "Dual BSD/GPL";
