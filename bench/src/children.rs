//! The hidden subcommands the benchmark re-executes itself with, one child
//! process per measurement so each gets its own peak RSS:
//!
//! * `nbl-load`: the netbpfload engine ([`netbpfload::engine::load_location`])
//!   over [`LinuxSys`] wrapped in [`TimingSys`], printing the in-`bpf()` time;
//! * `aya-load`: aya 0.14's `EbpfLoader` on the libbpf-flavour objects, maps
//!   pinned by name (created, or reused when the pin exists), every program
//!   loaded and pinned.
//!
//! Each prints one JSON line ([`ChildReport`]) on stdout.

use crate::timing::timing;
use netbpfload::bpffs::Bpffs;
use netbpfload::engine::{load_location, LoadConfig, ObjectOutcome};
use netbpfload::gate::{Arch, BuildType, GateEnv};
use netbpfload::paths::{created_subdirs, Location, PIN_DIR_MODE};
use netbpfload::release::{Release, Role};
use netbpfload::spec::Kver;
use netbpfload::sys::linux::LinuxSys;
use netbpfload::sys::{Files, Process};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

/// What a child reports back.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ChildReport {
    /// Objects loaded.
    pub loaded: u64,
    /// Objects that failed.
    pub failed: u64,
    /// Objects skipped by a gate.
    pub skipped: u64,
    /// Map pins created or reused.
    pub maps: u64,
    /// Program pins created or reused.
    pub progs: u64,
    /// Of those, pins reused rather than created.
    pub reused: u64,
    /// Time inside `bpf(2)`, if the child measured it.
    pub bpf_ns: Option<u64>,
    /// Time inside `BPF_PROG_LOAD`.
    pub prog_load_ns: Option<u64>,
    /// Time inside `BPF_MAP_CREATE`.
    pub map_create_ns: Option<u64>,
    /// Number of `bpf(2)` calls.
    pub bpf_calls: Option<u64>,
    /// Time inside `BPF_BTF_LOAD`.
    #[serde(default)]
    pub btf_load_ns: Option<u64>,
    /// Number of `BPF_BTF_LOAD` calls.
    #[serde(default)]
    pub btf_loads: Option<u64>,
    /// Time inside filesystem syscalls.
    pub fs_ns: Option<u64>,
    /// The first few errors, one line each.
    pub errors: Vec<String>,
}

/// Arguments of `nbl-load`.
#[derive(Debug, clap::Args)]
pub struct NblArgs {
    /// bpffs root.
    #[arg(long)]
    pub bpffs: PathBuf,
    /// `DIR:PREFIX`, repeatable, loaded in order.
    #[arg(long = "location", required = true)]
    pub locations: Vec<String>,
    /// Load independent objects concurrently.
    #[arg(long)]
    pub parallel: bool,
    /// Loader version the gates see.
    #[arg(long)]
    pub loader_ver: u32,
    /// Follow the 2025 release's rules, which type maps with the objects'
    /// BTF (kernel >= 5.10), instead of Android 15's.
    #[arg(long)]
    pub btf: bool,
}

/// Splits `DIR:PREFIX` at the last colon.
pub fn split_location(s: &str) -> (PathBuf, String) {
    match s.rsplit_once(':') {
        Some((dir, prefix)) => (PathBuf::from(dir), prefix.to_string()),
        None => (PathBuf::from(s), String::new()),
    }
}

/// `nbl-load`: returns the exit code.
pub fn nbl_load(args: &NblArgs) -> i32 {
    let sys = timing(LinuxSys::new());
    let (release, machine) = match sys.uname() {
        Ok(u) => u,
        Err(e) => return fail(&format!("uname: {e}")),
    };
    let Some(kver) = Kver::parse_release(&release) else {
        return fail(&format!("cannot parse kernel release {release:?}"));
    };
    let gate = GateEnv {
        loader_ver: args.loader_ver,
        kver,
        build_type: BuildType::Userdebug,
        arch: Arch::from_uname_machine(&machine),
    };
    let bpffs = match Bpffs::open(&sys, &args.bpffs) {
        Ok(b) => b,
        Err(e) => return fail(&e.to_string()),
    };
    let release = if args.btf { Release::R25Q2 } else { Release::V };
    let rules = release.rules().role(Role::Mainline);
    let cfg = match LoadConfig::new(&sys, bpffs, rules, gate) {
        Ok(c) => c.sequential(!args.parallel),
        Err(e) => return fail(&e.to_string()),
    };
    // What the boot flow does before loading: the pin directories.
    let locations: Vec<Location> = args
        .locations
        .iter()
        .map(|l| {
            let (dir, prefix) = split_location(l);
            Location::new(dir, &prefix)
        })
        .collect();
    let mut dirs: Vec<String> = created_subdirs(release.rules())
        .iter()
        .map(|s| s.to_string())
        .collect();
    dirs.extend(
        locations
            .iter()
            .map(|l| l.prefix.trim_end_matches('/').to_string()),
    );
    for d in dirs.iter().filter(|d| !d.is_empty()) {
        if let Err(e) = sys.mkdir(&args.bpffs.join(d), PIN_DIR_MODE) {
            if e.errno() != Some(libc::EEXIST) {
                return fail(&format!("{e}"));
            }
        }
    }
    let mut rep = ChildReport::default();
    for loc in &locations {
        let report = load_location(&sys, &cfg, loc);
        if let Some(e) = report.error {
            rep.errors.push(format!("{}: {e}", loc.dir.display()));
        }
        for obj in report.objects {
            match obj.outcome {
                ObjectOutcome::Loaded { maps, programs, .. } => {
                    rep.loaded += 1;
                    rep.maps += maps.len() as u64;
                    rep.progs += programs.len() as u64;
                    rep.reused += maps.iter().chain(&programs).filter(|p| p.reused).count() as u64;
                }
                ObjectOutcome::Skipped { .. } => rep.skipped += 1,
                ObjectOutcome::Failed { error, .. } => {
                    rep.failed += 1;
                    if rep.errors.len() < 3 {
                        rep.errors.push(format!("{}: {error}", obj.file.display()));
                    }
                }
            }
        }
    }
    let t = &sys.hook;
    rep.bpf_ns = Some(t.bpf_ns.load(Ordering::Relaxed));
    rep.prog_load_ns = Some(t.prog_load_ns.load(Ordering::Relaxed));
    rep.map_create_ns = Some(t.map_create_ns.load(Ordering::Relaxed));
    rep.bpf_calls = Some(t.bpf_calls.load(Ordering::Relaxed));
    rep.btf_load_ns = Some(t.btf_load_ns.load(Ordering::Relaxed));
    rep.btf_loads = Some(t.btf_loads.load(Ordering::Relaxed));
    rep.fs_ns = Some(t.fs_ns.load(Ordering::Relaxed));
    emit(&rep)
}

