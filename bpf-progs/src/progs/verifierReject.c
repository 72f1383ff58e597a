/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Not critical, and its second (mandatory) program is rejected by the
 * verifier on every kernel, so the object as a whole fails to load. A loader
 * must report it, leave nothing of it pinned, and go on with the other
 * objects.
 */
#include <linux/bpf.h>

#include "bpf_helpers.h"

DEFINE_BPF_MAP(reject_seen_map, HASH, __u32, __u64, 16);

/* Fine on its own. */
DEFINE_BPF_PROG("skfilter/accept", AID_ROOT, AID_SYSTEM, skfilter_accept)
(struct __sk_buff *skb) {
    return skb->len;
}

/* Dereferences a HASH lookup result without a NULL check:
 * "R0 invalid mem access 'map_value_or_null'". */
DEFINE_BPF_PROG("skfilter/reject", AID_ROOT, AID_SYSTEM, skfilter_reject)
(struct __sk_buff *skb) {
    __u32 key = skb->ifindex;
    __u64 *seen = bpf_reject_seen_map_lookup_elem(&key);

    return (int)*seen;
}

LICENSE("Apache 2.0");
