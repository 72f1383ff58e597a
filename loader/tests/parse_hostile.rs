//! Every generated attack class of the `hostile` crate, at a few small
//! sizes: the parser answers what the class says (the typed error, or
//! success for the valid ones), names the file, and the error text is one
//! line. The caps mirrored in `hostile` agree with the parser's.
//!
//! The memory bound is in `parse_memory.rs` (its own counting allocator) and
//! the linear-work bound in the parser's unit tests (`parse::tests`, which
//! read the internal work counter).

use hostile::{Class, Expect, CLASSES};
use netbpfload::parse::{self, parse_object, ParseError, ParseErrorKind as K};
use netbpfload::spec::ObjectSpec;
use std::path::{Path, PathBuf};

fn kind_name(e: &ParseError) -> String {
    let dbg = format!("{:?}", e.kind());
    dbg.split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default()
        .to_string()
}

fn path(c: &Class) -> PathBuf {
    Path::new("/etc/bpf").join(c.file_name)
}

/// Parses class `c` at `size` and checks the answer against the class.
fn check(c: &Class, size: usize) -> Result<ObjectSpec, ParseError> {
    let bytes = c.generate(size);
    let file = path(c);
    let got = parse_object(&file, &bytes);
    match (&got, c.expect) {
        (Ok(_), Expect::Ok) => {}
        (Err(e), Expect::Err(kind)) => {
            assert_eq!(kind_name(e), kind, "{} at {size}: {e}", c.name);
            assert_eq!(e.file(), file);
            let msg = e.to_string();
            assert!(
                !msg.contains('\n'),
                "{}: message spans lines: {msg}",
                c.name
            );
        }
        (Ok(_), Expect::Err(kind)) => panic!("{} at {size}: parsed, expected {kind}", c.name),
        (Err(e), Expect::Ok) => panic!("{} at {size}: {e}", c.name),
    }
    got
}

#[test]
fn every_class_gets_its_answer() {
    for c in CLASSES {
        let sizes: &[usize] = if c.min_size > 64 << 10 {
            &[0] // generated at its minimum size
        } else {
            &[16 << 10, 64 << 10, 256 << 10]
        };
        for &size in sizes {
            check(c, size).ok();
        }
    }
}

#[test]
fn caps_agree_with_the_generators() {
    assert_eq!(hostile::classes::NAME_CAP, parse::MAX_NAME_LEN);
    assert_eq!(hostile::classes::MAX_PROGRAMS, parse::MAX_PROGRAMS);
    assert_eq!(hostile::classes::MAX_MAPS, parse::MAX_MAPS);
    assert_eq!(
        hostile::classes::MAX_PROGRAM_INSNS,
        parse::MAX_PROGRAM_INSNS
    );
    assert_eq!(hostile::classes::MAX_OBJECT_INSNS, parse::MAX_OBJECT_INSNS);
    assert_eq!(hostile::classes::MAX_RELOCATIONS, parse::MAX_RELOCATIONS);
}

fn class(name: &str) -> &'static Class {
    hostile::find(name).unwrap_or_else(|| panic!("no class {name}"))
}

#[test]
fn overlaps_name_both_sections() {
    for name in [
        "overlap-same",
        "overlap-shifted",
        "overlap-nested",
        "rel-shared",
    ] {
        let e = check(class(name), 64 << 10).unwrap_err();
        let K::SectionsOverlap {
            other,
            range,
            other_range,
        } = e.kind()
        else {
            panic!("{e}");
        };
        assert!(e.section().is_some(), "{e}");
        assert!(range.0 < other_range.1 && other_range.0 < range.1, "{e}");
        assert!(!other.is_empty(), "{e}");
    }
    // Code over the maps section: the other section is `maps`.
    let e = check(class("overlap-cross"), 64 << 10).unwrap_err();
    assert!(
        matches!(e.kind(), K::SectionsOverlap { other, .. } if other == "maps")
            || e.section() == Some("maps"),
        "{e}"
    );
}

#[test]
fn uncovered_loads_name_program_and_instruction() {
    for (name, src_reg) in [
        ("uncovered-fd", 1),
        ("uncovered-value", 2),
        ("uncovered-idx", 5),
        ("uncovered-after-covered", 1),
        ("uncovered-second-half-reloc", 1),
        ("uncovered-non-map-reloc", 1),
        ("uncovered-func", 4),
    ] {
        for size in [4 << 10, 64 << 10] {
            let bytes = class(name).generate(size);
            let e = parse_object(Path::new("/x/victim.o"), &bytes).unwrap_err();
            assert_eq!(e.section(), Some("skfilter/victim"), "{name}: {e}");
            let K::UncoveredPseudoLoad { insn, src_reg: got } = e.kind() else {
                panic!("{name}: {e}");
            };
            assert_eq!(*got, src_reg, "{name}");
            // The load is the last thing before `exit`.
            let code_insns = bytes.len() / 8; // upper bound
            assert!(*insn < code_insns, "{name}: {insn}");
            assert!(
                e.to_string().contains(&format!(
                    "instruction {insn}: LD_IMM64 with src_reg {src_reg}"
                )),
                "{e}"
            );
        }
    }
    let e = check(class("truncated-ld-imm64"), 4 << 10).unwrap_err();
    assert_eq!(e.section(), Some("skfilter/victim"));
}

