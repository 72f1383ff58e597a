//! libbpf's program section names: which name means which program type and
//! expected attach type (the kernel UAPI numbers), following libbpf 1.x's
//! rules: a name in the table matches exactly; a name marked `+` matches
//! itself or itself followed by `/` and anything (`kprobe/do_unlinkat`).
//!
//! Names libbpf knows but this loader cannot load (they need an attach BTF
//! id, a program flag or a syscall this loader does not make) are listed
//! with the reason, so an object using one fails naming it instead of
//! "unknown section".

use crate::spec::ProgKind;
use aya_obj::generated::{bpf_attach_type, bpf_prog_type};

/// What a section name means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionDef {
    /// A program of this kind.
    Program(ProgKind),
    /// A libbpf program this loader does not load, and why.
    Unsupported(&'static str),
}

/// One row: name (with `+` for "this or this/…") and meaning.
type Row = (&'static str, SectionDef);

use bpf_attach_type as A;
use bpf_prog_type as P;

const fn prog(prog_type: bpf_prog_type, attach: Attach) -> SectionDef {
    SectionDef::Program(ProgKind {
        prog_type: prog_type as u32,
        expected_attach_type: match attach {
            Attach::None => 0,
            Attach::Type(a) => a as u32,
        },
    })
}

/// An expected attach type, or none (0: the kernel does not check it for
/// these program types).
#[derive(Clone, Copy)]
enum Attach {
    None,
    Type(bpf_attach_type),
}
const NONE: Attach = Attach::None;

const ATTACH_BTF: &str = "needs an attach BTF id (fentry/fexit/lsm/tp_btf/iter/freplace)";
const SLEEPABLE: &str = "sleepable programs need BPF_F_SLEEPABLE";
const FRAGS: &str = "xdp.frags programs need BPF_F_XDP_HAS_FRAGS";
const MULTI: &str = "multi-attach probes need a link this loader does not create";

/// The table, in libbpf's order where it matters (exact names before the
/// `+` rows that would also match them).
pub const TABLE: &[Row] = &[
    ("socket", prog(P::BPF_PROG_TYPE_SOCKET_FILTER, NONE)),
    (
        "sk_reuseport/migrate",
        prog(
            P::BPF_PROG_TYPE_SK_REUSEPORT,
            Attach::Type(A::BPF_SK_REUSEPORT_SELECT_OR_MIGRATE),
        ),
    ),
    (
        "sk_reuseport",
        prog(
            P::BPF_PROG_TYPE_SK_REUSEPORT,
            Attach::Type(A::BPF_SK_REUSEPORT_SELECT),
        ),
    ),
    ("kprobe.multi+", SectionDef::Unsupported(MULTI)),
    ("kretprobe.multi+", SectionDef::Unsupported(MULTI)),
    ("uprobe.multi+", SectionDef::Unsupported(MULTI)),
    ("uretprobe.multi+", SectionDef::Unsupported(MULTI)),
    ("kprobe.session+", SectionDef::Unsupported(MULTI)),
    ("uprobe.session+", SectionDef::Unsupported(MULTI)),
    ("uprobe.s+", SectionDef::Unsupported(SLEEPABLE)),
    ("uretprobe.s+", SectionDef::Unsupported(SLEEPABLE)),
    ("kprobe+", prog(P::BPF_PROG_TYPE_KPROBE, NONE)),
    ("uprobe+", prog(P::BPF_PROG_TYPE_KPROBE, NONE)),
    ("kretprobe+", prog(P::BPF_PROG_TYPE_KPROBE, NONE)),
    ("uretprobe+", prog(P::BPF_PROG_TYPE_KPROBE, NONE)),
    (
        "ksyscall+",
        SectionDef::Unsupported("ksyscall needs the kernel's syscall prefix"),
    ),
    (
        "kretsyscall+",
        SectionDef::Unsupported("ksyscall needs the kernel's syscall prefix"),
    ),
    (
        "usdt+",
        SectionDef::Unsupported("USDT probes need libbpf's USDT runtime"),
    ),
    (
        "tc/ingress",
        prog(P::BPF_PROG_TYPE_SCHED_CLS, Attach::Type(A::BPF_TCX_INGRESS)),
    ),
    (
        "tc/egress",
        prog(P::BPF_PROG_TYPE_SCHED_CLS, Attach::Type(A::BPF_TCX_EGRESS)),
    ),
    (
        "tcx/ingress",
        prog(P::BPF_PROG_TYPE_SCHED_CLS, Attach::Type(A::BPF_TCX_INGRESS)),
    ),
    (
        "tcx/egress",
        prog(P::BPF_PROG_TYPE_SCHED_CLS, Attach::Type(A::BPF_TCX_EGRESS)),
    ),
    (
        "netkit/primary",
        prog(
            P::BPF_PROG_TYPE_SCHED_CLS,
            Attach::Type(A::BPF_NETKIT_PRIMARY),
        ),
    ),
    (
        "netkit/peer",
        prog(P::BPF_PROG_TYPE_SCHED_CLS, Attach::Type(A::BPF_NETKIT_PEER)),
    ),
    ("tc", prog(P::BPF_PROG_TYPE_SCHED_CLS, NONE)),
    ("classifier", prog(P::BPF_PROG_TYPE_SCHED_CLS, NONE)),
    ("action", prog(P::BPF_PROG_TYPE_SCHED_ACT, NONE)),
    ("tracepoint+", prog(P::BPF_PROG_TYPE_TRACEPOINT, NONE)),
    ("tp+", prog(P::BPF_PROG_TYPE_TRACEPOINT, NONE)),
    (
        "raw_tracepoint+",
        prog(P::BPF_PROG_TYPE_RAW_TRACEPOINT, NONE),
    ),
    ("raw_tp+", prog(P::BPF_PROG_TYPE_RAW_TRACEPOINT, NONE)),
    (
        "raw_tracepoint.w+",
        prog(P::BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE, NONE),
    ),
    (
        "raw_tp.w+",
        prog(P::BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE, NONE),
    ),
    ("tp_btf+", SectionDef::Unsupported(ATTACH_BTF)),
    ("fentry+", SectionDef::Unsupported(ATTACH_BTF)),
    ("fmod_ret+", SectionDef::Unsupported(ATTACH_BTF)),
    ("fexit+", SectionDef::Unsupported(ATTACH_BTF)),
    ("fentry.s+", SectionDef::Unsupported(ATTACH_BTF)),
    ("fmod_ret.s+", SectionDef::Unsupported(ATTACH_BTF)),
    ("fexit.s+", SectionDef::Unsupported(ATTACH_BTF)),
    ("freplace+", SectionDef::Unsupported(ATTACH_BTF)),
    ("lsm+", SectionDef::Unsupported(ATTACH_BTF)),
    ("lsm.s+", SectionDef::Unsupported(ATTACH_BTF)),
    ("lsm_cgroup+", SectionDef::Unsupported(ATTACH_BTF)),
    ("iter+", SectionDef::Unsupported(ATTACH_BTF)),
    ("iter.s+", SectionDef::Unsupported(ATTACH_BTF)),
    (
        "syscall",
        SectionDef::Unsupported("syscall programs run from user space, not pinned at boot"),
    ),
    (
        "struct_ops+",
        SectionDef::Unsupported("struct_ops needs its map and a kernel type id"),
    ),
    (
        "struct_ops.s+",
        SectionDef::Unsupported("struct_ops needs its map and a kernel type id"),
    ),
    ("xdp.frags/devmap", SectionDef::Unsupported(FRAGS)),
    ("xdp.frags/cpumap", SectionDef::Unsupported(FRAGS)),
    ("xdp.frags", SectionDef::Unsupported(FRAGS)),
    (
        "xdp/devmap",
        prog(P::BPF_PROG_TYPE_XDP, Attach::Type(A::BPF_XDP_DEVMAP)),
    ),
    (
        "xdp/cpumap",
        prog(P::BPF_PROG_TYPE_XDP, Attach::Type(A::BPF_XDP_CPUMAP)),
    ),
    ("xdp", prog(P::BPF_PROG_TYPE_XDP, Attach::Type(A::BPF_XDP))),
    ("perf_event", prog(P::BPF_PROG_TYPE_PERF_EVENT, NONE)),
    ("lwt_in", prog(P::BPF_PROG_TYPE_LWT_IN, NONE)),
    ("lwt_out", prog(P::BPF_PROG_TYPE_LWT_OUT, NONE)),
    ("lwt_xmit", prog(P::BPF_PROG_TYPE_LWT_XMIT, NONE)),
    ("lwt_seg6local", prog(P::BPF_PROG_TYPE_LWT_SEG6LOCAL, NONE)),
    (
        "sockops",
        prog(
            P::BPF_PROG_TYPE_SOCK_OPS,
            Attach::Type(A::BPF_CGROUP_SOCK_OPS),
        ),
    ),
    (
        "sk_skb/stream_parser",
        prog(
            P::BPF_PROG_TYPE_SK_SKB,
            Attach::Type(A::BPF_SK_SKB_STREAM_PARSER),
        ),
    ),
    (
        "sk_skb/stream_verdict",
        prog(
            P::BPF_PROG_TYPE_SK_SKB,
            Attach::Type(A::BPF_SK_SKB_STREAM_VERDICT),
        ),
    ),
    (
        "sk_skb/verdict",
        prog(P::BPF_PROG_TYPE_SK_SKB, Attach::Type(A::BPF_SK_SKB_VERDICT)),
    ),
    ("sk_skb", prog(P::BPF_PROG_TYPE_SK_SKB, NONE)),
    (
        "sk_msg",
        prog(P::BPF_PROG_TYPE_SK_MSG, Attach::Type(A::BPF_SK_MSG_VERDICT)),
    ),
    (
        "lirc_mode2",
        prog(P::BPF_PROG_TYPE_LIRC_MODE2, Attach::Type(A::BPF_LIRC_MODE2)),
    ),
    (
        "flow_dissector",
        prog(
            P::BPF_PROG_TYPE_FLOW_DISSECTOR,
            Attach::Type(A::BPF_FLOW_DISSECTOR),
        ),
    ),
    (
        "cgroup_skb/ingress",
        prog(
            P::BPF_PROG_TYPE_CGROUP_SKB,
            Attach::Type(A::BPF_CGROUP_INET_INGRESS),
        ),
    ),
    (
        "cgroup_skb/egress",
        prog(
            P::BPF_PROG_TYPE_CGROUP_SKB,
            Attach::Type(A::BPF_CGROUP_INET_EGRESS),
        ),
    ),
    ("cgroup/skb", prog(P::BPF_PROG_TYPE_CGROUP_SKB, NONE)),
    (
        "cgroup/sock_create",
        prog(
            P::BPF_PROG_TYPE_CGROUP_SOCK,
            Attach::Type(A::BPF_CGROUP_INET_SOCK_CREATE),
        ),
    ),
    (
        "cgroup/sock_release",
        prog(
            P::BPF_PROG_TYPE_CGROUP_SOCK,
            Attach::Type(A::BPF_CGROUP_INET_SOCK_RELEASE),
        ),
    ),
    (
        "cgroup/sock",
        prog(
            P::BPF_PROG_TYPE_CGROUP_SOCK,
            Attach::Type(A::BPF_CGROUP_INET_SOCK_CREATE),
        ),
    ),
    (
        "cgroup/post_bind4",
        prog(
            P::BPF_PROG_TYPE_CGROUP_SOCK,
            Attach::Type(A::BPF_CGROUP_INET4_POST_BIND),
        ),
    ),
    (
        "cgroup/post_bind6",
        prog(
            P::BPF_PROG_TYPE_CGROUP_SOCK,
            Attach::Type(A::BPF_CGROUP_INET6_POST_BIND),
        ),
    ),
    (
        "cgroup/bind4",
        prog(
            P::BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
            Attach::Type(A::BPF_CGROUP_INET4_BIND),
        ),
    ),
    (
        "cgroup/bind6",
        prog(
            P::BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
            Attach::Type(A::BPF_CGROUP_INET6_BIND),
        ),
    ),
    (
        "cgroup/connect4",
        prog(
            P::BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
            Attach::Type(A::BPF_CGROUP_INET4_CONNECT),
        ),
    ),
    (
        "cgroup/connect6",
        prog(
            P::BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
            Attach::Type(A::BPF_CGROUP_INET6_CONNECT),
        ),
    ),
    (
        "cgroup/connect_unix",
        prog(
            P::BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
            Attach::Type(A::BPF_CGROUP_UNIX_CONNECT),
        ),
    ),
    (
        "cgroup/sendmsg4",
        prog(
            P::BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
            Attach::Type(A::BPF_CGROUP_UDP4_SENDMSG),
        ),
    ),
    (
        "cgroup/sendmsg6",
        prog(
            P::BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
            Attach::Type(A::BPF_CGROUP_UDP6_SENDMSG),
        ),
    ),
    (
        "cgroup/sendmsg_unix",
        prog(
            P::BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
            Attach::Type(A::BPF_CGROUP_UNIX_SENDMSG),
        ),
    ),
    (
        "cgroup/recvmsg4",
        prog(
            P::BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
            Attach::Type(A::BPF_CGROUP_UDP4_RECVMSG),
        ),
    ),
    (
        "cgroup/recvmsg6",
        prog(
            P::BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
            Attach::Type(A::BPF_CGROUP_UDP6_RECVMSG),
        ),
    ),
    (
        "cgroup/recvmsg_unix",
        prog(
            P::BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
            Attach::Type(A::BPF_CGROUP_UNIX_RECVMSG),
        ),
    ),
    (
        "cgroup/getpeername4",
        prog(
            P::BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
            Attach::Type(A::BPF_CGROUP_INET4_GETPEERNAME),
        ),
    ),
    (
        "cgroup/getpeername6",
        prog(
            P::BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
            Attach::Type(A::BPF_CGROUP_INET6_GETPEERNAME),
        ),
    ),
    (
        "cgroup/getpeername_unix",
        prog(
            P::BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
            Attach::Type(A::BPF_CGROUP_UNIX_GETPEERNAME),
        ),
    ),
    (
        "cgroup/getsockname4",
        prog(
            P::BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
            Attach::Type(A::BPF_CGROUP_INET4_GETSOCKNAME),
        ),
    ),
    (
        "cgroup/getsockname6",
        prog(
            P::BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
            Attach::Type(A::BPF_CGROUP_INET6_GETSOCKNAME),
        ),
    ),
    (
        "cgroup/getsockname_unix",
        prog(
            P::BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
            Attach::Type(A::BPF_CGROUP_UNIX_GETSOCKNAME),
        ),
    ),
    (
        "cgroup/sysctl",
        prog(
            P::BPF_PROG_TYPE_CGROUP_SYSCTL,
            Attach::Type(A::BPF_CGROUP_SYSCTL),
        ),
    ),
    (
        "cgroup/getsockopt",
        prog(
            P::BPF_PROG_TYPE_CGROUP_SOCKOPT,
            Attach::Type(A::BPF_CGROUP_GETSOCKOPT),
        ),
    ),
    (
        "cgroup/setsockopt",
        prog(
            P::BPF_PROG_TYPE_CGROUP_SOCKOPT,
            Attach::Type(A::BPF_CGROUP_SETSOCKOPT),
        ),
    ),
    (
        "cgroup/dev",
        prog(
            P::BPF_PROG_TYPE_CGROUP_DEVICE,
            Attach::Type(A::BPF_CGROUP_DEVICE),
        ),
    ),
    (
        "sk_lookup",
        prog(P::BPF_PROG_TYPE_SK_LOOKUP, Attach::Type(A::BPF_SK_LOOKUP)),
    ),
    (
        "netfilter",
        prog(P::BPF_PROG_TYPE_NETFILTER, Attach::Type(A::BPF_NETFILTER)),
    ),
];

/// Whether `name` matches `pattern` (a table name, `+` meaning "this or
/// this/…").
fn matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('+') {
        Some(prefix) => match name.strip_prefix(prefix) {
            Some(rest) => rest.is_empty() || rest.starts_with('/'),
            None => false,
        },
        None => pattern == name,
    }
}

