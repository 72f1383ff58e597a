//! Root tier: maps typed with the objects' BTF on the real kernel, as
//! Android's 2025 loader does on kernels ≥ 5.10 (its rules here; Android
//! 15's rules, which use no BTF, for the "without BTF" cases).
//!
//! Run as root with
//! `unshare -m --propagation private cargo test -p netbpfload-tests --test btf`;
//! every test refuses to run (fails) outside a private mount namespace or
//! without root.
//!
//! * `skStorage.o`: its SK_STORAGE map is created and pinned with BTF; the
//!   kernel reports the BTF object and the key/value type ids of the
//!   `____btf_map_sk_storage_map` members (read from the object's `.BTF`
//!   here, independently of the loader), and the map works (a socket's
//!   storage is written and read back). Without BTF it fails alone, naming
//!   the map and `EINVAL`.
//! * `btfMismatch.o` and `btfCorrupt.o` fail alone, by name and reason,
//!   with no pin left, while the other objects of their location load; both
//!   load without BTF.
//! * A BTF our parser accepts but the kernel refuses fails alone with the
//!   kernel's log.
//! * Every object of the default layout loads as documented with BTF on (in
//!   the engine's parallel mode), DEVMAP_HASH and RINGBUF maps untyped,
//!   every other map typed; a re-run of skStorage.o reuses its pins.

use bpf_progs::{Kind, Layout, OBJECTS};
use netbpfload::engine::{self, LoadConfig, LocationReport, ObjectOutcome, ObjectReport};
use netbpfload::paths::{self, Location};
use netbpfload::release::{Release, Role};
use netbpfload::spec::Kver;
use netbpfload::sys::linux::LinuxSys;
use netbpfload::sys::Bpf;
use netbpfload_tests::bpffs::{self, PrivateBpffs};
use netbpfload_tests::cfg;
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;

const SK_STORAGE: u32 = 24;
const DEVMAP_HASH: u32 = 25;
const RINGBUF: u32 = 27;
const PREFIX: &str = "net_private/";

/// `btf`: the 2025 release's mainline rules (maps typed from 5.10); else
/// Android 15's (no BTF).
fn cfg(fs: &PrivateBpffs, btf: bool) -> LoadConfig {
    assert!(
        cfg::kver() >= Kver::new(5, 10, 0),
        "these tests need a kernel >= 5.10 (BTF for maps), not {}",
        cfg::kver()
    );
    let release = if btf { Release::R25Q2 } else { Release::V };
    cfg::load_config_for(fs.path(), release, Role::Mainline)
}

fn bpffs() -> PrivateBpffs {
    let fs = PrivateBpffs::new();
    for d in paths::created_subdirs(Release::R25Q2.rules()) {
        fs.mkdir(d);
    }
    fs
}

/// A root-owned 0755 directory holding `files` (0644), named as given.
fn location(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    for (name, bytes) in files {
        let p = d.path().join(name);
        std::fs::write(&p, bytes).expect("write object");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    d
}

fn corpus(name: &str) -> (&'static str, &'static [u8]) {
    let o = bpf_progs::object(name).unwrap_or_else(|| panic!("no {name}"));
    (o.file_name, o.bytes)
}

fn load(fs: &PrivateBpffs, btf: bool, dir: &Path, prefix: &str) -> LocationReport {
    load_with(&cfg(fs, btf), dir, prefix)
}

fn load_with(cfg: &LoadConfig, dir: &Path, prefix: &str) -> LocationReport {
    let r = engine::load_location(&LinuxSys, cfg, &Location::new(dir, prefix));
    assert!(r.error.is_none(), "{r:#?}");
    r
}

fn report<'a>(r: &'a LocationReport, file: &str) -> &'a ObjectReport {
    r.objects
        .iter()
        .find(|o| o.file.file_name().is_some_and(|n| n == file))
        .unwrap_or_else(|| panic!("{file} not in {r:#?}"))
}

