/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Macros for writing Android-format eBPF objects (the format NetBpfLoad and
 * netbpfload-rs load), plus the kernel helper declarations the corpus uses.
 *
 * An object is a set of:
 *   - map definitions: `const struct bpf_map_def NAME` in section `maps`;
 *   - program definitions: `const struct bpf_prog_def FUNC_def` in section
 *     `progs`, describing the function FUNC placed in its own section whose
 *     name (e.g. "schedcls/ingress") gives the program type;
 *   - object-wide sections written by LICENSE() and CRITICAL().
 * See bpf-progs/README.md for an example.
 *
 * Programs must not call other non-inlined functions: the loader loads one
 * section as one instruction array (no bpf-to-bpf calls), so every helper
 * here is `static __always_inline`.
 */
#ifndef NETBPFLOAD_BPF_HELPERS_H
#define NETBPFLOAD_BPF_HELPERS_H

#include <linux/bpf.h>
#include <linux/types.h>

#include "bpf_map_def.h"

#define SEC(name) __attribute__((section(name), used))
/* Android's spelling. */
#define SECTION(name) SEC(name)

/* The UAPI <linux/stddef.h> defines a plain-inline fallback; BPF code needs the real thing. */
#undef __always_inline
#define __always_inline inline __attribute__((always_inline))
#ifndef __unused
#define __unused __attribute__((unused))
#endif

_Static_assert(sizeof(size_t) == 8, "size_of_bpf_*_def sections are 8-byte size_t on BPF");

/* ---- Object-wide sections. */

#if BPF_DEF_ABI >= 48
/* u32 loader-version gate of the whole object and the record sizes the
 * object was built with (size_t, 8 bytes). */
#define BPF_OBJECT_VERSION_SECTIONS                                                        \
    unsigned int _bpfloader_min_ver SEC("bpfloader_min_ver") = BPFLOADER_MIN_VER;          \
    unsigned int _bpfloader_max_ver SEC("bpfloader_max_ver") = BPFLOADER_MAX_VER;          \
    size_t _size_of_bpf_map_def SEC("size_of_bpf_map_def") = sizeof(struct bpf_map_def);  \
    size_t _size_of_bpf_prog_def SEC("size_of_bpf_prog_def") = sizeof(struct bpf_prog_def);
#else
/* v0.0 objects carried none of these; readers default to 0, 0x10000, 32, 20. */
_Static_assert(BPFLOADER_MIN_VER == BPFLOADER_DEFAULT_MIN_VER &&
                       BPFLOADER_MAX_VER == BPFLOADER_DEFAULT_MAX_VER,
               "the v0.0 ABI has no bpfloader_{min,max}_ver sections");
#define BPF_OBJECT_VERSION_SECTIONS
#endif

/* LICENSE("GPL"): the license passed to BPF_PROG_LOAD, plus the version
 * sections above. Exactly one per object. */
#define LICENSE(NAME) \
    BPF_OBJECT_VERSION_SECTIONS char _license[] SEC("license") = (NAME)

/* CRITICAL("reason"): a failure to load this object fails the boot. */
#define CRITICAL(REASON) char _critical[] SEC("critical") = (REASON)

/* ---- Kernel helpers (numbers from <linux/bpf.h>). */

static void *(*bpf_map_lookup_elem)(const void *map, const void *key) = (void *)BPF_FUNC_map_lookup_elem;
static long (*bpf_map_update_elem)(const void *map, const void *key, const void *value,
                                   unsigned long long flags) = (void *)BPF_FUNC_map_update_elem;
