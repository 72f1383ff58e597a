//! QEMU boot harness: builds an initramfs holding a static build of the
//! loader, the corpus laid out in Android's directories, the project's `.rc`
//! files and a property file, boots Debian's kernel on it under QEMU (TCG,
//! no KVM) and parses what `tests/qemu/init.sh` prints on the serial console.
//!
//! Needs `qemu-system-x86_64` (qemu-system-x86), a `/boot/vmlinuz-*-amd64`
//! kernel (linux-image-amd64), a static busybox (busybox-static), `cpio`,
//! `gzip` and `setpriv` (util-linux). A missing tool is a test failure that
//! says what to install, never a silent skip.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Longest a boot may take before it counts as hung (TCG boots take ~5 s).
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(120);

/// Printed by `init.sh` after the dump, just before powering off.
pub const SENTINEL: &str = "INIT-DONE";

/// Console lines that mean the guest kernel broke.
pub const KERNEL_FAILURE_MARKERS: [&str; 4] = ["Kernel panic", "BUG:", "soft lockup", "Oops:"];

const INSTALL_HINT: &str = "install the QEMU tier's packages: \
     apt-get install qemu-system-x86 linux-image-amd64 busybox-static cpio gzip util-linux \
     (scripts/install-deps.sh does this)";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// `which`: the first executable `name` on `PATH`.
fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| {
            p.metadata()
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

fn require(name: &str) -> PathBuf {
    which(name).unwrap_or_else(|| panic!("`{name}` not found on PATH: {INSTALL_HINT}"))
}

/// The newest `/boot/vmlinuz-*-amd64`.
pub fn kernel() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/boot")
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("vmlinuz-") && n.ends_with("-amd64"))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
        .pop()
        .unwrap_or_else(|| panic!("no /boot/vmlinuz-*-amd64 kernel: {INSTALL_HINT}"))
}

/// Builds the loader statically (glibc, `crt-static`) into its own target
/// directory, once per test process, and returns the binary.
pub fn static_loader() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let root = workspace_root();
        let target_dir = root.join("target/qemu-static");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(&root)
            .env("RUSTFLAGS", "-C target-feature=+crt-static")
            // Same code as the shipped release build, without the slow
            // whole-program LTO: this build only feeds the boot test.
            .env("CARGO_PROFILE_RELEASE_LTO", "false")
            .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16")
            .args(["build", "--release", "-p", "netbpfload"])
            .args(["--target", "x86_64-unknown-linux-gnu", "--target-dir"])
            .arg(&target_dir)
            .status()
            .expect("run cargo");
        assert!(status.success(), "static build of netbpfload failed");
        target_dir.join("x86_64-unknown-linux-gnu/release/netbpfload")
    })
    .clone()
}

/// An initramfs being assembled in a staging directory.
#[derive(Debug)]
pub struct Image {
    dir: tempfile::TempDir,
}

impl Image {
    /// The standard image: busybox, `/init`, the loader at its APEX path
    /// with `/system/bin/bpfloader` linking to it, `init/netbpfload.35rc` in
    /// the APEX, the V platform stub at `/system/etc/init/netbpfload.rc`, the
    /// property file, `setpriv` with its libraries, and the corpus laid out
    /// by `bpf_progs::install_tree`.
    pub fn standard() -> Image {
        Image::for_release(netbpfload::release::Release::V)
    }