/// Arguments of `aya-load`.
#[derive(Debug, clap::Args)]
pub struct AyaArgs {
    /// Pin root (pins go to `<pin-root>/<object>/{map,prog}/<name>`).
    #[arg(long)]
    pub pin_root: PathBuf,
    /// Directory of libbpf-flavour `.o` files.
    #[arg(long)]
    pub dir: PathBuf,
}

/// `aya-load`: returns the exit code.
pub fn aya_load(args: &AyaArgs) -> i32 {
    // Parsed once per process, as a loader of many objects would.
    let btf = aya::Btf::from_sys_fs().ok();
    let files = match object_files(&args.dir) {
        Ok(f) => f,
        Err(e) => return fail(&format!("{}: {e}", args.dir.display())),
    };
    let mut rep = ChildReport::default();
    for file in files {
        match aya_one(&file, &args.pin_root, btf.as_ref()) {
            Ok((maps, progs, reused)) => {
                rep.loaded += 1;
                rep.maps += maps;
                rep.progs += progs;
                rep.reused += reused;
            }
            Err(e) => {
                rep.failed += 1;
                if rep.errors.len() < 3 {
                    rep.errors.push(format!("{}: {e}", file.display()));
                }
            }
        }
    }
    emit(&rep)
}

fn aya_one(
    file: &Path,
    pin_root: &Path,
    btf: Option<&aya::Btf>,
) -> Result<(u64, u64, u64), String> {
    let bytes = std::fs::read(file).map_err(|e| e.to_string())?;
    let stem = file_stem(file);
    let map_dir = pin_root.join(&stem).join("map");
    let prog_dir = pin_root.join(&stem).join("prog");
    std::fs::create_dir_all(&map_dir).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&prog_dir).map_err(|e| e.to_string())?;
    // aya pins (or reuses) a map only when told its path by name.
    let names: Vec<String> = aya_obj::Object::parse(&bytes)
        .map_err(|e| e.to_string())?
        .maps
        .into_keys()
        .collect();
    let mut reused = 0;
    let mut loader = aya::EbpfLoader::new();
    loader.btf(btf);
    for n in &names {
        let pin = map_dir.join(n);
        if pin.exists() {
            reused += 1;
        }
        loader.map_pin_path(n.as_str(), pin);
    }
    let mut ebpf = loader.load(&bytes).map_err(|e| e.to_string())?;
    let mut progs = 0;
    for (name, prog) in ebpf.programs_mut() {
        match prog {
            aya::programs::Program::SocketFilter(p) => p.load(),
            aya::programs::Program::SchedClassifier(p) => p.load(),
            other => {
                return Err(format!(
                    "{name}: unexpected program type {:?}",
                    other.prog_type()
                ))
            }
        }
        .map_err(|e| format!("{name}: {e}"))?;
        let pin = prog_dir.join(name);
        // aya cannot reuse a pinned program: on a re-run it verifies it again
        // and leaves the existing pin in place.
        if pin.exists() {
            reused += 1;
        } else {
            prog.pin(&pin).map_err(|e| format!("{name}: pin: {e}"))?;
        }
        progs += 1;
    }
    Ok((names.len() as u64, progs, reused))
}

/// The `.o` files of `dir`, sorted by name.
pub fn object_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "o"))
        .collect();
    v.sort();
    Ok(v)
}

/// File name without the `.o`.
pub fn file_stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn emit(rep: &ChildReport) -> i32 {
    match serde_json::to_string(rep) {
        Ok(s) => {
            println!("{s}");
            i32::from(rep.failed > 0 || !rep.errors.is_empty())
        }
        Err(e) => fail(&e.to_string()),
    }
}

fn fail(msg: &str) -> i32 {
    eprintln!("bench child: {msg}");
    2
}
