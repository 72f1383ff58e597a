//! `netbpfload show [--prefix P] [-j|-p]`: every pin under the bpffs (or
//! under `P`) with what the kernel says it holds (type, id, name, sizes or
//! tag), its mode and owner, and which object of the configured locations
//! (the release's locations under `--root`) declares it, from their plans.
//! Changes nothing.

use super::args::GlobalArgs;
use super::output::OutputArgs;
use netbpfload::bpffs::Bpffs;
use netbpfload::gate::{Arch, BuildType, GateEnv};
use netbpfload::inventory::{self, Configured, Declared, Entry, ShowJson};
use netbpfload::paths::{self, Location};
use netbpfload::release::{Release, API_25Q2, API_V};
use netbpfload::spec::Kver;
use netbpfload::sys::linux::LinuxSys;
use netbpfload::sys::{Files, Process};
use netbpfload::trust;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The global options `show` honours.
pub const HONOURED: &[&str] = &[
    "root",
    "bpffs",
    "release",
    "api_level",
    "build_type",
    "insecure",
    "verbose",
];

/// Arguments of `show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Show only the pins under this directory of the bpffs (e.g.
    /// `tethering/`).
    #[arg(long, value_name = "P", default_value = "")]
    prefix: String,
    #[command(flatten)]
    out: OutputArgs,
}

/// What `show` and `unload` plan with: the release, the gates' view of this
/// machine, and the configured locations under `--root` with their rules.
pub(super) struct Setup {
    pub(super) sys: LinuxSys,
    pub(super) release: Release,
    pub(super) gate: GateEnv,
    pub(super) page_size: u32,
    pub(super) policy: trust::Policy,
    pub(super) bpffs: Bpffs,
    pub(super) configured: Vec<Configured<'static>>,
    pub(super) root: PathBuf,
}

impl Setup {
    pub(super) fn new(g: &GlobalArgs) -> Result<Setup, String> {
        let sys = LinuxSys::new();
        let (release, machine) = sys.uname().map_err(|e| e.to_string())?;
        let kver = Kver::parse_release(&release)
            .ok_or_else(|| format!("cannot parse kernel release {release:?}"))?;
        let rel = g.release.unwrap_or(Release::V);
        let creds = sys.credentials().map_err(|e| e.to_string())?;
        let api = g.api_level.unwrap_or(match rel {
            Release::V => API_V,
            Release::R25Q2 => API_25Q2,
        });
        let gate = GateEnv {
            loader_ver: rel.loader_version(api, creds.euid == 0),
            kver,
            build_type: g.build_type.unwrap_or(BuildType::Userdebug),
            arch: Arch::from_uname_machine(&machine),
        };
        let root = g.root.clone().unwrap_or_else(|| PathBuf::from("/"));
        let rules = rel.rules();
        let configured = [&rules.mainline, &rules.platform]
            .into_iter()
            .flat_map(|r| {
                paths::locations(&root, r)
                    .into_iter()
                    .map(move |location| Configured { location, rules: r })
            })
            .collect();
        let bpffs_root = g
            .bpffs
            .clone()
            .unwrap_or_else(|| PathBuf::from(paths::DEFAULT_BPFFS_ROOT));
        let bpffs = Bpffs::open(&sys, &bpffs_root).map_err(|e| e.to_string())?;
        Ok(Setup {
            page_size: sys.page_size().map_err(|e| e.to_string())?,
            sys,
            release: rel,
            gate,
            policy: trust::Policy::from_insecure(g.insecure),
            bpffs,
            configured,
            root,
        })
    }