    /// The image of a device of `release`: Android 15 as [`Image::standard`];
    /// 2025 main with the Android 16 platform `netbpfload.rc` (its release
    /// header), API level 36 and every mainline location a subdirectory of
    /// the APEX's `etc/bpf/`.
    pub fn for_release(release: netbpfload::release::Release) -> Image {
        use netbpfload::release::Release;
        let (platform_rc, build_prop, layout) = match release {
            Release::V => (
                "init/platform/V/netbpfload.rc",
                "tests/qemu/build.prop",
                bpf_progs::Layout::V,
            ),
            Release::R25Q2 => (
                "init/platform/B/netbpfload.rc",
                "tests/qemu/build-25q2.prop",
                bpf_progs::Layout::Main2025,
            ),
        };
        let busybox = require("busybox");
        let setpriv = require("setpriv");
        let loader = static_loader();
        let dir = tempfile::Builder::new()
            .prefix("netbpfload-qemu-")
            .tempdir()
            .expect("tempdir");
        // The initramfs root must be 0755 (tempdir makes it 0700).
        set_mode(dir.path(), 0o755);
        let img = Image { dir };
        let ws = workspace_root();
        img.copy(&busybox, "bin/busybox", 0o755);
        img.copy(&ws.join("tests/qemu/init.sh"), "init", 0o755);
        img.copy(&loader, netbpfload::paths::NETBPFLOAD_PATH, 0o755);
        img.link(
            netbpfload::paths::NETBPFLOAD_PATH,
            netbpfload::paths::PLATFORM_BPFLOADER_PATH,
        );
        img.copy(
            &ws.join("init/netbpfload.35rc"),
            "apex/com.android.tethering/etc/init/netbpfload.35rc",
            0o644,
        );
        img.copy(
            &ws.join(platform_rc),
            netbpfload::paths::PLATFORM_NETBPFLOAD_RC,
            0o644,
        );
        img.copy(
            &ws.join(build_prop),
            netbpfload::paths::DEFAULT_PROPERTY_FILE,
            0o644,
        );
        img.copy(&setpriv, "sbin/setpriv", 0o755);
        for lib in shared_libs(&setpriv) {
            img.copy(&lib, &lib.to_string_lossy(), 0o755);
        }
        bpf_progs::install_tree_for(img.path(), layout).expect("install corpus");
        img
    }

    /// The staging directory (the guest's `/`).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn host_path(&self, guest: &str) -> PathBuf {
        let p = self.path().join(guest.trim_start_matches('/'));
        if let Some(parent) = p.parent() {
            mkdir_p(self.path(), parent);
        }
        p
    }

    /// Copies a host file into the image at `guest` with `mode`.
    pub fn copy(&self, host: &Path, guest: &str, mode: u32) {
        let dst = self.host_path(guest);
        std::fs::copy(host, &dst)
            .unwrap_or_else(|e| panic!("copy {} -> {}: {e}", host.display(), dst.display()));
        set_mode(&dst, mode);
    }

    /// Writes `bytes` into the image at `guest` with `mode`.
    pub fn write(&self, guest: &str, bytes: &[u8], mode: u32) {
        let dst = self.host_path(guest);
        std::fs::write(&dst, bytes).unwrap_or_else(|e| panic!("write {}: {e}", dst.display()));
        set_mode(&dst, mode);
    }

    /// Makes `guest` a symlink to `target` (an absolute guest path).
    pub fn link(&self, target: &str, guest: &str) {
        let dst = self.host_path(guest);
        symlink(target, &dst).unwrap_or_else(|e| panic!("symlink {}: {e}", dst.display()));
    }

    /// Extra arguments `init.sh` appends to the `.rc` service's command line.
    pub fn extra_args(&self, args: &[&str]) {
        self.write("etc/qemu-test/extra-args", args.join(" ").as_bytes(), 0o644);
    }

    /// Packs the image (`cpio -H newc`, every file owned by root, gzip).
    pub fn pack(&self) -> PathBuf {
        require("cpio");
        require("gzip");
        let out = self.path().with_extension("cpio.gz");
        let status = Command::new("sh")
            .arg("-c")
            .arg("find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -1 > \"$0\"")
            .arg(&out)
            .current_dir(self.path())
            .status()
            .expect("run cpio");
        assert!(status.success(), "packing the initramfs failed");
        out
    }

    /// Packs and boots the image; see [`boot`].
    pub fn boot(&self) -> Boot {
        let initrd = self.pack();
        let b = boot(&initrd);
        let _ = std::fs::remove_file(&initrd);
        b
    }
}