static long (*bpf_map_delete_elem)(const void *map, const void *key) = (void *)BPF_FUNC_map_delete_elem;
static unsigned long long (*bpf_ktime_get_ns)(void) = (void *)BPF_FUNC_ktime_get_ns;
static unsigned long long (*bpf_ktime_get_boot_ns)(void) = (void *)BPF_FUNC_ktime_get_boot_ns;
static long (*bpf_trace_printk)(const char *fmt, unsigned int fmt_size, ...) = (void *)BPF_FUNC_trace_printk;
static unsigned int (*bpf_get_smp_processor_id)(void) = (void *)BPF_FUNC_get_smp_processor_id;
static unsigned long long (*bpf_get_current_pid_tgid)(void) = (void *)BPF_FUNC_get_current_pid_tgid;
static unsigned long long (*bpf_get_current_uid_gid)(void) = (void *)BPF_FUNC_get_current_uid_gid;
static unsigned long long (*bpf_get_socket_cookie)(void *ctx) = (void *)BPF_FUNC_get_socket_cookie;
static unsigned int (*bpf_get_socket_uid)(struct __sk_buff *skb) = (void *)BPF_FUNC_get_socket_uid;
static long (*bpf_skb_load_bytes)(const struct __sk_buff *skb, unsigned int off, void *to,
                                  unsigned int len) = (void *)BPF_FUNC_skb_load_bytes;
static long (*bpf_redirect)(unsigned int ifindex, unsigned long long flags) = (void *)BPF_FUNC_redirect;
static long (*bpf_redirect_map)(const void *map, unsigned long long key,
                                unsigned long long flags) = (void *)BPF_FUNC_redirect_map;
static long (*bpf_ringbuf_output)(const void *ringbuf, const void *data, unsigned long long size,
                                  unsigned long long flags) = (void *)BPF_FUNC_ringbuf_output;
static void *(*bpf_ringbuf_reserve)(const void *ringbuf, unsigned long long size,
                                    unsigned long long flags) = (void *)BPF_FUNC_ringbuf_reserve;
static void (*bpf_ringbuf_submit)(void *data, unsigned long long flags) = (void *)BPF_FUNC_ringbuf_submit;
static void (*bpf_ringbuf_discard)(void *data, unsigned long long flags) = (void *)BPF_FUNC_ringbuf_discard;
static void *(*bpf_sk_storage_get)(const void *map, void *sk, void *value,
                                   unsigned long long flags) = (void *)BPF_FUNC_sk_storage_get;

/* bpf_printf("fmt", args...): bpf_trace_printk with an on-stack format.
 * bpf_trace_printk is GPL-only: use it in LICENSE("GPL") objects. */
