// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Concern: where one fork's time goes.  dup_mm (dup_mmap is inlined into it
 * on every kernel we build), anon_vma_fork (per VMA) and __pte_alloc, each
 * summed only inside a process-creating clone of the same thread, so faults
 * and thread creation never count.  copy_page_range is fork_copy's. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "procs.bpf.h"

static __always_inline int phase_enter(__u32 kind)
{
	if (inflight_active(INFLIGHT_CLONE) && current_proc())
		inflight_start(kind);
	return 0;
}

static __always_inline int phase_exit(__u32 kind)
{
	struct proc_stats *ps;
	__u64 d;
	/* Outside a clone window no entry was started: not a fork's call. */
	if (!inflight_end(kind, &d))
		return 0;
	ps = current_proc();
	if (!ps)
		return 0;
	if (kind == INFLIGHT_DUP_MM) {
		ADD(ps->dup_mm_calls, 1);
		ADD(ps->dup_mm_ns, d);
	} else if (kind == INFLIGHT_ANON_VMA_FORK) {
		ADD(ps->anon_vma_fork_calls, 1);
		ADD(ps->anon_vma_fork_ns, d);
	} else {
		ADD(ps->pte_alloc_calls, 1);
		ADD(ps->pte_alloc_ns, d);
	}
	return 0;
}

#define PHASE(prog, fn, kind)                                                     \
	SEC("fentry/" #fn) int BPF_PROG(prog##_fentry) { return phase_enter(kind); } \
	SEC("fexit/" #fn) int BPF_PROG(prog##_fexit) { return phase_exit(kind); }   \
	SEC("kprobe/" #fn) int BPF_KPROBE(prog##_kprobe) { return phase_enter(kind); } \
	SEC("kretprobe/" #fn) int BPF_KRETPROBE(prog##_kretprobe) { return phase_exit(kind); }

PHASE(dup_mm, dup_mm, INFLIGHT_DUP_MM)
PHASE(avf, anon_vma_fork, INFLIGHT_ANON_VMA_FORK)
PHASE(pte_alloc, __pte_alloc, INFLIGHT_PTE_ALLOC)

char LICENSE[] SEC("license") = "Dual BSD/GPL";
