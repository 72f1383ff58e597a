/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Maps and programs gated on the Android LTS kernel branches the QEMU boot
 * matrix runs (5.10, 6.1, 6.12; the root tier's host runs 6.18) and on the
 * architecture, so that every cell of the matrix has its own pin tree:
 *
 *   (pins under net_private/)             gate            5.10  6.1  6.12  6.18
 *   map  clock_map                        none             x     x    x     x
 *   map  before_6_1_map                   [5.10, 6.1)      x
 *   map  since_6_1_map                    [6.1, inf)             x    x     x
 *   map  since_6_6_map                    [6.6, inf)                  x     x
 *   map  not_on_aarch64_map               ignore_on_aarch64   (x86_64 only)
 *   prog skfilter/clock$5_10 | $6_1       [5.10,6.1)|[6.1,inf)  one pin, every branch
 *   prog skfilter/before_6_1              [5.10, 6.1)      x
 *   prog skfilter/lts_6_1                 [6.1, 6.6)             x
 *   prog skfilter/since_6_6               [6.6, inf)                  x     x
 *   prog skfilter/since_6_12              [6.12, inf)                 x     x
 *   prog skfilter/not_on_x86_64           ignore_on_x86_64     (aarch64 only)
 *
 * The clock$6_1 gate guards a real 6.1 feature, the bpf_ktime_get_tai_ns
 * helper, which a 5.10 verifier refuses. The other gates stand for features
 * of those branches that a plain socket filter cannot show. Every map has a
 * ____btf_map annotation (no USER_RINGBUF here: 2025 main would demand one
 * for it too), so a BTF-typing loader loads this object as well. Not
 * critical.
 */
#include <linux/bpf.h>

#include "bpf_helpers.h"

/* Added in 6.1 (helper 208); declared here, bpf_helpers.h predates it. */
static unsigned long long (*bpf_ktime_get_tai_ns)(void) = (void *)BPF_FUNC_ktime_get_tai_ns;

/* key 0: CLOCK_MONOTONIC of the last packet ($5_10), key 1: CLOCK_TAI ($6_1). */
DEFINE_BPF_MAP_GRW(clock_map, ARRAY, __u32, __u64, 2, AID_SYSTEM);
/* Packets seen by skfilter/before_6_1; gated like its only user. */
DEFINE_BPF_MAP_EXT(before_6_1_map, ARRAY, __u32, __u64, 1, AID_ROOT, AID_ROOT, 0600,
                   DOMAIN_UNSPECIFIED, DOMAIN_UNSPECIFIED, false, KVER(5, 10, 0), KVER(6, 1, 0),
                   BPFLOADER_DEFAULT_MIN_VER, BPFLOADER_DEFAULT_MAX_VER, false, false, false);
/* 6.1 and later. */
DEFINE_BPF_MAP_EXT(since_6_1_map, HASH, __u32, __u32, 16, AID_ROOT, AID_SYSTEM, 0660,
                   DOMAIN_UNSPECIFIED, DOMAIN_UNSPECIFIED, false, KVER(6, 1, 0), KVER_INF,
                   BPFLOADER_DEFAULT_MIN_VER, BPFLOADER_DEFAULT_MAX_VER, false, false, false);
/* ifindex -> packets, for skfilter/since_6_6; gated like its only user. */
DEFINE_BPF_MAP_EXT(since_6_6_map, HASH, __u32, __u32, 16, AID_ROOT, AID_SYSTEM, 0640,
                   DOMAIN_UNSPECIFIED, DOMAIN_UNSPECIFIED, false, KVER(6, 6, 0), KVER_INF,
                   BPFLOADER_DEFAULT_MIN_VER, BPFLOADER_DEFAULT_MAX_VER, false, false, false);
/* Present on every architecture but aarch64. */
DEFINE_BPF_MAP_FULL(not_on_aarch64_map, ARRAY, __u32, __u32, 1, 0u, AID_ROOT, AID_ROOT, 0600,
                    DOMAIN_UNSPECIFIED, DOMAIN_UNSPECIFIED, false, KVER_NONE, KVER_INF,
                    BPFLOADER_DEFAULT_MIN_VER, BPFLOADER_DEFAULT_MAX_VER, IGNORE_ON_AARCH64);

/* Two implementations of one pin, prog_gateMatrix_skfilter_clock. */
DEFINE_BPF_PROG_KVER_RANGE("skfilter/clock$5_10", AID_ROOT, AID_SYSTEM, skfilter_clock_5_10,
                           KVER(5, 10, 0), KVER(6, 1, 0))
(struct __sk_buff *skb) {
    __u32 key = 0;
    __u64 now = bpf_ktime_get_ns();

    bpf_clock_map_update_elem(&key, &now, BPF_ANY);
    return skb->len;
}

DEFINE_BPF_PROG_KVER("skfilter/clock$6_1", AID_ROOT, AID_SYSTEM, skfilter_clock_6_1, KVER(6, 1, 0))
(struct __sk_buff *skb) {
    __u32 key = 1;
    __u64 now = bpf_ktime_get_tai_ns();

    bpf_clock_map_update_elem(&key, &now, BPF_ANY);
    return skb->len;
}

DEFINE_BPF_PROG_KVER_RANGE("skfilter/before_6_1", AID_ROOT, AID_SYSTEM, skfilter_before_6_1,
                           KVER(5, 10, 0), KVER(6, 1, 0))
(struct __sk_buff *skb) {
    __u32 key = 0;
    __u64 *seen = bpf_before_6_1_map_lookup_elem(&key);

    if (seen)
        __sync_fetch_and_add(seen, 1);
    return skb->len;
}

DEFINE_BPF_PROG_KVER_RANGE("skfilter/lts_6_1", AID_ROOT, AID_SYSTEM, skfilter_lts_6_1,
                           KVER(6, 1, 0), KVER(6, 6, 0))
(struct __sk_buff *skb) {
    return skb->len;
}

DEFINE_BPF_PROG_KVER("skfilter/since_6_6", AID_ROOT, AID_SYSTEM, skfilter_since_6_6, KVER(6, 6, 0))
(struct __sk_buff *skb) {
    __u32 key = skb->ifindex;
    __u32 *seen = bpf_since_6_6_map_lookup_elem(&key);

    if (seen)
        __sync_fetch_and_add(seen, 1);
    return skb->len;
}

DEFINE_BPF_PROG_KVER("skfilter/since_6_12", AID_ROOT, AID_SYSTEM, skfilter_since_6_12,
                     KVER(6, 12, 0))
(struct __sk_buff *skb) {
    return skb->len;
}

DEFINE_BPF_PROG_FULL("skfilter/not_on_x86_64", AID_ROOT, AID_SYSTEM, skfilter_not_on_x86_64,
                     KVER_NONE, KVER_INF, BPFLOADER_DEFAULT_MIN_VER, BPFLOADER_DEFAULT_MAX_VER,
                     false, DOMAIN_UNSPECIFIED, DOMAIN_UNSPECIFIED, IGNORE_ON_X86_64)
(struct __sk_buff *skb) {
    return skb->len;
}

LICENSE("Apache 2.0");
