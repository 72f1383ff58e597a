/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Traffic accounting and socket policy in the style of Android's netd.o,
 * written for the netbpfload-rs corpus. It is the object with the widest
 * coverage: every cgroup program type, netd-style owners and SELinux
 * domains, an LPM trie, a ring buffer, and maps and programs gated by kernel
 * version, loader version and build type. Every program is verifier-clean on
 * 5.10+ kernels; everything that is not must be gated out there.
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>

#define BPFLOADER_MIN_VER BPFLOADER_T_VER
#include "bpf_helpers.h"

struct UidTag {
    __u32 uid;
    __u32 tag;
};

struct StatsValue {
    __u64 rxPackets;
    __u64 rxBytes;
    __u64 txPackets;
    __u64 txBytes;
};

struct UidOwnerValue {
    __u32 iif;
    __u32 rule;
};

struct LocalNetAccessKey {
    __u32 prefixlen; /* LPM trie keys start with the prefix length in bits. */
    __u32 ifindex;
    __u32 addr4;
};

typedef char IfaceName[16];

struct PacketTrace {
    __u64 timestampNs;
    __u32 ifindex;
    __u32 length;
};

/* Socket cookie -> uid and tag. root:net_bw_acct 0660, created in netd_shared/. */
DEFINE_BPF_MAP_RW_NETD(cookie_tag_map, HASH, __u64, struct UidTag, 1024);
/* uid -> firewall rule. root:net_bw_acct 0460, created in netd_readonly/. */
DEFINE_BPF_MAP_RO_NETD(uid_owner_map, HASH, __u32, struct UidOwnerValue, 2048);
/* Config words. root:net_bw_acct 0060, created in net_shared/. */
DEFINE_BPF_MAP_NO_NETD(configuration_map, ARRAY, __u32, __u32, 2);
/* ifindex -> counters, one copy per CPU. root:net_bw_stats 0640. */
DEFINE_BPF_MAP_GRO(iface_stats_map, PERCPU_HASH, __u32, struct StatsValue, 256, AID_NET_BW_STATS);
/* uid -> "blocked from local network"; entries allocated on demand. */
DEFINE_BPF_MAP_FLAGS_UGM(local_net_blocked_uid_map, HASH, __u32, __u8, 1000, BPF_F_NO_PREALLOC,
                         AID_ROOT, AID_NET_BW_ACCT, 0660);
/* (ifindex, IPv4 prefix) -> allowed; LPM_TRIE gets BPF_F_NO_PREALLOC by default. */
DEFINE_BPF_MAP_GRW(local_net_access_map, LPM_TRIE, struct LocalNetAccessKey, __u8, 1000,
                   AID_NETWORK_STACK);
/* uid -> permission bits; created in and pinned under netd_readonly/. */
DEFINE_BPF_MAP_EXT(uid_permission_map, HASH, __u32, __u8, 1024, AID_ROOT, AID_NET_BW_ACCT, 0460,
                   SELINUX_NETD_READONLY, PIN_NETD_READONLY, false, KVER_NONE, KVER_INF,
                   BPFLOADER_DEFAULT_MIN_VER, BPFLOADER_DEFAULT_MAX_VER, false, false, false);
/* ifindex -> interface name. Ignored on arm32 and riscv64 (present on x86_64/aarch64). */
DEFINE_BPF_MAP_FULL(iface_index_name_map, HASH, __u32, IfaceName, 256, 0u, AID_ROOT, AID_SYSTEM,
                    0640, DOMAIN_UNSPECIFIED, DOMAIN_UNSPECIFIED, false, KVER_NONE, KVER_INF,
                    BPFLOADER_DEFAULT_MIN_VER, BPFLOADER_DEFAULT_MAX_VER,
                    IGNORE_ON_ARM32 | IGNORE_ON_RISCV64);
/* Packet traces for userspace. Gated to 5.10+ like its only user. */
DEFINE_BPF_RINGBUF_EXT(packet_trace_ringbuf, struct PacketTrace, 32768, AID_ROOT, AID_SYSTEM, 0660,
                       DOMAIN_UNSPECIFIED, DOMAIN_UNSPECIFIED, false, KVER(5, 10, 0), KVER_INF,
                       BPFLOADER_DEFAULT_MIN_VER, BPFLOADER_DEFAULT_MAX_VER, false, false, false);
