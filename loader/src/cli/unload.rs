//! `netbpfload unload --prefix P [--location DIR] [-j|-p]`: removes the pins
//! the objects of a location declare (their plans' final pin paths), and
//! nothing else: see [`netbpfload::inventory`]. Without `--location`, the
//! configured locations (the release's, under `--root`) with prefix `P` are
//! unloaded. Reports what was removed and what was left, and why.
//!
//! Exit status: 0 if every declared pin present was removed (or left
//! because another location's objects declare it too), 1 if one was
//! refused or could not be removed, or an object could not be planned.

use super::args::GlobalArgs;
use super::output::OutputArgs;
use super::show::{by_prefix, explicit, Setup};
use netbpfload::inventory::{self, UnloadJson, UnloadReport};
use netbpfload::release::Role;
use netbpfload::sys::Process;
use std::io::{self, Write};
use std::path::PathBuf;

/// The global options `unload` honours.
pub const HONOURED: &[&str] = &[
    "root",
    "bpffs",
    "release",
    "api_level",
    "build_type",
    "insecure",
    "verbose",
    "run_lock",
];

/// Arguments of `unload`.
#[derive(Debug, clap::Args)]
pub struct UnloadArgs {
    /// The location's pin prefix under the bpffs root (e.g. `tethering/`).
    #[arg(long, value_name = "P")]
    prefix: String,
    /// The location's directory of `.o` files [default: the configured
    /// locations with this prefix].
    #[arg(long, value_name = "DIR")]
    location: Option<PathBuf>,
    /// With --location: plan with the rules of the mainline or the platform
    /// loader.
    #[arg(long, value_name = "ROLE", default_value = "mainline", value_parser = super::load::parse_role, requires = "location")]
    role: Role,
    #[command(flatten)]
    out: OutputArgs,
}

fn write_human(out: &mut impl Write, r: &UnloadReport) -> io::Result<()> {
    for p in &r.removed {
        writeln!(out, "removed {}", p.pin)?;
    }
    for l in &r.left {
        writeln!(out, "left    {}: {}", l.pin, l.reason)?;
    }
    for p in &r.problems {
        writeln!(out, "warning: pins unknown (not removed): {p}")?;
    }
    writeln!(
        out,
        "{} removed, {} left (pin directories are kept)",
        r.removed.len(),
        r.left.len()
    )
}

fn fail(msg: impl std::fmt::Display) -> i32 {
    eprintln!("netbpfload unload: {msg}");
    1
}

/// Runs `unload`; returns the exit status.
pub fn run(a: UnloadArgs, g: &GlobalArgs) -> i32 {
    netbpfload::logging::init_stderr(None, g.verbose);
    let s = match Setup::new(g) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let targets = match &a.location {
        Some(dir) => vec![explicit(&s, dir, &a.prefix, a.role)],
        None => by_prefix(&s, &a.prefix),
    };
    if targets.is_empty() {
        let known: Vec<String> = s
            .configured
            .iter()
            .map(|c| format!("{:?}", c.location.prefix))
            .collect();
        return fail(format!(
            "no configured location has prefix {:?} (the {} locations under {}: {}); give --location",
            a.prefix,
            s.release.name(),
            g.root.as_deref().unwrap_or(std::path::Path::new("/")).display(),
            known.join(", ")
        ));
    }
    let is_target = |c: &inventory::Configured<'_>| {
        targets
            .iter()
            .any(|t| t.location.dir == c.location.dir && t.location.prefix == c.location.prefix)
    };
    let others: Vec<_> = s
        .configured
        .iter()
        .filter(|c| !is_target(c))
        .cloned()
        .collect();
    let lock_path = match g.run_lock() {
        Some(p) => p,
        None => (!cfg!(target_os = "android"))
            .then(|| PathBuf::from(netbpfload::boot::DEFAULT_RUN_LOCK)),
    };
    let _lock = match &lock_path {
        Some(p) => match netbpfload::boot::setup::take_run_lock(
            &s.sys,
            p,
            netbpfload::boot::DEFAULT_RUN_LOCK_TIMEOUT,
        ) {
            Ok(l) => l,
            Err(e) => return fail(e),
        },
        None => None,
    };
    let creds = match s.sys.credentials() {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let report = inventory::unload(
        &s.sys,
        &s.bpffs,
        &creds,
        &s.declared(&targets),
        &s.declared(&others),
    );
    let mut out = io::BufWriter::new(io::stdout().lock());
    let written = if a.out.is_json() {
        a.out
            .write_json(&mut out, &UnloadJson::new(&s.bpffs, &targets, &report))
    } else {
        write_human(&mut out, &report)
    };
    if let Err(e) = written.and_then(|()| out.flush()) {
        eprintln!("netbpfload unload: writing the report: {e}");
    }
    i32::from(report.incomplete())
}
