//! QEMU boot harness: builds an initramfs holding a static build of the
//! loader, the corpus laid out in Android's directories, the project's `.rc`
//! files and a property file, boots one of Debian's kernels on it under QEMU
//! (TCG, no KVM) and parses what `tests/qemu/init.sh` prints on the serial
//! console.
//!
//! The matrix is (guest architecture × Android LTS kernel branch):
//! [`GuestArch`] x86_64 / arm64 and [`Branch`] 5.10 / 6.1 / 6.12, Debian's
//! bullseye / bookworm / trixie kernels, fetched by `scripts/fetch-kernels.sh`
//! into `target/qemu-kernels/`. Reusable pieces: [`Image`] (the initramfs
//! builder, per architecture), [`Cell::kernel`] (kernel selection),
//! [`BootOptions`] (CPUs, memory, extra kernel arguments) and [`boot_with`]
//! with [`parse_dump`] (console parsing).
//!
//! Needs `qemu-system-x86_64` (qemu-system-x86) and `qemu-system-aarch64`
//! (qemu-system-arm), the kernels of `scripts/fetch-kernels.sh` (which also
//! fetches the arm64 guests' busybox and setpriv), the host's static busybox
//! (busybox-static), `cpio`, `gzip`, `setpriv` (util-linux), and the Rust
//! target `aarch64-unknown-linux-musl`. A missing tool is a test failure that
//! says what to install, never a silent skip.

use netbpfload::release::Release;
use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longest a boot may take before it counts as hung (TCG boots take 4–15 s;
/// the margin is for a loaded CI machine).
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(240);

/// Printed by `init.sh` after the dump, just before powering off.
pub const SENTINEL: &str = "INIT-DONE";

/// Console lines that mean the guest kernel broke.
pub const KERNEL_FAILURE_MARKERS: [&str; 4] = ["Kernel panic", "BUG:", "soft lockup", "Oops:"];

const INSTALL_HINT: &str = "install the QEMU tier's packages: \
     apt-get install --no-install-recommends qemu-system-x86 qemu-system-arm busybox-static \
     cpio gzip util-linux, and `rustup target add aarch64-unknown-linux-musl` \
     (scripts/install-deps.sh does all of this)";

const FETCH_HINT: &str = "run scripts/fetch-kernels.sh (scripts/test.sh does)";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Where `scripts/fetch-kernels.sh` caches kernels and the arm64 userland.
pub fn kernel_cache() -> PathBuf {
    std::env::var_os("QEMU_KERNEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/qemu-kernels"))
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

/// A guest architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GuestArch {
    /// x86_64 (`qemu-system-x86_64`, default PC machine).
    X86_64,
    /// arm64 (`qemu-system-aarch64 -M virt -cpu max,pauth-impdef=on`).
    Arm64,
}

impl GuestArch {
    /// Debian's architecture name.
    pub fn debian(self) -> &'static str {
        match self {
            GuestArch::X86_64 => "amd64",
            GuestArch::Arm64 => "arm64",
        }
    }

    /// `uname -m` in the guest.
    pub fn uname_machine(self) -> &'static str {
        match self {
            GuestArch::X86_64 => "x86_64",
            GuestArch::Arm64 => "aarch64",
        }
    }

    /// Rust target of the static guest binaries: glibc with `crt-static` on
    /// x86_64 (the host's own toolchain), musl linked by `rust-lld` on arm64
    /// (no cross C toolchain needed; see `.cargo/config.toml`).
    pub fn rust_target(self) -> &'static str {
        match self {
            GuestArch::X86_64 => "x86_64-unknown-linux-gnu",
            GuestArch::Arm64 => "aarch64-unknown-linux-musl",
        }
    }

    fn qemu(self) -> &'static str {
        match self {
            GuestArch::X86_64 => "qemu-system-x86_64",
            GuestArch::Arm64 => "qemu-system-aarch64",
        }
    }

    /// Machine and CPU. Plain `-cpu max` on arm64 emulates pointer
    /// authentication with QARMA, 2.5-4x slower under TCG than the
    /// implementation-defined algorithm.
    fn machine_args(self) -> &'static [&'static str] {
        match self {
            GuestArch::X86_64 => &[],
            GuestArch::Arm64 => &["-M", "virt", "-cpu", "max,pauth-impdef=on"],
        }
    }

    /// The harness's own kernel arguments: serial console, and on x86_64
    /// `no_timer_check`, without which a TCG guest on a busy host now and
    /// then panics in the IO-APIC timer check ("IO-APIC + timer doesn't
    /// work!") before `/init` starts.
    fn kernel_args(self) -> &'static str {
        match self {
            GuestArch::X86_64 => "console=ttyS0 no_timer_check",
            GuestArch::Arm64 => "console=ttyAMA0",
        }
    }

    /// The architecture the loader's `ignore_on_*` bits see in this guest.
    pub fn model_arch(self) -> crate::expected::Arch {
        match self {
            GuestArch::X86_64 => crate::expected::Arch::X86_64,
            GuestArch::Arm64 => crate::expected::Arch::Aarch64,
        }
    }
}