/* Dropped-on-ingress counters, 5.10+: present on 6.x. */
DEFINE_BPF_MAP_EXT(ingress_discard_map, HASH, __u32, __u64, 256, AID_ROOT, AID_NET_BW_ACCT, 0640,
                   DOMAIN_UNSPECIFIED, DOMAIN_UNSPECIFIED, false, KVER(5, 10, 0), KVER_INF,
                   BPFLOADER_DEFAULT_MIN_VER, BPFLOADER_DEFAULT_MAX_VER, false, false, false);

/* ---- Gated maps. None of them is used by a program: a program must never
 * reference a map that can be gated out while the program is not. */

/* Only for kernels before 4.14: absent on 6.x. */
DEFINE_BPF_MAP_EXT(pre_4_14_stats_map, ARRAY, __u32, __u64, 4, AID_ROOT, AID_ROOT, 0600,
                   DOMAIN_UNSPECIFIED, DOMAIN_UNSPECIFIED, false, KVER_NONE, KVER(4, 14, 0),
                   BPFLOADER_DEFAULT_MIN_VER, BPFLOADER_DEFAULT_MAX_VER, false, false, false);
/* min_kver = KVER_INF: absent on every kernel. */
DEFINE_BPF_MAP_EXT(kver_inf_map, ARRAY, __u32, __u64, 4, AID_ROOT, AID_ROOT, 0600,
                   DOMAIN_UNSPECIFIED, DOMAIN_UNSPECIFIED, false, KVER_INF, KVER_INF,
                   BPFLOADER_DEFAULT_MIN_VER, BPFLOADER_DEFAULT_MAX_VER, false, false, false);
/* Needs loader version 44 (U) or later: present iff loader_ver >= 44. */
DEFINE_BPF_MAP_EXT(packet_trace_enabled_map, ARRAY, __u32, __u8, 1, AID_ROOT, AID_SYSTEM, 0660,
                   DOMAIN_UNSPECIFIED, DOMAIN_UNSPECIFIED, false, KVER_NONE, KVER_INF,
                   BPFLOADER_U_VER, BPFLOADER_DEFAULT_MAX_VER, false, false, false);
/* Needs loader version 0x10000: absent with every loader. */
DEFINE_BPF_MAP_EXT(next_loader_map, ARRAY, __u32, __u32, 1, AID_ROOT, AID_ROOT, 0600,
                   DOMAIN_UNSPECIFIED, DOMAIN_UNSPECIFIED, false, KVER_NONE, KVER_INF,
                   BPFLOADER_DEFAULT_MAX_VER, BPFLOADER_DEFAULT_MAX_VER, false, false, false);
/* ignore_on_user: absent on user builds, present on eng and userdebug. */
DEFINE_BPF_MAP_EXT(lock_array_test_map, ARRAY, __u32, __u32, 1, AID_ROOT, AID_NET_BW_ACCT, 0440,
                   DOMAIN_UNSPECIFIED, DOMAIN_UNSPECIFIED, false, KVER_NONE, KVER_INF,
                   BPFLOADER_DEFAULT_MIN_VER, BPFLOADER_DEFAULT_MAX_VER, false, true, false);

static __always_inline void count_iface(struct __sk_buff *skb, bool egress) {
    __u32 key = skb->ifindex;
    struct StatsValue *stats = bpf_iface_stats_map_lookup_elem(&key);

    if (!stats) {
        struct StatsValue zero = {};
        bpf_iface_stats_map_update_elem(&key, &zero, BPF_NOEXIST);
        stats = bpf_iface_stats_map_lookup_elem(&key);
        if (!stats)
            return;
    }
    /* Per-CPU value: no atomics needed. */
    if (egress) {
        stats->txPackets++;
        stats->txBytes += skb->len;
    } else {
        stats->rxPackets++;
        stats->rxBytes += skb->len;
    }
}

/* ---- cgroup skb: per-interface accounting, with a pre-5.10 variant. */

