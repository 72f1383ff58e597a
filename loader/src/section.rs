//! Program section names: which prefix means which program type.
//!
//! [`ALL`] holds every prefix any supported loader knows, with its program
//! type and expected attach type (the kernel UAPI numbers). Which prefixes a
//! loader actually recognises depends on the release and the role: each
//! [`SectionTable`] of [`crate::release`] lists its own, in match order, and
//! a section matching none of them is not a program for that loader (it is
//! ignored, as Android's loaders ignore it). The parser reads every section
//! that any table could treat as a program ([`is_program_section`]).
//!
//! `fuse/` is not supported: its program type is only known at run time
//! (from `/sys/fs/fuse/bpf_prog_type_fuse`), which a pure parser cannot read.

use crate::spec::ProgKind;
use aya_obj::generated::{bpf_attach_type, bpf_prog_type};

/// `expected_attach_type` 0, which Android's loaders call
/// `BPF_ATTACH_TYPE_UNSPEC`; the kernel ignores it for these program types.
const UNSPEC: bpf_attach_type = bpf_attach_type::BPF_CGROUP_INET_INGRESS;

/// One row of the prefix table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SectionType {
    /// Prefix the raw section name must start with (e.g. `schedcls/`).
    pub prefix: &'static str,
    /// Program type.
    pub prog_type: bpf_prog_type,
    /// Expected attach type.
    pub attach_type: bpf_attach_type,
}

impl SectionType {
    /// The numeric kind passed to `BPF_PROG_LOAD`.
    pub const fn kind(&self) -> ProgKind {
        ProgKind {
            prog_type: self.prog_type as u32,
            expected_attach_type: self.attach_type as u32,
        }
    }
}

const fn row(
    prefix: &'static str,
    prog_type: bpf_prog_type,
    attach_type: bpf_attach_type,
) -> SectionType {
    SectionType {
        prefix,
        prog_type,
        attach_type,
    }
}

use bpf_attach_type as A;
use bpf_prog_type as P;

/// Every prefix known to any supported loader.
pub const ALL: &[SectionType] = &[
    row(
        "bind4/",
        P::BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        A::BPF_CGROUP_INET4_BIND,
    ),
    row(
        "bind6/",
        P::BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        A::BPF_CGROUP_INET6_BIND,
    ),
    row("cgroupskb/", P::BPF_PROG_TYPE_CGROUP_SKB, UNSPEC),
    row("cgroupsock/", P::BPF_PROG_TYPE_CGROUP_SOCK, UNSPEC),
    row(
        "cgroupsockcreate/",
        P::BPF_PROG_TYPE_CGROUP_SOCK,
        A::BPF_CGROUP_INET_SOCK_CREATE,
    ),
    row(
        "cgroupsockrelease/",
        P::BPF_PROG_TYPE_CGROUP_SOCK,
        A::BPF_CGROUP_INET_SOCK_RELEASE,
    ),
    row(
        "connect4/",
        P::BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        A::BPF_CGROUP_INET4_CONNECT,
    ),
    row(
        "connect6/",
        P::BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        A::BPF_CGROUP_INET6_CONNECT,
    ),
    row(
        "egress/",
        P::BPF_PROG_TYPE_CGROUP_SKB,
        A::BPF_CGROUP_INET_EGRESS,
    ),
    row(
        "getsockopt/",
        P::BPF_PROG_TYPE_CGROUP_SOCKOPT,
        A::BPF_CGROUP_GETSOCKOPT,
    ),
    row(
        "ingress/",
        P::BPF_PROG_TYPE_CGROUP_SKB,
        A::BPF_CGROUP_INET_INGRESS,
    ),
    row("lwt_in/", P::BPF_PROG_TYPE_LWT_IN, UNSPEC),
    row("lwt_out/", P::BPF_PROG_TYPE_LWT_OUT, UNSPEC),
    row("lwt_seg6local/", P::BPF_PROG_TYPE_LWT_SEG6LOCAL, UNSPEC),
    row("lwt_xmit/", P::BPF_PROG_TYPE_LWT_XMIT, UNSPEC),
    row(
        "postbind4/",
        P::BPF_PROG_TYPE_CGROUP_SOCK,
        A::BPF_CGROUP_INET4_POST_BIND,
    ),
    row(
        "postbind6/",
        P::BPF_PROG_TYPE_CGROUP_SOCK,
        A::BPF_CGROUP_INET6_POST_BIND,
    ),
    row(
        "recvmsg4/",
        P::BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        A::BPF_CGROUP_UDP4_RECVMSG,
    ),
    row(
        "recvmsg6/",
        P::BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        A::BPF_CGROUP_UDP6_RECVMSG,
    ),
    row("schedact/", P::BPF_PROG_TYPE_SCHED_ACT, UNSPEC),
    row("schedcls/", P::BPF_PROG_TYPE_SCHED_CLS, UNSPEC),
    row(
        "sendmsg4/",
        P::BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        A::BPF_CGROUP_UDP4_SENDMSG,
    ),
    row(
        "sendmsg6/",
        P::BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        A::BPF_CGROUP_UDP6_SENDMSG,
    ),
    row(
        "setsockopt/",
        P::BPF_PROG_TYPE_CGROUP_SOCKOPT,
        A::BPF_CGROUP_SETSOCKOPT,
    ),
    row("skfilter/", P::BPF_PROG_TYPE_SOCKET_FILTER, UNSPEC),
    row(
        "sockops/",
        P::BPF_PROG_TYPE_SOCK_OPS,
        A::BPF_CGROUP_SOCK_OPS,
    ),
    // No slash: `sysctl` itself and any `sysctl…` name.
    row(
        "sysctl",
        P::BPF_PROG_TYPE_CGROUP_SYSCTL,
        A::BPF_CGROUP_SYSCTL,
    ),
    row("xdp/", P::BPF_PROG_TYPE_XDP, UNSPEC),
    // Tracing prefixes of the platform loader (system/bpf).
    row("kprobe/", P::BPF_PROG_TYPE_KPROBE, UNSPEC),
    row("kretprobe/", P::BPF_PROG_TYPE_KPROBE, UNSPEC),
    row("uprobe/", P::BPF_PROG_TYPE_KPROBE, UNSPEC),
    row("uretprobe/", P::BPF_PROG_TYPE_KPROBE, UNSPEC),
    row("perf_event/", P::BPF_PROG_TYPE_PERF_EVENT, UNSPEC),
    row("tracepoint/", P::BPF_PROG_TYPE_TRACEPOINT, UNSPEC),
];