/// An Android LTS kernel branch, and the Debian suite whose kernel is on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Branch {
    /// 5.10 (Debian 11 bullseye).
    V5_10,
    /// 6.1 (Debian 12 bookworm).
    V6_1,
    /// 6.12 (Debian 13 trixie).
    V6_12,
}

impl Branch {
    /// Debian suite.
    pub fn suite(self) -> &'static str {
        match self {
            Branch::V5_10 => "bullseye",
            Branch::V6_1 => "bookworm",
            Branch::V6_12 => "trixie",
        }
    }

    /// `(major, minor)`.
    pub fn version(self) -> (u32, u32) {
        match self {
            Branch::V5_10 => (5, 10),
            Branch::V6_1 => (6, 1),
            Branch::V6_12 => (6, 12),
        }
    }
}

/// One cell of the boot matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cell {
    /// Guest architecture.
    pub arch: GuestArch,
    /// Kernel branch.
    pub branch: Branch,
}

impl Cell {
    /// The cell the single-cell tests use: x86_64, 6.1.
    pub const DEFAULT: Cell = Cell {
        arch: GuestArch::X86_64,
        branch: Branch::V6_1,
    };

    /// `x86_64-6.1`.
    pub fn name(self) -> String {
        let (a, b) = self.branch.version();
        format!("{}-{a}.{b}", self.arch.uname_machine())
    }

    /// `bookworm-amd64`: the cell's directory in [`kernel_cache`] and its
    /// argument to `scripts/fetch-kernels.sh`.
    pub fn fetch_name(self) -> String {
        format!("{}-{}", self.branch.suite(), self.arch.debian())
    }

    /// The cell's kernel, as `scripts/fetch-kernels.sh` left it.
    pub fn kernel(self) -> Kernel {
        let dir = kernel_cache().join(self.fetch_name());
        let read = |f: &str| {
            std::fs::read_to_string(dir.join(f))
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|e| {
                    panic!(
                        "{}: {e}: no {} kernel cached: {FETCH_HINT}",
                        dir.join(f).display(),
                        self.fetch_name()
                    )
                })
        };
        let release = read("release");
        let package = read("package");
        let image = dir.join("vmlinuz");
        assert!(image.is_file(), "{} missing: {FETCH_HINT}", image.display());
        Kernel {
            image,
            release,
            package,
        }
    }
}

/// A kernel image and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kernel {
    /// The file QEMU boots (`-kernel`).
    pub image: PathBuf,
    /// Its `uname -r`, e.g. `6.1.0-50-amd64`.
    pub release: String,
    /// The Debian package it came from, e.g.
    /// `linux-image-6.1.0-50-amd64-unsigned_6.1.176-1_amd64`.
    pub package: String,
}

impl Kernel {
    /// `(major, minor, patch)` of the release string, read the way the
    /// loader reads `uname().release` (Debian puts the ABI number, not the
    /// sublevel, after the minor: `6.1.0-50-amd64` is 6.1.0).
    pub fn uname_version(&self) -> (u32, u32, u32) {
        release_version(&self.release)
    }
}

/// Leading `a.b.c` numbers of a kernel release string (missing parts 0).
pub fn release_version(release: &str) -> (u32, u32, u32) {
    let mut v = [0u32; 3];
    let mut rest = release;
    for slot in &mut v {
        let n = rest.bytes().take_while(u8::is_ascii_digit).count();
        let Some(digits) = rest.get(..n).filter(|d| !d.is_empty()) else {
            break;
        };
        *slot = digits.parse().unwrap_or(0);
        rest = rest.get(n..).unwrap_or("");
        match rest.strip_prefix('.') {
            Some(r) => rest = r,
            None => break,
        }
    }
    (v[0], v[1], v[2])
}

/// The kernel image of [`Cell::DEFAULT`] (for callers of the
/// single-kernel harness).
pub fn kernel() -> PathBuf {
    Cell::DEFAULT.kernel().image
}

