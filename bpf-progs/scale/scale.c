// SPDX-License-Identifier: Apache-2.0
//
// Template of the benchmark's scale corpus (see gen.sh): one object with
// 20 maps of mixed types and 10 programs (5 socket filters, 5 tc
// classifiers) that do a handful of map lookups and updates, an LPM lookup,
// a bounded loop over an array and an occasional ring-buffer record.
//
// The same source builds in two flavours, so that every loader in the
// benchmark verifies exactly the same instructions:
//   -DSCALE_ANDROID  Android format: legacy `maps`/`progs` sections holding
//                    `struct bpf_map_def`/`struct bpf_prog_def` (from
//                    bpf-progs/include), `skfilter/`/`schedcls/` sections,
//                    the `____btf_map_<name>` key/value annotations, and the
//                    loader-version sections Android's LICENSE() emits.
//   (default)        libbpf format: BTF-defined maps in `.maps`,
//                    SEC("socket")/SEC("classifier"), as bpftool and aya
//                    expect.
// -DSCALE_VARIANT=0..4 changes map sizes and the loop bound so the objects
// of a corpus are not all byte-identical.

#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#ifndef SCALE_VARIANT
#define SCALE_VARIANT 0
#endif
#define SCALE_LOOP (16 + 4 * SCALE_VARIANT)
#define SCALE_ARRAY_ENTRIES (64 + 16 * SCALE_VARIANT)
#define SCALE_HASH_ENTRIES (256 + 64 * SCALE_VARIANT)

#define SCALE_INLINE static inline __attribute__((always_inline))

// Helper calls by number, identical in both flavours.
static void *(*scale_lookup)(const void *map, const void *key) = (void *)BPF_FUNC_map_lookup_elem;
static long (*scale_update)(const void *map, const void *key, const void *value,
                            __u64 flags) = (void *)BPF_FUNC_map_update_elem;
static long (*scale_ringbuf_output)(const void *ringbuf, void *data, __u64 size,
                                    __u64 flags) = (void *)BPF_FUNC_ringbuf_output;

struct scale_stats {
    __u64 packets;
    __u64 bytes;
};

struct scale_lpm_key {
    __u32 prefixlen;
    __u32 addr;
};

#ifdef SCALE_ANDROID

#include <bpf_map_def.h>

#define SCALE_SECTION(name) __attribute__((section(name), used))

// What Android's LICENSE() emits: loader version range, struct sizes, license.
#define SCALE_LICENSE(NAME)                                                          \
    const unsigned int SCALE_SECTION("bpfloader_min_ver") scale_min_ver = 0;         \
    const unsigned int SCALE_SECTION("bpfloader_max_ver") scale_max_ver = 0x10000u;  \
    const unsigned long SCALE_SECTION("size_of_bpf_map_def") scale_map_def_size =    \
        sizeof(struct bpf_map_def);                                                  \
    const unsigned long SCALE_SECTION("size_of_bpf_prog_def") scale_prog_def_size =  \
        sizeof(struct bpf_prog_def);                                                 \
    const char SCALE_SECTION("license") _license[] = (NAME)

#define SCALE_MAP_DEF(name, TYPE, KSIZE, VSIZE, ENTRIES, FLAGS)                      \
    const struct bpf_map_def SCALE_SECTION("maps") name = {                          \
        .type = (TYPE),                                                              \
        .key_size = (KSIZE),                                                         \
        .value_size = (VSIZE),                                                       \
        .max_entries = (ENTRIES),                                                    \
        .map_flags = (FLAGS),                                                        \
        .mode = 0660,                                                                \
        .bpfloader_min_ver = 0,                                                      \
        .bpfloader_max_ver = 0x10000u,                                               \
        .min_kver = 0,                                                               \
        .max_kver = 0xFFFFFFFFu,                                                     \
    }

// Like Android's BPF_ANNOTATE_KV_PAIR: a BTF record of the key/value types.
#define SCALE_MAP(name, TYPE, K, V, ENTRIES, FLAGS)                                  \
    struct ____btf_map_##name {                                                      \
        K key;                                                                       \
        V value;                                                                     \
    };                                                                               \
    struct ____btf_map_##name SCALE_SECTION(".maps." #name) ____btf_map_##name = {}; \
    SCALE_MAP_DEF(name, TYPE, sizeof(K), sizeof(V), ENTRIES, FLAGS)

#define SCALE_RINGBUF(name, BYTES) SCALE_MAP_DEF(name, BPF_MAP_TYPE_RINGBUF, 0, 0, BYTES, 0)

