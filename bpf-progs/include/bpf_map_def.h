/* SPDX-License-Identifier: Apache-2.0 */
/*
 * On-disk ABI of Android-format eBPF objects: the records stored in the
 * `maps` and `progs` sections, kernel and loader version constants, and the
 * SELinux / pin-directory domain strings.
 *
 * Written for netbpfload-rs from the record layouts in
 * docs/object-format.md#map-record and docs/object-format.md#program-record.
 * Every field offset is pinned by a _Static_assert below, so a layout drift
 * is a compile error, not a loader bug.
 *
 * Layout selection: BPF_DEF_ABI is the size of struct bpf_map_def to build:
 *   120 (default) U and later: 120-byte map def, 92-byte prog def
 *   116           T (v0.18):   116 / 92, no ignore_on_* bits, no uid@116
 *    48           S (v0.2):     48 / 28, adds loader and kernel version gates
 *    32           v0.0:         32 / 20, the original layout
 * The legacy layouts exist so the corpus can hold old-ABI test objects.
 */
#ifndef NETBPFLOAD_BPF_MAP_DEF_H
#define NETBPFLOAD_BPF_MAP_DEF_H

#include <linux/bpf.h>
#include <stdbool.h>
#include <stddef.h>

#ifndef BPF_DEF_ABI
#define BPF_DEF_ABI 120
#endif

#if BPF_DEF_ABI != 120 && BPF_DEF_ABI != 116 && BPF_DEF_ABI != 48 && BPF_DEF_ABI != 32
#error "BPF_DEF_ABI must be 32, 48, 116 or 120 (the size of struct bpf_map_def)"
#endif

/* ---- Kernel versions: KVER(major, minor, sub) as the loader compares them. */
#define KVER(a, b, c) ((unsigned int)(((a) << 24) + ((b) << 16) + (c)))
/* No lower bound. */
#define KVER_NONE 0u
/* No upper bound; as a minimum it means "never on any real kernel". */
#define KVER_INF 0xFFFFFFFFu

/*
 * ---- Loader versions.
 *
 * An object, map or program applies when min_ver <= loader_ver < max_ver.
 * Mainline NetBpfLoad reports 42 on S and adds one per later release step
 * (T 43, U 44, U QPR3 running as root 45, V 46, 25Q2 47). The platform
 * bpfloader used (0 << 16) | N with N up to 41. 0x10000 is "v1.0", a version
 * no shipped loader reached: as a maximum it means "no upper bound", as a
 * minimum "never loaded".
 */
#define BPFLOADER_S_VER 42u
#define BPFLOADER_T_VER 43u
#define BPFLOADER_U_VER 44u
#define BPFLOADER_U_QPR3_VER 45u
#define BPFLOADER_V_VER 46u
#define BPFLOADER_25Q2_VER 47u
/* Platform (system/bpf) loader versions, for objects aimed at it. */
#define BPFLOADER_PLATFORM_S_VER 2u
#define BPFLOADER_PLATFORM_T_VER 19u
#define BPFLOADER_PLATFORM_U_VER 38u
#define BPFLOADER_PLATFORM_U_QPR2_VER 41u

#define BPFLOADER_DEFAULT_MIN_VER 0u
#define BPFLOADER_DEFAULT_MAX_VER 0x10000u

/* Object-wide gate, emitted by LICENSE(); define before including to change. */
#ifndef BPFLOADER_MIN_VER
#define BPFLOADER_MIN_VER BPFLOADER_DEFAULT_MIN_VER
#endif
#ifndef BPFLOADER_MAX_VER
#define BPFLOADER_MAX_VER BPFLOADER_DEFAULT_MAX_VER
#endif

/*
 * ---- Domains: the strings allowed in selinux_context / pin_subdir.
 *
 * selinux_context picks the bpffs directory a pin is created in (its genfscon
 * label sticks to the inode); pin_subdir picks the directory it ends up in.
 * "" means unspecified: the location's own prefix.
 */
#define DOMAIN_UNSPECIFIED ""
#define SELINUX_TETHERING "fs_bpf_tethering"
#define SELINUX_NET_PRIVATE "fs_bpf_net_private"
#define SELINUX_NET_SHARED "fs_bpf_net_shared"
#define SELINUX_NETD_READONLY "fs_bpf_netd_readonly"
#define SELINUX_NETD_SHARED "fs_bpf_netd_shared"
#define SELINUX_LOADER "fs_bpf_loader"
#define PIN_TETHERING "tethering/"
#define PIN_NET_PRIVATE "net_private/"
#define PIN_NET_SHARED "net_shared/"
#define PIN_NETD_READONLY "netd_readonly/"
#define PIN_NETD_SHARED "netd_shared/"
#define PIN_LOADER "loader/"