fn failed<'a>(r: &'a LocationReport, file: &str) -> (String, Option<&'a str>) {
    match &report(r, file).outcome {
        ObjectOutcome::Failed { error } => (error.to_string(), error.verifier_log()),
        other => panic!("{file}: expected a failure, got {other:#?}"),
    }
}

fn loaded_maps(r: &LocationReport, file: &str) -> Vec<(String, String)> {
    match &report(r, file).outcome {
        ObjectOutcome::Loaded { maps, .. } => maps
            .iter()
            .map(|m| (m.name.clone(), m.pin.clone()))
            .collect(),
        other => panic!("{file}: expected Loaded, got {other:#?}"),
    }
}

/// Pins (relative to the bpffs root) whose name mentions object `obj`.
fn pins_of(fs: &PrivateBpffs, obj: &str) -> Vec<String> {
    let mut out = Vec::new();
    for d in paths::created_subdirs(Release::R25Q2.rules())
        .into_iter()
        .chain([""])
    {
        let Ok(rd) = std::fs::read_dir(fs.pin(d)) else {
            continue;
        };
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.contains(&format!("_{obj}_")) {
                out.push(format!("{d}/{n}"));
            }
        }
    }
    out
}

// ---- An independent reader of the object's (trusted, corpus) `.BTF`.

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}

/// The `.BTF` section of an ELF64 LE object.
fn btf_section(elf: &[u8]) -> (usize, usize) {
    let u64_at = |off: usize| u64::from_le_bytes(elf[off..off + 8].try_into().unwrap()) as usize;
    let u16_at = |off: usize| u16::from_le_bytes(elf[off..off + 2].try_into().unwrap()) as usize;
    let (shoff, shnum, shstrndx) = (u64_at(0x28), u16_at(0x3c), u16_at(0x3e));
    let strtab = u64_at(shoff + shstrndx * 64 + 0x18);
    (0..shnum)
        .map(|i| shoff + i * 64)
        .find(|&h| {
            let name = &elf[strtab + u32_at(elf, h) as usize..];
            name.starts_with(b".BTF\0")
        })
        .map(|h| (u64_at(h + 0x18), u64_at(h + 0x20)))
        .expect(".BTF")
}

/// `(kind, name, record offset)` of every type of `btf`.
fn btf_types(btf: &[u8]) -> Vec<(u32, String, usize)> {
    let hdr = u32_at(btf, 4) as usize;
    let (start, len) = (hdr + u32_at(btf, 8) as usize, u32_at(btf, 12) as usize);
    let strs = hdr + u32_at(btf, 16) as usize;
    let mut out = Vec::new();
    let mut pos = start;
    while pos < start + len {
        let info = u32_at(btf, pos + 4);
        let (kind, vlen) = ((info >> 24) & 0x1f, (info & 0xffff) as usize);
        let name = &btf[strs + u32_at(btf, pos) as usize..];
        let name = String::from_utf8_lossy(&name[..name.iter().position(|&c| c == 0).unwrap()]);
        out.push((kind, name.into_owned(), pos));
        pos += 12
            + match kind {
                1 | 14 | 17 => 4,
                3 => 12,
                4 | 5 | 15 | 19 => 12 * vlen,
                6 | 13 => 8 * vlen,
                _ => 0,
            };
    }
    out
}

/// The member type ids of `____btf_map_<map>` in the object's `.BTF`.
fn annotation_ids(elf: &[u8], map: &str) -> (u32, u32) {
    let (off, size) = btf_section(elf);
    let btf = &elf[off..off + size];
    let (_, _, pos) = btf_types(btf)
        .into_iter()
        .find(|(k, n, _)| *k == 4 && *n == format!("____btf_map_{map}"))
        .expect("annotation struct");
    (u32_at(btf, pos + 16), u32_at(btf, pos + 28))
}

