//! Enforcing-SELinux QEMU boot: the standard QEMU image (`qemu.rs`) plus a
//! policy, labels and a static helper, booted with `security=selinux`.
//!
//! The policy is what a device would run, as far as the loader is
//! concerned: the stand-in for AOSP's policy (`sepolicy/check/base/`), our
//! add-on (`sepolicy/private/`), and a test-only module
//! (`tests/qemu/selinux/harness.te`) for the test driver, the `init` domain
//! that starts the service, and two probe domains. It is assembled by
//! `sepolicy/check/assemble.sh` (the same as `check.sh` compiles) and
//! compiled with `checkpolicy`; `tests/qemu/selinux/init.sh` loads it,
//! labels the initramfs, switches to enforcing, starts the loader through
//! init's exec transition and dumps labels and denials.
//!
//! Needs, besides the QEMU tier's packages: checkpolicy, m4 and gcc with a
//! static libc (libc6-dev). A missing tool is a failure saying so.

use crate::qemu::{self, Boot, Image};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const HINT: &str = "install checkpolicy, m4, gcc and libc6-dev (scripts/install-deps.sh)";

/// The target of the pin-access probes: a net_private map of the corpus
/// (pktCount.o), which AOSP lets network_stack use and nobody else.
pub const PROBE_PIN: &str = "/sys/fs/bpf/net_private/map_pktCount_packet_count_map";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("`{name}` not found on PATH: {HINT}"))
}

/// One permission to take out of the compiled policy: the single rule line
/// starting with `rule` loses the word `perm` (the negative boots).
#[derive(Debug, Clone, Copy)]
pub struct Without<'a> {
    /// Start of the rule line, e.g. `allow bpfloader bpffs_type:file {`.
    pub rule: &'a str,
    /// The permission to remove, e.g. `rename`.
    pub perm: &'a str,
}

