/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kprobe and kretprobe programs for the platform location: count calls to
 * and returns from tcp_v4_connect. Loading does not attach them, so the
 * probed symbol only matters to a test that attaches.
 */
#include <linux/bpf.h>

#include "bpf_helpers.h"

/* key 0: calls, key 1: returns; one copy per CPU. */
DEFINE_BPF_MAP_GRO(tcp_connect_count_map, PERCPU_ARRAY, __u32, __u64, 2, AID_SYSTEM);

static __always_inline void bump(__u32 key) {
    __u64 *count = bpf_tcp_connect_count_map_lookup_elem(&key);

    if (count)
        (*count)++;
}

DEFINE_BPF_PROG("kprobe/tcp_v4_connect", AID_ROOT, AID_SYSTEM, kprobe_tcp_v4_connect)
(void *ctx) {
    (void)ctx;
    bump(0);
    return 0;
}

DEFINE_BPF_PROG("kretprobe/tcp_v4_connect", AID_ROOT, AID_SYSTEM, kretprobe_tcp_v4_connect)
(void *ctx) {
    (void)ctx;
    bump(1);
    return 0;
}

LICENSE("GPL");