#[test]
fn sk_storage_map_is_created_and_pinned_with_btf() {
    let fs = bpffs();
    let dir = location(&[corpus("skStorage.o"), corpus("pktCount.o")]);
    let r = load(&fs, true, dir.path(), PREFIX);
    let maps = loaded_maps(&r, "skStorage.o");
    assert_eq!(
        maps,
        [
            (
                "sk_storage_map".to_string(),
                "net_private/map_skStorage_sk_storage_map".to_string()
            ),
            (
                "sk_created_map".to_string(),
                "net_private/map_skStorage_sk_created_map".to_string()
            )
        ]
    );
    loaded_maps(&r, "pktCount.o");
    let elf = corpus("skStorage.o").1;

    let pin = fs.pin("net_private/map_skStorage_sk_storage_map");
    let info = bpffs::map_info(&pin);
    assert_eq!(
        (
            info.map_type,
            info.key_size,
            info.value_size,
            info.max_entries,
            info.map_flags
        ),
        (SK_STORAGE, 4, 8, 0, 1),
        "skStorage.c: SK_STORAGE int -> __u64, 0 entries, BPF_F_NO_PREALLOC"
    );
    assert_ne!(info.btf_id, 0);
    assert_eq!(
        (info.btf_key_type_id, info.btf_value_type_id),
        annotation_ids(elf, "sk_storage_map")
    );
    assert_eq!(bpffs::mode_owner(&pin), (0o660, 0, 1000));
    // Both maps of the object share its one BTF object.
    let other = bpffs::map_info(&fs.pin("net_private/map_skStorage_sk_created_map"));
    assert_eq!(other.btf_id, info.btf_id);
    assert_eq!(
        (other.btf_key_type_id, other.btf_value_type_id),
        annotation_ids(elf, "sk_created_map")
    );

    // The map works: a socket's storage (keyed by its fd) is written and
    // read back through the pin.
    let fd = bpffs::obj_get(&pin, 0).expect("open pin read-write");
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("socket");
    let key = sock.as_raw_fd().to_ne_bytes();
    LinuxSys
        .map_update(fd.as_fd(), &key, &0x1234_5678_9abc_def0u64.to_ne_bytes(), 0)
        .expect("update socket storage");
    let mut value = [0u8; 8];
    LinuxSys
        .map_lookup(fd.as_fd(), &key, &mut value)
        .expect("lookup socket storage");
    assert_eq!(u64::from_ne_bytes(value), 0x1234_5678_9abc_def0);

    // A re-run reuses both pins.
    let again = load(&fs, true, dir.path(), PREFIX);
    match &report(&again, "skStorage.o").outcome {
        ObjectOutcome::Loaded { maps, .. } => assert!(maps.iter().all(|m| m.reused)),
        other => panic!("{other:#?}"),
    }
    assert_eq!(bpffs::map_info(&pin).id, info.id);
}

#[test]
fn without_btf_sk_storage_fails_alone_and_the_btf_test_objects_load() {
    let fs = bpffs();
    let dir = location(&[
        corpus("skStorage.o"),
        corpus("btfMismatch.o"),
        corpus("btfCorrupt.o"),
        corpus("pktCount.o"),
    ]);
    let r = load(&fs, false, dir.path(), PREFIX);
    let (error, _) = failed(&r, "skStorage.o");
    assert!(
        error.starts_with("map sk_storage_map: create: BPF_MAP_CREATE: Invalid argument"),
        "{error}"
    );
    assert!(pins_of(&fs, "skStorage").is_empty());
    for f in ["btfMismatch.o", "btfCorrupt.o", "pktCount.o"] {
        loaded_maps(&r, f);
    }
}

#[test]
fn mismatch_and_corrupt_btf_fail_alone_by_name_and_reason() {
    let fs = bpffs();
    let dir = location(&[
        corpus("btfMismatch.o"),
        corpus("btfCorrupt.o"),
        corpus("skStorage.o"),
        corpus("pktCount.o"),
    ]);
    let r = load(&fs, true, dir.path(), PREFIX);
    for o in OBJECTS
        .iter()
        .filter(|o| ["btfMismatch.o", "btfCorrupt.o"].contains(&o.file_name))
    {
        let Kind::BtfRejected { reason } = o.kind else {
            panic!("{}: kind {:?}", o.file_name, o.kind);
        };
        let (error, log) = failed(&r, o.file_name);
        assert!(error.starts_with("BTF: "), "{error}");
        assert!(error.contains(reason), "{}: {error}", o.file_name);
        assert_eq!(log, None, "refused before the kernel saw it");
        let obj = o.file_name.trim_end_matches(".o");
        assert!(pins_of(&fs, obj).is_empty(), "{:?}", pins_of(&fs, obj));
    }
    loaded_maps(&r, "skStorage.o");
    loaded_maps(&r, "pktCount.o");
}