DEFINE_BPF_PROG_KVER_RANGE("cgroupskb/ingress/stats$4_14", AID_ROOT, AID_SYSTEM,
                           bpf_cgroup_ingress_4_14, KVER(4, 14, 0), KVER(5, 10, 0))
(struct __sk_buff *skb) {
    count_iface(skb, false);
    return 1;
}

DEFINE_BPF_PROG_KVER("cgroupskb/ingress/stats$5_10", AID_ROOT, AID_SYSTEM, bpf_cgroup_ingress_5_10,
                     KVER(5, 10, 0))
(struct __sk_buff *skb) {
    __u32 key = skb->ifindex;
    __u64 *discarded = bpf_ingress_discard_map_lookup_elem(&key);

    if (discarded) {
        __sync_fetch_and_add(discarded, 1);
        return 0;
    }
    count_iface(skb, false);
    return 1;
}

DEFINE_BPF_PROG_KVER("cgroupskb/egress/stats", AID_ROOT, AID_SYSTEM, bpf_cgroup_egress,
                     KVER(5, 10, 0))
(struct __sk_buff *skb) {
    __u64 cookie = bpf_get_socket_cookie(skb);
    struct UidTag *tag = bpf_cookie_tag_map_lookup_elem(&cookie);
    struct PacketTrace *trace;

    count_iface(skb, true);
    if (tag) {
        trace = bpf_packet_trace_ringbuf_reserve();
        if (trace) {
            trace->timestampNs = bpf_ktime_get_ns();
            trace->ifindex = skb->ifindex;
            trace->length = skb->len;
            bpf_packet_trace_ringbuf_submit(trace);
        }
    }
    return 1;
}

/* ---- xt_bpf matches (socket filters). */

/* Created in and pinned under netd_readonly/. */
DEFINE_BPF_PROG_EXT("skfilter/ingress/xtbpf", AID_ROOT, AID_NET_ADMIN, xt_bpf_ingress_prog,
                    KVER_NONE, KVER_INF, BPFLOADER_DEFAULT_MIN_VER, BPFLOADER_DEFAULT_MAX_VER,
                    false, SELINUX_NETD_READONLY, PIN_NETD_READONLY, false, false, false)
(struct __sk_buff *skb) {
    __u32 uid = bpf_get_socket_uid(skb);
    struct UidOwnerValue *owner = bpf_uid_owner_map_lookup_elem(&uid);

    return owner ? (int)owner->rule : 0;
}

/* Only before 4.14: absent on 6.x. */
DEFINE_BPF_PROG_KVER_RANGE("skfilter/allowlist/xtbpf", AID_ROOT, AID_NET_ADMIN, xt_bpf_allowlist_prog,
                           KVER_NONE, KVER(4, 14, 0))
(struct __sk_buff *skb) {
    (void)skb;
    return 1;
}

/* min_kver = KVER_INF: absent on every kernel. */
DEFINE_BPF_PROG_KVER("skfilter/denylist/xtbpf", AID_ROOT, AID_NET_ADMIN, xt_bpf_denylist_prog,
                     KVER_INF)
(struct __sk_buff *skb) {
    (void)skb;
    return 0;
}

/* Needs loader version 0x10000: absent with every loader. */
DEFINE_BPF_PROG_EXT("skfilter/egress/xtbpf", AID_ROOT, AID_NET_ADMIN, xt_bpf_egress_prog, KVER_NONE,
                    KVER_INF, BPFLOADER_DEFAULT_MAX_VER, BPFLOADER_DEFAULT_MAX_VER, false,
                    DOMAIN_UNSPECIFIED, DOMAIN_UNSPECIFIED, false, false, false)
(struct __sk_buff *skb) {
    (void)skb;
    return 1;
}

/* ---- tc action. */

DEFINE_BPF_PROG("schedact/ingress/account", AID_ROOT, AID_NET_ADMIN, tc_bpf_ingress_account_prog)
(struct __sk_buff *skb) {
    __u64 cookie = bpf_get_socket_cookie(skb);
    struct UidTag *tag = bpf_cookie_tag_map_lookup_elem(&cookie);

    if (tag)
        count_iface(skb, false);
    return TC_ACT_UNSPEC;
}