fn cargo_build(manifest: Option<&Path>, package: Option<&str>, arch: GuestArch) -> PathBuf {
    let root = workspace_root();
    let target_dir = root.join("target/qemu-static");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        // Same code as the shipped release build, without the slow
        // whole-program LTO: this build only feeds the boot test.
        .env("CARGO_PROFILE_RELEASE_LTO", "false")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16")
        .args(["build", "--release", "--locked"]);
    if let Some(m) = manifest {
        cmd.arg("--manifest-path").arg(m);
    }
    if let Some(p) = package {
        cmd.args(["-p", p]);
    }
    let status = cmd
        .args(["--target", arch.rust_target(), "--target-dir"])
        .arg(&target_dir)
        .status()
        .expect("run cargo");
    assert!(
        status.success(),
        "static {} build for {} failed: {INSTALL_HINT}",
        package.unwrap_or("helper"),
        arch.rust_target()
    );
    target_dir.join(arch.rust_target()).join("release")
}

/// Builds the loader statically for `arch` into its own target directory,
/// once per test process, and returns the binary.
pub fn static_loader_for(arch: GuestArch) -> PathBuf {
    static BINS: Mutex<BTreeMap<GuestArch, PathBuf>> = Mutex::new(BTreeMap::new());
    let mut bins = BINS.lock().unwrap_or_else(|e| e.into_inner());
    bins.entry(arch)
        .or_insert_with(|| cargo_build(None, Some("netbpfload"), arch).join("netbpfload"))
        .clone()
}

/// The x86_64 static loader (see [`static_loader_for`]).
pub fn static_loader() -> PathBuf {
    static_loader_for(GuestArch::X86_64)
}

/// Builds the guest helper `tests/qemu/pininfo` (prints the kernel's view of
/// every pin) statically for `arch`, once per test process.
pub fn static_pininfo(arch: GuestArch) -> PathBuf {
    static BINS: Mutex<BTreeMap<GuestArch, PathBuf>> = Mutex::new(BTreeMap::new());
    let mut bins = BINS.lock().unwrap_or_else(|e| e.into_inner());
    bins.entry(arch)
        .or_insert_with(|| {
            let manifest = workspace_root().join("tests/qemu/pininfo/Cargo.toml");
            cargo_build(Some(&manifest), None, arch).join("qemu-pininfo")
        })
        .clone()
}

/// The guest userland besides our binaries: busybox, setpriv and the
/// libraries setpriv links, as `(host file, guest path)`.
fn userland(arch: GuestArch) -> Vec<(PathBuf, String)> {
    match arch {
        GuestArch::X86_64 => {
            let setpriv = require("setpriv");
            let mut v = vec![
                (require("busybox"), "bin/busybox".to_string()),
                (setpriv.clone(), "sbin/setpriv".to_string()),
            ];
            for lib in shared_libs(&setpriv) {
                let guest = lib.to_string_lossy().into_owned();
                v.push((lib, guest));
            }
            v
        }
        GuestArch::Arm64 => {
            // bookworm's busybox-static, util-linux, libcap-ng0 and libc6
            // (:arm64), extracted by scripts/fetch-kernels.sh.
            let root = kernel_cache().join("userland-arm64/root");
            [
                ("bin/busybox", "bin/busybox"),
                ("usr/bin/setpriv", "sbin/setpriv"),
                ("lib/ld-linux-aarch64.so.1", "lib/ld-linux-aarch64.so.1"),
                (
                    "lib/aarch64-linux-gnu/libc.so.6",
                    "lib/aarch64-linux-gnu/libc.so.6",
                ),
                (
                    "lib/aarch64-linux-gnu/libcap-ng.so.0",
                    "lib/aarch64-linux-gnu/libcap-ng.so.0",
                ),
            ]
            .into_iter()
            .map(|(host, guest)| {
                let host = root.join(host);
                assert!(
                    host.exists(),
                    "{} missing (arm64 guest userland): {FETCH_HINT}",
                    host.display()
                );
                (host, guest.to_string())
            })
            .collect()
        }
    }
}

/// `(platform netbpfload.rc, build.prop)` of a device of `release`.
fn release_files(release: Release) -> (&'static str, &'static str) {
    match release {
        Release::V => ("init/platform/V/netbpfload.rc", "tests/qemu/build.prop"),
        Release::R25Q2 => (
            "init/platform/B/netbpfload.rc",
            "tests/qemu/build-25q2.prop",
        ),
    }
}

/// Where `release` keeps the tethering APEX's objects.
pub fn corpus_layout(release: Release) -> bpf_progs::Layout {
    match release {
        Release::V => bpf_progs::Layout::V,
        Release::R25Q2 => bpf_progs::Layout::Main2025,
    }
}