fn set_mode(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", p.display()));
}

/// Creates `dir` and its parents below `root`, each 0755.
fn mkdir_p(root: &Path, dir: &Path) {
    let rel = dir.strip_prefix(root).expect("inside the image");
    let mut cur = root.to_path_buf();
    for c in rel.components() {
        cur.push(c);
        if !cur.exists() {
            std::fs::create_dir(&cur).unwrap_or_else(|e| panic!("mkdir {}: {e}", cur.display()));
            set_mode(&cur, 0o755);
        }
    }
}

/// The shared libraries (and loader) `ldd` lists for `bin`.
fn shared_libs(bin: &Path) -> Vec<PathBuf> {
    let out = Command::new("ldd")
        .arg(bin)
        .output()
        .unwrap_or_else(|e| panic!("ldd {}: {e}", bin.display()));
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
        .map(PathBuf::from)
        .collect()
}

/// One `PIN <mode> <uid> <gid> <type> <path>` line of the dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// Permission bits (octal as printed by `stat -c %a`).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// `directory` or `regular file` (pins show as regular files).
    pub kind: String,
}

/// What one boot printed.
#[derive(Debug, Clone)]
pub struct Boot {
    /// The whole serial console.
    pub console: String,
    /// Exit status of the service command (the last process of the chain).
    pub exit: i32,
    /// Every path under `/sys/fs/bpf`.
    pub pins: BTreeMap<String, Pin>,
    /// `kernel/unprivileged_bpf_disabled` etc. → value.
    pub sysctls: BTreeMap<String, String>,
    /// Content of the runtime `bpf.progs_loaded` file, or `unset`.
    pub progs_loaded: String,
    /// The loader's kernel-log lines (`netbpfload: ...`).
    pub log: Vec<String>,
}

impl Boot {
    /// The pin at `path` (under `/sys/fs/bpf`), with a diagnostic on failure.
    pub fn pin(&self, path: &str) -> &Pin {
        self.pins.get(path).unwrap_or_else(|| {
            panic!(
                "{path} missing; pins:\n{}\nloader log:\n{}",
                self.pins.keys().cloned().collect::<Vec<_>>().join("\n"),
                self.log.join("\n")
            )
        })
    }

    /// Does some loader log line contain every one of `needles`?
    pub fn logged(&self, needles: &[&str]) -> bool {
        self.log
            .iter()
            .any(|l| needles.iter().all(|n| l.contains(n)))
    }
}

/// Boots `initrd` and parses the dump. Panics (with the console) on a
/// kernel failure marker, a timeout, or a missing sentinel.
pub fn boot(initrd: &Path) -> Boot {
    boot_with_cmdline(initrd, "")
}

/// [`boot`] with extra kernel command-line words (e.g. `security=selinux`
/// for the enforcing boot of `selinux.rs`).
pub fn boot_with_cmdline(initrd: &Path, extra: &str) -> Boot {
    let append = format!("console=ttyS0 panic=-1 quiet printk.devkmsg=on {extra}");
    let qemu = require("qemu-system-x86_64");
    let kernel = kernel();
    let mut child = Command::new(qemu)
        .args(["-nodefaults", "-no-user-config", "-display", "none"])
        .args(["-serial", "stdio", "-no-reboot", "-m", "512", "-smp", "1"])
        .arg("-kernel")
        .arg(&kernel)
        .arg("-initrd")
        .arg(initrd)
        .args(["-append", append.trim_end()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start qemu-system-x86_64");
    let console = Arc::new(Mutex::new(String::new()));
    let mut stdout = child.stdout.take().expect("piped stdout");
    let sink = Arc::clone(&console);
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            if let Ok(mut c) = sink.lock() {
                c.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
    });
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait qemu") {
            break Some(st);
        }
        if start.elapsed() > BOOT_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = reader.join();
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    let console = console.lock().map(|c| c.clone()).unwrap_or_default();
    let console = console.replace('\r', "");
    let Some(status) = status else {
        panic!(
            "boot timed out after {} s; console:\n{console}",
            BOOT_TIMEOUT.as_secs()
        );
    };
    for m in KERNEL_FAILURE_MARKERS {
        assert!(
            !console.contains(m),
            "guest kernel failure ({m}); console:\n{console}"
        );
    }
    assert!(
        console.lines().any(|l| l.trim() == SENTINEL),
        "no {SENTINEL} sentinel (qemu {status}, stderr {stderr:?}); console:\n{console}"
    );
    eprintln!(
        "boot took {:.1} s; console:\n{console}",
        start.elapsed().as_secs_f32()
    );
    parse_dump(console)
}