    /// The pins the objects of `locations` declare.
    pub(super) fn declared(&self, locations: &[Configured<'_>]) -> Declared {
        inventory::declared(&self.sys, locations, self.gate, self.page_size, self.policy)
    }
}

fn declared_line(d: &inventory::Declaration) -> String {
    let what = match d.kind {
        netbpfload::sys::ObjKind::Map => "map",
        netbpfload::sys::ObjKind::Prog => "program",
    };
    format!("{}: {what} {}", netbpfload::report::path(&d.file), d.name)
}

fn write_human(
    out: &mut impl Write,
    s: &Setup,
    prefix: &str,
    entries: &[Entry],
    d: &Declared,
) -> io::Result<()> {
    writeln!(
        out,
        "bpffs {}{}: {} pins; declared by: the objects of the {} locations under {}",
        s.bpffs.root().display(),
        if prefix.is_empty() {
            String::new()
        } else {
            format!(", under {prefix}")
        },
        entries.len(),
        s.release.name(),
        s.root.display()
    )?;
    for e in entries {
        writeln!(
            out,
            "{}  {:04o} {}:{}",
            e.rel,
            e.stat.perm(),
            e.stat.uid,
            e.stat.gid
        )?;
        match &e.contents {
            netbpfload::engine::PinContents::Map(m) => writeln!(
                out,
                "    map {}: {}  name {}  key {}B  value {}B  max_entries {}  flags {:#x}",
                m.id,
                netbpfload::names::map_type(m.map_type)
                    .map_or_else(|| m.map_type.to_string(), str::to_string),
                m.name,
                m.key_size,
                m.value_size,
                m.max_entries,
                m.map_flags
            )?,
            netbpfload::engine::PinContents::Prog(p) => writeln!(
                out,
                "    prog {}: {}  name {}  tag {}",
                p.id,
                netbpfload::names::prog_type(p.prog_type)
                    .map_or_else(|| p.prog_type.to_string(), str::to_string),
                p.name,
                netbpfload::progtag::hex(&p.tag)
            )?,
            netbpfload::engine::PinContents::Other(why) => writeln!(out, "    {why}")?,
        }
        match d.pins.get(&e.rel) {
            Some(v) => {
                for decl in v {
                    writeln!(out, "    declared by {}", declared_line(decl))?;
                }
            }
            None => writeln!(out, "    declared by no object of the configured locations")?,
        }
    }
    for p in &d.problems {
        writeln!(out, "warning: pins unknown: {p}")?;
    }
    Ok(())
}

/// Runs `show`; returns the exit status.
pub fn run(a: ShowArgs, g: &GlobalArgs) -> i32 {
    netbpfload::logging::init_stderr(None, g.verbose);
    let s = match Setup::new(g) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("netbpfload show: {e}");
            return 1;
        }
    };
    let prefix = a.prefix.trim_matches('/').to_string();
    if !prefix.is_empty() {
        if let Err(e) = s.sys.lstat(&s.bpffs.path(&prefix)) {
            eprintln!("netbpfload show: {e}");
            return 1;
        }
    }
    let entries = inventory::walk(&s.sys, &s.bpffs, &prefix, inventory::MAX_DEPTH);
    let declared = s.declared(&s.configured);
    let mut out = io::BufWriter::new(io::stdout().lock());
    let written = if a.out.is_json() {
        a.out.write_json(
            &mut out,
            &ShowJson::new(&s.bpffs, &prefix, &entries, &declared),
        )
    } else {
        write_human(&mut out, &s, &prefix, &entries, &declared)
    };
    if let Err(e) = written.and_then(|()| out.flush()) {
        eprintln!("netbpfload show: writing output: {e}");
        return 1;
    }
    0
}

/// The configured locations with prefix `prefix` (normalised).
pub(super) fn by_prefix(s: &Setup, prefix: &str) -> Vec<Configured<'static>> {
    let want = paths::normalize_prefix(prefix);
    s.configured
        .iter()
        .filter(|c| c.location.prefix == want)
        .cloned()
        .collect()
}

/// A location given by hand, under the rules of `role`.
pub(super) fn explicit(
    s: &Setup,
    dir: &Path,
    prefix: &str,
    role: netbpfload::release::Role,
) -> Configured<'static> {
    Configured {
        location: Location::new(dir, prefix),
        rules: s.release.rules().role(role),
    }
}