#define SCALE_PROG_DEF(fn)                                                           \
    const struct bpf_prog_def SCALE_SECTION("progs") fn##_def = {                    \
        .uid = 0,                                                                    \
        .gid = 0,                                                                    \
        .min_kver = 0,                                                               \
        .max_kver = 0xFFFFFFFFu,                                                     \
        .bpfloader_min_ver = 0,                                                      \
        .bpfloader_max_ver = 0x10000u,                                               \
    }
#define SCALE_SOCKET_PROG(fn) SCALE_PROG_DEF(fn); SCALE_SECTION("skfilter/" #fn) int fn
#define SCALE_TC_PROG(fn) SCALE_PROG_DEF(fn); SCALE_SECTION("schedcls/" #fn) int fn

#else // libbpf flavour

#include <bpf/bpf_helpers.h>

#define SCALE_LICENSE(NAME) char _license[] SEC("license") = (NAME)

#define SCALE_MAP(name, TYPE, K, V, ENTRIES, FLAGS)                                  \
    struct {                                                                         \
        __uint(type, TYPE);                                                          \
        __uint(max_entries, ENTRIES);                                                \
        __uint(map_flags, FLAGS);                                                    \
        __type(key, K);                                                              \
        __type(value, V);                                                            \
    } name SEC(".maps")

#define SCALE_RINGBUF(name, BYTES)                                                   \
    struct {                                                                         \
        __uint(type, BPF_MAP_TYPE_RINGBUF);                                          \
        __uint(max_entries, BYTES);                                                  \
    } name SEC(".maps")

#define SCALE_SOCKET_PROG(fn) SEC("socket") int fn
#define SCALE_TC_PROG(fn) SEC("classifier") int fn

#endif

// 20 maps: 6 ARRAY, 4 HASH, 2 HASH (no prealloc), 3 PERCPU_ARRAY,
// 1 PERCPU_HASH, 2 LPM_TRIE, 1 LRU_HASH, 1 RINGBUF.
SCALE_MAP(arr0, BPF_MAP_TYPE_ARRAY, __u32, __u64, SCALE_ARRAY_ENTRIES, 0);
SCALE_MAP(arr1, BPF_MAP_TYPE_ARRAY, __u32, __u64, SCALE_ARRAY_ENTRIES, 0);
SCALE_MAP(arr2, BPF_MAP_TYPE_ARRAY, __u32, __u64, SCALE_ARRAY_ENTRIES, 0);
SCALE_MAP(arr3, BPF_MAP_TYPE_ARRAY, __u32, __u64, SCALE_ARRAY_ENTRIES, 0);
SCALE_MAP(arr4, BPF_MAP_TYPE_ARRAY, __u32, __u64, SCALE_ARRAY_ENTRIES, 0);
SCALE_MAP(arr5, BPF_MAP_TYPE_ARRAY, __u32, __u64, SCALE_ARRAY_ENTRIES, 0);
SCALE_MAP(hash0, BPF_MAP_TYPE_HASH, __u32, struct scale_stats, SCALE_HASH_ENTRIES, 0);
SCALE_MAP(hash1, BPF_MAP_TYPE_HASH, __u32, struct scale_stats, SCALE_HASH_ENTRIES, 0);
SCALE_MAP(hash2, BPF_MAP_TYPE_HASH, __u32, struct scale_stats, SCALE_HASH_ENTRIES, 0);
SCALE_MAP(hash3, BPF_MAP_TYPE_HASH, __u32, struct scale_stats, SCALE_HASH_ENTRIES, 0);
SCALE_MAP(dyn0, BPF_MAP_TYPE_HASH, __u32, struct scale_stats, SCALE_HASH_ENTRIES, BPF_F_NO_PREALLOC);
SCALE_MAP(dyn1, BPF_MAP_TYPE_HASH, __u32, struct scale_stats, SCALE_HASH_ENTRIES, BPF_F_NO_PREALLOC);
SCALE_MAP(pcpu0, BPF_MAP_TYPE_PERCPU_ARRAY, __u32, __u64, 16, 0);
SCALE_MAP(pcpu1, BPF_MAP_TYPE_PERCPU_ARRAY, __u32, __u64, 16, 0);
SCALE_MAP(pcpu2, BPF_MAP_TYPE_PERCPU_ARRAY, __u32, __u64, 16, 0);
SCALE_MAP(pchash, BPF_MAP_TYPE_PERCPU_HASH, __u32, __u64, 64, 0);
SCALE_MAP(lpm0, BPF_MAP_TYPE_LPM_TRIE, struct scale_lpm_key, __u32, 128, BPF_F_NO_PREALLOC);
SCALE_MAP(lpm1, BPF_MAP_TYPE_LPM_TRIE, struct scale_lpm_key, __u32, 128, BPF_F_NO_PREALLOC);
SCALE_MAP(lru0, BPF_MAP_TYPE_LRU_HASH, __u64, __u64, SCALE_HASH_ENTRIES, 0);
SCALE_RINGBUF(events, 4096);