#[test]
fn covered_pseudo_loads_still_parse() {
    let spec = check(class("func-covered"), 4 << 10).unwrap();
    assert_eq!(spec.programs.len(), 1);
    assert!(spec.programs[0].relocations.is_empty());
    assert_eq!(spec.warnings.len(), 1, "{:?}", spec.warnings);
    let spec = check(class("pseudo-in-second-half"), 4 << 10).unwrap();
    assert!(spec.warnings.is_empty());
}

#[test]
fn warnings_are_capped() {
    let spec = check(class("rel-many-warnings"), 256 << 10).unwrap();
    assert_eq!(spec.warnings.len(), parse::MAX_WARNINGS + 1);
    let last = spec.warnings.last().unwrap();
    assert!(
        last.starts_with("... and ") && last.ends_with(" more warnings like these"),
        "{last}"
    );
    let more: usize = last["... and ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(more > 1000, "{last}");
    // Every program still got its map relocations.
    assert!(spec.programs.iter().all(|p| !p.relocations.is_empty()));
}

#[test]
fn names_are_escaped_in_messages() {
    for name in [
        "name-map-newline",
        "name-prog-newline",
        "name-prog-after-dollar",
        "name-func-newline",
    ] {
        let e = check(class(name), 4 << 10).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("\\nnetbpfload: forged"), "{name}: {msg}");
    }
    let c = class("name-object-newline");
    let e = check(c, 4 << 10).unwrap_err();
    assert!(!e.to_string().contains('\n'), "{e}");
}

#[test]
fn object_names_are_path_components() {
    for (file, ok) in [
        (".o", false),
        ("@x.o", false),
        ("a.b.o", false),
        ("x\u{1b}.o", false),
        ("offload@mainline.o", true),
        ("a@b@c.o", true),
        ("noext", true),
    ] {
        let bytes = class("name-object-empty").generate(4 << 10);
        let got = parse_object(&Path::new("/etc/bpf").join(file), &bytes);
        assert_eq!(got.is_ok(), ok, "{file:?}: {got:?}");
        if let Err(e) = got {
            assert!(matches!(e.kind(), K::BadObjectName { .. }), "{e}");
        }
    }
}

/// A file name that is not UTF-8 is refused: decoding it lossily would give
/// `p\xfe.o` and `p\xff.o` one object name, hence the same pins.
#[test]
fn non_utf8_object_names_are_refused() {
    use std::os::unix::ffi::OsStrExt;
    let bytes = class("name-object-empty").generate(4 << 10);
    for raw in [&b"p\xfe.o"[..], b"p\xff.o", b"\xc3.o"] {
        let file = Path::new("/etc/bpf").join(std::ffi::OsStr::from_bytes(raw));
        let e = parse_object(&file, &bytes).expect_err("non-UTF-8 name");
        assert!(
            matches!(e.kind(), K::BadObjectName { reason, .. } if reason.contains("UTF-8")),
            "{e}"
        );
    }
}

#[test]
fn valid_big_keeps_everything() {
    for size in [64 << 10, 1 << 20] {
        let spec = check(class("valid-big"), size).unwrap();
        assert!(spec.programs.len() > 10);
        assert_eq!(spec.maps.len(), 64);
        assert!(spec.warnings.is_empty(), "{:?}", spec.warnings);
        for p in &spec.programs {
            // One relocation per five instructions, all on map loads.
            assert_eq!(p.relocations.len(), (p.insn_count() - 1) / 5);
        }
    }
    for name in [
        "syms-x-sections",
        "syms-in-programs",
        "rel-sections-many",
        "long-shared-name",
        "deep-names",
    ] {
        let spec = check(class(name), 256 << 10).unwrap();
        assert!(!spec.programs.is_empty(), "{name}");
    }
}

#[test]
fn caps_are_typed_errors() {
    for (name, what) in [
        ("too-many-insns-program", "instructions in one program"),
        ("too-many-insns-object", "instructions in the object"),
        ("too-many-relocations", "relocations"),
    ] {
        let e = check(class(name), 0).unwrap_err();
        assert!(
            matches!(e.kind(), K::TooMany { what: w, .. } if *w == what),
            "{name}: {e}"
        );
    }
}
