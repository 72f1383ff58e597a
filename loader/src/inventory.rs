//! What is pinned and whose it is: `netbpfload show` and `netbpfload unload`.
//!
//! "Whose" comes from the plans ([`crate::plan`]): the objects of the
//! configured locations are read, parsed and planned under the same rules
//! as a load, and every final pin path their plans name is *declared* by
//! that object. Nothing is guessed from pin names.
//!
//! `unload` removes exactly the declared pins of the chosen location(s)
//! that hold a pinned object of the declared kind (through
//! [`crate::engine::unpin`], whose checks are the loader's own: a symlink,
//! a directory, a file of another mount, a map where a program is declared
//! are left alone). A pin that an object of another configured location
//! also declares (a shared map, a `pin_subdir` two locations use) is left,
//! and so is everything else found in the directories it looked at, each
//! with the reason. Pin directories are kept. Unlinking is this command's
//! alone: the boot flow and `load` never unlink a pin.

use crate::bpffs::Bpffs;
use crate::engine::{self, PinContents, MAX_OBJECT_SIZE};
use crate::gate::GateEnv;
use crate::paths::{self, Location};
use crate::plan::{self, ObjectPlan, OnChange, PlanEnv};
use crate::release::RoleRules;
use crate::report::{self, TypeJson, SCHEMA_VERSION};
use crate::sys::{Credentials, ObjKind, Sys};
use crate::trust;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Deepest directory level `show` walks below its start (the loader's own
/// tree is two levels deep).
pub const MAX_DEPTH: usize = 8;

/// A location and the rules its objects are planned under.
#[derive(Debug, Clone)]
pub struct Configured<'a> {
    /// The location.
    pub location: Location,
    /// The rules of the role that loads it.
    pub rules: &'a RoleRules,
}

/// An object's declaration of a pin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Declaration {
    /// The location directory.
    #[serde(serialize_with = "ser_path")]
    pub location: PathBuf,
    /// The object file.
    #[serde(serialize_with = "ser_path")]
    pub file: PathBuf,
    /// The object name.
    pub object: String,
    /// The map name, or the program's section name.
    pub name: String,
    /// What is declared there.
    pub kind: ObjKind,
}

fn ser_path<S: serde::Serializer>(p: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&report::path(p))
}

/// Every pin the objects of some locations would create (final paths,
/// relative to the bpffs root), and what could not be planned.
#[derive(Debug, Default)]
pub struct Declared {
    /// Pin path → its declarations (several for a shared map).
    pub pins: BTreeMap<String, Vec<Declaration>>,
    /// Directories (relative to the bpffs root) the plans pin in.
    pub dirs: BTreeSet<String>,
    /// Objects or locations that could not be read, parsed or planned:
    /// their pins are unknown.
    pub problems: Vec<String>,
}

