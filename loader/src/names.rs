//! Names of the kernel's map and program types, for people and for JSON:
//! the UAPI enum name (`include/uapi/linux/bpf.h`) without its
//! `BPF_MAP_TYPE_` / `BPF_PROG_TYPE_` prefix, in lower case, which is also
//! what bpftool prints (`hash`, `sched_cls`). Indexed by the enum value; a
//! value the table does not know (a newer kernel's) has no name.

/// `enum bpf_map_type`, by value.
const MAP_TYPES: [&str; 34] = [
    "unspec",
    "hash",
    "array",
    "prog_array",
    "perf_event_array",
    "percpu_hash",
    "percpu_array",
    "stack_trace",
    "cgroup_array",
    "lru_hash",
    "lru_percpu_hash",
    "lpm_trie",
    "array_of_maps",
    "hash_of_maps",
    "devmap",
    "sockmap",
    "cpumap",
    "xskmap",
    "sockhash",
    "cgroup_storage",
    "reuseport_sockarray",
    "percpu_cgroup_storage",
    "queue",
    "stack",
    "sk_storage",
    "devmap_hash",
    "struct_ops",
    "ringbuf",
    "inode_storage",
    "task_storage",
    "bloom_filter",
    "user_ringbuf",
    "cgrp_storage",
    "arena",
];

/// `enum bpf_prog_type`, by value.
const PROG_TYPES: [&str; 33] = [
    "unspec",
    "socket_filter",
    "kprobe",
    "sched_cls",
    "sched_act",
    "tracepoint",
    "xdp",
    "perf_event",
    "cgroup_skb",
    "cgroup_sock",
    "lwt_in",
    "lwt_out",
    "lwt_xmit",
    "sock_ops",
    "sk_skb",
    "cgroup_device",
    "sk_msg",
    "raw_tracepoint",
    "cgroup_sock_addr",
    "lwt_seg6local",
    "lirc_mode2",
    "sk_reuseport",
    "flow_dissector",
    "cgroup_sysctl",
    "raw_tracepoint_writable",
    "cgroup_sockopt",
    "tracing",
    "struct_ops",
    "ext",
    "lsm",
    "sk_lookup",
    "syscall",
    "netfilter",
];

/// The name of map type `t`, if known.
pub fn map_type(t: u32) -> Option<&'static str> {
    MAP_TYPES.get(usize::try_from(t).ok()?).copied()
}

/// The name of program type `t`, if known.
pub fn prog_type(t: u32) -> Option<&'static str> {
    PROG_TYPES.get(usize::try_from(t).ok()?).copied()
}

/// The name of expected attach type `t` (`enum bpf_attach_type` without
/// `BPF_`, lower case; 0 is `unspec` when it means "none", as in a
/// section that sets no attach type), for the attach types of the
/// section table.
pub fn attach_type(t: u32) -> Option<String> {
    crate::section::attach_type_name(t).map(|n| n.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aya_obj::generated::{bpf_map_type as m, bpf_prog_type as p};

    #[test]
    fn tables_follow_the_uapi_enums() {
        // Spot checks against the enum values of aya-obj's generated UAPI
        // bindings, across the whole range.
        for (v, name) in [
            (m::BPF_MAP_TYPE_HASH as u32, "hash"),
            (m::BPF_MAP_TYPE_LPM_TRIE as u32, "lpm_trie"),
            (m::BPF_MAP_TYPE_DEVMAP_HASH as u32, "devmap_hash"),
            (m::BPF_MAP_TYPE_RINGBUF as u32, "ringbuf"),
            (m::BPF_MAP_TYPE_ARENA as u32, "arena"),
        ] {
            assert_eq!(map_type(v), Some(name), "{v}");
        }
        for (v, name) in [
            (p::BPF_PROG_TYPE_SOCKET_FILTER as u32, "socket_filter"),
            (p::BPF_PROG_TYPE_SCHED_CLS as u32, "sched_cls"),
            (p::BPF_PROG_TYPE_CGROUP_SOCK_ADDR as u32, "cgroup_sock_addr"),
            (p::BPF_PROG_TYPE_CGROUP_SOCKOPT as u32, "cgroup_sockopt"),
            (p::BPF_PROG_TYPE_NETFILTER as u32, "netfilter"),
        ] {
            assert_eq!(prog_type(v), Some(name), "{v}");
        }
        // Every name the inspect text output derives from aya's enums agrees
        // (the UAPI renamed two to `*_DEPRECATED`; bpftool keeps the names).
        for t in 0..MAP_TYPES.len() as u32 {
            assert_eq!(
                map_type(t).map(str::to_uppercase),
                Some(
                    crate::inspect::map_type_name(t)
                        .trim_end_matches("_DEPRECATED")
                        .to_string()
                ),
                "{t}"
            );
        }
        for t in 0..PROG_TYPES.len() as u32 {
            if let Some(n) = crate::section::prog_type_name(t) {
                assert_eq!(prog_type(t).map(str::to_uppercase), Some(n), "{t}");
            }
        }
        assert_eq!(map_type(1000), None);
        assert_eq!(prog_type(u32::MAX), None);
        assert_eq!(attach_type(0).as_deref(), Some("unspec"));
    }
}
