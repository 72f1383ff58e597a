/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An object for a loader that does not exist yet: bpfloader_min_ver is
 * 0x10000, above every shipped loader version, so loaders skip it whole,
 * without an error and without creating anything. Its contents are valid,
 * so a loader that wrongly loads it leaves visible pins.
 */
#include <linux/bpf.h>

#define BPFLOADER_MIN_VER BPFLOADER_DEFAULT_MAX_VER
#include "bpf_helpers.h"

DEFINE_BPF_MAP(future_map, ARRAY, __u32, __u32, 1);

DEFINE_BPF_PROG("skfilter/future", AID_ROOT, AID_SYSTEM, skfilter_future)
(struct __sk_buff *skb) {
    __u32 key = 0;
    __u32 *v = bpf_future_map_lookup_elem(&key);

    if (v)
        __sync_fetch_and_add(v, 1);
    return skb->len;
}

LICENSE("Apache 2.0");
