/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A valid object whose .BTF build.rs corrupts after the build (the kind of
 * type 1 becomes 31, which no BTF version defines). Without BTF it loads; a
 * loader using BTF must refuse it with the reason, before creating anything.
 */
#include <linux/bpf.h>

#include "bpf_helpers.h"

DEFINE_BPF_MAP(corrupt_count_map, ARRAY, __u32, __u64, 1);

DEFINE_BPF_PROG("skfilter/corrupt_count", AID_ROOT, AID_SYSTEM, corrupt_count)
(struct __sk_buff *skb) {
    __u32 key = 0;
    __u64 *n = bpf_corrupt_count_map_lookup_elem(&key);
    if (n) __sync_fetch_and_add(n, 1);
    return skb->len;
}

LICENSE("Apache 2.0");
