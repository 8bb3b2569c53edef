// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Concern: which processes belong to a trial, and each fork's page-table bytes.
 * sched_process_fork fires in the parent after copy_process, before the child
 * runs, so the child's mm->pgtables_bytes is exactly what fork built for it. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "procs.bpf.h"

static __always_inline __u64 mm_pgtables(struct mm_struct *mm)
{
	if (!mm)
		return 0;
	return BPF_CORE_READ(mm, pgtables_bytes.counter);
}

/* mm->flags is an unsigned long up to 6.16 and a bitmap struct (mm_flags_t)
 * from 6.17.  CO-RE will not relocate a field whose type changed kind, so
 * each layout has its own flavor, and neither reads vmlinux.h's mm->flags:
 * the object loads on either layout whichever kernel it was built on.  The
 * branch that does not match is pruned by the verifier.  Bit meanings are the
 * harness's business, once the ODF variant is known. */
struct mm_struct___ulong_flags {
	unsigned long flags;
} __attribute__((preserve_access_index));

struct mm_flags_bitmap___odfb {
	unsigned long word0;
};
struct mm_struct___bitmap_flags {
	struct mm_flags_bitmap___odfb flags;
} __attribute__((preserve_access_index));

static __always_inline __u64 mm_flags_word(struct mm_struct *mm)
{
	struct mm_struct___ulong_flags *ul = (void *)mm;
	struct mm_struct___bitmap_flags *bm = (void *)mm;
	__u64 w = 0;
	if (!mm)
		return 0;
	if (bpf_core_field_exists(ul->flags))
		bpf_probe_read_kernel(&w, sizeof(w), (char *)mm + bpf_core_field_offset(ul->flags));
	else if (bpf_core_field_exists(bm->flags))
		bpf_probe_read_kernel(&w, sizeof(w), (char *)mm + bpf_core_field_offset(bm->flags));
	return w;
}

static __always_inline int on_fork(struct task_struct *parent, struct task_struct *child)
{
	__u32 pkey = task_key(parent);
	__u32 ckey = task_key(child);
	struct proc_stats *ps = bpf_map_lookup_elem(&procs, &pkey);
	struct proc_stats cs = {};
	struct mm_struct *pmm, *cmm;

	if (!ps || !ckey || BPF_CORE_READ(parent, tgid) == BPF_CORE_READ(child, tgid))
		return 0; /* untracked, outside our namespace, or a new thread */
	pmm = BPF_CORE_READ(parent, mm);
	cmm = BPF_CORE_READ(child, mm);
	cs.birth_ns = bpf_ktime_get_ns();
	cs.parent_tgid = pkey;
	cs.birth_pgtables_bytes = mm_pgtables(cmm);
	cs.birth_parent_pgtables_bytes = mm_pgtables(pmm);
	cs.birth_mm_flags = mm_flags_word(cmm);
	/* Overwrite: a pid reused from an earlier tracked process must start
	 * from zero, not inherit that process's counters. */
	bpf_map_update_elem(&procs, &ckey, &cs, BPF_ANY);

	ADD(ps->forks, 1);
	ps->last_child_tgid = ckey;
	ps->last_child_pgtables_bytes = cs.birth_pgtables_bytes;
	ps->last_parent_pgtables_bytes = cs.birth_parent_pgtables_bytes;
	ps->last_child_mm_flags = cs.birth_mm_flags;
	ps->last_parent_mm_flags = mm_flags_word(pmm);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(fork_btf, struct task_struct *parent, struct task_struct *child)
{
	return on_fork(parent, child);
}

SEC("raw_tp/sched_process_fork")
int BPF_PROG(fork_raw, struct task_struct *parent, struct task_struct *child)
{
	return on_fork(parent, child);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
