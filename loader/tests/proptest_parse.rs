//! Property tests of the parser on mutated objects.
//!
//! Invariant: `parse_object` returns `Ok` or a typed `ParseError` naming the
//! file, never panics, and its peak heap use stays bounded relative to the
//! input (a counting global allocator measures it per call, per thread).
//!
//! Seeds: every object of the `bpf-progs` corpus plus the valid base of the
//! malformed corpus (`tests/fixtures/malformed/base.o`). Mutations: bit
//! flips, byte overwrites, truncation, ELF header fields, section header
//! fields (offset/size/link/info/name/entsize), symbol fields
//! (st_value/st_size/st_shndx/st_name/st_info) and relocation entries, with
//! "interesting" values (0, 1, boundaries, huge sizes and counts).
//!
//! Also checks every row of `tests/fixtures/malformed/INDEX.md`: each file
//! fails with exactly the error kind listed there.
//!
//! Default case count keeps the whole file under a few seconds in a debug
//! build; `PROPTEST_CASES=100000 cargo test -p netbpfload --test proptest_parse`
//! runs longer.

use netbpfload::parse::{parse_object, ParseError};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::cell::Cell;
use std::path::{Path, PathBuf};

mod heap;
use heap::peak_during;

/// Memory bound: 1 MiB plus 64 times the input. A parser that trusts a
/// count or size from the file (`Vec::with_capacity(shnum)`, a 2^40-byte
/// section) blows well past this.
fn bound(len: usize) -> usize {
    (1 << 20) + 64 * len
}

const FILE: &str = "/fuzz/mutant.o";

/// Parses and checks the invariants; returns the error, if any.
fn check(bytes: &[u8]) -> Result<(), ParseError> {
    let (result, peak) = peak_during(|| parse_object(Path::new(FILE), bytes));
    assert!(
        peak <= bound(bytes.len()),
        "parse of {} bytes peaked at {peak} bytes of heap (bound {})",
        bytes.len(),
        bound(bytes.len())
    );
    match result {
        Ok(_) => Ok(()),
        Err(e) => {
            assert_eq!(e.file(), Path::new(FILE), "error must name the file: {e}");
            let msg = e.to_string();
            assert!(
                msg.starts_with(FILE),
                "message must start with the file: {msg}"
            );
            Err(e)
        }
    }
}

// ---- Seeds.

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/malformed")
}

fn seeds() -> Vec<(String, Vec<u8>)> {
    // The Android parser's seeds (libbpf-style objects have their own
    // generators: tests/libbpf_hostile.rs).
    let mut v: Vec<(String, Vec<u8>)> = bpf_progs::android_objects()
        .map(|o| (o.file_name.to_string(), o.bytes.to_vec()))
        .collect();
    let base =
        std::fs::read(fixtures_dir().join("base.o")).expect("tests/fixtures/malformed/base.o");
    v.push(("base.o".to_string(), base));
    v
}

// ---- Minimal ELF64 LE field access for targeted mutations (test-only;
// every read is bounds-checked and a failed lookup just skips the mutation).

fn rd(b: &[u8], off: usize, n: usize) -> Option<u64> {
    let s = b.get(off..off.checked_add(n)?)?;
    let mut v = 0u64;
    for (i, x) in s.iter().enumerate() {
        v |= u64::from(*x) << (8 * i);
    }
    Some(v)
}

fn wr(b: &mut [u8], off: usize, n: usize, v: u64) {
    if let Some(s) = off.checked_add(n).and_then(|end| b.get_mut(off..end)) {
        for (i, x) in s.iter_mut().enumerate() {
            *x = (v >> (8 * i)) as u8;
        }
    }
}

struct Layout64 {
    shoff: usize,
    shnum: usize,
}

fn layout(b: &[u8]) -> Option<Layout64> {
    Some(Layout64 {
        shoff: usize::try_from(rd(b, 40, 8)?).ok()?,
        shnum: usize::try_from(rd(b, 60, 2)?).ok()?,
    })
}