/// An initramfs being assembled in a staging directory, for one guest
/// architecture and one Android release.
#[derive(Debug)]
pub struct Image {
    dir: tempfile::TempDir,
    arch: GuestArch,
    release: Release,
}

impl Image {
    /// The standard image: x86_64, Android 15 (see [`Image::new`]).
    pub fn standard() -> Image {
        Image::new(GuestArch::X86_64, Release::V)
    }

    /// The Android 15 image for `arch`.
    pub fn for_arch(arch: GuestArch) -> Image {
        Image::new(arch, Release::V)
    }

    /// The x86_64 image of a device of `release`.
    pub fn for_release(release: Release) -> Image {
        Image::new(GuestArch::X86_64, release)
    }

    /// The image of a device of `release` for `arch`: busybox, `/init`, the
    /// loader at its APEX path with `/system/bin/bpfloader` linking to it,
    /// `init/netbpfload.35rc` in the APEX, the platform's `netbpfload.rc` of
    /// that release at `/system/etc/init/netbpfload.rc` (Android 16's with
    /// its release header for 2025 main), a user build's property file of
    /// its API level (35, or 36 for 2025 main), `setpriv` with its
    /// libraries, the pin dumper `/sbin/pininfo`, and the corpus laid out as
    /// the release keeps it (Android 15: the tethering objects in the
    /// APEX's `etc/bpf/` itself; 2025 main: every location a subdirectory).
    pub fn new(arch: GuestArch, release: Release) -> Image {
        let (platform_rc, build_prop) = release_files(release);
        let files = userland(arch);
        let loader = static_loader_for(arch);
        let pininfo = static_pininfo(arch);
        let dir = tempfile::Builder::new()
            .prefix("netbpfload-qemu-")
            .tempdir()
            .expect("tempdir");
        // The initramfs root must be 0755 (tempdir makes it 0700).
        set_mode(dir.path(), 0o755);
        let img = Image { dir, arch, release };
        let ws = workspace_root();
        for (host, guest) in &files {
            img.copy(host, guest, 0o755);
        }
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
        img.copy(&pininfo, "sbin/pininfo", 0o755);
        bpf_progs::install_tree_for(img.path(), corpus_layout(release)).expect("install corpus");
        img
    }

    /// The release the image's device runs.
    pub fn release(&self) -> Release {
        self.release
    }

    /// Directory (relative to the image root, no leading `/`) of the
    /// mainline location with bpffs `prefix` (e.g. `net_private/`) in this
    /// release's layout.
    pub fn mainline_dir(&self, prefix: &'static str) -> String {
        bpf_progs::Location::Mainline { prefix }.dir_in(corpus_layout(self.release))
    }

