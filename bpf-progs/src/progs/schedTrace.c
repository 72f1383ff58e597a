/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Scheduler tracepoints for the platform location (/system/etc/bpf/, pins
 * directly under the bpffs root), after Android's bpfLoadTpProg test object:
 * sched_switch records the pid running on each CPU; sched_wakeup is gated
 * out on every kernel.
 */
#include <linux/bpf.h>

#include "bpf_helpers.h"

/* CPU -> pid last switched to. */
DEFINE_BPF_MAP_GRO(cpu_pid_map, ARRAY, __u32, __u32, 1024, AID_SYSTEM);
/* pid -> number of times switched in, one copy per CPU. */
DEFINE_BPF_MAP_GRO(switch_count_map, PERCPU_HASH, __u32, __u64, 4096, AID_SYSTEM);

DEFINE_BPF_PROG("tracepoint/sched/sched_switch", AID_ROOT, AID_SYSTEM, tp_sched_switch)
(void *ctx) {
    __u32 cpu = bpf_get_smp_processor_id();
    __u32 pid = (__u32)bpf_get_current_pid_tgid();
    __u64 one = 1;
    __u64 *count;

    (void)ctx;
    bpf_cpu_pid_map_update_elem(&cpu, &pid, BPF_ANY);
    count = bpf_switch_count_map_lookup_elem(&pid);
    if (count)
        (*count)++;
    else
        bpf_switch_count_map_update_elem(&pid, &one, BPF_NOEXIST);
    return 0;
}

/* min_kver = KVER_INF: absent on every kernel. */
DEFINE_BPF_PROG_KVER("tracepoint/sched/sched_wakeup", AID_ROOT, AID_SYSTEM, tp_sched_wakeup,
                     KVER_INF)
(void *ctx) {
    (void)ctx;
    return 0;
}

LICENSE("GPL");
