//! Running the real `netbpfload` binary: building it, staging the corpus as
//! an Android-like tree, and the boot flow's staging root.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Builds the `netbpfload` binary (a dependency's binaries are not built for
/// this crate's tests) and returns its path.
pub fn netbpfload_bin() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "-p", "netbpfload", "--bin", "netbpfload"])
        .current_dir(workspace())
        .status()
        .expect("run cargo build");
    assert!(status.success(), "cargo build -p netbpfload failed");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"));
    let bin = target.join("debug").join("netbpfload");
    assert!(bin.exists(), "{} missing after cargo build", bin.display());
    bin
}

/// A staging root (mode 0755) with the corpus installed as Android 15 lays
/// it out.
pub fn stage() -> tempfile::TempDir {
    let s = tempfile::tempdir().expect("stage");
    std::fs::set_permissions(s.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    bpf_progs::install_tree(s.path()).expect("install corpus");
    s
}

/// Makes `root` a root the boot flow runs in (as scripts/demo.sh does): the
/// platform's init file, build.prop, the two links to `bin` the chain
/// executes, staged sysctl files under `proc-sys/` and an empty `kmsg` file.
pub fn make_bootable(root: &Path, bin: &Path) {
    for d in [
        "system/etc/init",
        "etc/netbpfload",
        "system/bin",
        "apex/com.android.tethering/bin",
        "proc-sys/kernel",
        "proc-sys/net/core",
    ] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    std::fs::copy(
        workspace().join("init/platform/V/netbpfload.rc"),
        root.join("system/etc/init/netbpfload.rc"),
    )
    .expect("copy rc");
    std::fs::write(
        root.join("etc/netbpfload/build.prop"),
        "ro.build.version.sdk=35\nro.build.version.codename=REL\nro.build.type=userdebug\n",
    )
    .expect("build.prop");
    for link in [
        "system/bin/bpfloader",
        "apex/com.android.tethering/bin/netbpfload",
    ] {
        let _ = std::fs::remove_file(root.join(link));
        std::os::unix::fs::symlink(bin, root.join(link)).expect("symlink");
    }
    for (f, v) in [
        ("kernel/unprivileged_bpf_disabled", "2\n"),
        ("net/core/bpf_jit_enable", "1\n"),
        ("net/core/bpf_jit_kallsyms", "1\n"),
    ] {
        std::fs::write(root.join("proc-sys").join(f), v).expect("sysctl file");
    }
    std::fs::write(root.join("kmsg"), "").expect("kmsg");
}

/// The boot flow (`netbpfload` with no command) on the staged `root`
/// ([`make_bootable`]) into `bpffs`, logging to `root/kmsg`, without the
/// run lock or the critical-failure wait.
pub fn boot_cmd(bin: &Path, root: &Path, bpffs: &Path) -> Command {
    let mut c = Command::new(bin);
    c.arg(format!("--root={}", root.display()))
        .arg(format!("--bpffs={}", bpffs.display()))
        .arg(format!("--proc-sys={}", root.join("proc-sys").display()))
        .arg(format!("--kmsg={}", root.join("kmsg").display()))
        .arg("--run-lock=none")
        .arg("--critical-delay-secs=0");
    c
}

/// Runs `cmd`, returning its output.
pub fn output(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("run {:?}: {e}", cmd.get_program()))
}

/// stdout and stderr of an output, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The records of a file standing in for `/dev/kmsg`: each starts with its
/// `<N>` priority at the start of a line; a record's other lines are the
/// rest of the message (the kernel keeps them in one record).
pub fn kmsg_records(text: &str) -> Vec<String> {
    let mut recs: Vec<String> = Vec::new();
    for line in text.lines() {
        let starts = line.starts_with('<')
            && line
                .get(1..)
                .and_then(|r| r.split_once('>'))
                .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        match recs.last_mut() {
            Some(r) if !starts => {
                r.push('\n');
                r.push_str(line);
            }
            _ => recs.push(line.to_string()),
        }
    }
    recs
}