    /// The guest architecture the image's binaries are built for.
    pub fn arch(&self) -> GuestArch {
        self.arch
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

    /// Copies a host file (following symlinks) into the image at `guest`
    /// with `mode`.
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

    /// Packs and boots the image on [`Cell::DEFAULT`] with default options.
    pub fn boot(&self) -> Boot {
        self.boot_on(Cell::DEFAULT, &BootOptions::default())
    }

    /// Packs and boots the image on `cell` (whose architecture must be the
    /// image's); see [`boot_with`].
    pub fn boot_on(&self, cell: Cell, opts: &BootOptions) -> Boot {
        assert_eq!(
            cell.arch,
            self.arch,
            "an {:?} image cannot boot on {}",
            self.arch,
            cell.name()
        );
        let initrd = self.pack();
        let b = boot_with(&initrd, cell, opts);
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

/// How to boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootOptions {
    /// `-smp`: with 2 or more the loader verifies independent objects on
    /// several threads.
    pub smp: u32,
    /// `-m`, in MiB.
    pub memory_mib: u32,
    /// Kernel arguments after the harness's own (console, panic, printk).
    pub kernel_args: Vec<String>,
    /// Longest the boot may take.
    pub timeout: Duration,
}

impl Default for BootOptions {
    fn default() -> Self {
        BootOptions {
            smp: 1,
            memory_mib: 1024,
            kernel_args: Vec::new(),
            timeout: BOOT_TIMEOUT,
        }
    }
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
    /// `directory` or `regular file` / `regular empty file` (pins).
    pub kind: String,
}

/// One `INFO` line of `qemu-pininfo`: what the kernel says is pinned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinInfo {
    /// A map, from `/proc/self/fdinfo` and `BPF_OBJ_GET_INFO_BY_FD`.
    Map {
        /// `enum bpf_map_type`.
        map_type: u32,
        /// Key size.
        key_size: u32,
        /// Value size.
        value_size: u32,
        /// max_entries.
        max_entries: u32,
        /// map_flags.
        map_flags: u32,
        /// BTF object id (0 if the map was created without BTF).
        btf_id: u32,
    },
    /// A program of this `enum bpf_prog_type`.
    Prog(u32),
    /// The pin could not be opened or described.
    Error(String),
}

/// One `bpf(2)` event of the trace `init.sh` records (`sys_enter_bpf` /
/// `sys_exit_bpf` tracepoints).
#[derive(Debug, Clone, PartialEq)]
pub struct BpfCall {
    /// Thread name (`comm`).
    pub comm: String,
    /// Thread id.
    pub tid: u32,
    /// Process (thread group) id.
    pub tgid: u32,
    /// CPU the event was recorded on.
    pub cpu: u32,
    /// Timestamp in seconds.
    pub time: f64,
    /// `Some(cmd)` for an entry, `None` for an exit.
    pub cmd: Option<u32>,
}

/// What one boot printed.
#[derive(Debug, Clone)]
pub struct Boot {
    /// The whole serial console.
    pub console: String,
    /// The cell booted.
    pub cell: Option<Cell>,
    /// Host wall time from starting QEMU to its exit.
    pub elapsed: Duration,
    /// `uname -r` in the guest (`INIT kernel` line).
    pub release: String,
    /// `uname -m` in the guest.
    pub machine: String,
    /// CPUs online in the guest.
    pub cpus: u32,
    /// Exit status of the service command (the last process of the chain).
    pub exit: i32,
    /// Every path under `/sys/fs/bpf`.
    pub pins: BTreeMap<String, Pin>,
    /// What the kernel says of each pin (path → info).
    pub info: BTreeMap<String, PinInfo>,
    /// `kernel/unprivileged_bpf_disabled` etc. → value.
    pub sysctls: BTreeMap<String, String>,
    /// Content of the runtime `bpf.progs_loaded` file, or `unset`.
    pub progs_loaded: String,
    /// The loader's kernel-log lines (`netbpfload: ...`).
    pub log: Vec<String>,
    /// `bpf(2)` calls of the chain, in trace order.
    pub trace: Vec<BpfCall>,
    /// `ulimit -l` (KiB) the service was started with.
    pub memlock: String,
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

    /// Guest seconds from the mainline loader's first log line to `done`'s
    /// (the kernel-log timestamps): the whole boot chain.
    pub fn chain_seconds(&self) -> Option<f64> {
        let stamp = |l: &String| -> Option<f64> {
            let inner = l.strip_prefix('[')?.split_once(']')?.0;
            inner.trim().parse().ok()
        };
        let first = self.log.first().and_then(stamp)?;
        let done = self
            .log
            .iter()
            .rev()
            .find(|l| l.contains("netbpfload done"))
            .and_then(stamp)?;
        Some(done - first)
    }

    /// `[start, end]` of every `BPF_PROG_LOAD` (cmd 5), with the thread and
    /// process that made it. A thread's calls are sequential, so each entry
    /// pairs with the next exit of the same thread.
    pub fn prog_loads(&self) -> Vec<ProgLoad> {
        let mut open: BTreeMap<u32, &BpfCall> = BTreeMap::new();
        let mut out = Vec::new();
        for c in &self.trace {
            match c.cmd {
                Some(_) => {
                    open.insert(c.tid, c);
                }
                None => {
                    if let Some(start) = open.remove(&c.tid) {
                        if start.cmd == Some(BPF_PROG_LOAD) {
                            out.push(ProgLoad {
                                comm: start.comm.clone(),
                                tid: start.tid,
                                tgid: start.tgid,
                                cpu: start.cpu,
                                start: start.time,
                                end: c.time,
                            });
                        }
                    }
                }
            }
        }
        out
    }
}

/// `BPF_PROG_LOAD`.
pub const BPF_PROG_LOAD: u32 = 5;

/// One `BPF_PROG_LOAD` call seen in the trace.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgLoad {
    /// Thread name.
    pub comm: String,
    /// Thread id.
    pub tid: u32,
    /// Process id.
    pub tgid: u32,
    /// CPU of the entry event.
    pub cpu: u32,
    /// Entry time (s).
    pub start: f64,
    /// Exit time (s).
    pub end: f64,
}

/// Boots `initrd` on [`Cell::DEFAULT`] with default options.
pub fn boot(initrd: &Path) -> Boot {
    boot_with(initrd, Cell::DEFAULT, &BootOptions::default())
}