#define bpf_printf(fmt, ...)                                         \
    ({                                                               \
        const char ____fmt[] = fmt;                                  \
        bpf_trace_printk(____fmt, sizeof(____fmt), ##__VA_ARGS__);   \
    })

/* ---- Maps. */

/* Flags every map of a type gets: LPM_TRIE and SK_STORAGE maps must be
 * created with BPF_F_NO_PREALLOC or the kernel refuses them (as Android's
 * 2025 DEFAULT_BPF_MAP_FLAGS). */
#define BPF_MAP_DEFAULT_FLAGS(TYPE)                                 \
    (BPF_MAP_TYPE_##TYPE == BPF_MAP_TYPE_LPM_TRIE ||                \
                     BPF_MAP_TYPE_##TYPE == BPF_MAP_TYPE_SK_STORAGE \
             ? BPF_F_NO_PREALLOC                                    \
             : 0u)

#define BPF_IGNORE_BIT(mask, bit) ((((unsigned int)(mask)) >> (bit)) & 1u)

/*
 * BPF_MAP_RECORD: the `maps` record, with every field of the selected ABI.
 * Arguments that the selected legacy ABI cannot express must be left at
 * their defaults (checked at compile time), so a legacy build never drops a
 * gate silently.
 */
#if BPF_DEF_ABI >= 120
#define BPF_MAP_RECORD_TAIL(usr, selinux, pindir, share, ignore_mask) \
    .zero = 0,                                                        \
    .selinux_context = selinux,                                       \
    .pin_subdir = pindir,                                             \
    .shared = (share),                                                \
    .ignore_on_eng = BPF_IGNORE_BIT(ignore_mask, 0),                  \
    .ignore_on_user = BPF_IGNORE_BIT(ignore_mask, 1),                 \
    .ignore_on_userdebug = BPF_IGNORE_BIT(ignore_mask, 2),            \
    .ignore_on_arm32 = BPF_IGNORE_BIT(ignore_mask, 3),                \
    .ignore_on_aarch64 = BPF_IGNORE_BIT(ignore_mask, 4),              \
    .ignore_on_x86_32 = BPF_IGNORE_BIT(ignore_mask, 5),               \
    .ignore_on_x86_64 = BPF_IGNORE_BIT(ignore_mask, 6),               \
    .ignore_on_riscv64 = BPF_IGNORE_BIT(ignore_mask, 7),              \
    .uid = (usr),
#define BPF_MAP_RECORD_CHECKS(the_map, selinux, pindir, share, ignore_mask)
#elif BPF_DEF_ABI >= 116
#define BPF_MAP_RECORD_TAIL(usr, selinux, pindir, share, ignore_mask) \
    .uid = (usr), .selinux_context = selinux, .pin_subdir = pindir, .shared = (share),
#define BPF_MAP_RECORD_CHECKS(the_map, selinux, pindir, share, ignore_mask) \
    _Static_assert((ignore_mask) == 0, #the_map ": ignore_on_* needs the 120-byte ABI");
#else
#define BPF_MAP_RECORD_TAIL(usr, selinux, pindir, share, ignore_mask) .uid = (usr),
#define BPF_MAP_RECORD_CHECKS(the_map, selinux, pindir, share, ignore_mask)             \
    _Static_assert((ignore_mask) == 0, #the_map ": ignore_on_* needs the 120-byte ABI"); \
    _Static_assert(sizeof(selinux) == 1 && sizeof(pindir) == 1 && !(share),            \
                   #the_map ": selinux/pin_subdir/shared need the 116-byte ABI or later");
#endif

#if BPF_DEF_ABI >= 48
#define BPF_MAP_RECORD_VERSIONS(the_map, minkver, maxkver, minloader, maxloader) \
    .bpfloader_min_ver = (minloader), .bpfloader_max_ver = (maxloader),          \
    .min_kver = (minkver), .max_kver = (maxkver),
#define BPF_MAP_VERSION_CHECKS(the_map, minkver, maxkver, minloader, maxloader)
#else
#define BPF_MAP_RECORD_VERSIONS(the_map, minkver, maxkver, minloader, maxloader)
#define BPF_MAP_VERSION_CHECKS(the_map, minkver, maxkver, minloader, maxloader)         \
    _Static_assert((minkver) == KVER_NONE && (maxkver) == KVER_INF &&                   \
                           (minloader) == BPFLOADER_DEFAULT_MIN_VER &&                  \
                           (maxloader) == BPFLOADER_DEFAULT_MAX_VER,                    \
                   #the_map ": version gates need the 48-byte ABI or later");
#endif

#define BPF_MAP_RECORD(the_map, TYPE_ENUM, keysize, valuesize, num_entries, flags, usr, grp, md,  \
                       selinux, pindir, share, minkver, maxkver, minloader, maxloader,          \
                       ignore_mask)                                                             \
    BPF_MAP_RECORD_CHECKS(the_map, selinux, pindir, share, ignore_mask)                         \
    BPF_MAP_VERSION_CHECKS(the_map, minkver, maxkver, minloader, maxloader)                     \
    const struct bpf_map_def SEC("maps") the_map = {                                            \
            .type = (TYPE_ENUM),                                                                \
            .key_size = (keysize),                                                              \
            .value_size = (valuesize),                                                          \
            .max_entries = (num_entries),                                                       \
            .map_flags = (flags),                                                               \
            .gid = (grp),                                                                       \
            .mode = (md),                                                                       \
            BPF_MAP_RECORD_VERSIONS(the_map, minkver, maxkver, minloader, maxloader)            \
            BPF_MAP_RECORD_TAIL(usr, selinux, pindir, share, ignore_mask)                       \
    }

/* BTF description of a map's key and value (`.maps.<name>` section), as
 * Android's headers emit it: the struct ____btf_map_<name> (member 0 the
 * key, member 1 the value) is what a loader using BTF gives the kernel as
 * the map's key and value types. Every DEFINE_BPF_MAP* writes one; ring
 * buffers get none (loaders create them without BTF). */
#define BPF_ANNOTATE_KV_PAIR(the_map, KeyType, ValueType)                          \
    struct ____btf_map_##the_map {                                                  \
        KeyType key;                                                                \
        ValueType value;                                                            \
    };                                                                              \
    struct ____btf_map_##the_map SEC(".maps." #the_map) ____btf_map_##the_map = {}

/* Typed accessors: bpf_<map>_lookup_elem(&key) etc. */
#define BPF_MAP_ACCESSORS(the_map, KeyType, ValueType)                                         \
    static __always_inline __unused ValueType *bpf_##the_map##_lookup_elem(const KeyType *k) { \
        return bpf_map_lookup_elem(&the_map, k);                                               \
    }                                                                                          \
    static __always_inline __unused long bpf_##the_map##_update_elem(                          \
            const KeyType *k, const ValueType *v, unsigned long long flags) {                  \
        return bpf_map_update_elem(&the_map, k, v, flags);                                     \
    }                                                                                          \
    static __always_inline __unused long bpf_##the_map##_delete_elem(const KeyType *k) {       \
        return bpf_map_delete_elem(&the_map, k);                                               \
    }

