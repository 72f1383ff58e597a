/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Critical, and its only program is rejected by the verifier on every
 * kernel: loading it must fail the boot. Not part of the default layout; it
 * exists for the dedicated boot-failure test.
 */
#include <linux/bpf.h>

#include "bpf_helpers.h"

DEFINE_BPF_MAP(critical_seen_map, HASH, __u32, __u64, 16);

/* Dereferences a HASH lookup result without a NULL check. */
DEFINE_BPF_PROG("skfilter/critical_reject", AID_ROOT, AID_SYSTEM, skfilter_critical_reject)
(struct __sk_buff *skb) {
    __u32 key = skb->ifindex;
    __u64 *seen = bpf_critical_seen_map_lookup_elem(&key);

    return (int)*seen;
}

LICENSE("Apache 2.0");
CRITICAL("boot test: a critical object the verifier rejects");