/// [`boot`] with extra kernel command-line words (e.g. `security=selinux`
/// for the enforcing boot of `selinux.rs`).
pub fn boot_with_cmdline(initrd: &Path, extra: &str) -> Boot {
    boot_with(
        initrd,
        Cell::DEFAULT,
        &BootOptions {
            kernel_args: extra.split_whitespace().map(str::to_string).collect(),
            ..BootOptions::default()
        },
    )
}

/// Printed by `init.sh` first: the guest kernel handed over to our `/init`.
/// Another `/init` (`Image::copy` over `init`) should print it too, so that
/// [`boot_with`] can tell a kernel crash before `/init` from a later one.
pub const INIT_STARTED: &str = "INIT kernel ";

/// One QEMU run: the console, how it ended and how long it took.
struct Run {
    console: String,
    /// `None` on timeout (QEMU killed).
    status: Option<std::process::ExitStatus>,
    stderr: String,
    elapsed: Duration,
}

fn run_qemu(initrd: &Path, cell: Cell, kernel: &Kernel, opts: &BootOptions) -> Run {
    let qemu = require(cell.arch.qemu());
    let mut append = format!(
        "{} panic=-1 quiet printk.devkmsg=on",
        cell.arch.kernel_args()
    );
    for a in &opts.kernel_args {
        append.push(' ');
        append.push_str(a);
    }
    let mut child = Command::new(&qemu)
        .args(cell.arch.machine_args())
        .args(["-nodefaults", "-no-user-config", "-display", "none"])
        .args(["-serial", "stdio", "-no-reboot"])
        .arg("-m")
        .arg(opts.memory_mib.to_string())
        .arg("-smp")
        .arg(opts.smp.to_string())
        .arg("-kernel")
        .arg(&kernel.image)
        .arg("-initrd")
        .arg(initrd)
        .arg("-append")
        .arg(&append)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}: {INSTALL_HINT}", qemu.display()));
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
    // A guest that has not started /init by half the timeout is hung in its
    // kernel (a normal boot gets there in seconds): stop waiting for it.
    let init_deadline = opts.timeout / 2;
    let init_started = || console.lock().map_or(true, |c| c.contains(INIT_STARTED));
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait qemu") {
            break Some(st);
        }
        let waited = start.elapsed();
        if waited > opts.timeout || (waited > init_deadline && !init_started()) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let elapsed = start.elapsed();
    let _ = reader.join();
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    let console = console.lock().map(|c| c.clone()).unwrap_or_default();
    Run {
        console: console.replace('\r', ""),
        status,
        stderr,
        elapsed,
    }
}

/// Whether a boot crashed or hung before our `/init` printed its first line
/// (so none of the code under test ran).
fn failed_before_init(r: &Run) -> bool {
    !r.console.contains(INIT_STARTED)
        && (r.status.is_none() || KERNEL_FAILURE_MARKERS.iter().any(|m| r.console.contains(m)))
}

/// Boots `initrd` on `cell` and parses the dump. Panics (with the console)
/// on a kernel failure marker, a timeout, or a missing sentinel: QEMU exits
/// 0 on `poweroff -f` whatever happened, so only the console tells.
///
/// One exception: a guest kernel that crashes or hangs before it starts our
/// `/init` (no [`INIT_STARTED`] line) ran none of the code under test, so
/// such a boot is retried once, with what it printed. Seen here, rarely,
/// under TCG on a busy host: Debian's 6.12 x86_64 kernel with a general
/// protection fault on the `iretq` of `text_poke_early` while
/// `security_init` patches static calls, and a 6.1 x86_64 guest that
/// printed nothing at all in 240 s (`quiet`: the first line is our
/// `/init`'s). A second failure fails the test.
pub fn boot_with(initrd: &Path, cell: Cell, opts: &BootOptions) -> Boot {
    let kernel = cell.kernel();
    let mut run = run_qemu(initrd, cell, &kernel, opts);
    if failed_before_init(&run) {
        eprintln!(
            "{}: the guest kernel {} before /init started (not our code); \
             booting once more. What the failed boot printed (stderr {:?}):\n{}",
            cell.name(),
            if run.status.is_none() {
                "hung"
            } else {
                "crashed"
            },
            run.stderr,
            run.console
        );
        run = run_qemu(initrd, cell, &kernel, opts);
    }
    let Run {
        console,
        status,
        stderr,
        elapsed,
    } = run;
    let Some(status) = status else {
        panic!(
            "{}: boot timed out after {} s (or /init not started after {} s); \
             stderr {stderr:?}; console:\n{console}",
            cell.name(),
            opts.timeout.as_secs(),
            (opts.timeout / 2).as_secs()
        );
    };
    for m in KERNEL_FAILURE_MARKERS {
        assert!(
            !console.contains(m),
            "{}: guest kernel failure ({m}); console:\n{console}",
            cell.name()
        );
    }
    assert!(
        console.lines().any(|l| l.trim() == SENTINEL),
        "{}: no {SENTINEL} sentinel (qemu {status}, stderr {stderr:?}); console:\n{console}",
        cell.name()
    );
    eprintln!(
        "{} ({}, -smp {}): boot took {:.1} s; console:\n{console}",
        cell.name(),
        kernel.package,
        opts.smp,
        elapsed.as_secs_f32()
    );
    let mut b = parse_dump(console);
    b.cell = Some(cell);
    b.elapsed = elapsed;
    b
}

