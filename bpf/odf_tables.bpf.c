// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Concern: ODF's last-level table life cycle -- copied at fork, copied on
 * demand in a fault, or reused.  These functions exist only on ODF kernels;
 * handle_cow_pte sits on nearly every fault of every process, so each program
 * filters on the tracked-process lookup before anything else. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "procs.bpf.h"

/* copy_pte_range(dst_vma, src_vma, ...): at fork dst != src; in a fault the
 * kernel passes the same vma twice to copy one shared table on demand. */
static __always_inline int cpte(void *dst_vma, void *src_vma)
{
	struct proc_stats *ps = current_proc();
	if (!ps)
		return 0;
	if (dst_vma == src_vma)
		ADD(ps->cpte_fault, 1);
	else
		ADD(ps->cpte_fork, 1);
	return 0;
}

/* handle_cow_pte(vma, pmd, addr, bool alloc): only the low byte of a bool
 * argument register is defined, so read it as u8 (garbage upper bits made a
 * naive read count 131069 "alloc" calls where there were 7). */
static __always_inline int hcp_enter(unsigned long alloc_reg)
{
	struct proc_stats *ps = current_proc();
	if (!ps)
		return 0;
	ADD(ps->hcp_calls, 1);
	if ((__u8)alloc_reg)
		ADD(ps->hcp_alloc, 1);
	inflight_start(INFLIGHT_HCP);
	return 0;
}

static __always_inline int hcp_exit(long ret)
{
	struct proc_stats *ps = current_proc();
	__u64 d;
	if (!ps)
		return 0;
	if (!inflight_end(INFLIGHT_HCP, &d)) {
		unmatched(ps);
		return 0;
	}
	ADD(ps->hcp_ns, d);
	ret = (int)ret;
	if (ret == 0)
		ADD(ps->hcp_ret0, 1);
	else if (ret == 1)
		ADD(ps->hcp_ret1, 1);
	else if (ret < 0)
		ADD(ps->hcp_err, 1);
	return 0;
}

/* cow_pte_fallback also runs from munmap and exit; fault_latency's
 * handle_mm_fault window (user or kernel fault) of the same thread tells a
 * fault-time reuse from those. */
static __always_inline int fallback(void)
{
	struct proc_stats *ps = current_proc();
	if (!ps)
		return 0;
	if (inflight_active(INFLIGHT_USER_FAULT) || inflight_active(INFLIGHT_FAULT))
		ADD(ps->fallback_fault, 1);
	else
		ADD(ps->fallback_other, 1);
	return 0;
}

static __always_inline int tfork_table(void)
{
	struct proc_stats *ps = current_proc();
	if (ps)
		ADD(ps->tfork_table_copies, 1);
	return 0;
}

SEC("fentry/copy_pte_range")
int BPF_PROG(cpte_fentry, void *dst_vma, void *src_vma) { return cpte(dst_vma, src_vma); }
SEC("kprobe/copy_pte_range")
int BPF_KPROBE(cpte_kprobe, void *dst_vma, void *src_vma) { return cpte(dst_vma, src_vma); }

SEC("fentry/handle_cow_pte")
int BPF_PROG(hcp_fentry, void *vma, void *pmd, unsigned long addr, unsigned long alloc)
{ return hcp_enter(alloc); }
SEC("fexit/handle_cow_pte")
int BPF_PROG(hcp_fexit, void *vma, void *pmd, unsigned long addr, unsigned long alloc, long ret)
{ return hcp_exit(ret); }
SEC("kprobe/handle_cow_pte")
int BPF_KPROBE(hcp_kprobe, void *vma, void *pmd, unsigned long addr, unsigned long alloc)
{ return hcp_enter(alloc); }
SEC("kretprobe/handle_cow_pte")
int BPF_KRETPROBE(hcp_kretprobe, long ret) { return hcp_exit(ret); }

SEC("fentry/cow_pte_fallback")
int BPF_PROG(fallback_fentry) { return fallback(); }
SEC("kprobe/cow_pte_fallback")
int BPF_KPROBE(fallback_kprobe) { return fallback(); }

SEC("fentry/tfork_one_pte_table")
int BPF_PROG(tfork_fentry) { return tfork_table(); }
SEC("kprobe/tfork_one_pte_table")
int BPF_KPROBE(tfork_kprobe) { return tfork_table(); }

char LICENSE[] SEC("license") = "Dual BSD/GPL";
