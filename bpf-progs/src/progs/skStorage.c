/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A socket-local storage map, like the one in Android's 2025 netd object:
 * the kernel creates BPF_MAP_TYPE_SK_STORAGE only with BTF key and value
 * type ids (and max_entries 0, a 4-byte key, BPF_F_NO_PREALLOC), so this
 * object loads only when the loader types maps with the object's .BTF.
 */
#include <linux/bpf.h>

#include "bpf_helpers.h"

/* int -> __u64 per socket: when the socket was created. */
DEFINE_BPF_MAP_GRW(sk_storage_map, SK_STORAGE, int, __u64, 0, AID_SYSTEM);
/* An ordinary map of the same object: typed with BTF too. */
DEFINE_BPF_MAP_GRO(sk_created_map, ARRAY, __u32, __u64, 1, AID_SYSTEM);

/* bpf_sk_storage_get from CGROUP_SOCK programs is 5.12+; 5.15 is the next LTS. */
DEFINE_BPF_PROG_KVER("cgroupsock/sk_storage_stamp", AID_ROOT, AID_SYSTEM, sk_storage_stamp,
                     KVER(5, 15, 0))
(struct bpf_sock *sk) {
    __u64 *stamp = bpf_sk_storage_get(&sk_storage_map, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
    if (stamp) *stamp = bpf_ktime_get_ns();
    __u32 key = 0;
    __u64 *n = bpf_sk_created_map_lookup_elem(&key);
    if (n) __sync_fetch_and_add(n, 1);
    return 1; /* allow the socket */
}

LICENSE("Apache 2.0");