/* ---- cgroup sock and sock_addr hooks. */

DEFINE_BPF_PROG("cgroupsock/inet_create", AID_ROOT, AID_ROOT, inet_socket_create)
(struct bpf_sock *sk) {
    __u32 key = 0;
    __u32 *config = bpf_configuration_map_lookup_elem(&key);

    /* Config word 0 bit 0 set: refuse raw IP sockets. */
    if (config && (*config & 1) && sk->protocol == IPPROTO_RAW)
        return 0;
    return 1;
}

static __always_inline int check_local_port(struct bpf_sock_addr *ctx) {
    __u32 port = ctx->user_port;
    __u8 *perm = bpf_uid_permission_map_lookup_elem(&port);

    return perm && *perm ? 0 : 1;
}

DEFINE_BPF_PROG("bind4/inet4_bind", AID_ROOT, AID_ROOT, inet4_bind)
(struct bpf_sock_addr *ctx) {
    return check_local_port(ctx);
}

DEFINE_BPF_PROG("bind6/inet6_bind", AID_ROOT, AID_ROOT, inet6_bind)
(struct bpf_sock_addr *ctx) {
    return check_local_port(ctx);
}

DEFINE_BPF_PROG("connect4/inet4_connect", AID_ROOT, AID_ROOT, inet4_connect)
(struct bpf_sock_addr *ctx) {
    struct LocalNetAccessKey key = {
            .prefixlen = 64,
            .ifindex = 0,
            .addr4 = ctx->user_ip4,
    };
    __u8 *allowed = bpf_local_net_access_map_lookup_elem(&key);
    __u32 uid = 0;
    __u8 *blocked = bpf_local_net_blocked_uid_map_lookup_elem(&uid);

    if (allowed && !*allowed && blocked && *blocked)
        return 0;
    return 1;
}

/* ---- Android 15 (loader version 46) and later, like Android's netd. */

DEFINE_BPF_PROG_EXT("connect6/inet6_connect", AID_ROOT, AID_ROOT, inet6_connect, KVER_NONE,
                    KVER_INF, BPFLOADER_V_VER, BPFLOADER_DEFAULT_MAX_VER, false,
                    DOMAIN_UNSPECIFIED, DOMAIN_UNSPECIFIED, false, false, false)
(struct bpf_sock_addr *ctx) {
    (void)ctx;
    return 1;
}

DEFINE_BPF_PROG_EXT("recvmsg4/udp4_recvmsg", AID_ROOT, AID_ROOT, udp4_recvmsg, KVER_NONE,
                    KVER_INF, BPFLOADER_V_VER, BPFLOADER_DEFAULT_MAX_VER, false,
                    DOMAIN_UNSPECIFIED, DOMAIN_UNSPECIFIED, false, false, false)
(struct bpf_sock_addr *ctx) {
    (void)ctx;
    return 1;
}

/* Android 15's NetBpfLoad has no `cgroupsockrelease/` prefix: it ignores
 * this section whatever its gates say; 2025 main loads it (5.10+). */
DEFINE_BPF_PROG_EXT("cgroupsockrelease/inet_release", AID_ROOT, AID_ROOT, inet_release,
                    KVER(5, 10, 0), KVER_INF, BPFLOADER_V_VER, BPFLOADER_DEFAULT_MAX_VER, false,
                    DOMAIN_UNSPECIFIED, DOMAIN_UNSPECIFIED, false, false, false)
(struct bpf_sock *sk) {
    (void)sk;
    return 1;
}

DEFINE_BPF_PROG_EXT("getsockopt/prog", AID_ROOT, AID_ROOT, getsockopt_prog, KVER(5, 4, 0),
                    KVER_INF, BPFLOADER_V_VER, BPFLOADER_DEFAULT_MAX_VER, false,
                    DOMAIN_UNSPECIFIED, DOMAIN_UNSPECIFIED, false, false, false)
(struct bpf_sockopt *ctx) {
    (void)ctx;
    return 1;
}

LICENSE("Apache 2.0");
CRITICAL("netd");
