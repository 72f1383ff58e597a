//! QEMU boot tier under enforcing SELinux (`tests/src/selinux.rs`): Debian's
//! kernel with `security=selinux`, the policy a device would run for the
//! loader (the stand-in AOSP base + `sepolicy/private/`) plus a test-only
//! module, and the real chain netbpfload -> bpfloader -> netbpfload done
//! started from an `init`-domain process through the bpfloader_exec
//! transition, as init starts the service.
//!
//! Run: `cargo test -p netbpfload-tests --test qemu_selinux -- --test-threads=1`
//! (root not needed; the QEMU tier's packages plus checkpolicy, m4, gcc and
//! libc6-dev, else the tests fail saying what is missing).
//!
//! These tests caught the engine of 2026-12, which `flock`ed a bpffs
//! directory around each temporary pin and unlinked the pins of a failed
//! object, both of which AOSP's policy forbids: every test but the
//! `prog_load` one failed on that flock of netd_shared/ (`avc: denied
//! { lock } ... tclass=dir`, or `{ read }` of the directory it opened to
//! lock). The engine now does neither (`loader/src/engine/pin.rs`).

use netbpfload_tests::selinux::{self, SelinuxBoot, Without, PROBE_PIN};

const BPF: &str = "/sys/fs/bpf";