/// `(offset, entsize-count)` of the section headers of type `sh_type`.
fn sections_of_type(b: &[u8], sh_type: u64) -> Vec<usize> {
    let Some(l) = layout(b) else { return vec![] };
    (0..l.shnum)
        .filter_map(|i| {
            let at = l.shoff.checked_add(i.checked_mul(64)?)?;
            (rd(b, at.checked_add(4)?, 4)? == sh_type).then_some(at)
        })
        .collect()
}

/// File offsets of the entries (size `entsize`) of sections of `sh_type`.
fn entries(b: &[u8], sh_type: u64, entsize: usize) -> Vec<usize> {
    let mut out = Vec::new();
    for sh in sections_of_type(b, sh_type) {
        let (Some(off), Some(size)) = (
            rd(b, sh.saturating_add(24), 8),
            rd(b, sh.saturating_add(32), 8),
        ) else {
            continue;
        };
        let (Ok(off), Ok(size)) = (usize::try_from(off), usize::try_from(size)) else {
            continue;
        };
        let n = (size / entsize).min(4096);
        out.extend((0..n).filter_map(|i| off.checked_add(i * entsize)));
    }
    out
}

// ---- Mutations.

#[derive(Debug, Clone)]
enum Mutation {
    /// Flip bit `bit` of byte `pos % len`.
    BitFlip { pos: usize, bit: u8 },
    /// Overwrite bytes at `pos % len`.
    Overwrite { pos: usize, bytes: Vec<u8> },
    /// Keep only the first `len % (len+1)` bytes.
    Truncate { len: usize },
    /// Append bytes.
    Append { bytes: Vec<u8> },
    /// ELF header field (offset, width) := value.
    Ehdr { field: usize, value: u64 },
    /// Section header `index % shnum`, field (offset, width) := value.
    Shdr {
        index: usize,
        field: usize,
        value: u64,
    },
    /// Symbol `index % nsyms`, field := value.
    Sym {
        index: usize,
        field: usize,
        value: u64,
    },
    /// Relocation `index % nrels`, field := value.
    Rel {
        index: usize,
        field: usize,
        value: u64,
    },
}

/// e_type, e_machine, e_shoff, e_shentsize, e_shnum, e_shstrndx, ident bytes.
const EHDR_FIELDS: &[(usize, usize)] = &[
    (16, 2),
    (18, 2),
    (40, 8),
    (58, 2),
    (60, 2),
    (62, 2),
    (4, 1),
    (5, 1),
    (6, 1),
];
/// sh_name, sh_type, sh_offset, sh_size, sh_link, sh_info, sh_entsize.
const SHDR_FIELDS: &[(usize, usize)] =
    &[(0, 4), (4, 4), (24, 8), (32, 8), (40, 4), (44, 4), (56, 8)];
/// st_name, st_info, st_shndx, st_value, st_size.
const SYM_FIELDS: &[(usize, usize)] = &[(0, 4), (4, 1), (6, 2), (8, 8), (16, 8)];
/// r_offset, r_info (symbol index in the high half), whole r_info.
const REL_FIELDS: &[(usize, usize)] = &[(0, 8), (12, 4), (8, 8)];