/* Everything: explicit map_flags and ignore_on_* mask (IGNORE_ON_*). */
#define DEFINE_BPF_MAP_FULL(the_map, TYPE, KeyType, ValueType, num_entries, flags, usr, grp, md, \
                            selinux, pindir, share, minkver, maxkver, minloader, maxloader,      \
                            ignore_mask)                                                         \
    BPF_MAP_RECORD(the_map, BPF_MAP_TYPE_##TYPE, sizeof(KeyType), sizeof(ValueType),             \
                   num_entries, flags, usr, grp, md, selinux, pindir, share, minkver, maxkver,   \
                   minloader, maxloader, ignore_mask);                                           \
    BPF_ANNOTATE_KV_PAIR(the_map, KeyType, ValueType);                                           \
    BPF_MAP_ACCESSORS(the_map, KeyType, ValueType)

/* Android's full-form macro: default flags, build-type ignore bits only. */
#define DEFINE_BPF_MAP_EXT(the_map, TYPE, KeyType, ValueType, num_entries, usr, grp, md, selinux, \
                           pindir, share, minkver, maxkver, minloader, maxloader, ignore_eng,     \
                           ignore_user, ignore_userdebug)                                         \
    DEFINE_BPF_MAP_FULL(the_map, TYPE, KeyType, ValueType, num_entries,                           \
                        BPF_MAP_DEFAULT_FLAGS(TYPE), usr, grp, md, selinux, pindir, share,        \
                        minkver, maxkver, minloader, maxloader,                                   \
                        ((ignore_eng) ? IGNORE_ON_ENG : 0u) |                                     \
                                ((ignore_user) ? IGNORE_ON_USER : 0u) |                           \
                                ((ignore_userdebug) ? IGNORE_ON_USERDEBUG : 0u))

/* Owner, group and mode; no gates, no domains, not shared. */
#define DEFINE_BPF_MAP_UGM(the_map, TYPE, KeyType, ValueType, num_entries, usr, grp, md)       \
    DEFINE_BPF_MAP_EXT(the_map, TYPE, KeyType, ValueType, num_entries, usr, grp, md,           \
                       DOMAIN_UNSPECIFIED, DOMAIN_UNSPECIFIED, false, KVER_NONE, KVER_INF,     \
                       BPFLOADER_DEFAULT_MIN_VER, BPFLOADER_DEFAULT_MAX_VER, false, false, false)

