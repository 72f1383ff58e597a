/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tethering offload in the style of Android's offload.o, reduced to what a
 * loader test needs: per-upstream stats and limits, an error counter, an
 * XDP device map, kernel-version variants of one program and an optional
 * variant that the verifier rejects, backed by a mandatory stub.
 *
 * Built as offload@mainline.o: the object name used in pin paths is the file
 * name cut at the last '@', i.e. "offload".
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#define BPFLOADER_MIN_VER BPFLOADER_S_VER
#include "bpf_helpers.h"

struct TetherStatsValue {
    __u64 rxPackets;
    __u64 rxBytes;
    __u64 rxErrors;
    __u64 txPackets;
    __u64 txBytes;
    __u64 txErrors;
};

/* Upstream ifindex -> traffic counters. */
DEFINE_BPF_MAP_GRW(tether_stats_map, HASH, __u32, struct TetherStatsValue, 16, AID_NETWORK_STACK);
/* Upstream ifindex -> byte limit. */
DEFINE_BPF_MAP_GRW(tether_limit_map, HASH, __u32, __u64, 16, AID_NETWORK_STACK);
/* Error code -> count. */
DEFINE_BPF_MAP_RO(tether_error_map, ARRAY, __u32, __u32, 8, AID_NETWORK_STACK);
/* ifindex -> ifindex, for bpf_redirect_map from XDP. */
DEFINE_BPF_MAP_GRW(tether_dev_map, DEVMAP_HASH, __u32, __u32, 64, AID_NETWORK_STACK);

static __always_inline int count_downstream(struct __sk_buff *skb) {
    __u32 key = skb->ifindex;
    struct TetherStatsValue *stats = bpf_tether_stats_map_lookup_elem(&key);

    if (stats) {
        __sync_fetch_and_add(&stats->rxPackets, 1);
        __sync_fetch_and_add(&stats->rxBytes, skb->len);
    }
    return TC_ACT_PIPE;
}

/* Two implementations of one pin; only the one matching the kernel loads. */
DEFINE_BPF_PROG_KVER_RANGE("schedcls/tether_downstream6_ether$4_14", AID_ROOT, AID_NETWORK_STACK,
                           sched_cls_tether_downstream6_ether_4_14, KVER(4, 14, 0), KVER(5, 10, 0))
(struct __sk_buff *skb) {
    return count_downstream(skb);
}

DEFINE_BPF_PROG_KVER("schedcls/tether_downstream6_ether$5_10", AID_ROOT, AID_NETWORK_STACK,
                     sched_cls_tether_downstream6_ether_5_10, KVER(5, 10, 0))
(struct __sk_buff *skb) {
    return count_downstream(skb);
}

/*
 * Optional variant the verifier always rejects: the HASH lookup result is
 * dereferenced without a NULL check ("invalid mem access
 * 'map_value_or_null'"). The loader skips it and loads the $stub below,
 * which takes the same pin name.
 */
DEFINE_OPTIONAL_BPF_PROG("schedcls/tether_upstream6_rawip$opt", AID_ROOT, AID_NETWORK_STACK,
                         sched_cls_tether_upstream6_rawip_opt)
(struct __sk_buff *skb) {
    __u32 key = skb->ifindex;
    __u64 *limit = bpf_tether_limit_map_lookup_elem(&key);

    return *limit > skb->len ? TC_ACT_PIPE : TC_ACT_SHOT;
}

DEFINE_BPF_PROG("schedcls/tether_upstream6_rawip$stub", AID_ROOT, AID_NETWORK_STACK,
                sched_cls_tether_upstream6_rawip_stub)
(struct __sk_buff *skb) {
    (void)skb;
    return TC_ACT_PIPE;
}

DEFINE_BPF_PROG_KVER("xdp/tether_downstream_ether", AID_ROOT, AID_NETWORK_STACK,
                     xdp_tether_downstream_ether, KVER(5, 10, 0))
(struct xdp_md *ctx) {
    /* Falls back to XDP_PASS when the ingress device has no entry. */
    return bpf_redirect_map(&tether_dev_map, ctx->ingress_ifindex, XDP_PASS);
}

LICENSE("Apache 2.0");
CRITICAL("Connectivity (Tethering)");