fn avcs(b: &SelinuxBoot) -> String {
    b.avcs
        .iter()
        .map(|a| a.line.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn assert_enforcing(b: &SelinuxBoot) {
    assert!(
        b.policy_loaded,
        "the policy did not load; console:\n{}",
        b.boot.console
    );
    assert_eq!(b.harness_context, "u:r:harness:s0", "test driver's domain");
    assert_eq!(b.enforce, "1", "not enforcing");
}

/// The acceptance of issue 13 for the QEMU tier: under enforcing SELinux the
/// chain completes, the loader (domain `bpfloader`) is denied nothing, every
/// pin and directory under /sys/fs/bpf carries the label AOSP's policy gives
/// its location and `selinux_context`, and an ordinary domain cannot open a
/// net_private pin that AOSP's network_stack can.
#[test]
fn enforcing_boot_runs_the_chain_with_no_denial_and_aosp_labels() {
    let b = selinux::boot(&selinux::image(&[]));
    assert_enforcing(&b);

    let loader = b.denials_of("bpfloader");
    assert!(
        loader.is_empty(),
        "{} SELinux denials for the loader (AOSP's policy forbids what it asked for):\n{}",
        loader.len(),
        loader
            .iter()
            .map(|a| a.line.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(
        b.boot.exit,
        0,
        "chain exit status; log:\n{}",
        b.boot.log.join("\n")
    );
    assert_eq!(b.boot.progs_loaded, "1");
    assert!(b.boot.logged(&["netbpfload done: bpf.progs_loaded=1"]));

    // Labels: every entry of the bpffs was read back, and each is what the
    // policy's genfscon lines and the objects' selinux_context dictate.
    let genfs = selinux::bpf_genfs();
    let want = selinux::expected_pin_types();
    assert!(b.boot.pins.len() > 30, "pins: {:?}", b.boot.pins.keys());
    let mut checked = 0;
    for (path, pin) in &b.boot.pins {
        let ctx = b
            .labels
            .get(path)
            .unwrap_or_else(|| panic!("no security.selinux read back for {path}"));
        let rel = path.strip_prefix(BPF).expect("under the bpffs");
        let ty = if pin.kind == "directory" {
            selinux::genfs_type(&genfs, if rel.is_empty() { "/" } else { rel })
        } else {
            want.get(rel.trim_start_matches('/'))
                .unwrap_or_else(|| panic!("{path}: a pin no corpus object declares"))
                .clone()
        };
        assert_eq!(*ctx, format!("u:object_r:{ty}:s0"), "{path}");
        checked += 1;
    }
    assert_eq!(
        checked,
        b.labels.len(),
        "labels of paths `find` did not list"
    );
    // Pins whose label differs from their directory's: created in their
    // selinux_context's directory, then renamed (netd.c).
    assert_eq!(
        b.labels[&format!("{BPF}/netd_shared/map_netd_uid_owner_map")],
        "u:object_r:fs_bpf_netd_readonly:s0"
    );
    assert_eq!(
        b.labels[&format!("{BPF}/netd_shared/map_netd_configuration_map")],
        "u:object_r:fs_bpf_net_shared:s0"
    );
    // Android 15 does not know the loader domain: dscpPolicy.c's
    // selinux_context "fs_bpf_loader" is ignored, the pin keeps its
    // directory's label.
    assert_eq!(
        b.labels[&format!("{BPF}/net_shared/map_dscpPolicy_socket_policy_cache_map")],
        "u:object_r:fs_bpf_net_shared:s0"
    );

    // Pin access: network_stack may open the net_private map, an ordinary
    // domain is refused by SELinux alone (both run as root).
    let probe = |d: &str| {
        b.objget
            .iter()
            .find(|o| o.domain == d && o.path == PROBE_PIN)
            .unwrap_or_else(|| panic!("no {d} probe result; console:\n{}", b.boot.console))
    };
    assert_eq!(probe("network_stack").outcome, "ok");
    assert_eq!(probe("test_untrusted").outcome, "EACCES");
    let refused = b.denials_of("test_untrusted");
    assert!(
        refused.iter().any(|a| a.target == "fs_bpf_net_private"
            && a.class == "file"
            && a.perms.iter().any(|p| p == "read")
            && !a.permissive),
        "no denial of the net_private pin to test_untrusted:\n{}",
        avcs(&b)
    );
    // Nothing else in the boot was denied: the harness, init and the
    // probes run with exactly the grants they need.
    let others: Vec<_> = b
        .avcs
        .iter()
        .filter(|a| a.source != "test_untrusted")
        .collect();
    assert!(others.is_empty(), "unexpected AVC lines:\n{}", avcs(&b));
}

/// Without one permission the loader needs (`rename` of a pin: every new
/// pin is made under a temporary name and renamed into place once its
/// whole object has succeeded), the boot fails with status 2 on the first
/// critical object, offload@mainline.o of the tethering location; the
/// kernel logs the denial, and the loader's log names the operation and
/// the object.
#[test]
fn enforcing_boot_without_pin_rename_fails_naming_the_operation() {
    let img = selinux::image(&[Without {
        rule: "allow bpfloader bpffs_type:file {",
        perm: "rename",
    }]);
    img.extra_args(&["--critical-delay-secs=1"]);
    let b = selinux::boot(&img);
    assert_enforcing(&b);

    assert_eq!(b.boot.exit, 2, "log:\n{}", b.boot.log.join("\n"));
    assert_eq!(b.boot.progs_loaded, "unset");
    let denied = b.denials_of("bpfloader");
    assert!(
        denied
            .iter()
            .any(|a| a.perms == ["rename"] && a.class == "file" && !a.permissive),
        "no `rename` denial for the loader:\n{}",
        avcs(&b)
    );
    let line = b
        .boot
        .log
        .iter()
        .find(|l| l.contains("offload@mainline.o") && l.contains("CRITICAL FAILURE"))
        .unwrap_or_else(|| {
            panic!(
                "no critical failure of offload@mainline.o:\n{}",
                b.boot.log.join("\n")
            )
        });
    let named = b.boot.log.iter().any(|l| {
        l.contains("offload@mainline.o")
            && l.to_ascii_lowercase().contains("rename")
            && (l.contains("EACCES") || l.contains("Permission denied"))
    });
    assert!(
        named,
        "no log line names the refused rename ({line}):\n{}",
        b.boot.log.join("\n")
    );
}

/// Without `bpf prog_load`, every program is refused by SELinux: the
/// critical offload@mainline.o (the first location) fails the boot, the
/// kernel logs the denial and the loader's log names the operation.
#[test]
fn enforcing_boot_without_prog_load_fails_naming_the_operation() {
    let img = selinux::image(&[Without {
        rule: "allow bpfloader self:bpf {",
        perm: "prog_load",
    }]);
    img.extra_args(&["--critical-delay-secs=1"]);
    let b = selinux::boot(&img);
    assert_enforcing(&b);

    assert_eq!(b.boot.exit, 2, "log:\n{}", b.boot.log.join("\n"));
    assert_eq!(b.boot.progs_loaded, "unset");
    assert!(
        b.denials_of("bpfloader")
            .iter()
            .any(|a| a.perms == ["prog_load"] && a.class == "bpf" && !a.permissive),
        "no `prog_load` denial for the loader:\n{}",
        avcs(&b)
    );
    assert!(
        b.boot.logged(&["CRITICAL FAILURE", "offload@mainline.o"]),
        "{}",
        b.boot.log.join("\n")
    );
    assert!(
        b.boot
            .logged(&["offload@mainline.o", "BPF_PROG_LOAD", "Permission denied"]),
        "no log line names the refused BPF_PROG_LOAD:\n{}",
        b.boot.log.join("\n")
    );
}

/// Portability guard: the loader never lists, opens or locks a bpffs
/// directory, so it also runs where the platform grants no directory `open`
/// or `read` on the bpf filesystem (some trees do not; the stand-in base,
/// like Android 15, grants both). Same chain, same assertions on the
/// loader, with those two permissions removed.
#[test]
fn enforcing_boot_needs_no_bpffs_directory_open_or_read() {
    const DIR: &str = "allow bpfloader bpffs_type:dir {";
    let b = selinux::boot(&selinux::image(&[
        Without {
            rule: DIR,
            perm: "open",
        },
        Without {
            rule: DIR,
            perm: "read",
        },
    ]));
    assert_enforcing(&b);
    let loader = b.denials_of("bpfloader");
    assert!(
        loader.is_empty(),
        "the loader opened a bpffs directory:\n{}",
        avcs(&b)
    );
    assert_eq!(b.boot.exit, 0, "log:\n{}", b.boot.log.join("\n"));
    assert_eq!(b.boot.progs_loaded, "1");
}
