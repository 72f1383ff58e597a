//! Parallel verification: objects that cannot touch the same pin are loaded
//! on several threads at once.
//!
//! Program verification dominates load time and the kernel runs it in the
//! thread that calls `BPF_PROG_LOAD`, so loading independent objects from
//! several threads puts every core to work.
//!
//! Two objects depend on each other when some pin path of one, final or
//! temporary (`tmp_*` under a `selinux_context` directory), is also a pin
//! path of the other: a shared map (`map__<name>`), two files with the same
//! object name (`a@x.o` and `a@y.o`), or an accidental name collision. The
//! paths are taken over every map and program, gated or not, which can only
//! merge more objects than needed. Dependent objects form one group, and one
//! thread loads a group's objects in readdir order, exactly as the
//! sequential mode does: a later object reuses the map an earlier one
//! pinned, and a failed object's pins are rolled back before the next one
//! looks. Objects of different groups have no pin path in common, so however
//! their operations interleave the resulting pin tree is the one the
//! sequential mode builds.
//!
//! Reports come back in readdir order. Only the messages logged while an
//! object loads (warnings, rollbacks) may interleave between threads.

use super::{load_object, LoadConfig, ObjectOutcome};
use crate::paths;
use crate::spec::{Domain, ObjectSpec};
use crate::sys::Sys;
use std::cmp::Reverse;
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Every pin path, relative to the bpffs root, that loading `spec` under
/// `prefix` may create, reuse or remove (gates ignored).
fn pin_paths(prefix: &str, spec: &ObjectSpec) -> Vec<String> {
    let obj = spec.name.as_str();
    let mut v = Vec::new();
    for m in &spec.maps {
        let d = &m.def;
        v.push(paths::map_pin_rel(
            d.pin_subdir,
            prefix,
            obj,
            &m.name,
            d.shared,
        ));
        if d.selinux_context != Domain::Unspecified {
            v.push(paths::tmp_map_pin_rel(d.selinux_context, obj, &m.name));
        }
    }
    for p in &spec.programs {
        let d = &p.def;
        v.push(paths::prog_pin_rel(d.pin_subdir, prefix, obj, &p.pin_name));
        if d.selinux_context != Domain::Unspecified {
            v.push(paths::tmp_prog_pin_rel(d.selinux_context, obj, &p.pin_name));
        }
    }
    v
}

/// Union-find over object indices; the root of a set is its smallest index.
struct Sets {
    parent: Vec<usize>,
}

impl Sets {
    fn new(n: usize) -> Self {
        Sets {
            parent: (0..n).collect(),
        }
    }

    fn find(&mut self, mut i: usize) -> usize {
        while let Some(&p) = self.parent.get(i) {
            if p == i {
                break;
            }
            // Path halving: point i at its grandparent.
            let gp = self.parent.get(p).copied().unwrap_or(p);
            if let Some(slot) = self.parent.get_mut(i) {
                *slot = gp;
            }
            i = gp;
        }
        i
    }

    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        let (lo, hi) = (ra.min(rb), ra.max(rb));
        if let Some(slot) = self.parent.get_mut(hi) {
            *slot = lo;
        }
    }
}

/// Partitions objects (loaded under `prefix`) into groups that share no pin
/// path. Each group lists indices into `specs` in increasing (readdir)
/// order; groups are ordered by their first index.
pub(crate) fn groups(prefix: &str, specs: &[&ObjectSpec]) -> Vec<Vec<usize>> {
    let mut sets = Sets::new(specs.len());
    let mut owner: HashMap<String, usize> = HashMap::new();
    for (i, spec) in specs.iter().enumerate() {
        for path in pin_paths(prefix, spec) {
            match owner.get(&path) {
                Some(&first) => sets.union(first, i),
                None => {
                    owner.insert(path, i);
                }
            }
        }
    }
    let mut by_root: Vec<Vec<usize>> = vec![Vec::new(); specs.len()];
    for i in 0..specs.len() {
        let root = sets.find(i);
        if let Some(g) = by_root.get_mut(root) {
            g.push(i);
        }
    }
    by_root.retain(|g| !g.is_empty());
    by_root
}