/// Parses the `KEY ...` lines `init.sh` prints.
pub fn parse_dump(console: String) -> Boot {
    let mut b = Boot {
        console: String::new(),
        exit: -1,
        pins: BTreeMap::new(),
        sysctls: BTreeMap::new(),
        progs_loaded: String::new(),
        log: Vec::new(),
    };
    for line in console.lines() {
        let line = line.trim_end();
        if let Some(rest) = line.strip_prefix("EXIT ") {
            b.exit = rest.trim().parse().unwrap_or(-1);
        } else if let Some(rest) = line.strip_prefix("PIN ") {
            // `<mode> <uid> <gid> <type, may contain a space> <path>`
            let mut f = rest.splitn(4, ' ');
            let (Some(mode), Some(uid), Some(gid), Some(tail)) =
                (f.next(), f.next(), f.next(), f.next())
            else {
                continue;
            };
            let Some(slash) = tail.find(" /") else {
                continue;
            };
            b.pins.insert(
                tail[slash + 1..].to_string(),
                Pin {
                    mode: u32::from_str_radix(mode, 8).unwrap_or(u32::MAX),
                    uid: uid.parse().unwrap_or(u32::MAX),
                    gid: gid.parse().unwrap_or(u32::MAX),
                    kind: tail[..slash].to_string(),
                },
            );
        } else if let Some(rest) = line.strip_prefix("SYSCTL ") {
            if let Some((k, v)) = rest.split_once(' ') {
                b.sysctls.insert(k.to_string(), v.trim().to_string());
            }
        } else if let Some(rest) = line.strip_prefix("PROP bpf.progs_loaded ") {
            b.progs_loaded = rest.trim().to_string();
        } else if let Some(rest) = line.strip_prefix("LOG ") {
            b.log.push(rest.to_string());
        }
    }
    b.console = console;
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_parsing() {
        let b = parse_dump(
            "noise\nEXIT 2\nPIN 1777 0 0 directory /sys/fs/bpf/tethering\n\
             PIN 440 0 1073 regular file /sys/fs/bpf/tethering/prog_x\n\
             SYSCTL net/core/bpf_jit_enable 1\nPROP bpf.progs_loaded 1\n\
             LOG [    1.2] netbpfload: loaded x\nINIT-DONE\n"
                .to_string(),
        );
        assert_eq!(b.exit, 2);
        assert_eq!(
            b.pins["/sys/fs/bpf/tethering"],
            Pin {
                mode: 0o1777,
                uid: 0,
                gid: 0,
                kind: "directory".into()
            }
        );
        assert_eq!(b.pins["/sys/fs/bpf/tethering/prog_x"].gid, 1073);
        assert_eq!(b.pins["/sys/fs/bpf/tethering/prog_x"].kind, "regular file");
        assert_eq!(b.sysctls["net/core/bpf_jit_enable"], "1");
        assert_eq!(b.progs_loaded, "1");
        assert!(b.logged(&["netbpfload:", "loaded x"]));
    }
}