/* Like UGM with explicit map_flags (e.g. BPF_F_NO_PREALLOC on a HASH). */
#define DEFINE_BPF_MAP_FLAGS_UGM(the_map, TYPE, KeyType, ValueType, num_entries, flags, usr,  \
                                 grp, md)                                                     \
    DEFINE_BPF_MAP_FULL(the_map, TYPE, KeyType, ValueType, num_entries, flags, usr, grp, md,  \
                        DOMAIN_UNSPECIFIED, DOMAIN_UNSPECIFIED, false, KVER_NONE, KVER_INF,   \
                        BPFLOADER_DEFAULT_MIN_VER, BPFLOADER_DEFAULT_MAX_VER, 0u)

/* root:root 0600. */
#define DEFINE_BPF_MAP(the_map, TYPE, KeyType, ValueType, num_entries) \
    DEFINE_BPF_MAP_UGM(the_map, TYPE, KeyType, ValueType, num_entries, AID_ROOT, AID_ROOT, 0600)
/* root:gid 0440, read-only for the group. */
#define DEFINE_BPF_MAP_RO(the_map, TYPE, KeyType, ValueType, num_entries, gid) \
    DEFINE_BPF_MAP_UGM(the_map, TYPE, KeyType, ValueType, num_entries, AID_ROOT, gid, 0440)
/* root:gid 0620, write-only for the group. */
#define DEFINE_BPF_MAP_GWO(the_map, TYPE, KeyType, ValueType, num_entries, gid) \
    DEFINE_BPF_MAP_UGM(the_map, TYPE, KeyType, ValueType, num_entries, AID_ROOT, gid, 0620)
/* root:gid 0640, readable by the group. */
#define DEFINE_BPF_MAP_GRO(the_map, TYPE, KeyType, ValueType, num_entries, gid) \
    DEFINE_BPF_MAP_UGM(the_map, TYPE, KeyType, ValueType, num_entries, AID_ROOT, gid, 0640)
/* root:gid 0660, read-write for the group. */
#define DEFINE_BPF_MAP_GRW(the_map, TYPE, KeyType, ValueType, num_entries, gid) \
    DEFINE_BPF_MAP_UGM(the_map, TYPE, KeyType, ValueType, num_entries, AID_ROOT, gid, 0660)

/* netd-style maps, owned root:net_bw_acct and created in a netd domain so
 * the SELinux label (not only the mode) decides who may open them. */
/* Group read-write, no owner access (0060), created under fs_bpf_net_shared. */
#define DEFINE_BPF_MAP_NO_NETD(the_map, TYPE, KeyType, ValueType, num_entries)                    \
    DEFINE_BPF_MAP_EXT(the_map, TYPE, KeyType, ValueType, num_entries, AID_ROOT, AID_NET_BW_ACCT, \
                       0060, SELINUX_NET_SHARED, DOMAIN_UNSPECIFIED, false, KVER_NONE, KVER_INF,  \
                       BPFLOADER_DEFAULT_MIN_VER, BPFLOADER_DEFAULT_MAX_VER, false, false, false)
/* Owner read, group read-write (0460), created under fs_bpf_netd_readonly. */
#define DEFINE_BPF_MAP_RO_NETD(the_map, TYPE, KeyType, ValueType, num_entries)                    \
    DEFINE_BPF_MAP_EXT(the_map, TYPE, KeyType, ValueType, num_entries, AID_ROOT, AID_NET_BW_ACCT, \
                       0460, SELINUX_NETD_READONLY, DOMAIN_UNSPECIFIED, false, KVER_NONE,         \
                       KVER_INF, BPFLOADER_DEFAULT_MIN_VER, BPFLOADER_DEFAULT_MAX_VER, false,     \
                       false, false)
