/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A map whose BTF annotation disagrees with its record: the `maps` record
 * of mismatch_map says key 4 / value 8 bytes, its ____btf_map_ struct says
 * key 4 / value 4. A loader using BTF must refuse the object, naming the map
 * (Android's 2025 loader does); without BTF it loads.
 */
#include <linux/bpf.h>

#include "bpf_helpers.h"

/* Correctly annotated. */
DEFINE_BPF_MAP(typed_ok_map, HASH, __u32, __u64, 16);

/* The record, then an annotation written by hand with another value type. */
BPF_MAP_RECORD(mismatch_map, BPF_MAP_TYPE_HASH, sizeof(__u32), sizeof(__u64), 16, 0u, AID_ROOT,
               AID_ROOT, 0600, DOMAIN_UNSPECIFIED, DOMAIN_UNSPECIFIED, false, KVER_NONE, KVER_INF,
               BPFLOADER_DEFAULT_MIN_VER, BPFLOADER_DEFAULT_MAX_VER, 0u);
BPF_ANNOTATE_KV_PAIR(mismatch_map, __u32, __u32);

DEFINE_BPF_PROG("skfilter/mismatch", AID_ROOT, AID_SYSTEM, mismatch)
(struct __sk_buff *skb) {
    __u32 key = 0;
    __u64 *a = bpf_typed_ok_map_lookup_elem(&key);
    __u64 *b = bpf_map_lookup_elem(&mismatch_map, &key);
    if (a && b) *a += *b;
    return skb->len;
}

LICENSE("Apache 2.0");
