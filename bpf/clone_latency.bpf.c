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

#define NR_CLONE 56
#define NR_FORK 57
#define NR_VFORK 58
#define NR_CLONE3 435
#define ODFB_CLONE_THREAD 0x00010000ULL

static __always_inline int is_clone_nr(long id)
{
	return id == NR_CLONE || id == NR_FORK || id == NR_VFORK || id == NR_CLONE3 || (tfork_nr >= 0 && id == tfork_nr);
}

/* clone(flags, ...) carries CLONE_THREAD in its first argument; clone3 in
 * the first word of the struct clone_args its first argument points to.
 * Thread creation is timed apart, so a fork count counts processes only. */
static __always_inline int creates_thread(long nr, unsigned long arg0)
{
	__u64 flags = 0;
	if (nr == NR_CLONE)
		flags = arg0;
	else if (nr == NR_CLONE3 && bpf_probe_read_user(&flags, sizeof(flags), (void *)arg0))
		return 0;
	return (flags & ODFB_CLONE_THREAD) != 0;
}

static __always_inline int start(long nr, unsigned long arg0)
{
	if (current_proc())
		inflight_start(creates_thread(nr, arg0) ? INFLIGHT_THREAD : INFLIGHT_CLONE);
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
	if (inflight_end(INFLIGHT_CLONE, &d)) {
		ADD(ps->clones, 1);
		ADD(ps->clone_ns_total, d);
		ps->clone_ns_last = d;
		hist_add(ps, HIST_CLONE, d);
	} else if (inflight_end(INFLIGHT_THREAD, &d))
		ADD(ps->thread_clones, 1);
	else
		unmatched(ps);
	return 0;
}

/* One enter/exit pair per syscall; the harness attaches the pairs whose
 * events exist (tfork only on the paper kernel). */
#define SYSCALL_PAIR(name, nr)                                                        \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                   \
	int enter_##name(struct trace_event_raw_sys_enter *ctx)                       \
	{ return start(nr, ctx->args[0]); }                                           \
	SEC("tracepoint/syscalls/sys_exit_" #name)                                    \
	int exit_##name(struct trace_event_raw_sys_exit *ctx) { return finish(ctx->ret); }
SYSCALL_PAIR(clone, NR_CLONE)
SYSCALL_PAIR(clone3, NR_CLONE3)
SYSCALL_PAIR(fork, NR_FORK)
SYSCALL_PAIR(vfork, NR_VFORK)
SYSCALL_PAIR(tfork, -1)

SEC("raw_tp/sys_enter")
int BPF_PROG(enter_raw, struct pt_regs *regs, long id)
{
	return is_clone_nr(id) ? start(id, BPF_CORE_READ(regs, di)) : 0;
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