fn parse_info(rest: &str) -> Option<(String, PinInfo)> {
    let (kind, rest) = rest.split_once(' ')?;
    if kind == "error" {
        let (path, what) = rest.split_once(' ')?;
        return Some((path.to_string(), PinInfo::Error(what.to_string())));
    }
    let mut words = rest.split(' ');
    let path = words.next()?.to_string();
    let fields: BTreeMap<&str, &str> = words.filter_map(|w| w.split_once('=')).collect();
    let num = |k: &str| -> Option<u32> {
        let v = fields.get(k)?;
        match v.strip_prefix("0x") {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => v.parse().ok(),
        }
    };
    let info = match kind {
        "map" => PinInfo::Map {
            map_type: num("type")?,
            key_size: num("key")?,
            value_size: num("value")?,
            max_entries: num("max")?,
            map_flags: num("flags")?,
            btf_id: num("btf")?,
        },
        "prog" => PinInfo::Prog(num("type")?),
        _ => return None,
    };
    Some((path, info))
}

/// A trace line: `<comm>-<tid> (<tgid>) [<cpu>] <flags> <time>: sys_bpf(cmd: N, …)`
/// or `… sys_bpf -> 0x…`.
fn parse_trace(line: &str) -> Option<BpfCall> {
    let open = line.find(" (")?;
    let head = line.get(..open)?.trim();
    let (comm, tid) = head.rsplit_once('-')?;
    let rest = line.get(open + 2..)?;
    let (tgid, rest) = rest.split_once(')')?;
    let rest = rest.trim_start().strip_prefix('[')?;
    let (cpu, rest) = rest.split_once(']')?;
    let (before, event) = rest.split_once(": ")?;
    let time = before.split_whitespace().last()?;
    let cmd = if let Some(args) = event.strip_prefix("sys_bpf(cmd: ") {
        Some(args.split(',').next()?.trim().parse().ok()?)
    } else if event.starts_with("sys_bpf -> ") {
        None
    } else {
        return None;
    };
    Some(BpfCall {
        comm: comm.to_string(),
        tid: tid.parse().ok()?,
        tgid: tgid.trim().parse().ok()?,
        cpu: cpu.trim().parse().ok()?,
        time: time.parse().ok()?,
        cmd,
    })
}