/// Reads, parses and plans every `*.o` of `locations` (trust rules as for a
/// load) and collects the pins their plans declare.
pub fn declared(
    sys: &dyn Sys,
    locations: &[Configured<'_>],
    gate: GateEnv,
    page_size: u32,
    policy: trust::Policy,
) -> Declared {
    let mut d = Declared::default();
    for c in locations {
        let loc = &c.location;
        // A location a load would refuse declares nothing (and an untrusted
        // directory must not decide what `unload` removes).
        match trust::check_location_dir(sys, &loc.dir, policy) {
            Ok(()) => {}
            Err(trust::TrustError::Io { source, .. }) if source.is(libc::ENOENT) => continue,
            Err(e) => {
                d.problems.push(format!("location refused: {e}"));
                continue;
            }
        }
        let names = match sys.read_dir(&loc.dir) {
            Ok(n) => n,
            Err(e) if e.is(libc::ENOENT) => continue,
            Err(e) => {
                d.problems.push(e.to_string());
                continue;
            }
        };
        let mut names: Vec<_> = names
            .into_iter()
            .filter(|n| n.as_bytes().ends_with(b".o"))
            .collect();
        names.sort();
        for name in names {
            let file = loc.dir.join(&name);
            let shown = crate::logging::shown(&file);
            let spec = match trust::read_trusted(sys, &loc.dir, &name, MAX_OBJECT_SIZE, policy)
                .map_err(|e| e.to_string())
                .and_then(|bytes| {
                    crate::parse::parse_object(&file, &bytes).map_err(|e| e.to_string())
                }) {
                Ok(s) => s,
                Err(e) => {
                    d.problems.push(format!("{shown}: {e}"));
                    continue;
                }
            };
            let env = PlanEnv {
                rules: c.rules,
                gate,
                location: loc,
                page_size,
                // What an object declares, whatever budget it was loaded
                // under.
                map_bytes: plan::MapBytes {
                    max: u64::MAX,
                    cpus: 1,
                },
                tmp_tag: "0",
                on_change: OnChange::Keep,
            };
            let load = match plan::plan_object(&spec, &env) {
                Ok(ObjectPlan::Load(l)) => l,
                Ok(ObjectPlan::Skip { .. }) => continue,
                Err(e) => {
                    d.problems.push(format!("{shown}: {e}"));
                    continue;
                }
            };
            let decl = |rel: &str, name: &str, kind| {
                (
                    rel.to_string(),
                    Declaration {
                        location: loc.dir.clone(),
                        file: file.clone(),
                        object: spec.name.clone(),
                        name: name.to_string(),
                        kind,
                    },
                )
            };
            let entries = load
                .map_loads()
                .map(|m| decl(&m.pin.rel, &m.name, ObjKind::Map))
                .chain(
                    load.prog_loads()
                        .map(|p| decl(&p.pin.rel, &p.section, ObjKind::Prog)),
                );
            for (rel, dcl) in entries {
                let v = d.pins.entry(rel).or_default();
                // `$variant` sections share a pin: one declaration per pin
                // and object is enough.
                if !v.iter().any(|x| x.file == dcl.file && x.kind == dcl.kind) {
                    v.push(dcl);
                }
            }
            d.dirs.extend(load.pin_dirs.iter().cloned());
        }
    }
    d
}

/// One entry of the pin tree.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Path relative to the bpffs root.
    pub rel: String,
    /// Its `lstat`.
    pub stat: crate::sys::FileStat,
    /// What the kernel says it holds.
    pub contents: PinContents,
}

/// Every pinned file under `start` (relative to the bpffs root, `""` for
/// the root), walking at most `max_depth` levels of subdirectories (at most
/// [`MAX_DEPTH`]) on the bpffs itself (a symlink or another mount is not
/// entered), sorted by path.
pub fn walk(sys: &dyn Sys, bpffs: &Bpffs, start: &str, max_depth: usize) -> Vec<Entry> {
    let max_depth = max_depth.min(MAX_DEPTH);
    let mut out = Vec::new();
    let mut dirs = vec![(start.trim_matches('/').to_string(), 0usize)];
    while let Some((dir, depth)) = dirs.pop() {
        let Ok(names) = sys.read_dir(&bpffs.path(&dir)) else {
            continue;
        };
        for n in names {
            let name = String::from_utf8_lossy(n.as_bytes()).into_owned();
            let rel = if dir.is_empty() {
                name
            } else {
                format!("{dir}/{name}")
            };
            let Ok(st) = sys.lstat(&bpffs.path(&rel)) else {
                continue;
            };
            if st.is_dir() {
                if st.dev == bpffs.dev() && depth < max_depth {
                    dirs.push((rel, depth + 1));
                }
                continue;
            }
            let contents = if st.is_file() {
                engine::examine_pin(sys, bpffs, &rel)
            } else {
                PinContents::Other(format!("a {}", st.kind_name()))
            };
            out.push(Entry {
                rel,
                stat: st,
                contents,
            });
        }
    }
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    out
}

/// A map as `show` reports it.
#[derive(Debug, Serialize)]
pub struct MapInfoJson {
    /// Kernel id.
    pub id: u32,
    /// Name given at creation.
    pub name: String,
    /// Type.
    #[serde(flatten)]
    pub map_type: TypeJson,
    /// Key size.
    pub key_size: u32,
    /// Value size.
    pub value_size: u32,
    /// Max entries.
    pub max_entries: u32,
    /// `map_flags`.
    pub flags: u32,
}

