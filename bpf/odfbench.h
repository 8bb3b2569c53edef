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
};

struct inflight_key {
	__u32 tid;
	__u32 kind;
};

#endif
