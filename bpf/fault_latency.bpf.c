// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Concern: how long each user page fault of a tracked process takes, and what
 * it did.  handle_mm_fault with FAULT_FLAG_USER, entry to exit; markers set
 * inside that window say whether the fault copied a page (wp_page_copy) or a
 * PTE table on demand (6.0.6: copy_pte_range with dst_vma == src_vma; paper
 * 5.6.19: tfork_one_pte_table).  The split rule: table copy if one happened,
 * else page copy if one happened, else plain.  Kernel-mode faults of a
 * tracked process (get_user_pages) open an untimed window of their own, which
 * odf_tables reads to tell a fault-time cow_pte_fallback from munmap's. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "procs.bpf.h"

/* 1 << 6 in every kernel from 5.6 (a #define) to mainline (enum fault_flag). */
#define ODFB_FAULT_FLAG_USER 0x40u

static __always_inline int fault_enter(unsigned long flags)
{
	if (current_proc())
		inflight_start(((__u32)flags & ODFB_FAULT_FLAG_USER) ? INFLIGHT_USER_FAULT : INFLIGHT_FAULT);
	return 0;
}

static __always_inline int fault_exit(void)
{
	struct proc_stats *ps = current_proc();
	__u64 d, unused;
	int table, page;

	if (!ps)
		return 0;  /* one lookup for every other process's fault */
	if (!inflight_end(INFLIGHT_USER_FAULT, &d)) {
		if (!inflight_end(INFLIGHT_FAULT, &d))
			unmatched(ps);
		return 0;
	}
	table = inflight_end(INFLIGHT_MARK_TABLE_COPY, &unused);
	page = inflight_end(INFLIGHT_MARK_PAGE_COPY, &unused);
	ADD(ps->faults_timed, 1);
	if (table)
		ADD(ps->faults_table_copy, 1);
	if (page)
		ADD(ps->faults_page_copy, 1);
	if (fault_gate_open())
		hist_add(ps, table ? HIST_FAULT_TABLE_COPY : page ? HIST_FAULT_PAGE_COPY : HIST_FAULT_PLAIN, d);
	return 0;
}

static __always_inline void mark(__u32 kind)
{
	if (inflight_active(INFLIGHT_USER_FAULT))
		inflight_start(kind);
}

SEC("fentry/handle_mm_fault")
int BPF_PROG(fault_fentry, void *vma, unsigned long address, unsigned int flags) { return fault_enter(flags); }
SEC("fexit/handle_mm_fault")
int BPF_PROG(fault_fexit) { return fault_exit(); }
SEC("kprobe/handle_mm_fault")
int BPF_KPROBE(fault_kprobe, void *vma, unsigned long address, unsigned long flags) { return fault_enter(flags); }
SEC("kretprobe/handle_mm_fault")
int BPF_KRETPROBE(fault_kretprobe) { return fault_exit(); }

SEC("fentry/wp_page_copy")
int BPF_PROG(page_copy_fentry) { mark(INFLIGHT_MARK_PAGE_COPY); return 0; }
SEC("kprobe/wp_page_copy")
int BPF_KPROBE(page_copy_kprobe) { mark(INFLIGHT_MARK_PAGE_COPY); return 0; }

/* In a fault the kernel passes the same vma twice to copy a shared table. */
SEC("fentry/copy_pte_range")
int BPF_PROG(table_copy_fentry, void *dst_vma, void *src_vma)
{
	if (dst_vma == src_vma)
		mark(INFLIGHT_MARK_TABLE_COPY);
	return 0;
}
SEC("kprobe/copy_pte_range")
int BPF_KPROBE(table_copy_kprobe, void *dst_vma, void *src_vma)
{
	if (dst_vma == src_vma)
		mark(INFLIGHT_MARK_TABLE_COPY);
	return 0;
}

SEC("fentry/tfork_one_pte_table")
int BPF_PROG(tfork_copy_fentry) { mark(INFLIGHT_MARK_TABLE_COPY); return 0; }
SEC("kprobe/tfork_one_pte_table")
int BPF_KPROBE(tfork_copy_kprobe) { mark(INFLIGHT_MARK_TABLE_COPY); return 0; }

char LICENSE[] SEC("license") = "Dual BSD/GPL";