/// A program as `show` reports it.
#[derive(Debug, Serialize)]
pub struct ProgInfoJson {
    /// Kernel id.
    pub id: u32,
    /// Name given at load.
    pub name: String,
    /// Type.
    #[serde(flatten)]
    pub prog_type: TypeJson,
    /// Tag (16 hex digits, as bpftool shows it).
    pub tag: String,
}

/// One pin as `show` reports it.
#[derive(Debug, Serialize)]
pub struct PinJson<'a> {
    /// Path relative to the bpffs root.
    pub pin: &'a str,
    /// `map`, `prog` or `other`.
    pub kind: &'static str,
    /// Mode (octal).
    pub mode: String,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// The map, for a map pin.
    pub map: Option<MapInfoJson>,
    /// The program, for a program pin.
    pub prog: Option<ProgInfoJson>,
    /// For `other`: what it is, or why it could not be opened.
    pub error: Option<&'a str>,
    /// The objects of the configured locations whose plans name this pin
    /// (empty: none does).
    pub declared_by: &'a [Declaration],
}

impl<'a> PinJson<'a> {
    /// The view of `e`, declared by `declared_by`.
    pub fn new(e: &'a Entry, declared_by: &'a [Declaration]) -> Self {
        let (kind, map, prog, error) = match &e.contents {
            PinContents::Map(m) => (
                "map",
                Some(MapInfoJson {
                    id: m.id,
                    name: m.name.clone(),
                    map_type: TypeJson::map(m.map_type),
                    key_size: m.key_size,
                    value_size: m.value_size,
                    max_entries: m.max_entries,
                    flags: m.map_flags,
                }),
                None,
                None,
            ),
            PinContents::Prog(p) => (
                "prog",
                None,
                Some(ProgInfoJson {
                    id: p.id,
                    name: p.name.clone(),
                    prog_type: TypeJson::prog(p.prog_type),
                    tag: crate::progtag::hex(&p.tag),
                }),
                None,
            ),
            PinContents::Other(why) => ("other", None, None, Some(why.as_str())),
        };
        PinJson {
            pin: &e.rel,
            kind,
            mode: report::mode(e.stat.perm()),
            uid: e.stat.uid,
            gid: e.stat.gid,
            map,
            prog,
            error,
            declared_by,
        }
    }
}

/// `show --json`.
#[derive(Debug, Serialize)]
pub struct ShowJson<'a> {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `"show"`.
    pub command: &'static str,
    /// The bpffs root.
    pub bpffs: String,
    /// The part of the tree shown (`""`: all of it).
    pub prefix: &'a str,
    /// Every pin, sorted by path.
    pub pins: Vec<PinJson<'a>>,
    /// Objects whose pins are unknown (unreadable, unparsable, failing
    /// their plan).
    pub problems: &'a [String],
}

impl<'a> ShowJson<'a> {
    /// The document.
    pub fn new(bpffs: &Bpffs, prefix: &'a str, entries: &'a [Entry], d: &'a Declared) -> Self {
        ShowJson {
            schema_version: SCHEMA_VERSION,
            command: "show",
            bpffs: report::path(bpffs.root()),
            prefix,
            pins: entries
                .iter()
                .map(|e| PinJson::new(e, d.pins.get(&e.rel).map_or(&[], Vec::as_slice)))
                .collect(),
            problems: &d.problems,
        }
    }
}

/// A pin `unload` removed.
#[derive(Debug, Clone, Serialize)]
pub struct Removed {
    /// Path relative to the bpffs root.
    pub pin: String,
    /// What it held.
    pub kind: ObjKind,
    /// Who declared it.
    pub declared_by: Vec<Declaration>,
}

/// A pin `unload` left, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Left {
    /// Path relative to the bpffs root.
    pub pin: String,
    /// Why it is still there.
    pub reason: String,
}

/// What `unload` did.
#[derive(Debug, Default, Serialize)]
pub struct UnloadReport {
    /// Pins removed.
    pub removed: Vec<Removed>,
    /// Pins left in the directories looked at, with the reason.
    pub left: Vec<Left>,
    /// Objects whose pins are unknown (and so were not removed).
    pub problems: Vec<String>,
}

