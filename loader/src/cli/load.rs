//! `netbpfload load`: load one location by hand (dev boards, tests).
//!
//! Loads every `*.o` of `--location` into the bpffs under `--prefix`, for
//! the running kernel, under the rules of `--release` (default Android 15)
//! on a board (libbpf-style objects too, CO-RE against `--kernel-btf`),
//! and prints one summary per object: loaded with its pins, skipped by which
//! gate, or failed why (with the verifier log's tail). Pin directories the
//! objects need are created; nothing is created when the location or the
//! bpffs is unusable. Exit status: 0 if every object loaded or was skipped,
//! 1 if any failed, 2 if a boot-failing one failed or the location was
//! refused as a whole (untrusted directory, bad manifest), which fails the
//! boot too.

use super::args::GlobalArgs;
use super::output::OutputArgs;
use netbpfload::bpffs::Bpffs;
use netbpfload::engine::{self, LoadConfig, LocationReport, ObjectOutcome};
use netbpfload::gate::{Arch, BuildType, GateEnv};
use netbpfload::paths::{self, Location};
use netbpfload::plan::OnChange;
use netbpfload::release::{Host, Release, Role};
use netbpfload::report::LoadJson;
use netbpfload::spec::Kver;
use netbpfload::sys::linux::LinuxSys;
use netbpfload::sys::{Files, Process};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The global options `load` honours.
pub const HONOURED: &[&str] = &[
    "bpffs",
    "api_level",
    "build_type",
    "release",
    "kmsg",
    "verbose",
    "insecure",
    "sequential",
    "manifest_key",
    "manifest_min_version",
    "run_lock",
    "verify_budget_secs",
    "verify_total_secs",
    "map_memory_max_mib",
];

/// Arguments of `netbpfload load`.
#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// Directory of `.o` files (non-recursive).
    #[arg(long, value_name = "DIR")]
    location: PathBuf,
    /// Pin prefix under the bpffs root, e.g. `tethering/`.
    #[arg(long, value_name = "P")]
    prefix: String,
    /// Load with the rules of the mainline loader (netbpfload) or of the
    /// platform loader (bpfloader).
    #[arg(long, value_name = "ROLE", default_value = "mainline", value_parser = parse_role)]
    role: Role,
    /// Loader version the version gates see [default: the release's, e.g.
    /// 46 for Android 15 as root].
    #[arg(long, value_name = "N")]
    loader_ver: Option<u32>,
    /// The kernel's BTF, for CO-RE relocations of libbpf-style objects.
    #[arg(long, value_name = "FILE", default_value = netbpfload::libbpf::DEFAULT_KERNEL_BTF)]
    kernel_btf: PathBuf,
    /// Replace a pinned program that differs from the object's (another
    /// tag: the object was rebuilt) with the object's, atomically. Maps are
    /// kept, with their data; the boot flow never replaces.
    #[arg(long)]
    replace: bool,
    #[command(flatten)]
    out: OutputArgs,
}

/// Parses `--role`.
pub(super) fn parse_role(s: &str) -> Result<Role, String> {
    match s {
        "mainline" | "netbpfload" => Ok(Role::Mainline),
        "platform" | "bpfloader" => Ok(Role::Platform),
        _ => Err(format!("`{s}` is not one of mainline, platform")),
    }
}

/// Exit status for a report: 0 all loaded/skipped, 1 a failure, 2 one
/// that would fail the boot (a fatal object, or the location refused).
pub fn exit_code(r: &LocationReport) -> i32 {
    if r.fails_boot() {
        2
    } else if r.failures().next().is_some() {
        1
    } else {
        0
    }
}

/// The human-readable summary, written through one buffer.
fn write_human(out: &mut impl Write, r: &LocationReport, cfg: &LoadConfig) -> io::Result<()> {
    let g = &cfg.gate;
    writeln!(
        out,
        "location {} (prefix {:?}, bpffs {}, kernel {}, loader v{}, {}, {})",
        r.dir.display(),
        r.prefix,
        cfg.bpffs.root().display(),
        g.kver,
        g.loader_ver,
        g.build_type,
        g.arch
    )?;
    if let Some(e) = &r.error {
        writeln!(out, "  error: {e}")?;
    }
    let (mut loaded, mut skipped, mut failed) = (0, 0, 0);
    for o in &r.objects {
        let name = o
            .file
            .file_name()
            .map(|n| netbpfload::logging::shown(Path::new(n)))
            .unwrap_or_else(|| o.file.display().to_string());
        let crit = if o.critical.is_some() {
            " [critical]"
        } else {
            ""
        };
        match &o.outcome {
            ObjectOutcome::Loaded {
                maps,
                programs,
                skipped,
                warnings,
            } => {
                loaded += 1;
                writeln!(out, "  {name}{crit}: loaded")?;
                for (kind, p) in maps
                    .iter()
                    .map(|p| ("map ", p))
                    .chain(programs.iter().map(|p| ("prog", p)))
                {
                    let tag = p
                        .tag
                        .map(|t| format!(", tag {}", netbpfload::progtag::hex(&t)))
                        .unwrap_or_default();
                    let how = if p.replaced {
                        "REPLACED the changed program"
                    } else if p.changed {
                        "reused, CHANGED: not the object's program, kept (--replace replaces it)"
                    } else if p.reused {
                        "reused"
                    } else {
                        "new"
                    };
                    writeln!(out, "    {kind} {} (id {}{tag}, {how})", p.pin, p.id)?;
                }
                for s in skipped {
                    writeln!(out, "    skipped {}: {}", s.name, s.reason)?;
                    if let Some(l) = &s.verifier_log {
                        writeln!(out, "      verifier log:")?;
                        for line in l.lines() {
                            writeln!(out, "        {line}")?;
                        }
                    }
                }
                for w in warnings {
                    writeln!(out, "    warning: {w}")?;
                }
            }
            ObjectOutcome::Skipped { reason } => {
                skipped += 1;
                writeln!(out, "  {name}{crit}: skipped: {reason}")?;
            }
            ObjectOutcome::Failed { error } => {
                failed += 1;
                writeln!(out, "  {name}{crit}: FAILED: {error}")?;
                if let Some(l) = error.verifier_log() {
                    writeln!(out, "    verifier log:")?;
                    for line in l.lines() {
                        writeln!(out, "      {line}")?;
                    }
                }
            }
        }
    }
    writeln!(
        out,
        "{loaded} loaded, {skipped} skipped, {failed} failed ({} fatal)",
        r.fatal_failures().count()
    )?;
    Ok(())
}