/// The prefixes one loader recognises, in its match order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SectionTable {
    /// Prefixes (each one a row of [`ALL`]).
    pub prefixes: &'static [&'static str],
}

impl SectionTable {
    /// The row of the first prefix of this table that `section_name`
    /// starts with, or `None`: not a program for this loader.
    pub fn lookup(&self, section_name: &str) -> Option<&'static SectionType> {
        self.prefixes
            .iter()
            .find(|p| section_name.starts_with(**p))
            .and_then(|p| ALL.iter().find(|t| t.prefix == *p))
    }
}

/// The union table's row for a section name (what the parser sees).
pub fn section_type(section_name: &str) -> Option<&'static SectionType> {
    ALL.iter().find(|t| section_name.starts_with(t.prefix))
}

/// Whether any supported loader treats `section_name` as a program. The
/// parser calls it for every section header: the first byte is compared
/// before the prefix, so most names cost a few byte comparisons, not a
/// `memcmp` per prefix.
pub fn is_program_section(section_name: &[u8]) -> bool {
    let Some(first) = section_name.first() else {
        return false;
    };
    ALL.iter().any(|t| {
        let prefix = t.prefix.as_bytes();
        prefix.first() == Some(first) && section_name.starts_with(prefix)
    })
}

/// The program kind of a section name in the union table, or `None`.
pub fn prog_kind(section_name: &str) -> Option<ProgKind> {
    section_type(section_name).map(SectionType::kind)
}

/// Name of a program type (without `BPF_PROG_TYPE_`), for display.
pub fn prog_type_name(prog_type: u32) -> Option<String> {
    ALL.iter()
        .find(|t| t.prog_type as u32 == prog_type)
        .map(|t| {
            let n = format!("{:?}", t.prog_type);
            n.strip_prefix("BPF_PROG_TYPE_").unwrap_or(&n).to_string()
        })
}

