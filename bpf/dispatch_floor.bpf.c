// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Not a probe: `odfbench overhead`'s calibration.  An empty program on the
 * fault tracepoint measures what any program there costs each fault (the
 * tracepoint-to-BPF dispatch), apart from what page_faults.bpf.c's lookup
 * and add cost on top. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("tp_btf/page_fault_user")
int BPF_PROG(empty_fault) { return 0; }

char LICENSE[] SEC("license") = "Dual BSD/GPL";