/// Parses the `KEY ...` lines `init.sh` prints.
pub fn parse_dump(console: String) -> Boot {
    let mut b = Boot {
        console: String::new(),
        cell: None,
        elapsed: Duration::ZERO,
        release: String::new(),
        machine: String::new(),
        cpus: 0,
        exit: -1,
        pins: BTreeMap::new(),
        info: BTreeMap::new(),
        sysctls: BTreeMap::new(),
        progs_loaded: String::new(),
        log: Vec::new(),
        trace: Vec::new(),
        memlock: String::new(),
    };
    for line in console.lines() {
        let line = line.trim_end();
        if let Some(rest) = line.strip_prefix("EXIT ") {
            b.exit = rest.trim().parse().unwrap_or(-1);
        } else if let Some(rest) = line.strip_prefix("INIT kernel ") {
            let mut w = rest.split_whitespace();
            b.release = w.next().unwrap_or("").to_string();
            b.machine = w.next().unwrap_or("").to_string();
            b.cpus = w.next().and_then(|c| c.parse().ok()).unwrap_or(0);
        } else if let Some(rest) = line.strip_prefix("INIT memlock ") {
            b.memlock = rest.trim().to_string();
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
        } else if let Some(rest) = line.strip_prefix("INFO ") {
            if let Some((path, info)) = parse_info(rest) {
                b.info.insert(path, info);
            }
        } else if let Some(rest) = line.strip_prefix("TRACE ") {
            if let Some(call) = parse_trace(rest) {
                b.trace.push(call);
            }
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
    fn only_a_boot_that_never_reached_init_is_retried() {
        use std::os::unix::process::ExitStatusExt;
        let run = |console: &str, status: Option<i32>| Run {
            console: console.to_string(),
            status: status.map(std::process::ExitStatus::from_raw),
            stderr: String::new(),
            elapsed: Duration::ZERO,
        };
        let panic = KERNEL_FAILURE_MARKERS[0];
        // Hung or crashed in the kernel, /init never started: retried.
        assert!(failed_before_init(&run("", None)));
        assert!(failed_before_init(&run(
            &format!("{panic} at boot"),
            Some(0)
        )));
        // Our /init ran: whatever happened next is the test's to judge.
        let init = format!("{INIT_STARTED}6.1.0\n");
        assert!(!failed_before_init(&run(&init, None)));
        assert!(!failed_before_init(&run(
            &format!("{init}{panic}"),
            Some(0)
        )));
        // A clean exit without /init is not retried either (the sentinel
        // check fails it).
        assert!(!failed_before_init(&run("", Some(0))));
    }

    #[test]
    fn dump_parsing() {
        let b = parse_dump(
            "noise\nINIT kernel 6.1.0-50-arm64 aarch64 2\nINIT memlock 1048576\nEXIT 2\n\
             PIN 1777 0 0 directory /sys/fs/bpf/tethering\n\
             PIN 440 0 1073 regular empty file /sys/fs/bpf/tethering/prog_x\n\
             INFO prog /sys/fs/bpf/tethering/prog_x type=3\n\
             INFO map /sys/fs/bpf/tethering/map_y type=25 key=4 value=4 max=64 flags=0x80 btf=0\n\
             INFO error /sys/fs/bpf/z BPF_OBJ_GET: errno 2\n\
             TRACE netbpfload-1-63 (   60) [001] ..... 2.718937: sys_bpf(cmd: 5, uattr: 7ffc, size: 144)\n\
             TRACE netbpfload-1-63 (   60) [001] ..... 2.720001: sys_bpf -> 0x7\n\
             SYSCTL net/core/bpf_jit_enable 1\nPROP bpf.progs_loaded 1\n\
             LOG [    1.2] netbpfload: loaded x\n\
             LOG [    1.5] netbpfload: netbpfload done: bpf.progs_loaded=1\nINIT-DONE\n"
                .to_string(),
        );
        assert_eq!(b.exit, 2);
        assert_eq!(
            (b.release.as_str(), b.machine.as_str(), b.cpus),
            ("6.1.0-50-arm64", "aarch64", 2)
        );
        assert_eq!(b.memlock, "1048576");
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
        assert_eq!(
            b.pins["/sys/fs/bpf/tethering/prog_x"].kind,
            "regular empty file"
        );
        assert_eq!(b.info["/sys/fs/bpf/tethering/prog_x"], PinInfo::Prog(3));
        assert_eq!(
            b.info["/sys/fs/bpf/tethering/map_y"],
            PinInfo::Map {
                map_type: 25,
                key_size: 4,
                value_size: 4,
                max_entries: 64,
                map_flags: 0x80,
                btf_id: 0
            }
        );
        assert_eq!(
            b.info["/sys/fs/bpf/z"],
            PinInfo::Error("BPF_OBJ_GET: errno 2".into())
        );
        assert_eq!(
            b.prog_loads(),
            vec![ProgLoad {
                comm: "netbpfload-1".into(),
                tid: 63,
                tgid: 60,
                cpu: 1,
                start: 2.718937,
                end: 2.720001
            }]
        );
        assert_eq!(b.sysctls["net/core/bpf_jit_enable"], "1");
        assert_eq!(b.progs_loaded, "1");
        assert!(b.logged(&["netbpfload:", "loaded x"]));
        assert!((b.chain_seconds().unwrap() - 0.3).abs() < 1e-9);
    }

    #[test]
    fn release_versions() {
        assert_eq!(release_version("6.1.0-50-amd64"), (6, 1, 0));
        assert_eq!(release_version("6.12.117+deb13-arm64"), (6, 12, 117));
        assert_eq!(release_version("5.10.0-32-amd64"), (5, 10, 0));
        assert_eq!(release_version("6.18"), (6, 18, 0));
        assert_eq!(release_version("x"), (0, 0, 0));
    }

    #[test]
    fn cells_name_their_kernels() {
        let c = Cell {
            arch: GuestArch::Arm64,
            branch: Branch::V6_12,
        };
        assert_eq!(c.name(), "aarch64-6.12");
        assert_eq!(c.fetch_name(), "trixie-arm64");
        assert_eq!(Cell::DEFAULT.fetch_name(), "bookworm-amd64");
    }
}
