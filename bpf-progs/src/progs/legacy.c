/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Built three times by build.rs with the historical record layouts:
 *   legacyV0.o  -DBPF_DEF_ABI=32   32/20 bytes, no version/size sections
 *   legacyS.o   -DBPF_DEF_ABI=48   48/28 bytes
 *   legacyT.o   -DBPF_DEF_ABI=116  116/92 bytes
 * Each layout gets the fields it can express, so a loader that reads
 * records with the declared stride finds every later field defaulted.
 */
#include <linux/bpf.h>

#include "bpf_helpers.h"

/* uid is the word at offset 20 in these layouts; kept 0 (AID_ROOT). */
DEFINE_BPF_MAP_UGM(legacy_count_map, ARRAY, __u32, __u64, 1, AID_ROOT, AID_SYSTEM, 0640);

DEFINE_BPF_PROG("skfilter/legacy_count", AID_ROOT, AID_SYSTEM, skfilter_legacy_count)
(struct __sk_buff *skb) {
    __u32 key = 0;
    __u64 *count = bpf_legacy_count_map_lookup_elem(&key);

    if (count)
        __sync_fetch_and_add(count, 1);
    return skb->len;
}

#if BPF_DEF_ABI >= 48
/* S added kernel-version gates: this map is for kernels before 4.14 only. */
DEFINE_BPF_MAP_EXT(legacy_pre_4_14_map, ARRAY, __u32, __u32, 1, AID_ROOT, AID_SYSTEM, 0640,
                   DOMAIN_UNSPECIFIED, DOMAIN_UNSPECIFIED, false, KVER_NONE, KVER(4, 14, 0),
                   BPFLOADER_DEFAULT_MIN_VER, BPFLOADER_DEFAULT_MAX_VER, false, false, false);

/* min_kver = KVER_INF: absent on every kernel. */
DEFINE_BPF_PROG_KVER("skfilter/legacy_never", AID_ROOT, AID_SYSTEM, skfilter_legacy_never, KVER_INF)
(struct __sk_buff *skb) {
    return skb->len;
}
#endif

#if BPF_DEF_ABI >= 116
/* T added domains and sharing: pinned as net_private/map__legacy_shared_map
 * whatever the object's location. */
DEFINE_BPF_MAP_EXT(legacy_shared_map, ARRAY, __u32, __u32, 2, AID_ROOT, AID_SYSTEM, 0660,
                   DOMAIN_UNSPECIFIED, PIN_NET_PRIVATE, true, KVER_NONE, KVER_INF,
                   BPFLOADER_DEFAULT_MIN_VER, BPFLOADER_DEFAULT_MAX_VER, false, false, false);
#endif

LICENSE("Apache 2.0");