/// A blob the module accepts but the kernel refuses: the first INT of
/// skStorage.o's `.BTF` claims 255 bits (the kernel allows at most 128).
#[test]
fn btf_the_kernel_refuses_fails_alone_with_its_log() {
    let mut elf = corpus("skStorage.o").1.to_vec();
    let (off, size) = btf_section(&elf);
    let (_, _, int) = btf_types(&elf[off..off + size])
        .into_iter()
        .find(|(k, _, _)| *k == 1)
        .expect("an INT");
    let data = off + int + 12;
    let word = u32_at(&elf, data) | 0xff;
    elf[data..data + 4].copy_from_slice(&word.to_le_bytes());
    let fs = bpffs();
    let dir = location(&[("badInt.o", &elf), corpus("pktCount.o")]);
    let r = load(&fs, true, dir.path(), PREFIX);
    let (error, log) = failed(&r, "badInt.o");
    assert!(error.starts_with("BTF: load"), "{error}");
    assert!(
        error.ends_with("BPF_BTF_LOAD: Invalid argument (os error 22)"),
        "{error}"
    );
    let log = log.expect("the kernel's BTF log");
    assert!(log.contains("nr_bits"), "{log}");
    assert!(pins_of(&fs, "badInt").is_empty());
    loaded_maps(&r, "pktCount.o");
}

/// In the engine's parallel mode (the default), so that path types maps too.
#[test]
fn default_layout_loads_as_documented_with_btf() {
    let fs = bpffs();
    let root = tempfile::tempdir().expect("tempdir");
    bpf_progs::install_tree_for(root.path(), Layout::Main2025).expect("install_tree");
    let parallel = cfg(&fs, true).sequential(false);
    let rules = Release::R25Q2.rules();
    let mut reports = Vec::new();
    for loc in paths::locations(root.path(), rules.role(Role::Mainline))
        .into_iter()
        .chain(paths::locations(root.path(), rules.role(Role::Platform)))
    {
        if loc.dir.is_dir() {
            let r = engine::load_location(&LinuxSys, &parallel, &loc);
            assert!(r.error.is_none(), "{r:#?}");
            reports.push(r);
        }
    }
    let mut typed = 0;
    for o in OBJECTS.iter().filter(|o| o.location.is_some()) {
        let r = reports
            .iter()
            .find(|r| r.objects.iter().any(|x| x.file.ends_with(o.file_name)))
            .unwrap_or_else(|| panic!("{} not loaded", o.file_name));
        let outcome = &report(r, o.file_name).outcome;
        match (o.kind, outcome) {
            (Kind::Good, ObjectOutcome::Loaded { maps, .. }) => {
                for m in maps {
                    let info = bpffs::map_info(&fs.pin(&m.pin));
                    let untyped = matches!(info.map_type, DEVMAP_HASH | RINGBUF);
                    assert_eq!(info.btf_id == 0, untyped, "{}: {}", o.file_name, m.pin);
                    assert_eq!(
                        info.btf_key_type_id == 0 && info.btf_value_type_id == 0,
                        untyped,
                        "{}: {}",
                        o.file_name,
                        m.pin
                    );
                    typed += usize::from(!untyped);
                }
            }
            (Kind::VerifierRejected, ObjectOutcome::Failed { error }) => {
                assert_eq!(error.reason(), "prog_load", "{}: {error}", o.file_name);
            }
            (Kind::LoaderVersionSkipped, ObjectOutcome::Skipped { .. }) => {}
            (kind, outcome) => panic!("{}: {kind:?}: {outcome:#?}", o.file_name),
        }
    }
    assert!(typed >= 20, "{typed} typed maps");
}
