/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A socket filter that counts the packets it sees, for end-to-end tests:
 * attach prog_pktCount_skfilter_count to a socket with SO_ATTACH_BPF, send,
 * then read key 0 of map_pktCount_packet_count_map.
 */
#include <linux/bpf.h>

#include "bpf_helpers.h"

/* key 0: packets seen by skfilter/count. */
DEFINE_BPF_MAP(packet_count_map, ARRAY, __u32, __u64, 1);
/* A plain two-entry ARRAY (u32 -> u32) for map read/write tests. */
DEFINE_BPF_MAP_GRW(two_entry_map, ARRAY, __u32, __u32, 2, AID_SYSTEM);

DEFINE_BPF_PROG("skfilter/count", AID_ROOT, AID_SYSTEM, count_packets)
(struct __sk_buff *skb) {
    __u32 key = 0;
    __u64 *count = bpf_packet_count_map_lookup_elem(&key);

    if (count)
        __sync_fetch_and_add(count, 1);
    /* Keep the whole packet. */
    return skb->len;
}

LICENSE("Apache 2.0");