/* Group read-write (0660), created under fs_bpf_netd_shared. */
#define DEFINE_BPF_MAP_RW_NETD(the_map, TYPE, KeyType, ValueType, num_entries)                    \
    DEFINE_BPF_MAP_EXT(the_map, TYPE, KeyType, ValueType, num_entries, AID_ROOT, AID_NET_BW_ACCT, \
                       0660, SELINUX_NETD_SHARED, DOMAIN_UNSPECIFIED, false, KVER_NONE, KVER_INF, \
                       BPFLOADER_DEFAULT_MIN_VER, BPFLOADER_DEFAULT_MAX_VER, false, false, false)

/* Shared maps are pinned as map__<name>: every object defining the same
 * name (with the same definition) in the same directory uses one map. */
#define DEFINE_BPF_SHARED_MAP_UGM(the_map, TYPE, KeyType, ValueType, num_entries, usr, grp, md) \
    DEFINE_BPF_MAP_EXT(the_map, TYPE, KeyType, ValueType, num_entries, usr, grp, md,            \
                       DOMAIN_UNSPECIFIED, DOMAIN_UNSPECIFIED, true, KVER_NONE, KVER_INF,       \
                       BPFLOADER_DEFAULT_MIN_VER, BPFLOADER_DEFAULT_MAX_VER, false, false, false)
#define DEFINE_BPF_SHARED_MAP_GRW(the_map, TYPE, KeyType, ValueType, num_entries, gid) \
    DEFINE_BPF_SHARED_MAP_UGM(the_map, TYPE, KeyType, ValueType, num_entries, AID_ROOT, gid, 0660)

/* Ring buffers: key and value size 0, max_entries = size in bytes (a power
 * of two, at least one 4 KiB page). ValueType only types the accessors
 * bpf_<map>_output / _reserve / _submit / _discard. */
#define DEFINE_BPF_RINGBUF_EXT(the_map, ValueType, size_bytes, usr, grp, md, selinux, pindir,    \
                               share, minkver, maxkver, minloader, maxloader, ignore_eng,       \
                               ignore_user, ignore_userdebug)                                   \
    _Static_assert((size_bytes) >= 4096 && ((size_bytes) & ((size_bytes)-1)) == 0,              \
                   #the_map ": ring buffer size must be a power of two >= 4096");               \
    BPF_MAP_RECORD(the_map, BPF_MAP_TYPE_RINGBUF, 0, 0, size_bytes, 0u, usr, grp, md, selinux,  \
                   pindir, share, minkver, maxkver, minloader, maxloader,                       \
                   ((ignore_eng) ? IGNORE_ON_ENG : 0u) | ((ignore_user) ? IGNORE_ON_USER : 0u) | \
                           ((ignore_userdebug) ? IGNORE_ON_USERDEBUG : 0u));                    \
    static __always_inline __unused long bpf_##the_map##_output(const ValueType *v) {           \
        return bpf_ringbuf_output(&the_map, v, sizeof(*v), 0);                                  \
    }                                                                                           \
    static __always_inline __unused ValueType *bpf_##the_map##_reserve(void) {                  \
        return bpf_ringbuf_reserve(&the_map, sizeof(ValueType), 0);                             \
    }                                                                                           \
    static __always_inline __unused void bpf_##the_map##_submit(ValueType *v) {                 \
        bpf_ringbuf_submit(v, 0);                                                               \
    }                                                                                           \
    static __always_inline __unused void bpf_##the_map##_discard(ValueType *v) {                \
        bpf_ringbuf_discard(v, 0);                                                              \
    }

#define DEFINE_BPF_RINGBUF(the_map, ValueType, size_bytes, usr, grp, md)                        \
    DEFINE_BPF_RINGBUF_EXT(the_map, ValueType, size_bytes, usr, grp, md, DOMAIN_UNSPECIFIED,    \
                           DOMAIN_UNSPECIFIED, false, KVER_NONE, KVER_INF,                      \
                           BPFLOADER_DEFAULT_MIN_VER, BPFLOADER_DEFAULT_MAX_VER, false, false,  \
                           false)

/* ---- Programs. */