fn fail(msg: impl std::fmt::Display) -> i32 {
    eprintln!("netbpfload load: {msg}");
    1
}

/// Runs `netbpfload load`; returns the exit status.
pub fn run(a: LoadArgs, g: &GlobalArgs) -> i32 {
    netbpfload::logging::init_stderr(g.kmsg.as_deref(), g.verbose);
    let sys = LinuxSys::new();
    let (release, machine) = match sys.uname() {
        Ok(u) => u,
        Err(e) => return fail(e),
    };
    let Some(kver) = Kver::parse_release(&release) else {
        return fail(format!("cannot parse kernel release {release:?}"));
    };
    let rel = g.release.unwrap_or(Release::V);
    let creds = match sys.credentials() {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let api = g.api_level.unwrap_or(match rel {
        Release::V => netbpfload::release::API_V,
        Release::R25Q2 => netbpfload::release::API_25Q2,
    });
    let gate = GateEnv {
        loader_ver: a
            .loader_ver
            .unwrap_or_else(|| rel.loader_version(api, creds.euid == 0)),
        kver,
        build_type: g.build_type.unwrap_or(BuildType::Userdebug),
        arch: Arch::from_uname_machine(&machine),
    };
    // Nothing is created before both the location and the bpffs are known
    // to be usable.
    match sys.lstat(&a.location) {
        Ok(st) if st.is_dir() => {}
        Ok(st) => {
            return fail(format!(
                "{}: a {}, not a directory",
                a.location.display(),
                st.kind_name()
            ))
        }
        Err(e) => return fail(e),
    }
    let bpffs_root = g
        .bpffs
        .clone()
        .unwrap_or_else(|| PathBuf::from(paths::DEFAULT_BPFFS_ROOT));
    let bpffs = match Bpffs::open(&sys, &bpffs_root) {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    let lock_path = match g.run_lock() {
        Some(p) => p,
        None => (!cfg!(target_os = "android"))
            .then(|| PathBuf::from(netbpfload::boot::DEFAULT_RUN_LOCK)),
    };
    let lock = match &lock_path {
        Some(p) => match netbpfload::boot::setup::take_run_lock(
            &sys,
            p,
            netbpfload::boot::DEFAULT_RUN_LOCK_TIMEOUT,
        ) {
            Ok(l) => l,
            Err(e) => return fail(e),
        },
        None => None,
    };
    if lock.is_some() {
        netbpfload::boot::setup::clean_stale_tmp_pins(&sys, &bpffs, creds.pid);
    }
    // `load` is the board's tool: the release's rules plus libbpf-style
    // objects (release.rs, `Host::Board`).
    let rules = rel.rules().role_on(a.role, Host::Board);
    let mut cfg = match LoadConfig::new(&sys, bpffs, rules, gate) {
        Ok(c) => c.sequential(g.sequential).insecure(g.insecure),
        Err(e) => return fail(e),
    };
    cfg.create_pin_dirs = true;
    cfg.kernel_btf = netbpfload::libbpf::KernelBtf::new(&a.kernel_btf);
    // The summary prints the verifier log; the log line must not repeat it.
    cfg.log_verifier = false;
    if a.replace {
        cfg.on_change = OnChange::Replace;
    }
    cfg.manifest_key = netbpfload::manifest::resolve_key(&sys, g.manifest_key.as_deref());
    cfg.manifest_min_version = netbpfload::manifest::min_version(g.manifest_min_version);
    if let Some(s) = g.verify_budget_secs {
        cfg.verify_budget = Duration::from_secs(s);
    }
    if let Some(s) = g.verify_total_secs {
        cfg.verify_total = Duration::from_secs(s);
    }
    // The machine's default is in `cfg` already.
    if let Some(max) = g.map_memory_max() {
        cfg.map_bytes.max = max;
    }
    sys.set_umask(0);
    let location = Location::new(&a.location, &a.prefix);
    let report = engine::load_location(&sys, &cfg, &location);
    let mut out = io::BufWriter::new(io::stdout().lock());
    let written = if a.out.is_json() {
        a.out
            .write_json(&mut out, &LoadJson::new(rel, a.role, &cfg, &report))
    } else {
        write_human(&mut out, &report, &cfg)
    };
    // The kernel state is what it is whether or not the summary could be
    // printed: report the write error, keep the load's exit status.
    let code = exit_code(&report);
    if let Err(e) = written.and_then(|()| out.flush()) {
        eprintln!("netbpfload load: writing the summary: {e}");
        // A caller reading the summary must not take silence for success.
        return code.max(1);
    }
    code
}