fn interesting() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(7),
        Just(8),
        Just(19),
        Just(20),
        Just(31),
        Just(32),
        Just(92),
        Just(120),
        Just(0xff),
        Just(0xffff),
        Just(0xff00),
        Just(u64::from(u32::MAX)),
        Just(u64::from(u32::MAX) + 1),
        Just(1 << 40),
        Just(i64::MAX as u64),
        Just(u64::MAX),
        Just(u64::MAX - 7),
        any::<u64>(),
        0u64..4096,
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(pos, bit)| Mutation::BitFlip { pos, bit }),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(pos, bytes)| Mutation::Overwrite { pos, bytes }),
        any::<usize>().prop_map(|len| Mutation::Truncate { len }),
        prop::collection::vec(any::<u8>(), 1..64).prop_map(|bytes| Mutation::Append { bytes }),
        (0..EHDR_FIELDS.len(), interesting())
            .prop_map(|(field, value)| Mutation::Ehdr { field, value }),
        (any::<usize>(), 0..SHDR_FIELDS.len(), interesting()).prop_map(|(index, field, value)| {
            Mutation::Shdr {
                index,
                field,
                value,
            }
        }),
        (any::<usize>(), 0..SYM_FIELDS.len(), interesting()).prop_map(|(index, field, value)| {
            Mutation::Sym {
                index,
                field,
                value,
            }
        }),
        (any::<usize>(), 0..REL_FIELDS.len(), interesting()).prop_map(|(index, field, value)| {
            Mutation::Rel {
                index,
                field,
                value,
            }
        }),
    ]
}

fn pick(list: &[usize], index: usize) -> Option<usize> {
    if list.is_empty() {
        None
    } else {
        list.get(index % list.len()).copied()
    }
}

fn apply(b: &mut Vec<u8>, m: &Mutation) {
    const SHT_SYMTAB: u64 = 2;
    const SHT_REL: u64 = 9;
    let len = b.len();
    match m {
        Mutation::BitFlip { pos, bit } if len > 0 => {
            if let Some(x) = b.get_mut(pos % len) {
                *x ^= 1 << bit;
            }
        }
        Mutation::Overwrite { pos, bytes } if len > 0 => {
            for (i, v) in bytes.iter().enumerate() {
                if let Some(x) = b.get_mut((pos % len).saturating_add(i)) {
                    *x = *v;
                }
            }
        }
        Mutation::Truncate { len: n } => b.truncate(n % (len + 1)),
        Mutation::Append { bytes } => b.extend_from_slice(bytes),
        Mutation::Ehdr { field, value } => {
            if let Some(&(off, w)) = EHDR_FIELDS.get(*field) {
                wr(b, off, w, *value);
            }
        }
        Mutation::Shdr {
            index,
            field,
            value,
        } => {
            if let (Some(l), Some(&(off, w))) = (layout(b), SHDR_FIELDS.get(*field)) {
                if l.shnum > 0 {
                    let at = (index % l.shnum)
                        .checked_mul(64)
                        .and_then(|x| x.checked_add(l.shoff));
                    if let Some(at) = at.and_then(|a| a.checked_add(off)) {
                        wr(b, at, w, *value);
                    }
                }
            }
        }
        Mutation::Sym {
            index,
            field,
            value,
        } => {
            let syms = entries(b, SHT_SYMTAB, 24);
            if let (Some(at), Some(&(off, w))) = (pick(&syms, *index), SYM_FIELDS.get(*field)) {
                wr(b, at.saturating_add(off), w, *value);
            }
        }
        Mutation::Rel {
            index,
            field,
            value,
        } => {
            let rels = entries(b, SHT_REL, 16);
            if let (Some(at), Some(&(off, w))) = (pick(&rels, *index), REL_FIELDS.get(*field)) {
                wr(b, at.saturating_add(off), w, *value);
            }
        }
        _ => {}
    }
}

