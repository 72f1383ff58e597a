/* SPDX-License-Identifier: Apache-2.0 */
/*
 * 464xlat (CLAT) classifiers in the style of Android's clatd.o. The one
 * object of the corpus compiled with -g, like Soong builds every object: it
 * carries a .BTF section (and the .maps.<name> key/value annotations); .BTF.ext
 * and the BTF relocations are stripped afterwards.
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/pkt_cls.h>

#define BPFLOADER_MIN_VER BPFLOADER_T_VER
#include "bpf_helpers.h"
#include "netShared.h"

struct ClatIngress6Key {
    __u32 iif;
    struct in6_addr pfx96;
    struct in6_addr local6;
};

struct ClatIngress6Value {
    __u32 oif;
    struct in_addr local4;
};

struct ClatEgress4Key {
    __u32 iif;
    struct in_addr local4;
};

struct ClatEgress4Value {
    __u32 oif;
    struct in6_addr local6;
    struct in6_addr pfx96;
    __u16 oifIsEthernet;
    __u16 pad;
};

DEFINE_BPF_MAP_GRW(clat_ingress6_map, HASH, struct ClatIngress6Key, struct ClatIngress6Value, 16,
                   AID_SYSTEM);
DEFINE_BPF_MAP_GRW(clat_egress4_map, HASH, struct ClatEgress4Key, struct ClatEgress4Value, 16,
                   AID_SYSTEM);

DEFINE_BPF_PROG("schedcls/ingress6/clat_rawip", AID_ROOT, AID_SYSTEM, sched_cls_ingress6_clat_rawip)
(struct __sk_buff *skb) {
    struct ClatIngress6Key key = {};
    struct ClatIngress6Value *value;

    key.iif = skb->ifindex;
    value = bpf_clat_ingress6_map_lookup_elem(&key);
    return value ? TC_ACT_PIPE : TC_ACT_OK;
}

DEFINE_BPF_PROG("schedcls/egress4/clat_rawip", AID_ROOT, AID_SYSTEM, sched_cls_egress4_clat_rawip)
(struct __sk_buff *skb) {
    struct ClatEgress4Key key = {.iif = skb->ifindex};
    struct ClatEgress4Value *value = bpf_clat_egress4_map_lookup_elem(&key);
    __u32 config_key = 0;
    __u32 *config = bpf_net_config_map_lookup_elem(&config_key);

    if (!value || (config && *config == 0))
        return TC_ACT_OK;
    return TC_ACT_PIPE;
}

LICENSE("Apache 2.0");
CRITICAL("Connectivity (CLAT)");