/// Removes `w.perm` from the one line of `conf` starting with `w.rule`.
/// Panics unless exactly one line matches and it holds the permission, so a
/// negative test can never silently test nothing.
pub fn remove_permission(conf: &str, w: Without<'_>) -> String {
    let hits: Vec<usize> = conf
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with(w.rule))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "{:?} must match exactly one rule line",
        w.rule
    );
    conf.lines()
        .enumerate()
        .map(|(i, l)| {
            if i != hits[0] {
                return l.to_string();
            }
            let words: Vec<&str> = l.split_whitespace().collect();
            assert!(words.contains(&w.perm), "{l:?} has no {}", w.perm);
            words
                .into_iter()
                .filter(|x| *x != w.perm)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// Assembles and compiles the boot policy (policy version 33, MLS, unknown
/// classes denied) into `dir/policy`, without the permissions in `without`.
pub fn build_policy(dir: &Path, without: &[Without<'_>]) -> PathBuf {
    tool("m4");
    let checkpolicy = tool("checkpolicy");
    let ws = workspace_root();
    let out = Command::new(ws.join("sepolicy/check/assemble.sh"))
        .arg("--te")
        .arg(ws.join("tests/qemu/selinux/harness.te"))
        .output()
        .expect("run assemble.sh");
    assert!(
        out.status.success(),
        "assemble.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut conf = String::from_utf8(out.stdout).expect("policy.conf is UTF-8");
    for &w in without {
        conf = remove_permission(&conf, w);
    }
    let conf_path = dir.join("policy.conf");
    std::fs::write(&conf_path, conf).expect("write policy.conf");
    let policy = dir.join("policy");
    let out = Command::new(checkpolicy)
        .args(["-M", "-U", "deny", "-c", "33", "-o"])
        .arg(&policy)
        .arg(&conf_path)
        .output()
        .expect("run checkpolicy");
    assert!(
        out.status.success(),
        "checkpolicy failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    policy
}

/// `tests/qemu/selinux/sehelper.c`, built static once per test process.
pub fn sehelper() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let ws = workspace_root();
        let dir = ws.join("target/qemu-selinux");
        std::fs::create_dir_all(&dir).expect("mkdir target/qemu-selinux");
        let bin = dir.join("sehelper");
        let out = Command::new(tool("gcc"))
            .args(["-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o"])
            .arg(&bin)
            .arg(ws.join("tests/qemu/selinux/sehelper.c"))
            .output()
            .expect("run gcc");
        assert!(
            out.status.success(),
            "building sehelper failed ({HINT}):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        bin
    })
    .clone()
}

/// Labels of the initramfs, applied by the harness once the policy is in:
/// every file the platform ships is a system file, the loader binaries carry
/// the labels AOSP gives them (the APEX one from our APEX file_contexts),
/// and the test's own entry points their test types.
fn file_labels(img: &Image) -> String {
    let ctx = |t: &str| format!("u:object_r:{t}:s0");
    let mut v = Vec::new();
    for top in [
        "bin", "sbin", "lib", "lib64", "usr", "etc", "system", "apex",
    ] {
        if img.path().join(top).is_dir() {
            v.push(format!("/{top}/** {}", ctx("system_file")));
        }
    }
    v.push(format!("/apex {}", ctx("apex_mnt_dir")));
    let apex_root = netbpfload::paths::NETBPFLOAD_PATH
        .strip_suffix("/bin/netbpfload")
        .expect("APEX binary path");
    let fc = std::fs::read_to_string(
        workspace_root().join("sepolicy/apex/com.android.tethering-file_contexts"),
    )
    .expect("read the APEX file_contexts");
    for l in fc.lines().map(str::trim) {
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = l.split_whitespace().collect();
        assert_eq!(f.len(), 2, "{l:?}");
        assert!(
            !f[0].contains(['(', '*', '?', '[', '\\']),
            "the harness applies literal paths only: {l:?}"
        );
        v.push(format!("{apex_root}{} {}", f[0], f[1]));
    }
    // AOSP's system file_contexts.
    v.push(format!(
        "{} {}",
        netbpfload::paths::PLATFORM_BPFLOADER_PATH,
        ctx("bpfloader_platform_exec")
    ));
    v.push(format!("/dev/kmsg {}", ctx("kmsg_device")));
    v.push(format!("/dev/null {}", ctx("null_device")));
    v.push(format!("/run/netbpfload/** {}", ctx("test_prop_dir")));
    v.push(format!("/sbin/harness/sh {}", ctx("harness_exec")));
    v.push(format!("/sbin/initsvc/sh {}", ctx("init_exec")));
    v.push(format!(
        "/sbin/probe-netstack {}",
        ctx("network_stack_probe_exec")
    ));
    v.push(format!(
        "/sbin/probe-untrusted {}",
        ctx("untrusted_probe_exec")
    ));
    v.join("\n") + "\n"
}

/// The standard image turned into the enforcing one: `/init`, the policy,
/// the labels, sehelper and its probe copies, and a real (not symlinked)
/// `/system/bin/bpfloader`, since it needs a label of its own.
pub fn image(without: &[Without<'_>]) -> Image {
    let img = Image::standard();
    let ws = workspace_root();
    let policy = build_policy(img.path(), without);
    img.copy(&policy, "etc/selinux/policy", 0o644);
    std::fs::remove_file(&policy).expect("rm staged policy");
    std::fs::remove_file(img.path().join("policy.conf")).expect("rm policy.conf");
    img.copy(&ws.join("tests/qemu/selinux/init.sh"), "init", 0o755);
    let helper = sehelper();
    img.copy(&helper, "sbin/sehelper", 0o755);
    img.copy(&helper, "sbin/probe-netstack", 0o755);
    img.copy(&helper, "sbin/probe-untrusted", 0o755);
    let busybox = img.path().join("bin/busybox");
    // Copies of busybox named `sh` (busybox picks the applet from argv[0]),
    // each labelled with the entry type of its domain.
    img.copy(&busybox, "sbin/harness/sh", 0o755);
    img.copy(&busybox, "sbin/initsvc/sh", 0o755);
    let platform = netbpfload::paths::PLATFORM_BPFLOADER_PATH;
    std::fs::remove_file(img.path().join(platform.trim_start_matches('/')))
        .expect("remove the bpfloader symlink");
    img.copy(&qemu::static_loader(), platform, 0o755);
    img.write(
        "etc/selinux/stage1_labels",
        b"/sbin/harness/sh u:object_r:harness_exec:s0\n",
        0o644,
    );
    img.write(
        "etc/selinux/file_labels",
        file_labels(&img).as_bytes(),
        0o644,
    );
    img.write(
        "etc/qemu-test/probe-pins",
        format!("{PROBE_PIN}\n").as_bytes(),
        0o644,
    );
    img
}

/// One `avc:` line of the kernel log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Avc {
    /// The whole line.
    pub line: String,
    /// `denied` or `granted`.
    pub verdict: String,
    /// The permissions in braces.
    pub perms: Vec<String>,
    /// `scontext=` type (e.g. `bpfloader`).
    pub source: String,
    /// `tcontext=` type.
    pub target: String,
    /// `tclass=`.
    pub class: String,
    /// `permissive=1`.
    pub permissive: bool,
}

/// Parses an `avc:  denied  { a b } for ... scontext=u:r:x:s0 ...` line.
pub fn parse_avc(line: &str) -> Option<Avc> {
    let rest = &line[line.find("avc:")? + 4..];
    let verdict = rest.split_whitespace().next()?.to_string();
    let open = rest.find('{')?;
    let close = rest.find('}')?;
    let perms = rest[open + 1..close]
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let field = |k: &str| {
        rest[close..]
            .split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .map(str::to_string)
    };
    let ty = |ctx: String| ctx.split(':').nth(2).unwrap_or("").to_string();
    Some(Avc {
        line: line.to_string(),
        verdict,
        perms,
        source: ty(field("scontext=")?),
        target: ty(field("tcontext=")?),
        class: field("tclass=")?,
        permissive: field("permissive=").as_deref() == Some("1"),
    })
}

/// One `OBJGET <context> <outcome> <path>` line of a probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjGet {
    /// The probe's context type.
    pub domain: String,
    /// `ok` or an errno name such as `EACCES`.
    pub outcome: String,
    /// The pin.
    pub path: String,
}

/// What an enforcing boot printed.
#[derive(Debug, Clone)]
pub struct SelinuxBoot {
    /// The dump `qemu.rs` parses (exit, pins, sysctls, property, loader log).
    pub boot: Boot,
    /// `SELINUX policy loaded` was printed.
    pub policy_loaded: bool,
    /// Context of the test driver (`CON` line).
    pub harness_context: String,
    /// Content of `/sys/fs/selinux/enforce` after switching.
    pub enforce: String,
    /// `security.selinux` of every path under `/sys/fs/bpf`.
    pub labels: BTreeMap<String, String>,
    /// Every AVC line of the kernel log.
    pub avcs: Vec<Avc>,
    /// The pin probes.
    pub objget: Vec<ObjGet>,
}

impl SelinuxBoot {
    /// Denials whose source is `domain`.
    pub fn denials_of(&self, domain: &str) -> Vec<&Avc> {
        self.avcs
            .iter()
            .filter(|a| a.verdict == "denied" && a.source == domain)
            .collect()
    }
}

/// Parses the lines `init.sh` adds to the standard dump.
pub fn parse_selinux_dump(boot: Boot) -> SelinuxBoot {
    let mut s = SelinuxBoot {
        policy_loaded: false,
        harness_context: String::new(),
        enforce: String::new(),
        labels: BTreeMap::new(),
        avcs: Vec::new(),
        objget: Vec::new(),
        boot,
    };
    for line in s.boot.console.lines().map(str::trim_end) {
        if line == "SELINUX policy loaded" {
            s.policy_loaded = true;
        } else if let Some(rest) = line.strip_prefix("CON ") {
            s.harness_context = rest.to_string();
        } else if let Some(rest) = line.strip_prefix("ENFORCE ") {
            s.enforce = rest.trim().to_string();
        } else if let Some(rest) = line.strip_prefix("LABEL ") {
            if let Some((ctx, path)) = rest.split_once(' ') {
                s.labels.insert(path.to_string(), ctx.to_string());
            }
        } else if let Some(rest) = line.strip_prefix("OBJGET ") {
            let f: Vec<&str> = rest.splitn(3, ' ').collect();
            if let [ctx, outcome, path] = f[..] {
                s.objget.push(ObjGet {
                    domain: ctx.split(':').nth(2).unwrap_or("").to_string(),
                    outcome: outcome.to_string(),
                    path: path.to_string(),
                });
            }
        } else if let Some(rest) = line.strip_prefix("AVC ") {
            if let Some(a) = parse_avc(rest) {
                s.avcs.push(a);
            }
        }
    }
    s
}

/// Packs and boots an enforcing image.
pub fn boot(img: &Image) -> SelinuxBoot {
    let initrd = img.pack();
    let b = qemu::boot_with_cmdline(&initrd, "security=selinux");
    let _ = std::fs::remove_file(&initrd);
    parse_selinux_dump(b)
}

/// `genfscon bpf` lines of the stand-in AOSP policy: path → type.
pub fn bpf_genfs() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(workspace_root().join("sepolicy/check/base/genfs_contexts"))
        .expect("read genfs_contexts");
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("genfscon bpf "))
        .map(|rest| {
            let f: Vec<&str> = rest.split_whitespace().collect();
            assert_eq!(f.len(), 2, "{rest:?}");
            let ty = f[1].split(':').nth(2).expect("type").to_string();
            (f[0].to_string(), ty)
        })
        .collect()
}