/// Name of an expected attach type (without `BPF_`), for display; 0 is
/// shown as `UNSPEC` like Android's loaders name it.
pub fn attach_type_name(attach_type: u32) -> Option<String> {
    if attach_type == UNSPEC as u32 {
        return Some("UNSPEC".to_string());
    }
    ALL.iter()
        .find(|t| t.attach_type as u32 == attach_type)
        .map(|t| {
            let n = format!("{:?}", t.attach_type);
            n.strip_prefix("BPF_").unwrap_or(&n).to_string()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row, written out with the kernel UAPI numbers
    /// (`include/uapi/linux/bpf.h`) so a wrong enum variant fails.
    #[test]
    fn whole_prefix_table() {
        // (section name, prog type, expected attach type)
        let expected: &[(&str, u32, u32)] = &[
            ("bind4/x", 18, 8),             // CGROUP_SOCK_ADDR, INET4_BIND
            ("bind6/x", 18, 9),             // INET6_BIND
            ("cgroupskb/x", 8, 0),          // CGROUP_SKB
            ("cgroupsock/x", 9, 0),         // CGROUP_SOCK
            ("cgroupsockcreate/x", 9, 2),   // INET_SOCK_CREATE
            ("cgroupsockrelease/x", 9, 34), // INET_SOCK_RELEASE
            ("connect4/x", 18, 10),
            ("connect6/x", 18, 11),
            ("egress/x", 8, 1),
            ("ingress/x", 8, 0),
            ("getsockopt/x", 25, 21),
            ("setsockopt/x", 25, 22),
            ("postbind4/x", 9, 12),
            ("postbind6/x", 9, 13),
            ("recvmsg4/x", 18, 19),
            ("recvmsg6/x", 18, 20),
            ("sendmsg4/x", 18, 14),
            ("sendmsg6/x", 18, 15),
            ("schedact/x", 4, 0),
            ("schedcls/x", 3, 0),
            ("skfilter/x", 1, 0),
            ("sockops/x", 13, 3),
            ("sysctl", 23, 18),
            ("sysctl/x", 23, 18),
            ("sysctlfoo", 23, 18),
            ("xdp/x", 6, 0),
            ("lwt_in/x", 10, 0),
            ("lwt_out/x", 11, 0),
            ("lwt_seg6local/x", 19, 0),
            ("lwt_xmit/x", 12, 0),
            ("kprobe/x", 2, 0),
            ("kretprobe/x", 2, 0),
            ("uprobe/x", 2, 0),
            ("uretprobe/x", 2, 0),
            ("perf_event/x", 7, 0),
            ("tracepoint/sched/sched_switch", 5, 0),
        ];
        for &(name, prog_type, attach) in expected {
            assert_eq!(
                prog_kind(name),
                Some(ProgKind {
                    prog_type,
                    expected_attach_type: attach
                }),
                "{name}"
            );
        }
        for t in ALL {
            assert!(
                expected.iter().any(|(n, _, _)| n.starts_with(t.prefix)),
                "prefix {} untested",
                t.prefix
            );
        }
    }

    #[test]
    fn non_programs_are_ignored() {
        for name in [
            "maps",
            "progs",
            "license",
            ".text",
            ".relskfilter/x",
            ".BTF",
            "xdp",
            "skfilter",
            "fuse/x",
            "socket",
            "Schedcls/x",
            "",
        ] {
            assert_eq!(prog_kind(name), None, "{name}");
            assert!(!is_program_section(name.as_bytes()), "{name}");
        }
    }

    #[test]
    fn a_table_only_knows_its_prefixes() {
        let t = SectionTable {
            prefixes: &["skfilter/", "tracepoint/"],
        };
        assert_eq!(t.lookup("skfilter/a").map(|r| r.prefix), Some("skfilter/"));
        assert_eq!(t.lookup("schedcls/a"), None);
        assert_eq!(
            t.lookup("tracepoint/sched/x").map(|r| r.prog_type as u32),
            Some(5)
        );
    }

    #[test]
    fn names_for_display() {
        assert_eq!(prog_type_name(3).as_deref(), Some("SCHED_CLS"));
        assert_eq!(attach_type_name(0).as_deref(), Some("UNSPEC"));
        assert_eq!(
            attach_type_name(34).as_deref(),
            Some("CGROUP_INET_SOCK_RELEASE")
        );
        assert_eq!(prog_type_name(9999), None);
    }
}