#define BPF_DOMAIN_LEN 32

/* ---- Android ids used as pin owners (android_filesystem_config.h values). */
#define AID_ROOT 0
#define AID_SYSTEM 1000
#define AID_CLAT 1029
#define AID_NETWORK_STACK 1073
#define AID_NET_ADMIN 3005
#define AID_NET_BW_STATS 3006
#define AID_NET_BW_ACCT 3007

/*
 * ---- ignore_on_* bits, as a mask whose bit positions equal the on-disk
 * bit-field byte (offset 113 of a map def, 17 of a prog def): bit 0 eng,
 * 1 user, 2 userdebug (build types), 3 arm32, 4 aarch64, 5 x86_32,
 * 6 x86_64, 7 riscv64 (architectures).
 */
#define IGNORE_ON_ENG (1u << 0)
#define IGNORE_ON_USER (1u << 1)
#define IGNORE_ON_USERDEBUG (1u << 2)
#define IGNORE_ON_ARM32 (1u << 3)
#define IGNORE_ON_AARCH64 (1u << 4)
#define IGNORE_ON_X86_32 (1u << 5)
#define IGNORE_ON_X86_64 (1u << 6)
#define IGNORE_ON_RISCV64 (1u << 7)

/* ---- struct bpf_map_def: one record per map in section `maps`. */
struct bpf_map_def {
    enum bpf_map_type type;
    unsigned int key_size;
    unsigned int value_size;
    unsigned int max_entries;
    unsigned int map_flags;
#if BPF_DEF_ABI >= 120
    /* Was the owner uid up to T; the owner moved to `uid` below. Must be 0. */
    unsigned int zero;
#else
    /* Owner uid in the old layouts. The corpus keeps it 0: current loaders
     * read this word as `zero` and refuse anything else. */
    unsigned int uid;
#endif
    unsigned int gid;
    unsigned int mode;
#if BPF_DEF_ABI >= 48
    unsigned int bpfloader_min_ver;
    unsigned int bpfloader_max_ver;
    unsigned int min_kver;
    unsigned int max_kver;
#endif
#if BPF_DEF_ABI >= 116
    char selinux_context[BPF_DOMAIN_LEN];
    char pin_subdir[BPF_DOMAIN_LEN];
    bool shared;
#endif
#if BPF_DEF_ABI >= 120
    bool ignore_on_eng : 1;
    bool ignore_on_user : 1;
    bool ignore_on_userdebug : 1;
    bool ignore_on_arm32 : 1;
    bool ignore_on_aarch64 : 1;
    bool ignore_on_x86_32 : 1;
    bool ignore_on_x86_64 : 1;
    bool ignore_on_riscv64 : 1;
    char pad0[2];
    unsigned int uid;
#elif BPF_DEF_ABI >= 116
    char pad0[3];
#endif
};

/* ---- struct bpf_prog_def: one record per program in section `progs`,
 * found through the symbol `<function>_def`. */
struct bpf_prog_def {
    unsigned int uid;
    unsigned int gid;
    unsigned int min_kver;
    unsigned int max_kver;
    bool optional;
#if BPF_DEF_ABI >= 120
    bool ignore_on_eng : 1;
    bool ignore_on_user : 1;
    bool ignore_on_userdebug : 1;
    bool ignore_on_arm32 : 1;
    bool ignore_on_aarch64 : 1;
    bool ignore_on_x86_32 : 1;
    bool ignore_on_x86_64 : 1;
    bool ignore_on_riscv64 : 1;
    char pad0[2];
#else
    char pad0[3];
#endif
#if BPF_DEF_ABI >= 48
    unsigned int bpfloader_min_ver;
    unsigned int bpfloader_max_ver;
#endif
#if BPF_DEF_ABI >= 116
    char selinux_context[BPF_DOMAIN_LEN];
    char pin_subdir[BPF_DOMAIN_LEN];
#endif
};

/* ---- Layout pins. Offsets from docs/object-format.md#map-record and
 * docs/object-format.md#program-record. */
