/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The tracked-process map every probe object shares.  The harness creates it
 * once per run (fork_tree owns it) and hands the same fd to the other objects
 * with bpf_map__reuse_fd, so two runs never see each other's processes. */
#ifndef ODFBENCH_PROCS_BPF_H
#define ODFBENCH_PROCS_BPF_H

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

/* The filter: a process outside the trial's tree costs one lookup and counts nothing. */
static __always_inline struct proc_stats *current_proc(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	return bpf_map_lookup_elem(&procs, &tgid);
}

static __always_inline void inflight_start(__u32 kind)
{
	struct inflight_key k = { .tid = (__u32)bpf_get_current_pid_tgid(), .kind = kind };
	__u64 now = bpf_ktime_get_ns();
	bpf_map_update_elem(&inflight, &k, &now, BPF_ANY);
}

/* Returns the elapsed ns since inflight_start, or 0 when there was no start. */
static __always_inline __u64 inflight_end(__u32 kind)
{
	struct inflight_key k = { .tid = (__u32)bpf_get_current_pid_tgid(), .kind = kind };
	__u64 *start = bpf_map_lookup_elem(&inflight, &k);
	__u64 d;
	if (!start)
		return 0;
	d = bpf_ktime_get_ns() - *start;
	bpf_map_delete_elem(&inflight, &k);
	return d;
}

static __always_inline int inflight_active(__u32 kind)
{
	struct inflight_key k = { .tid = (__u32)bpf_get_current_pid_tgid(), .kind = kind };
	return bpf_map_lookup_elem(&inflight, &k) != 0;
}

#define ADD(field, v) __sync_fetch_and_add(&(field), (v))

#endif