#if BPF_DEF_ABI >= 120
#define BPF_PROG_RECORD_TAIL(minloader, maxloader, selinux, pindir, ignore_mask)        \
    .ignore_on_eng = BPF_IGNORE_BIT(ignore_mask, 0),                                    \
    .ignore_on_user = BPF_IGNORE_BIT(ignore_mask, 1),                                   \
    .ignore_on_userdebug = BPF_IGNORE_BIT(ignore_mask, 2),                              \
    .ignore_on_arm32 = BPF_IGNORE_BIT(ignore_mask, 3),                                  \
    .ignore_on_aarch64 = BPF_IGNORE_BIT(ignore_mask, 4),                                \
    .ignore_on_x86_32 = BPF_IGNORE_BIT(ignore_mask, 5),                                 \
    .ignore_on_x86_64 = BPF_IGNORE_BIT(ignore_mask, 6),                                 \
    .ignore_on_riscv64 = BPF_IGNORE_BIT(ignore_mask, 7),                                \
    .bpfloader_min_ver = (minloader), .bpfloader_max_ver = (maxloader),                 \
    .selinux_context = selinux, .pin_subdir = pindir,
#define BPF_PROG_RECORD_CHECKS(the_prog, min_kv, max_kv, minloader, maxloader, selinux, pindir, \
                               ignore_mask)
#elif BPF_DEF_ABI >= 116
#define BPF_PROG_RECORD_TAIL(minloader, maxloader, selinux, pindir, ignore_mask) \
    .bpfloader_min_ver = (minloader), .bpfloader_max_ver = (maxloader),          \
    .selinux_context = selinux, .pin_subdir = pindir,
#define BPF_PROG_RECORD_CHECKS(the_prog, min_kv, max_kv, minloader, maxloader, selinux, pindir, \
                               ignore_mask)                                                     \
    _Static_assert((ignore_mask) == 0, #the_prog ": ignore_on_* needs the 120-byte ABI");
#elif BPF_DEF_ABI >= 48
#define BPF_PROG_RECORD_TAIL(minloader, maxloader, selinux, pindir, ignore_mask) \
    .bpfloader_min_ver = (minloader), .bpfloader_max_ver = (maxloader),
#define BPF_PROG_RECORD_CHECKS(the_prog, min_kv, max_kv, minloader, maxloader, selinux, pindir, \
                               ignore_mask)                                                     \
    _Static_assert((ignore_mask) == 0 && sizeof(selinux) == 1 && sizeof(pindir) == 1,           \
                   #the_prog ": domains need the 116-byte ABI, ignore_on_* the 120-byte one");
#else
#define BPF_PROG_RECORD_TAIL(minloader, maxloader, selinux, pindir, ignore_mask)
#define BPF_PROG_RECORD_CHECKS(the_prog, min_kv, max_kv, minloader, maxloader, selinux, pindir, \
                               ignore_mask)                                                     \
    _Static_assert((ignore_mask) == 0 && sizeof(selinux) == 1 && sizeof(pindir) == 1 &&         \
                           (minloader) == BPFLOADER_DEFAULT_MIN_VER &&                          \
                           (maxloader) == BPFLOADER_DEFAULT_MAX_VER,                            \
                   #the_prog ": this field needs a newer ABI than v0.0");
#endif

/*
 * DEFINE_BPF_PROG_FULL(...)(ctx) { body }: the `progs` record `<the_prog>_def`
 * and the head of the program function, placed in section SECTION_NAME.
 * A "$suffix" in SECTION_NAME names an alternative implementation of the
 * same pin (e.g. "schedcls/ingress$4_14" and "schedcls/ingress$5_10").
 */
#define DEFINE_BPF_PROG_FULL(SECTION_NAME, prog_uid, prog_gid, the_prog, min_kv, max_kv,         \
                             minloader, maxloader, opt, selinux, pindir, ignore_mask)            \
    BPF_PROG_RECORD_CHECKS(the_prog, min_kv, max_kv, minloader, maxloader, selinux, pindir,      \
                           ignore_mask)                                                          \
    const struct bpf_prog_def SEC("progs") the_prog##_def = {                                    \
            .uid = (prog_uid),                                                                   \
            .gid = (prog_gid),                                                                   \
            .min_kver = (min_kv),                                                                \
            .max_kver = (max_kv),                                                                \
            .optional = (opt),                                                                   \
            BPF_PROG_RECORD_TAIL(minloader, maxloader, selinux, pindir, ignore_mask)             \
    };                                                                                           \
    SEC(SECTION_NAME) int the_prog

