/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DSCP marking in the style of Android's dscpPolicy.o: a per-CPU cache map
 * created through the loader's own SELinux domain (fs_bpf_loader) with mode
 * 0, so only the loader's label decides access, plus the map shared with
 * clatd.o. Not critical.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#define BPFLOADER_MIN_VER BPFLOADER_T_VER
#include "bpf_helpers.h"
#include "netShared.h"

struct PolicyCacheEntry {
    __u64 cookie;
    __u32 ifindex;
    __u8 dscp;
    __u8 pad[3];
};

struct DscpPolicy {
    __u32 ifindex;
    __u32 srcPort;
    __u32 dstPort;
    __u8 dscp;
    __u8 pad[3];
};

/* Created in loader/ under a temporary name, then renamed into net_shared/
 * (docs/object-format.md#temporary-pins). root:system, mode 0. */
DEFINE_BPF_MAP_EXT(socket_policy_cache_map, PERCPU_ARRAY, __u32, struct PolicyCacheEntry, 1024,
                   AID_ROOT, AID_SYSTEM, 0, SELINUX_LOADER, DOMAIN_UNSPECIFIED, false, KVER_NONE,
                   KVER_INF, BPFLOADER_DEFAULT_MIN_VER, BPFLOADER_DEFAULT_MAX_VER, false, false,
                   false);
DEFINE_BPF_MAP_GRW(ipv4_dscp_policies_map, ARRAY, __u32, struct DscpPolicy, 16, AID_SYSTEM);

DEFINE_BPF_PROG_KVER("schedcls/set_dscp_ether", AID_ROOT, AID_SYSTEM, schedcls_set_dscp_ether,
                     KVER(5, 15, 0))
(struct __sk_buff *skb) {
    __u32 key = 0;
    struct PolicyCacheEntry *cached = bpf_socket_policy_cache_map_lookup_elem(&key);
    struct DscpPolicy *policy = bpf_ipv4_dscp_policies_map_lookup_elem(&key);
    __u32 *enabled = bpf_net_config_map_lookup_elem(&key);

    if (!cached || !policy || !enabled || !*enabled)
        return TC_ACT_PIPE;
    if (cached->ifindex != skb->ifindex) {
        cached->ifindex = skb->ifindex;
        cached->dscp = policy->dscp;
    }
    return TC_ACT_PIPE;
}

LICENSE("Apache 2.0");
