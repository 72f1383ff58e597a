//! `netbpfload load`: load one location by hand (dev boards, tests).
//!
//! Loads every `*.o` of `--location` into `--bpffs` under `--prefix`, for the
//! running kernel (uname release and machine), and prints one summary per
//! object: loaded with its pins, skipped by which gate, or failed why (with
//! the verifier log). Exit status: 0 if every object loaded or was skipped,
//! 1 if any failed, 2 if an object carrying a `critical` section failed.

use netbpfload::engine::{self, LoadConfig, LocationReport, ObjectOutcome};
use netbpfload::gate::{Arch, BuildType, GateEnv};
use netbpfload::paths::{self, Location};
use netbpfload::spec::Kver;
use netbpfload::sys::linux::LinuxSys;
use netbpfload::sys::{Sys, BPF_FS_MAGIC};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Arguments of `netbpfload load`.
#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// Directory of `.o` files (non-recursive).
    #[arg(long, value_name = "DIR")]
    location: PathBuf,
    /// Pin prefix under the bpffs root, e.g. `tethering/`.
    #[arg(long, value_name = "P")]
    prefix: String,
    /// Root of the bpf filesystem.
    #[arg(long, value_name = "ROOT", default_value = paths::DEFAULT_BPFFS_ROOT)]
    bpffs: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Build type the `ignore_on_*` gates see.
    #[arg(long, value_name = "TYPE", default_value = "userdebug", value_parser = parse_build_type)]
    build_type: BuildType,
    /// Loader version the version gates see (45 = Android V).
    #[arg(long, value_name = "N", default_value_t = 45)]
    loader_ver: u32,
    /// Kernel log device for log lines.
    #[arg(long, value_name = "PATH", default_value = netbpfload::logging::KMSG_PATH)]
    kmsg: PathBuf,
    /// Log debug messages too.
    #[arg(long)]
    verbose: bool,
    /// Accept objects and directories not owned by root, writable by group
    /// or others, or reached through a symlinked directory (logged as
    /// warnings). For development only.
    #[arg(long)]
    insecure: bool,
    /// Load one object at a time instead of verifying independent objects'
    /// programs concurrently.
    #[arg(long)]
    sequential: bool,
    /// Ed25519 public key (32 raw bytes or 64 hex digits) that each
    /// location's `bpf.manifest` must be signed with; overrides the key
    /// compiled in with NETBPFLOAD_MANIFEST_PUBKEY.
    #[arg(long, value_name = "FILE")]
    manifest_key: Option<PathBuf>,
    /// Create maps with the objects' BTF, as Android's 2025 loader does on
    /// kernels >= 5.10 (an object with maps then needs a `.BTF` section).
    #[arg(long)]
    btf: bool,
}

fn parse_build_type(s: &str) -> Result<BuildType, String> {
    BuildType::parse(s).ok_or_else(|| format!("`{s}` is not one of eng, user, userdebug"))
}

/// Exit status for a report: 0 all loaded/skipped, 1 a failure, 2 a critical failure.
pub fn exit_code(r: &LocationReport) -> i32 {
    if r.critical_failures().next().is_some() {
        2
    } else if r.error.is_some()
        || r.objects
            .iter()
            .any(|o| matches!(o.outcome, ObjectOutcome::Failed { .. }))
    {
        1
    } else {
        0
    }
}

/// Creates `<bpffs>/<prefix>` (mode 01777, like the boot flow) if missing,
/// but only inside a bpffs.
fn ensure_prefix_dir(sys: &dyn Sys, bpffs: &Path, prefix: &str) -> Result<(), String> {
    let t = sys.statfs_type(bpffs).map_err(|e| e.to_string())?;
    if t != BPF_FS_MAGIC {
        return Err(format!(
            "{} is not a bpf filesystem (statfs f_type {t:#x})",
            bpffs.display()
        ));
    }
    let p = prefix.trim_matches('/');
    if p.is_empty() {
        return Ok(());
    }
    match sys.mkdir(&bpffs.join(p), paths::PIN_DIR_MODE) {
        Err(e) if e.errno() != Some(libc::EEXIST) => Err(e.to_string()),
        _ => Ok(()),
    }
}

/// The human-readable summary. Written through one buffer: a location of
/// hundreds of pins would otherwise cost a `write(2)` per line.
fn write_human(out: &mut impl Write, r: &LocationReport, cfg: &LoadConfig) -> io::Result<()> {
    let g = &cfg.gate;
    writeln!(
        out,
        "location {} (prefix {:?}, bpffs {}, kernel {}, loader v{}, {}, {})",
        r.dir.display(),
        r.prefix,
        cfg.bpffs_root.display(),
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
            .map(|n| n.to_string_lossy().into_owned())
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
            } => {
                loaded += 1;
                writeln!(out, "  {name}{crit}: loaded")?;
                for (kind, p) in maps
                    .iter()
                    .map(|p| ("map ", p))
                    .chain(programs.iter().map(|p| ("prog", p)))
                {
                    let how = if p.reused { "reused" } else { "new" };
                    writeln!(out, "    {kind} {} (id {}, {how})", p.pin, p.id)?;
                }
                for s in skipped {
                    writeln!(out, "    skipped {}: {}", s.name, s.reason)?;
                }
            }
            ObjectOutcome::Skipped { reason } => {
                skipped += 1;
                writeln!(out, "  {name}{crit}: skipped: {reason}")?;
            }
            ObjectOutcome::Failed {
                error,
                verifier_log,
            } => {
                failed += 1;
                writeln!(out, "  {name}{crit}: FAILED: {error}")?;
                if let Some(l) = verifier_log {
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
        "{loaded} loaded, {skipped} skipped, {failed} failed ({} critical)",
        r.critical_failures().count()
    )?;
    Ok(())
}

/// Runs `netbpfload load`; returns the exit status.
pub fn run(a: LoadArgs) -> i32 {
    netbpfload::logging::init(&a.kmsg, a.verbose);
    let sys = LinuxSys::new();
    let (release, machine) = match sys.uname() {
        Ok(u) => u,
        Err(e) => {
            eprintln!("netbpfload load: {e}");
            return 1;
        }
    };
    let Some(kver) = Kver::parse_release(&release) else {
        eprintln!("netbpfload load: cannot parse kernel release {release:?}");
        return 1;
    };
    let cfg = LoadConfig {
        bpffs_root: a.bpffs.clone(),
        gate: GateEnv {
            loader_ver: a.loader_ver,
            kver,
            build_type: a.build_type,
            arch: Arch::from_uname_machine(&machine),
        },
        parallel: !a.sequential,
        insecure: a.insecure,
        manifest_key: netbpfload::manifest::resolve_key(&sys, a.manifest_key.as_deref()),
        btf: a.btf,
    };
    let location = Location::new(&a.location, &a.prefix);
    let report = match ensure_prefix_dir(&sys, &a.bpffs, &location.prefix) {
        Ok(()) => engine::load_location(&sys, &cfg, &location),
        Err(e) => LocationReport {
            dir: location.dir.clone(),
            prefix: location.prefix.clone(),
            objects: Vec::new(),
            error: Some(e),
        },
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    let written = if a.json {
        serde_json::to_writer_pretty(&mut out, &report)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        write_human(&mut out, &report, &cfg)
    };
    // The kernel state is what it is whether or not the summary could be
    // printed: report the write error, keep the load's exit status.
    if let Err(e) = written.and_then(|()| out.flush()) {
        eprintln!("netbpfload load: writing the summary: {e}");
    }
    exit_code(&report)
}
