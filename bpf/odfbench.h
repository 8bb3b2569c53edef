/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Shared between the BPF probes and the harness: one record per tracked process. */
#ifndef ODFBENCH_BPF_H
#define ODFBENCH_BPF_H

#define ODFB_MAX_PROCS 16384

/* Every counter a probe keeps for one process (tgid) of a trial's tree.  All
 * probes add into the same record, so one hash lookup both filters and counts. */
struct proc_stats {
	/* fork_tree: filled at sched_process_fork in the child's record */
	__u64 birth_ns;
	__u32 parent_tgid;
	__u32 pad0;
	__u64 birth_pgtables_bytes;        /* child mm->pgtables_bytes right after fork */
	__u64 birth_parent_pgtables_bytes; /* parent's, at the same instant */
	__u64 birth_mm_flags;              /* child mm->flags word 0 */
	/* fork_tree: in the parent's record, the last process it forked */
	__u64 forks;
	__u32 last_child_tgid;
	__u32 pad1;
	__u64 last_child_pgtables_bytes;
	__u64 last_parent_pgtables_bytes;
	__u64 last_child_mm_flags;
	__u64 last_parent_mm_flags;
	/* clone_latency: clones counts new processes only; thread creation is
	 * counted apart (CLONE_THREAD), so "one fork, one clone" holds. */
	__u64 clones;
	__u64 clone_ns_total;
	__u64 clone_ns_last;
	__u64 thread_clones;
	/* page_faults */
	__u64 faults_user;
	/* fork_copy: copy_page_range (6.0.6, mainline) / copy_page_range_tfork (paper) */
	__u64 cpr_calls;
	__u64 cpr_ns;
	__u64 cpr_tfork_calls;
	__u64 cpr_tfork_ns;
	/* odf_tables (6.0.6) */
	__u64 cpte_fork;        /* copy_pte_range with dst_vma != src_vma: a table copied at fork */
	__u64 cpte_fault;       /* dst_vma == src_vma: a shared table copied on demand */
	__u64 hcp_calls;        /* handle_cow_pte */
	__u64 hcp_alloc;
	__u64 hcp_ret0;
	__u64 hcp_ret1;         /* table reused */
	__u64 hcp_err;
	__u64 hcp_ns;
	__u64 fallback_fault;   /* cow_pte_fallback inside handle_mm_fault */
	__u64 fallback_other;   /* munmap/exit paths */
	/* odf_tables (paper 5.6.19) */
	__u64 tfork_table_copies; /* tfork_one_pte_table */
	/* fault_latency: user faults timed in handle_mm_fault (FAULT_FLAG_USER), by
	 * what they did.  A retried fault (VM_FAULT_RETRY) is timed once per call. */
	__u64 faults_timed;
	__u64 faults_page_copy;  /* wp_page_copy ran inside the fault */
	__u64 faults_table_copy; /* a PTE table was copied on demand inside the fault */
	/* fork_phases: summed over the process's forks, only inside a clone window */
	__u64 dup_mm_calls;
	__u64 dup_mm_ns;
	__u64 anon_vma_fork_calls;
	__u64 anon_vma_fork_ns;
	__u64 pte_alloc_calls;   /* __pte_alloc during fork */
	__u64 pte_alloc_ns;
	/* Every return probe: a return whose entry was never seen (the process
	 * was tracked mid-call, or the inflight map was full).  Such a call is
	 * not counted at all, neither its duration nor the call itself. */
	__u64 unmatched_returns;
};

/* Per-thread scratch: entry timestamps for the duration probes. */
enum inflight_kind {
	INFLIGHT_CLONE = 1,
	INFLIGHT_CPR = 2,
	INFLIGHT_CPR_TFORK = 3,
	INFLIGHT_HCP = 4,
	INFLIGHT_FAULT = 5,
	INFLIGHT_THREAD = 6,  /* a clone(CLONE_THREAD) in flight */
	INFLIGHT_USER_FAULT = 7,
	INFLIGHT_MARK_PAGE_COPY = 8,   /* markers: set inside a user fault, consumed at its exit */
	INFLIGHT_MARK_TABLE_COPY = 9,
	INFLIGHT_DUP_MM = 10,
	INFLIGHT_ANON_VMA_FORK = 11,
	INFLIGHT_PTE_ALLOC = 12,
};

/* Latency histograms, one per (kind, role), per trial: the harness empties
 * them before a trial and reads them after.  Log-linear buckets: values under
 * 16 ns exactly, then 16 buckets per power of two, so a bucket is at most
 * 1/16 of its lower bound wide and its midpoint is within 1/32 (3.1%) of any
 * value in it.  2^40 ns (18 min) and above share the last bucket. */
#define ODFB_HIST_SUB_BITS 4
#define ODFB_HIST_SUB (1u << ODFB_HIST_SUB_BITS)
#define ODFB_HIST_MAX_EXP 40
#define ODFB_HIST_BUCKETS ((ODFB_HIST_MAX_EXP - ODFB_HIST_SUB_BITS + 2) * ODFB_HIST_SUB)

enum hist_kind {
	HIST_CLONE = 0,        /* a process-creating clone, syscall entry to exit */
	HIST_CPR = 1,          /* one copy_page_range call (one VMA) */
	HIST_CPR_TFORK = 2,    /* one copy_page_range_tfork call (paper kernel) */
	HIST_FAULT_PLAIN = 3,  /* a user fault that copied neither a page nor a table */
	HIST_FAULT_PAGE_COPY = 4,
	HIST_FAULT_TABLE_COPY = 5, /* a table copy wins over a page copy in the same fault */
	HIST_KINDS = 6,
};
/* Role: the process the harness tracks itself (the workload's own, the one
 * that forks), or one born into the tree after it. */
#define ODFB_HIST_ROLES 2
#define ODFB_HISTS (HIST_KINDS * ODFB_HIST_ROLES)

struct odfb_hist {
	__u64 count;
	__u64 sum_ns;
	__u64 buckets[ODFB_HIST_BUCKETS];
};

#ifdef __BPF__
#define ODFB_INLINE static __always_inline
#else
#define ODFB_INLINE static inline
#endif

/* Branches, no loop: the paper kernel's verifier must accept it. */
ODFB_INLINE __u32 odfb_log2(__u64 v)
{
	__u32 r = 0;
	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1) r += 1;
	return r;
}

ODFB_INLINE __u32 odfb_hist_bucket(__u64 v)
{
	__u32 e;
	if (v < ODFB_HIST_SUB)
		return (__u32)v;
	e = odfb_log2(v);
	if (e > ODFB_HIST_MAX_EXP)
		return ODFB_HIST_BUCKETS - 1;
	return (e - ODFB_HIST_SUB_BITS + 1) * ODFB_HIST_SUB + (__u32)((v >> (e - ODFB_HIST_SUB_BITS)) & (ODFB_HIST_SUB - 1));
}

struct inflight_key {
	__u32 tid;
	__u32 kind;
};

#endif