/// What section `name` means, if it is a libbpf program section.
pub fn lookup(name: &str) -> Option<SectionDef> {
    TABLE
        .iter()
        .find(|(pattern, _)| matches(pattern, name))
        .map(|(_, def)| *def)
}

#[cfg(test)]
#[allow(clippy::panic, reason = "tests fail by panicking")]
mod tests {
    use super::*;

    fn kind(name: &str) -> (u32, u32) {
        match lookup(name) {
            Some(SectionDef::Program(k)) => (k.prog_type, k.expected_attach_type),
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn libbpf_names() {
        assert_eq!(kind("socket"), (1, 0));
        assert_eq!(kind("tc"), (3, 0));
        assert_eq!(kind("classifier"), (3, 0));
        assert_eq!(kind("tc/ingress"), (3, 46));
        assert_eq!(kind("xdp"), (6, 37));
        assert_eq!(kind("xdp/devmap"), (6, 33));
        assert_eq!(kind("cgroup_skb/ingress"), (8, 0));
        assert_eq!(kind("cgroup_skb/egress"), (8, 1));
        assert_eq!(kind("kprobe/do_unlinkat"), (2, 0));
        assert_eq!(kind("kprobe"), (2, 0));
        assert_eq!(kind("tracepoint/syscalls/sys_enter_getpid"), (5, 0));
        assert_eq!(kind("tp/sched/sched_switch"), (5, 0));
        assert_eq!(kind("cgroup/connect4"), (18, 10));
    }

    #[test]
    fn prefixes_need_a_slash_and_exact_names_match_exactly() {
        assert_eq!(lookup("kprobes"), None);
        assert_eq!(lookup("socket/x"), None);
        assert_eq!(lookup("xdp/foo"), None, "libbpf 1.x has no xdp/<name>");
        assert_eq!(lookup("tcx"), None);
        assert_eq!(lookup("schedcls/x"), None, "an Android name");
        assert!(matches!(
            lookup("fentry/do_unlinkat"),
            Some(SectionDef::Unsupported(_))
        ));
        assert!(matches!(
            lookup("xdp.frags"),
            Some(SectionDef::Unsupported(_))
        ));
        assert!(matches!(
            lookup("kprobe.multi/x"),
            Some(SectionDef::Unsupported(_))
        ));
        assert!(matches!(
            lookup("uprobe.s/x"),
            Some(SectionDef::Unsupported(_))
        ));
    }
}