/// Most objects read and parsed ahead of loading in parallel mode. A parsed
/// object holds its instructions (tens of KiB for a big one), so a location
/// is taken in batches of this many objects to keep memory flat however many
/// objects it holds; a batch leaves several groups per core to balance.
pub(crate) const BATCH: usize = 32;

/// An object read and parsed from a location (phase A), in readdir order.
#[derive(Debug)]
pub(crate) struct ReadObject {
    /// The `.o` file.
    pub(crate) file: PathBuf,
    /// Its parsed form, or why it could not be read or parsed.
    pub(crate) spec: Result<ObjectSpec, String>,
}

/// Threads to load on: one per core available to the process (std reads
/// the affinity mask and cgroup quota, so ask once per location).
pub(crate) fn worker_count() -> usize {
    std::thread::available_parallelism().map_or(1, NonZeroUsize::get)
}

/// Loads every parsed object of `objects` (pins under `prefix`), groups of
/// dependent objects on at most `max_threads` threads (the calling one
/// included), and returns one outcome per entry of `objects`, in the same
/// order. Entries that failed to read or parse get their error as a failed
/// outcome.
pub(crate) fn load_all(
    sys: &dyn Sys,
    cfg: &LoadConfig,
    prefix: &str,
    objects: &[ReadObject],
    max_threads: usize,
) -> Vec<ObjectOutcome> {
    // Indices into `objects` of the parsed ones, and their specs.
    let parsed: Vec<(usize, &Path, &ObjectSpec)> = objects
        .iter()
        .enumerate()
        .filter_map(|(i, o)| o.spec.as_ref().ok().map(|s| (i, o.file.as_path(), s)))
        .collect();
    let specs: Vec<&ObjectSpec> = parsed.iter().map(|&(_, _, s)| s).collect();
    let mut groups = groups(prefix, &specs);
    // Most programs first, so that a big group does not start last and
    // leave the other cores idle at the end (stable: ties keep readdir order).
    groups.sort_by_key(|g| {
        Reverse(
            g.iter()
                .filter_map(|&j| specs.get(j))
                .map(|s| s.programs.len())
                .sum::<usize>(),
        )
    });

    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        while let Some(group) = groups.get(next.fetch_add(1, Ordering::Relaxed)) {
            for &(i, file, spec) in group.iter().filter_map(|&j| parsed.get(j)) {
                done.push((i, load_object(sys, cfg, file, prefix, spec)));
            }
        }
        done
    };
    let threads = max_threads.min(groups.len()).max(1);
    let done: Vec<(usize, ObjectOutcome)> = std::thread::scope(|s| {
        // The calling thread is one of the workers; if the helpers cannot be
        // created, it simply does all the work itself.
        let helpers: Vec<_> = (1..threads)
            .filter_map(|n| {
                std::thread::Builder::new()
                    .name(format!("netbpfload-{n}"))
                    .spawn_scoped(s, work)
                    .inspect_err(|e| log::warn!("cannot start loader thread {n}: {e}"))
                    .ok()
            })
            .collect();
        let mut done = work();
        for h in helpers {
            match h.join() {
                Ok(d) => done.extend(d),
                // Same as in sequential mode: a panic is not swallowed.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        done
    });

    let mut outcomes: Vec<Option<ObjectOutcome>> = objects
        .iter()
        .map(|o| {
            o.spec.as_ref().err().map(|error| ObjectOutcome::Failed {
                error: error.clone(),
                verifier_log: None,
            })
        })
        .collect();
    for (i, outcome) in done {
        if let Some(slot) = outcomes.get_mut(i) {
            *slot = Some(outcome);
        }
    }
    outcomes
        .into_iter()
        .map(|o| {
            // Unreachable: the groups partition the parsed objects and every
            // group is taken by exactly one worker.
            o.unwrap_or_else(|| ObjectOutcome::Failed {
                error: "internal error: object was not scheduled".into(),
                verifier_log: None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    //! Expected groups follow from the reference pin naming (facts §3); the
    //! expected pins of the corpus objects from `bpf-progs/README.md`.

    use super::*;
    use crate::engine::{load_location, LocationReport, ObjectReport};
    use crate::gate::{Arch, BuildType, GateEnv};
    use crate::paths::Location;
    use crate::spec::{
        IgnoreOn, Kver, MapDef, MapSpec, ProgDef, ProgKind, ProgramSpec, DEFAULT_BPFLOADER_MAX_VER,
        DEFAULT_MAX_KVER,
    };
    use crate::sys::fake::{FakeSys, ObjKind};
    use crate::sys::{FileStat, MapCreateAttr, MapInfo, ProgInfo, ProgLoadAttr, SysResult};
    use std::os::fd::{BorrowedFd, OwnedFd};
    use std::sync::{Condvar, Mutex};
    use std::time::Duration;

    const ROOT: &str = "/sys/fs/bpf";
    const DIR: &str = "/etc/bpf";
    const ARRAY: u32 = 2;
    const HASH: u32 = 1;

    fn map(name: &str, shared: bool, ctx: Domain) -> MapSpec {
        MapSpec {
            name: name.into(),
            def: MapDef {
                map_type: ARRAY,
                key_size: 4,
                value_size: 4,
                max_entries: 1,
                map_flags: 0,
                zero: 0,
                gid: 0,
                mode: 0o600,
                bpfloader_min_ver: 0,
                bpfloader_max_ver: DEFAULT_BPFLOADER_MAX_VER,
                min_kver: Kver(0),
                max_kver: Kver(DEFAULT_MAX_KVER),
                selinux_context: ctx,
                pin_subdir: Domain::Unspecified,
                shared,
                ignore_on: IgnoreOn::default(),
                uid: 0,
            },
        }
    }

    fn prog(section: &str, ctx: Domain) -> ProgramSpec {
        ProgramSpec {
            section: section.into(),
            kind: ProgKind {
                prog_type: 1,
                expected_attach_type: 0,
            },
            kernel_name: paths::kernel_object_name(section),
            pin_name: paths::prog_pin_name(section),
            func_name: "f".into(),
            def: ProgDef {
                uid: 0,
                gid: 0,
                min_kver: Kver(0),
                max_kver: Kver(DEFAULT_MAX_KVER),
                optional: false,
                ignore_on: IgnoreOn::default(),
                bpfloader_min_ver: 0,
                bpfloader_max_ver: DEFAULT_BPFLOADER_MAX_VER,
                selinux_context: ctx,
                pin_subdir: Domain::Unspecified,
            },
            // r0 = 0; exit
            insns: vec![0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0],
            relocations: Vec::new(),
        }
    }

    fn spec(name: &str, maps: Vec<MapSpec>, programs: Vec<ProgramSpec>) -> ObjectSpec {
        ObjectSpec {
            name: name.into(),
            license: "Apache 2.0".into(),
            critical: None,
            bpfloader_min_ver: 0,
            bpfloader_max_ver: DEFAULT_BPFLOADER_MAX_VER,
            size_of_bpf_map_def: 120,
            size_of_bpf_prog_def: 92,
            maps,
            programs,
            warnings: Vec::new(),
            netbpfload_min_ver: None,
            bpfloader_min_required_ver: None,
            present: Default::default(),
        }
    }

    fn grouped(prefix: &str, specs: &[ObjectSpec]) -> Vec<Vec<usize>> {
        let refs: Vec<&ObjectSpec> = specs.iter().collect();
        groups(prefix, &refs)
    }

    const NONE: Domain = Domain::Unspecified;

    #[test]
    fn independent_objects_get_their_own_groups() {
        let specs = [
            spec(
                "a",
                vec![map("m", false, NONE)],
                vec![prog("skfilter/p", NONE)],
            ),
            spec(
                "b",
                vec![map("m", false, NONE)],
                vec![prog("skfilter/p", NONE)],
            ),
            spec("c", vec![], vec![]),
        ];
        assert_eq!(grouped("p/", &specs), vec![vec![0], vec![1], vec![2]]);
    }

    #[test]
    fn shared_map_puts_objects_in_one_group() {
        // `map__cfg` for both a and c; b only has private maps.
        let specs = [
            spec("a", vec![map("cfg", true, NONE)], vec![]),
            spec("b", vec![map("cfg", false, NONE)], vec![]),
            spec(
                "c",
                vec![map("x", false, NONE), map("cfg", true, NONE)],
                vec![],
            ),
            spec("d", vec![map("y", false, NONE)], vec![]),
        ];
        assert_eq!(grouped("p/", &specs), vec![vec![0, 2], vec![1], vec![3]]);
    }

    #[test]
    fn same_object_name_puts_files_in_one_group() {
        // `a@x.o` and `a@y.o` are both object `a`: same pin paths.
        let name = |f: &str| paths::object_name(Path::new(f));
        assert_eq!(name("a@x.o"), name("a@y.o"));
        let specs = [
            spec(&name("a@x.o"), vec![], vec![prog("skfilter/p$1", NONE)]),
            spec("b", vec![], vec![prog("skfilter/p", NONE)]),
            spec(&name("a@y.o"), vec![], vec![prog("skfilter/p$2", NONE)]),
        ];
        assert_eq!(grouped("p/", &specs), vec![vec![0, 2], vec![1]]);
    }

    #[test]
    fn colliding_pin_names_and_chains_merge() {
        // `map_a_b_c` is both a's map `b_c` and a_b's map `c`; a_b and x
        // share `map__s`, so all three end up together, in readdir order.
        let specs = [
            spec("x", vec![map("s", true, NONE)], vec![]),
            spec("a", vec![map("b_c", false, NONE)], vec![]),
            spec(
                "a_b",
                vec![map("c", false, NONE), map("s", true, NONE)],
                vec![],
            ),
            spec("y", vec![], vec![]),
        ];
        assert_eq!(grouped("p/", &specs), vec![vec![0, 1, 2], vec![3]]);
        // A map pin that is also a program pin of another object.
        let specs = [
            spec("o", vec![], vec![prog("skfilter/x", NONE)]),
            spec("o", vec![map("skfilter_x", false, NONE)], vec![]),
        ];
        // `prog_o_skfilter_x` vs `map_o_skfilter_x`: different names.
        assert_eq!(grouped("p/", &specs), vec![vec![0], vec![1]]);
    }

    #[test]
    fn selinux_temporary_pins_count() {
        // Different final directories (prefixes) but the same temporary pin
        // `loader/tmp_map_o_m` in the context's directory.
        let a = spec("o", vec![map("m", false, Domain::Loader)], vec![]);
        let mut b = a.clone();
        b.maps[0].def.pin_subdir = Domain::NetShared;
        assert_ne!(
            paths::map_pin_rel(a.maps[0].def.pin_subdir, "p/", "o", "m", false),
            paths::map_pin_rel(b.maps[0].def.pin_subdir, "p/", "o", "m", false)
        );
        assert_eq!(grouped("p/", &[a.clone(), b]), vec![vec![0, 1]]);
        // Same for programs: `netd_shared/tmp_prog_o_skfilter_p`.
        let c = spec("o", vec![], vec![prog("skfilter/p", Domain::NetdShared)]);
        let mut d = c.clone();
        d.programs[0].def.pin_subdir = Domain::Tethering;
        assert_eq!(grouped("p/", &[c, d]), vec![vec![0, 1]]);
        // Without a context there is no temporary pin: independent.
        let e = spec("o", vec![map("m", false, NONE)], vec![]);
        let mut f = e.clone();
        f.maps[0].def.pin_subdir = Domain::NetShared;
        assert_eq!(grouped("p/", &[e, f]), vec![vec![0], vec![1]]);
    }

    fn cfg(parallel: bool) -> LoadConfig {
        LoadConfig {
            bpffs_root: ROOT.into(),
            gate: GateEnv {
                loader_ver: 45,
                kver: Kver::new(6, 18, 0),
                build_type: BuildType::Userdebug,
                arch: Arch::X86_64,
            },
            parallel,
            insecure: false,
            manifest_key: crate::manifest::configured_key(),
        }
    }

    fn corpus(file: &str) -> &'static [u8] {
        bpf_progs::OBJECTS
            .iter()
            .find(|o| o.file_name == file)
            .map(|o| o.bytes)
            .unwrap_or_else(|| panic!("{file} not in the corpus"))
    }

    /// One location with corpus objects that share a map (clatd and
    /// dscpPolicy: `map__net_config_map`, pinned beforehand, so reused), a
    /// second file of object `clatd`, SELinux contexts (netd, dscpPolicy),
    /// an object failing at verification (verifierReject) and one failing on
    /// an incompatible existing pin (pktCount), and a zero-filled file.
    /// A fake bpffs at [`ROOT`] with every pin directory the loader creates.
    fn fake_bpffs() -> FakeSys {
        let f = FakeSys::new();
        f.mount_bpffs(ROOT);
        for d in paths::created_subdirs() {
            f.add_dir(format!("{ROOT}/{d}"));
        }
        f
    }

    fn corpus_location() -> FakeSys {
        let f = fake_bpffs();
        for (name, src) in [
            ("clatd.o", "clatd.o"),
            ("clatd@v2.o", "clatd.o"),
            ("dscpPolicy.o", "dscpPolicy.o"),
            ("netd.o", "netd.o"),
            ("offload@mainline.o", "offload@mainline.o"),
            ("pktCount.o", "pktCount.o"),
            ("verifierReject.o", "verifierReject.o"),
        ] {
            f.add_file(format!("{DIR}/{name}"), corpus(src));
        }
        f.add_file(format!("{DIR}/zero.o"), vec![0u8; 4096]);
        // README: net_config_map is ARRAY 4/4 x2, flags 0.
        let attr = |map_type, key_size, value_size, max_entries| MapCreateAttr {
            map_type,
            key_size,
            value_size,
            max_entries,
            map_flags: 0,
            name: String::new(),
        };
        f.pin_new_map(
            format!("{ROOT}/net_shared/map__net_config_map"),
            &attr(ARRAY, 4, 4, 2),
        )
        .expect("pre-pin shared map");
        // README: two_entry_map is ARRAY 4/4 x2; a HASH there is incompatible.
        f.pin_new_map(
            format!("{ROOT}/net_shared/map_pktCount_two_entry_map"),
            &attr(HASH, 4, 4, 2),
        )
        .expect("pre-pin incompatible map");
        f.fail_prog_load(
            "skfilter_reject",
            libc::EACCES,
            "R0 invalid mem access 'map_value_or_null'",
        );
        f
    }

    /// Everything observable of a pin tree except kernel ids: path, kind,
    /// mode, owner, and the map attributes or program type behind it.
    fn tree(f: &FakeSys) -> Vec<String> {
        f.pins()
            .into_iter()
            .map(|(path, kind, id, m)| {
                let what = match kind {
                    ObjKind::Map => format!("{:?}", f.map_by_id(id).map(|m| m.attr)),
                    ObjKind::Prog => format!("{:?}", f.prog_by_id(id).map(|p| p.prog_type)),
                };
                format!(
                    "{} {kind:?} {:o} {}:{} {what}",
                    path.display(),
                    m.mode,
                    m.uid,
                    m.gid
                )
            })
            .collect()
    }

    /// The report with every kernel id zeroed.
    fn without_ids(r: &LocationReport) -> Vec<String> {
        r.objects
            .iter()
            .map(|o| {
                let mut o: ObjectReport = o.clone();
                if let ObjectOutcome::Loaded { maps, programs, .. } = &mut o.outcome {
                    for p in maps.iter_mut().chain(programs.iter_mut()) {
                        p.id = 0;
                    }
                }
                format!("{o:?}")
            })
            .collect()
    }

    fn pins_of(r: &ObjectReport) -> Vec<(&str, bool)> {
        match &r.outcome {
            ObjectOutcome::Loaded { maps, programs, .. } => maps
                .iter()
                .chain(programs)
                .map(|p| (p.pin.as_str(), p.reused))
                .collect(),
            o => panic!("{}: {o:?}", r.file.display()),
        }
    }

    #[test]
    fn parallel_and_sequential_build_the_same_tree_and_reports() {
        let loc = Location::new(DIR, "net_shared/");
        let seq_sys = corpus_location();
        let seq = load_location(&seq_sys, &cfg(false), &loc);
        let par_sys = corpus_location();
        let par = load_location(&par_sys, &cfg(true), &loc);

        assert!(
            seq.error.is_none() && par.error.is_none(),
            "{seq:?} {par:?}"
        );
        assert_eq!(tree(&par_sys), tree(&seq_sys));
        assert_eq!(without_ids(&par), without_ids(&seq));

        // Readdir order (the fake's is sorted), not completion order.
        let files: Vec<String> = par
            .objects
            .iter()
            .map(|o| o.file.display().to_string())
            .collect();
        let expected: Vec<String> = [
            "clatd.o",
            "clatd@v2.o",
            "dscpPolicy.o",
            "netd.o",
            "offload@mainline.o",
            "pktCount.o",
            "verifierReject.o",
            "zero.o",
        ]
        .iter()
        .map(|n| format!("{DIR}/{n}"))
        .collect();
        assert_eq!(files, expected);

        // Facts the equality rests on, from the README's expectations.
        let shared = "net_shared/map__net_config_map";
        let by_name = |n: &str| {
            par.objects
                .iter()
                .find(|o| o.file.ends_with(n))
                .unwrap_or_else(|| panic!("{n}"))
        };
        assert!(pins_of(by_name("clatd.o")).contains(&(shared, true)));
        assert!(pins_of(by_name("dscpPolicy.o")).contains(&(shared, true)));
        let v2 = pins_of(by_name("clatd@v2.o"));
        assert!(
            !v2.is_empty() && v2.iter().all(|&(_, reused)| reused),
            "{v2:?}"
        );
        assert_eq!(
            v2,
            pins_of(by_name("clatd.o"))
                .iter()
                .map(|&(p, _)| (p, true))
                .collect::<Vec<_>>()
        );
        assert!(by_name("netd.o").critical.is_some());
        for (n, why) in [
            ("pktCount.o", "two_entry_map"),
            ("verifierReject.o", "skfilter/reject"),
            ("zero.o", "zero.o"),
        ] {
            match &by_name(n).outcome {
                ObjectOutcome::Failed { error, .. } => assert!(error.contains(why), "{n}: {error}"),
                o => panic!("{n}: {o:?}"),
            }
        }
        let pins = par_sys.pins();
        let has = |rel: &str| pins.iter().any(|(p, ..)| p == &Path::new(ROOT).join(rel));
        assert!(has(shared));
        assert!(
            has("net_shared/map_pktCount_two_entry_map"),
            "pre-existing pin kept"
        );
        assert!(
            !has("net_shared/map_pktCount_packet_count_map"),
            "rolled back"
        );
        assert!(!pins
            .iter()
            .any(|(p, ..)| p.to_string_lossy().contains("verifierReject")));
        assert!(!pins
            .iter()
            .any(|(p, ..)| p.to_string_lossy().contains("/tmp_")));
        assert!(has("net_shared/prog_netd_cgroupsock_inet_create"));
    }

    /// A [`FakeSys`] whose `BPF_PROG_LOAD` of program `first` waits until
    /// the load of program `second` has started, for at most `WAIT`.
    struct Rendezvous {
        inner: FakeSys,
        first: &'static str,
        second: &'static str,
        second_started: Mutex<bool>,
        cv: Condvar,
        /// Whether `first` saw `second` start while it waited.
        overlapped: Mutex<Option<bool>>,
    }

    const WAIT: Duration = Duration::from_secs(10);

    impl Sys for Rendezvous {
        fn prog_load(&self, attr: &ProgLoadAttr<'_>, log: &mut [u8]) -> SysResult<OwnedFd> {
            if attr.name == self.second {
                *self
                    .second_started
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = true;
                self.cv.notify_all();
            } else if attr.name == self.first {
                let started = self
                    .second_started
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                let (started, _) = self
                    .cv
                    .wait_timeout_while(started, WAIT, |s| !*s)
                    .unwrap_or_else(|p| p.into_inner());
                *self.overlapped.lock().unwrap_or_else(|p| p.into_inner()) = Some(*started);
            }
            self.inner.prog_load(attr, log)
        }
        fn map_create(&self, attr: &MapCreateAttr) -> SysResult<OwnedFd> {
            self.inner.map_create(attr)
        }
        fn obj_pin(&self, fd: BorrowedFd<'_>, path: &Path) -> SysResult<()> {
            self.inner.obj_pin(fd, path)
        }
        fn obj_get(&self, path: &Path, file_flags: u32, kind: ObjKind) -> SysResult<OwnedFd> {
            self.inner.obj_get(path, file_flags, kind)
        }
        fn map_info(&self, fd: BorrowedFd<'_>) -> SysResult<MapInfo> {
            self.inner.map_info(fd)
        }
        fn prog_info(&self, fd: BorrowedFd<'_>) -> SysResult<ProgInfo> {
            self.inner.prog_info(fd)
        }
        fn map_update(
            &self,
            fd: BorrowedFd<'_>,
            key: &[u8],
            value: &[u8],
            flags: u64,
        ) -> SysResult<()> {
            self.inner.map_update(fd, key, value, flags)
        }
        fn map_lookup(&self, fd: BorrowedFd<'_>, key: &[u8], value: &mut [u8]) -> SysResult<()> {
            self.inner.map_lookup(fd, key, value)
        }
        fn chmod(&self, path: &Path, mode: u32) -> SysResult<()> {
            self.inner.chmod(path, mode)
        }
        fn chown(&self, path: &Path, uid: u32, gid: u32) -> SysResult<()> {
            self.inner.chown(path, uid, gid)
        }
        fn rename_noreplace(&self, from: &Path, to: &Path) -> SysResult<()> {
            self.inner.rename_noreplace(from, to)
        }
        fn lock_dir(&self, path: &Path) -> SysResult<OwnedFd> {
            self.inner.lock_dir(path)
        }
        fn unlink(&self, path: &Path) -> SysResult<()> {
            self.inner.unlink(path)
        }
        fn mkdir(&self, path: &Path, mode: u32) -> SysResult<()> {
            self.inner.mkdir(path, mode)
        }
        fn lstat(&self, path: &Path) -> SysResult<FileStat> {
            self.inner.lstat(path)
        }
        fn statfs_type(&self, path: &Path) -> SysResult<i64> {
            self.inner.statfs_type(path)
        }
        fn is_read_only_fs(&self, path: &Path) -> SysResult<bool> {
            self.inner.is_read_only_fs(path)
        }
        fn read_dir(&self, path: &Path) -> SysResult<Vec<String>> {
            self.inner.read_dir(path)
        }
        fn read_file(&self, path: &Path, max_len: u64) -> SysResult<(Vec<u8>, FileStat)> {
            self.inner.read_file(path, max_len)
        }
        fn write_file(&self, path: &Path, data: &[u8]) -> SysResult<()> {
            self.inner.write_file(path, data)
        }
        fn uname(&self) -> SysResult<(String, String)> {
            self.inner.uname()
        }
        fn page_size(&self) -> SysResult<u32> {
            self.inner.page_size()
        }
    }

    #[test]
    fn independent_objects_are_verified_concurrently() {
        let inner = FakeSys::new();
        inner.mount_bpffs(ROOT);
        inner.add_dir(format!("{ROOT}/p"));
        let sys = Rendezvous {
            inner,
            first: "skfilter_first",
            second: "skfilter_second",
            second_started: Mutex::new(false),
            cv: Condvar::new(),
            overlapped: Mutex::new(None),
        };
        // Readdir order a, b: sequentially, a's load would wait in vain.
        let objects = [
            ReadObject {
                file: "/d/a.o".into(),
                spec: Ok(spec("a", vec![], vec![prog("skfilter/first", NONE)])),
            },
            ReadObject {
                file: "/d/bad.o".into(),
                spec: Err("/d/bad.o: not an ELF file".into()),
            },
            ReadObject {
                file: "/d/b.o".into(),
                spec: Ok(spec("b", vec![], vec![prog("skfilter/second", NONE)])),
            },
        ];
        let out = load_all(&sys, &cfg(true), "p/", &objects, 2);
        assert_eq!(
            *sys.overlapped.lock().unwrap_or_else(|p| p.into_inner()),
            Some(true),
            "a's program load never overlapped b's"
        );
        assert_eq!(out.len(), 3);
        let pin = |o: &ObjectOutcome| match o {
            ObjectOutcome::Loaded { programs, .. } => {
                programs.iter().map(|p| p.pin.clone()).collect::<Vec<_>>()
            }
            o => panic!("{o:?}"),
        };
        assert_eq!(pin(&out[0]), ["p/prog_a_skfilter_first"]);
        assert!(
            matches!(&out[1], ObjectOutcome::Failed { error, .. } if error == "/d/bad.o: not an ELF file"),
            "{:?}",
            out[1]
        );
        assert_eq!(pin(&out[2]), ["p/prog_b_skfilter_second"]);
    }

    #[test]
    fn big_locations_are_read_in_batches_with_the_sequential_result() {
        // 2 batches and a bit: a shared map declared by the first object and
        // by one of the last, so the later batch must reuse the earlier pin.
        let n = 2 * BATCH + 3;
        let build = || {
            let f = fake_bpffs();
            f.add_file(format!("{DIR}/a000.o"), corpus("clatd.o"));
            for i in 1..n - 1 {
                f.add_file(format!("{DIR}/a{i:03}.o"), corpus("pktCount.o"));
            }
            f.add_file(format!("{DIR}/z.o"), corpus("dscpPolicy.o"));
            f
        };
        let loc = Location::new(DIR, "net_shared/");
        let seq_sys = build();
        let seq = load_location(&seq_sys, &cfg(false), &loc);
        let par_sys = build();
        let par = load_location(&par_sys, &cfg(true), &loc);
        assert_eq!(par.objects.len(), n);
        assert_eq!(tree(&par_sys), tree(&seq_sys));
        assert_eq!(without_ids(&par), without_ids(&seq));
        let shared = "net_shared/map__net_config_map";
        assert!(pins_of(&par.objects[0]).contains(&(shared, false)));
        assert!(pins_of(&par.objects[n - 1]).contains(&(shared, true)));

        // No more than BATCH objects are read before loading starts, and
        // each batch is read only after the previous one has loaded.
        let calls = par_sys.calls();
        let reads_before_first_create = calls
            .iter()
            .take_while(|c| !c.starts_with("BPF_MAP_CREATE"))
            .filter(|c| c.starts_with("read "))
            .count();
        assert_eq!(reads_before_first_create, BATCH);
        let first_read_of = |file: &str| {
            calls
                .iter()
                .position(|c| c == &format!("read {DIR}/{file}"))
                .unwrap_or_else(|| panic!("{file} never read"))
        };
        let last_pin_of_batch_0 = calls
            .iter()
            .rposition(|c| {
                c.starts_with("BPF_OBJ_PIN") && c.contains(&format!("_a{:03}_", BATCH - 1))
            })
            .expect("pins of the last object of batch 0");
        assert!(first_read_of(&format!("a{BATCH:03}.o")) > last_pin_of_batch_0);
    }

    #[test]
    fn one_thread_loads_everything_in_order() {
        let f = FakeSys::new();
        f.mount_bpffs(ROOT);
        f.add_dir(format!("{ROOT}/p"));
        let objects: Vec<ReadObject> = ["a", "b", "c"]
            .iter()
            .map(|n| ReadObject {
                file: format!("/d/{n}.o").into(),
                spec: Ok(spec(
                    n,
                    vec![map("m", false, NONE)],
                    vec![prog("skfilter/x", NONE)],
                )),
            })
            .collect();
        let out = load_all(&f, &cfg(true), "p/", &objects, 1);
        assert!(
            out.iter()
                .all(|o| matches!(o, ObjectOutcome::Loaded { .. })),
            "{out:?}"
        );
        // Largest group first, ties in readdir order: a, b, c.
        let progs: Vec<String> = f.progs().into_iter().map(|p| p.name).collect();
        assert_eq!(progs, ["skfilter_x"; 3]);
        let maps_created: Vec<String> = f
            .calls()
            .into_iter()
            .filter(|c| c.starts_with("BPF_OBJ_PIN"))
            .collect();
        assert_eq!(
            maps_created,
            [
                "BPF_OBJ_PIN /sys/fs/bpf/p/map_a_m",
                "BPF_OBJ_PIN /sys/fs/bpf/p/prog_a_skfilter_x",
                "BPF_OBJ_PIN /sys/fs/bpf/p/map_b_m",
                "BPF_OBJ_PIN /sys/fs/bpf/p/prog_b_skfilter_x",
                "BPF_OBJ_PIN /sys/fs/bpf/p/map_c_m",
                "BPF_OBJ_PIN /sys/fs/bpf/p/prog_c_skfilter_x",
            ]
        );
    }
}