fn run(name: &str, cases: u32, strategy: impl Strategy<Value = (usize, Vec<Mutation>)>) {
    let seeds = seeds();
    assert!(seeds.len() >= 2, "corpus and base.o must be present");
    let config = Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(cases),
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let (ok, err) = (Cell::new(0u32), Cell::new(0u32));
    let result = runner.run(&strategy, |(seed, muts)| {
        let (_, base) = &seeds[seed % seeds.len()];
        let mut bytes = base.clone();
        for m in &muts {
            apply(&mut bytes, m);
        }
        match check(&bytes) {
            Ok(()) => ok.set(ok.get() + 1),
            Err(_) => err.set(err.get() + 1),
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
    // Reported with --nocapture; a run where every mutant parsed would
    // mean the mutations never reached anything.
    let (ok, err) = (ok.get(), err.get());
    eprintln!("{name}: {} cases, {ok} parsed, {err} rejected", ok + err);
    assert!(
        err > 0,
        "{name}: no mutant was rejected; mutations are not applied"
    );
}

#[test]
fn seeds_parse() {
    for (name, bytes) in seeds() {
        let (r, peak) = peak_during(|| parse_object(Path::new(&name), &bytes));
        if let Err(e) = r {
            panic!("seed {name} must parse: {e}");
        }
        assert!(peak <= bound(bytes.len()), "{name}: {peak} bytes");
    }
}

#[test]
fn random_byte_mutations_never_panic() {
    run(
        "byte mutations",
        8000,
        (any::<usize>(), prop::collection::vec(mutation(), 1..6)),
    );
}

#[test]
fn structured_field_mutations_never_panic() {
    let structured = prop_oneof![
        (0..EHDR_FIELDS.len(), interesting())
            .prop_map(|(field, value)| Mutation::Ehdr { field, value }),
        (any::<usize>(), 0..SHDR_FIELDS.len(), interesting()).prop_map(|(index, field, value)| {
            Mutation::Shdr {
                index,
                field,
                value,
            }
        }),
        (any::<usize>(), 0..SYM_FIELDS.len(), interesting()).prop_map(|(index, field, value)| {
            Mutation::Sym {
                index,
                field,
                value,
            }
        }),
        (any::<usize>(), 0..REL_FIELDS.len(), interesting()).prop_map(|(index, field, value)| {
            Mutation::Rel {
                index,
                field,
                value,
            }
        }),
    ];
    run(
        "field mutations",
        8000,
        (any::<usize>(), prop::collection::vec(structured, 1..4)),
    );
}

/// Every truncation length of the small base object, and of every corpus
/// object at a stride: a truncated file must never parse, since the section
/// header table is at the end.
#[test]
fn every_truncation_is_rejected() {
    let mut n = 0;
    for (name, bytes) in seeds() {
        let stride = (bytes.len() / 512).max(1);
        for len in (0..bytes.len()).step_by(stride) {
            let cut = bytes.get(..len).unwrap_or_default();
            assert!(check(cut).is_err(), "{name} cut to {len} bytes parsed");
            n += 1;
        }
    }
    eprintln!("truncations: {n} checked");
}

fn kind_name(e: &ParseError) -> String {
    let dbg = format!("{:?}", e.kind());
    dbg.split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Each malformed fixture fails with the kind `INDEX.md` lists for it.
#[test]
fn malformed_fixtures_fail_with_the_listed_kind() {
    let dir = fixtures_dir();
    let index = std::fs::read_to_string(dir.join("INDEX.md")).expect("INDEX.md");
    let mut rows = 0;
    let mut wrong = Vec::new();
    for line in index.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line
            .split('|')
            .map(|c| c.trim().trim_matches('`'))
            .collect();
        let (Some(file), Some(expected)) = (cells.get(1), cells.get(3)) else {
            panic!("bad INDEX row {line}");
        };
        let path = dir.join(file);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let got = match peak_during(|| parse_object(&path, &bytes)) {
            (_, peak) if peak > bound(bytes.len()) => format!("memory {peak}"),
            (Ok(_), _) => "Ok".to_string(),
            (Err(e), _) => {
                assert_eq!(e.file(), path.as_path());
                kind_name(&e)
            }
        };
        if got != *expected {
            wrong.push(format!("{file}: expected {expected}, got {got}"));
        }
        rows += 1;
    }
    assert!(rows >= 30, "only {rows} fixtures listed");
    assert!(
        wrong.is_empty(),
        "{} of {rows} fixtures wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