/* Android's full-form macro: build-type ignore bits only. */
#define DEFINE_BPF_PROG_EXT(SECTION_NAME, prog_uid, prog_gid, the_prog, min_kv, max_kv,           \
                            minloader, maxloader, opt, selinux, pindir, ignore_eng, ignore_user,  \
                            ignore_userdebug)                                                     \
    DEFINE_BPF_PROG_FULL(SECTION_NAME, prog_uid, prog_gid, the_prog, min_kv, max_kv, minloader,   \
                         maxloader, opt, selinux, pindir,                                         \
                         ((ignore_eng) ? IGNORE_ON_ENG : 0u) |                                    \
                                 ((ignore_user) ? IGNORE_ON_USER : 0u) |                          \
                                 ((ignore_userdebug) ? IGNORE_ON_USERDEBUG : 0u))

/* Loaded on kernels in [min_kv, max_kv); a load failure fails the object. */
#define DEFINE_BPF_PROG_KVER_RANGE(SECTION_NAME, prog_uid, prog_gid, the_prog, min_kv, max_kv) \
    DEFINE_BPF_PROG_EXT(SECTION_NAME, prog_uid, prog_gid, the_prog, min_kv, max_kv,             \
                        BPFLOADER_DEFAULT_MIN_VER, BPFLOADER_DEFAULT_MAX_VER, false,            \
                        DOMAIN_UNSPECIFIED, DOMAIN_UNSPECIFIED, false, false, false)
#define DEFINE_BPF_PROG_KVER(SECTION_NAME, prog_uid, prog_gid, the_prog, min_kv) \
    DEFINE_BPF_PROG_KVER_RANGE(SECTION_NAME, prog_uid, prog_gid, the_prog, min_kv, KVER_INF)
#define DEFINE_BPF_PROG(SECTION_NAME, prog_uid, prog_gid, the_prog) \
    DEFINE_BPF_PROG_KVER(SECTION_NAME, prog_uid, prog_gid, the_prog, KVER_NONE)

/* Optional: a load failure (e.g. a verifier reject) skips just this program. */
#define DEFINE_OPTIONAL_BPF_PROG_KVER_RANGE(SECTION_NAME, prog_uid, prog_gid, the_prog, min_kv, \
                                            max_kv)                                            \
    DEFINE_BPF_PROG_EXT(SECTION_NAME, prog_uid, prog_gid, the_prog, min_kv, max_kv,             \
                        BPFLOADER_DEFAULT_MIN_VER, BPFLOADER_DEFAULT_MAX_VER, true,             \
                        DOMAIN_UNSPECIFIED, DOMAIN_UNSPECIFIED, false, false, false)
#define DEFINE_OPTIONAL_BPF_PROG_KVER(SECTION_NAME, prog_uid, prog_gid, the_prog, min_kv) \
    DEFINE_OPTIONAL_BPF_PROG_KVER_RANGE(SECTION_NAME, prog_uid, prog_gid, the_prog, min_kv, KVER_INF)
#define DEFINE_OPTIONAL_BPF_PROG(SECTION_NAME, prog_uid, prog_gid, the_prog) \
    DEFINE_OPTIONAL_BPF_PROG_KVER(SECTION_NAME, prog_uid, prog_gid, the_prog, KVER_NONE)

#endif /* NETBPFLOAD_BPF_HELPERS_H */