// The work every program does; `arr`, `hash`, `pcpu` and `lpm` select which
// maps of the object it touches. Returns a value derived from every lookup so
// nothing is optimised away.
SCALE_INLINE __u32 scale_body(struct __sk_buff *skb, const void *arr, const void *hash,
                              const void *pcpu, const void *lpm, __u32 salt)
{
    __u32 len = skb->len;
    __u32 key = (len ^ salt) & 63;
    __u64 *counter = scale_lookup(arr, &key);
    if (counter)
        __sync_fetch_and_add(counter, 1);

    __u32 flow = skb->ifindex ^ (skb->protocol << 8) ^ salt;
    struct scale_stats *stats = scale_lookup(hash, &flow);
    if (stats) {
        __sync_fetch_and_add(&stats->packets, 1);
        __sync_fetch_and_add(&stats->bytes, len);
    } else {
        struct scale_stats init = {.packets = 1, .bytes = len};
        scale_update(hash, &flow, &init, BPF_NOEXIST);
    }

    __u32 cpu_slot = salt & 15;
    __u64 *per_cpu = scale_lookup(pcpu, &cpu_slot);
    if (per_cpu)
        *per_cpu += len;

    __u64 *pc = scale_lookup(&pchash, &flow);
    if (pc)
        *pc += 1;

    struct scale_lpm_key lk = {.prefixlen = 32, .addr = skb->mark};
    __u32 *class_id = scale_lookup(lpm, &lk);

    __u64 acc[8] = {};
#pragma clang loop unroll(disable)
    for (__u32 i = 0; i < SCALE_LOOP; i++) {
        __u32 k = (i + salt) & 63;
        __u64 *e = scale_lookup(arr, &k);
        if (e)
            acc[i & 7] += *e;
    }
    __u64 sum = acc[0] ^ acc[3] ^ acc[5] ^ acc[7];

    __u64 lru_key = sum ^ len;
    scale_update(&lru0, &lru_key, &sum, BPF_ANY);

    if ((sum & 0xff) == salt)
        scale_ringbuf_output(&events, &sum, sizeof(sum), 0);

    return class_id ? *class_id : (__u32)sum;
}

SCALE_SOCKET_PROG(sock0)(struct __sk_buff *skb)
{
    return scale_body(skb, &arr0, &hash0, &pcpu0, &lpm0, 1) ? skb->len : 0;
}
SCALE_TC_PROG(cls1)(struct __sk_buff *skb)
{
    return scale_body(skb, &arr1, &hash1, &pcpu1, &lpm1, 2) & 1 ? TC_ACT_OK : TC_ACT_UNSPEC;
}
SCALE_SOCKET_PROG(sock2)(struct __sk_buff *skb)
{
    return scale_body(skb, &arr2, &hash2, &pcpu2, &lpm0, 3) ? skb->len : 0;
}
SCALE_TC_PROG(cls3)(struct __sk_buff *skb)
{
    return scale_body(skb, &arr3, &hash3, &pcpu0, &lpm1, 4) & 1 ? TC_ACT_OK : TC_ACT_UNSPEC;
}
SCALE_SOCKET_PROG(sock4)(struct __sk_buff *skb)
{
    return scale_body(skb, &arr4, &dyn0, &pcpu1, &lpm0, 5) ? skb->len : 0;
}
SCALE_TC_PROG(cls5)(struct __sk_buff *skb)
{
    return scale_body(skb, &arr5, &dyn1, &pcpu2, &lpm1, 6) & 1 ? TC_ACT_OK : TC_ACT_UNSPEC;
}
SCALE_SOCKET_PROG(sock6)(struct __sk_buff *skb)
{
    return scale_body(skb, &arr0, &hash1, &pcpu0, &lpm1, 7) ? skb->len : 0;
}
SCALE_TC_PROG(cls7)(struct __sk_buff *skb)
{
    return scale_body(skb, &arr1, &hash2, &pcpu1, &lpm0, 8) & 1 ? TC_ACT_OK : TC_ACT_UNSPEC;
}
SCALE_SOCKET_PROG(sock8)(struct __sk_buff *skb)
{
    return scale_body(skb, &arr2, &dyn0, &pcpu2, &lpm1, 9) ? skb->len : 0;
}
SCALE_TC_PROG(cls9)(struct __sk_buff *skb)
{
    return scale_body(skb, &arr3, &dyn1, &pcpu0, &lpm0, 10) & 1 ? TC_ACT_OK : TC_ACT_UNSPEC;
}

SCALE_LICENSE("GPL");