#define BPF_ASSERT_OFF(type, field, off) \
    _Static_assert(offsetof(struct type, field) == (off), #type "." #field " must be at " #off)

_Static_assert(sizeof(enum bpf_map_type) == 4, "enum bpf_map_type must be 4 bytes");
BPF_ASSERT_OFF(bpf_map_def, type, 0);
BPF_ASSERT_OFF(bpf_map_def, key_size, 4);
BPF_ASSERT_OFF(bpf_map_def, value_size, 8);
BPF_ASSERT_OFF(bpf_map_def, max_entries, 12);
BPF_ASSERT_OFF(bpf_map_def, map_flags, 16);
BPF_ASSERT_OFF(bpf_map_def, gid, 24);
BPF_ASSERT_OFF(bpf_map_def, mode, 28);
BPF_ASSERT_OFF(bpf_prog_def, uid, 0);
BPF_ASSERT_OFF(bpf_prog_def, gid, 4);
BPF_ASSERT_OFF(bpf_prog_def, min_kver, 8);
BPF_ASSERT_OFF(bpf_prog_def, max_kver, 12);
BPF_ASSERT_OFF(bpf_prog_def, optional, 16);
BPF_ASSERT_OFF(bpf_prog_def, pad0, (BPF_DEF_ABI >= 120 ? 18 : 17));
#if BPF_DEF_ABI >= 120
BPF_ASSERT_OFF(bpf_map_def, zero, 20);
#else
BPF_ASSERT_OFF(bpf_map_def, uid, 20);
#endif
#if BPF_DEF_ABI >= 48
BPF_ASSERT_OFF(bpf_map_def, bpfloader_min_ver, 32);
BPF_ASSERT_OFF(bpf_map_def, bpfloader_max_ver, 36);
BPF_ASSERT_OFF(bpf_map_def, min_kver, 40);
BPF_ASSERT_OFF(bpf_map_def, max_kver, 44);
BPF_ASSERT_OFF(bpf_prog_def, bpfloader_min_ver, 20);
BPF_ASSERT_OFF(bpf_prog_def, bpfloader_max_ver, 24);
#endif
#if BPF_DEF_ABI >= 116
BPF_ASSERT_OFF(bpf_map_def, selinux_context, 48);
BPF_ASSERT_OFF(bpf_map_def, pin_subdir, 80);
BPF_ASSERT_OFF(bpf_map_def, shared, 112);
BPF_ASSERT_OFF(bpf_prog_def, selinux_context, 28);
BPF_ASSERT_OFF(bpf_prog_def, pin_subdir, 60);
#endif
#if BPF_DEF_ABI >= 120
BPF_ASSERT_OFF(bpf_map_def, pad0, 114);
BPF_ASSERT_OFF(bpf_map_def, uid, 116);
#elif BPF_DEF_ABI >= 116
BPF_ASSERT_OFF(bpf_map_def, pad0, 113);
#endif

#if BPF_DEF_ABI == 120
_Static_assert(sizeof(struct bpf_map_def) == 120, "bpf_map_def must be 120 bytes");
_Static_assert(sizeof(struct bpf_prog_def) == 92, "bpf_prog_def must be 92 bytes");
#elif BPF_DEF_ABI == 116
_Static_assert(sizeof(struct bpf_map_def) == 116, "T bpf_map_def must be 116 bytes");
_Static_assert(sizeof(struct bpf_prog_def) == 92, "T bpf_prog_def must be 92 bytes");
#elif BPF_DEF_ABI == 48
_Static_assert(sizeof(struct bpf_map_def) == 48, "S bpf_map_def must be 48 bytes");
_Static_assert(sizeof(struct bpf_prog_def) == 28, "S bpf_prog_def must be 28 bytes");
#else
_Static_assert(sizeof(struct bpf_map_def) == 32, "v0.0 bpf_map_def must be 32 bytes");
_Static_assert(sizeof(struct bpf_prog_def) == 20, "v0.0 bpf_prog_def must be 20 bytes");
#endif
_Static_assert(_Alignof(struct bpf_map_def) == 4, "bpf_map_def must be 4-aligned");
_Static_assert(_Alignof(struct bpf_prog_def) == 4, "bpf_prog_def must be 4-aligned");

#endif /* NETBPFLOAD_BPF_MAP_DEF_H */
