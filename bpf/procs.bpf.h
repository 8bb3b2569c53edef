/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The tracked-process map every probe object shares.  The harness creates it
 * once per run (fork_tree owns it) and hands the same fd to the other objects
 * with bpf_map__reuse_fd, so two runs never see each other's processes. */
#ifndef ODFBENCH_PROCS_BPF_H
#define ODFBENCH_PROCS_BPF_H

#include <bpf/bpf_core_read.h>
#include "odfbench.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ODFB_MAX_PROCS);
	__type(key, __u32);
	__type(value, struct proc_stats);
} procs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ODFB_MAX_PROCS);
	__type(key, struct inflight_key);
	__type(value, __u64);
} inflight SEC(".maps");

/* Per-trial latency histograms (odfbench.h), shared like procs. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ODFB_HISTS);
	__type(key, __u32);
	__type(value, struct odfb_hist);
} hists SEC(".maps");

/* Whether fault latencies go into hists now: the harness opens it for a whole
 * trial, and a workload may narrow it to the accesses it measures. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} fault_gate SEC(".maps");

/* 0 when the harness runs in the initial pid namespace: a process's key is its
 * kernel tgid.  Otherwise the harness's pid namespace (nsfs device and inode),
 * and the key is the tgid as that namespace numbers it -- the getpid() the
 * harness tracks.  A process in any other namespace gets key 0, never tracked.
 * The helper needs no BTF, so the tracepoint probes still load on a kernel
 * without it; only task_key (fork_tree, which needs CO-RE anyway) reads
 * struct pid. */
const volatile __u64 pidns_dev = 0;
const volatile __u64 pidns_ino = 0;

static __always_inline __u32 ns_tgid(struct task_struct *t)
{
	struct pid *pid = BPF_CORE_READ(t, group_leader, thread_pid);
	unsigned int level = BPF_CORE_READ(pid, level);
	struct upid up = {};

	if (bpf_core_read(&up, sizeof(up), &pid->numbers[level]))
		return 0;
	if (BPF_CORE_READ(up.ns, ns.inum) != pidns_ino)
		return 0;
	return (__u32)up.nr;
}

static __always_inline __u32 task_key(struct task_struct *t)
{
	return pidns_ino ? ns_tgid(t) : BPF_CORE_READ(t, tgid);
}

/* The UAPI struct bpf_pidns_info, declared here without vmlinux.h's
 * preserve_access_index: a CO-RE relocation on it would make every object
 * need kernel BTF, and the tracepoint and kprobe probes need none. */
struct odfb_pidns_info {
	__u32 pid;
	__u32 tgid;
};

static __always_inline __u32 current_key(void)
{
	struct odfb_pidns_info ns = {};
	if (!pidns_ino)
		return (__u32)(bpf_get_current_pid_tgid() >> 32);
	if (bpf_get_ns_current_pid_tgid(pidns_dev, pidns_ino, (void *)&ns, sizeof(ns)))
		return 0;
	return ns.tgid;
}

/* The filter: a process outside the trial's tree costs one lookup and counts nothing. */
static __always_inline struct proc_stats *current_proc(void)
{
	__u32 key = current_key();
	return bpf_map_lookup_elem(&procs, &key);
}

/* Entry timestamps are per thread and per kind; the kernel's own tid is fine
 * as their key, since the harness never reads this map. */
static __always_inline void inflight_start(__u32 kind)
{
	struct inflight_key k = { .tid = (__u32)bpf_get_current_pid_tgid(), .kind = kind };
	__u64 now = bpf_ktime_get_ns();
	bpf_map_update_elem(&inflight, &k, &now, BPF_ANY);
}

/* Ends a call started by inflight_start: 1 with *elapsed set, or 0 when its
 * entry was never seen, which every return probe handles the same way:
 * unmatched(ps), and the call is not counted. */
static __always_inline int inflight_end(__u32 kind, __u64 *elapsed)
{
	struct inflight_key k = { .tid = (__u32)bpf_get_current_pid_tgid(), .kind = kind };
	__u64 *start = bpf_map_lookup_elem(&inflight, &k);
	if (!start)
		return 0;
	*elapsed = bpf_ktime_get_ns() - *start;
	bpf_map_delete_elem(&inflight, &k);
	return 1;
}

static __always_inline int inflight_active(__u32 kind)
{
	struct inflight_key k = { .tid = (__u32)bpf_get_current_pid_tgid(), .kind = kind };
	return bpf_map_lookup_elem(&inflight, &k) != 0;
}

#define ADD(field, v) __sync_fetch_and_add(&(field), (v))

/* The harness inserts the processes it tracks itself (birth_ns 0); the
 * fork_tree probe adds the ones born after them. */
static __always_inline void hist_add(struct proc_stats *ps, __u32 kind, __u64 ns)
{
	__u32 id = kind * ODFB_HIST_ROLES + (ps->birth_ns ? 1 : 0);
	struct odfb_hist *h = bpf_map_lookup_elem(&hists, &id);
	__u32 b = odfb_hist_bucket(ns);
	if (!h || b >= ODFB_HIST_BUCKETS)
		return;
	ADD(h->count, 1);
	ADD(h->sum_ns, ns);
	ADD(h->buckets[b], 1);
}

static __always_inline int fault_gate_open(void)
{
	__u32 k = 0;
	__u32 *g = bpf_map_lookup_elem(&fault_gate, &k);
	return g && *g;
}

static __always_inline void unmatched(struct proc_stats *ps)
{
	ADD(ps->unmatched_returns, 1);
}

#endif