/// The genfscon type of `rel` (a path from the bpffs root, starting with
/// `/`): the longest matching path prefix, as the kernel does.
pub fn genfs_type(genfs: &[(String, String)], rel: &str) -> String {
    genfs
        .iter()
        .filter(|(p, _)| rel.starts_with(p.as_str()))
        .max_by_key(|(p, _)| p.len())
        .map(|(_, t)| t.clone())
        .unwrap_or_else(|| panic!("no genfscon entry covers {rel}"))
}

/// The SELinux type every pin of the default corpus layout must carry,
/// keyed by path relative to the bpffs root (`net_shared/map_x`), derived
/// from the objects themselves: the type of the map's or program's
/// `selinux_context` when it names one (the pin is created in that
/// directory and renamed, keeping its label), else that of the directory it
/// ends up in. The platform loader ignores `selinux_context`/`pin_subdir`,
/// and Android 15's mainline loader does not know the `loader` domain
/// (`fs_bpf_loader`, `loader/`): it ignores that `selinux_context`
/// (docs/android-release-rules.md §7). The images boot Android 15.
pub fn expected_pin_types() -> BTreeMap<String, String> {
    use netbpfload::paths;
    use netbpfload::spec::Domain;
    let genfs = bpf_genfs();
    let mut want: BTreeMap<String, String> = BTreeMap::new();
    let mut add = |rel: String, ctx: Domain, final_dir: &str| {
        let ty = if ctx == Domain::Unspecified {
            genfs_type(&genfs, &format!("/{final_dir}"))
        } else {
            ctx.selinux_context().to_string()
        };
        if let Some(old) = want.insert(rel.clone(), ty.clone()) {
            assert_eq!(old, ty, "{rel}: two objects expect different labels");
        }
    };
    for obj in bpf_progs::OBJECTS {
        let Some(location) = obj.location else {
            continue;
        };
        let spec = netbpfload::parse::parse_object(Path::new(obj.file_name), obj.bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", obj.file_name));
        let prefix = location.bpffs_prefix();
        let platform = matches!(location, bpf_progs::Location::Platform);
        for m in &spec.maps {
            let (sub, ctx) = if platform {
                (Domain::Unspecified, Domain::Unspecified)
            } else {
                (m.def.pin_subdir, v_known(m.def.selinux_context))
            };
            let dir = paths::pin_dir(sub, prefix);
            add(
                paths::map_pin_rel(dir, &spec.name, &m.name, m.def.shared),
                ctx,
                dir,
            );
        }
        for p in &spec.programs {
            let (sub, ctx) = if platform {
                (Domain::Unspecified, Domain::Unspecified)
            } else {
                (p.def.pin_subdir, v_known(p.def.selinux_context))
            };
            let dir = paths::pin_dir(sub, prefix);
            add(paths::prog_pin_rel(dir, &spec.name, &p.pin_name), ctx, dir);
        }
    }
    want
}

/// A `selinux_context` as Android 15's mainline loader sees it: `loader`
/// is not one of its domains.
fn v_known(ctx: netbpfload::spec::Domain) -> netbpfload::spec::Domain {
    match ctx {
        netbpfload::spec::Domain::Loader => netbpfload::spec::Domain::Unspecified,
        d => d,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avc_lines_parse() {
        let a = parse_avc(
            "[    4.52] audit: type=1400 audit(1.2:3): avc:  denied  { lock } for  pid=93 \
             comm=\"netbpfload\" path=\"/sys/fs/bpf/loader\" dev=\"bpf\" ino=12 \
             scontext=u:r:bpfloader:s0 tcontext=u:object_r:fs_bpf_loader:s0 tclass=dir \
             permissive=0",
        )
        .expect("parses");
        assert_eq!(a.verdict, "denied");
        assert_eq!(a.perms, ["lock"]);
        assert_eq!(
            (a.source.as_str(), a.target.as_str(), a.class.as_str()),
            ("bpfloader", "fs_bpf_loader", "dir")
        );
        assert!(!a.permissive);
        assert!(parse_avc("no audit here").is_none());
    }

    #[test]
    fn removing_a_permission_edits_exactly_one_rule() {
        let conf = "allow a b:file { create rename setattr };\nallow c d:file rename;\n";
        let w = Without {
            rule: "allow a b:file {",
            perm: "rename",
        };
        assert_eq!(
            remove_permission(conf, w),
            "allow a b:file { create setattr };\nallow c d:file rename;\n"
        );
    }

    #[test]
    #[should_panic(expected = "must match exactly one rule line")]
    fn removing_from_no_rule_panics() {
        remove_permission(
            "allow x y:dir search;\n",
            Without {
                rule: "allow a b:file {",
                perm: "rename",
            },
        );
    }

    #[test]
    fn genfs_lookup_takes_the_longest_prefix() {
        let g = bpf_genfs();
        assert_eq!(genfs_type(&g, "/"), "fs_bpf");
        assert_eq!(genfs_type(&g, "/prog_x"), "fs_bpf");
        assert_eq!(genfs_type(&g, "/net_private/map_x"), "fs_bpf_net_private");
        assert_eq!(genfs_type(&g, "/loader"), "fs_bpf_loader");
    }

    #[test]
    fn expected_labels_follow_selinux_context() {
        let want = expected_pin_types();
        // dscpPolicy.c: selinux_context loader, unknown to Android 15.
        assert_eq!(
            want["net_shared/map_dscpPolicy_socket_policy_cache_map"],
            "fs_bpf_net_shared"
        );
        // netd.c: selinux_context netd_readonly, pinned into netd_shared/.
        assert_eq!(
            want["netd_shared/map_netd_uid_owner_map"],
            "fs_bpf_netd_readonly"
        );
        assert_eq!(
            want["netd_readonly/map_netd_uid_permission_map"],
            "fs_bpf_netd_readonly"
        );
        assert_eq!(
            want["net_private/map_pktCount_packet_count_map"],
            "fs_bpf_net_private"
        );
        assert_eq!(want["map_schedTrace_cpu_pid_map"], "fs_bpf");
    }
}
