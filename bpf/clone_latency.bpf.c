// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Concern: how long the clone-family syscall takes inside the kernel.
 *
 * Preferred: the per-syscall tracepoints (syscalls:sys_enter_clone, ...), so
 * the kernel runs a program only for clone-family syscalls; every other
 * syscall on the machine pays one bitmap test.  Fallback when tracefs has no
 * syscalls events: raw_syscalls sys_enter/sys_exit, which run a program on
 * every syscall on the machine (docs/performance.md measures both). */
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

static __always_inline int start(void)
{
	if (current_proc())
		inflight_start(INFLIGHT_CLONE);
	return 0;
}

static __always_inline int finish(long ret)
{
	struct proc_stats *ps;
	__u64 d;

	/* The child also leaves the syscall (ret 0) but never entered it. */
	if (ret <= 0)
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

/* One enter/exit pair per syscall; the harness attaches the pairs whose
 * events exist (tfork only on the paper kernel). */
#define SYSCALL_PAIR(name)                                                          \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                 \
	int enter_##name(struct trace_event_raw_sys_enter *ctx) { return start(); } \
	SEC("tracepoint/syscalls/sys_exit_" #name)                                  \
	int exit_##name(struct trace_event_raw_sys_exit *ctx) { return finish(ctx->ret); }
SYSCALL_PAIR(clone)
SYSCALL_PAIR(clone3)
SYSCALL_PAIR(fork)
SYSCALL_PAIR(vfork)
SYSCALL_PAIR(tfork)

SEC("raw_tp/sys_enter")
int BPF_PROG(enter_raw, struct pt_regs *regs, long id)
{
	return is_clone_nr(id) ? start() : 0;
}
SEC("raw_tp/sys_exit")
int BPF_PROG(exit_raw, struct pt_regs *regs, long ret)
{
	/* ret first: most syscalls return <= 0 or are filtered by it cheaply. */
	if (ret <= 0 || !is_clone_nr(BPF_CORE_READ(regs, orig_ax)))
		return 0;
	return finish(ret);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
