// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Concern: how long the clone-family syscall takes inside the kernel.
 * raw_syscalls needs no tracefs and exists on every kernel; the syscall number
 * is compared before any map lookup so other syscalls cost a compare. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "procs.bpf.h"

/* x86_64 numbers.  The harness sets tfork_nr to 439 only on the paper kernel:
 * on every other kernel 439 is faccessat2. */
const volatile long tfork_nr = -1;

static __always_inline int is_clone_nr(long id)
{
	return id == 56 /* clone */ || id == 57 /* fork */ || id == 58 /* vfork */ ||
	       id == 435 /* clone3 */ || (tfork_nr >= 0 && id == tfork_nr);
}

static __always_inline int on_enter(long id)
{
	if (!is_clone_nr(id) || !current_proc())
		return 0;
	inflight_start(INFLIGHT_CLONE);
	return 0;
}

static __always_inline int on_exit(struct pt_regs *regs, long ret)
{
	struct proc_stats *ps;
	__u64 d;

	/* The child also leaves the syscall (ret 0) but never entered it. */
	if (ret <= 0 || !is_clone_nr(BPF_CORE_READ(regs, orig_ax)))
		return 0;
	ps = current_proc();
	if (!ps)
		return 0;
	d = inflight_end(INFLIGHT_CLONE);
	if (!d)
		return 0;
	ADD(ps->clones, 1);
	ADD(ps->clone_ns_total, d);
	ps->clone_ns_last = d;
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(enter_btf, struct pt_regs *regs, long id) { return on_enter(id); }
SEC("tp_btf/sys_exit")
int BPF_PROG(exit_btf, struct pt_regs *regs, long ret) { return on_exit(regs, ret); }
SEC("raw_tp/sys_enter")
int BPF_PROG(enter_raw, struct pt_regs *regs, long id) { return on_enter(id); }
SEC("raw_tp/sys_exit")
int BPF_PROG(exit_raw, struct pt_regs *regs, long ret) { return on_exit(regs, ret); }

char LICENSE[] SEC("license") = "Dual BSD/GPL";