impl UnloadReport {
    /// Whether something could not be done (a declared pin was refused or
    /// could not be removed, an object could not be planned).
    pub fn incomplete(&self) -> bool {
        !self.problems.is_empty() || self.left.iter().any(|l| l.reason.starts_with("refused"))
    }
}

/// Removes the pins the objects of `targets` declare, leaving those that
/// objects of `others` also declare (see the module doc). `others` are the
/// other configured locations.
pub fn unload(
    sys: &dyn Sys,
    bpffs: &Bpffs,
    creds: &Credentials,
    targets: &Declared,
    others: &Declared,
) -> UnloadReport {
    let mut r = UnloadReport {
        problems: targets.problems.clone(),
        ..UnloadReport::default()
    };
    let mut handled = BTreeSet::new();
    for (rel, decls) in &targets.pins {
        handled.insert(rel.clone());
        if let Some(other) = others.pins.get(rel).and_then(|v| v.first()) {
            if sys.lstat(&bpffs.path(rel)).is_ok() {
                r.left.push(Left {
                    pin: rel.clone(),
                    reason: format!(
                        "also declared by {} ({}) of {}",
                        report::path(&other.file),
                        other.name,
                        report::path(&other.location)
                    ),
                });
            }
            continue;
        }
        let kind = decls.first().map_or(ObjKind::Map, |d| d.kind);
        match engine::unpin(sys, bpffs, creds, rel, kind) {
            Ok(true) => {
                log::debug!("removed {rel}");
                r.removed.push(Removed {
                    pin: rel.clone(),
                    kind,
                    declared_by: decls.clone(),
                });
            }
            Ok(false) => {}
            Err(e) => r.left.push(Left {
                pin: rel.clone(),
                reason: format!("refused: {e}"),
            }),
        }
    }
    // What else is in the directories the objects pin in.
    for dir in &targets.dirs {
        // Only this directory's own entries (its subdirectories are other
        // pin directories, looked at if some object pins there).
        for e in walk(sys, bpffs, dir, 0) {
            if handled.contains(&e.rel) {
                continue;
            }
            let name = e.rel.rsplit('/').next().unwrap_or(&e.rel);
            let reason = if name.starts_with(paths::TMP_PIN_PREFIX) {
                "a temporary pin of a loader run (removed by the next run holding the run lock)"
                    .to_string()
            } else if let Some(o) = others.pins.get(&e.rel).and_then(|v| v.first()) {
                format!(
                    "declared by {} of {}",
                    report::path(&o.file),
                    report::path(&o.location)
                )
            } else {
                "not declared by the objects of this location".to_string()
            };
            r.left.push(Left { pin: e.rel, reason });
        }
    }
    r.left.sort_by(|a, b| a.pin.cmp(&b.pin));
    r
}

/// `unload --json`.
#[derive(Debug, Serialize)]
pub struct UnloadJson<'a> {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `"unload"`.
    pub command: &'static str,
    /// The bpffs root.
    pub bpffs: String,
    /// The locations unloaded: `{dir, prefix}`.
    pub locations: Vec<LocationRef>,
    /// What was done.
    #[serde(flatten)]
    pub report: &'a UnloadReport,
}

/// A location by directory and prefix.
#[derive(Debug, Serialize)]
pub struct LocationRef {
    /// The directory.
    pub dir: String,
    /// The pin prefix.
    pub prefix: String,
}

impl<'a> UnloadJson<'a> {
    /// The document.
    pub fn new(bpffs: &Bpffs, locations: &[Configured<'_>], report: &'a UnloadReport) -> Self {
        UnloadJson {
            schema_version: SCHEMA_VERSION,
            command: "unload",
            bpffs: report::path(bpffs.root()),
            locations: locations
                .iter()
                .map(|c| LocationRef {
                    dir: report::path(&c.location.dir),
                    prefix: c.location.prefix.clone(),
                })
                .collect(),
            report,
        }
    }
}
