//! Malformed and hostile objects: each must give the specific typed error,
//! name the file, and never panic.

mod parse_util;

use netbpfload::parse::{parse_object, ParseError, ParseErrorKind as K};
use parse_util::*;
use std::path::Path;

const FILE: &str = "/etc/bpf/bad@x.o";

fn parse(bytes: &[u8]) -> Result<netbpfload::spec::ObjectSpec, ParseError> {
    parse_object(Path::new(FILE), bytes)
}

/// Parses, expects an error, checks the message names the file, returns it.
fn fail(bytes: &[u8]) -> ParseError {
    let e = parse(bytes).expect_err("malformed object parsed");
    let msg = e.to_string();
    assert!(msg.starts_with(&format!("{FILE}: ")), "{msg}");
    assert_eq!(e.file(), Path::new(FILE));
    e
}

fn fail_sample(f: impl FnOnce(&mut Sample)) -> ParseError {
    let mut s = Sample::default();
    f(&mut s);
    fail(&s.build())
}

#[test]
fn sample_is_valid() {
    let spec = parse(&sample_object()).unwrap();
    assert_eq!(spec.name, "bad");
    assert_eq!(spec.license, "GPL");
    assert_eq!(spec.bpfloader_min_ver, 42);
    assert_eq!(spec.maps.len(), 2);
    assert_eq!(spec.maps[1].name, "second_map");
    assert_eq!(spec.maps[1].def.map_type, 2);
    assert_eq!(spec.programs.len(), 1);
    let p = &spec.programs[0];
    assert_eq!(p.section, "skfilter/test$opt");
    assert_eq!(p.pin_name, "skfilter_test");
    assert_eq!(p.kernel_name, "skfilter_test_o");
    assert_eq!(p.insn_count(), 6);
    assert_eq!(
        p.relocations
            .iter()
            .map(|r| (r.insn_index, r.map_index))
            .collect::<Vec<_>>(),
        [(0, 0), (2, 1)]
    );
    assert!(spec.warnings.is_empty(), "{:?}", spec.warnings);
}

#[test]
fn empty_and_zero_filled() {
    assert_eq!(fail(&[]).kind(), &K::NotElf);
    assert_eq!(fail(&[0u8; 4096]).kind(), &K::NotElf);
    assert_eq!(fail(&[0u8; 3]).kind(), &K::NotElf);
    // Magic and ident only: too short for the 64-byte header.
    let mut head = sample_object();
    head.truncate(20);
    assert_eq!(fail(&head).kind(), &K::NotElf);
}

#[test]
fn truncated_at_every_length() {
    let full = sample_object();
    for len in 0..full.len() {
        let e = fail(&full[..len]);
        assert!(
            matches!(
                e.kind(),
                K::NotElf | K::SectionTableOutOfBounds { .. } | K::SectionOutOfBounds { .. }
            ),
            "len {len}: {e}"
        );
    }
}

#[test]
fn bit_flips_never_panic() {
    // Deterministic xorshift: flip 1..4 bytes at a time, 20 000 variants.
    let base = sample_object();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut ok = 0;
    for _ in 0..20_000 {
        let mut b = base.clone();
        for _ in 0..=(next() % 4) {
            let i = (next() % b.len() as u64) as usize;
            b[i] = next() as u8;
        }
        match parse(&b) {
            Ok(_) => ok += 1,
            Err(e) => assert!(e.to_string().starts_with(FILE), "{e}"),
        }
    }
    // Most single-byte flips land in code or padding and still parse.
    assert!(ok > 0);
}

#[test]
fn wrong_class() {
    let mut b = sample_object();
    b[4] = 1; // ELFCLASS32
    assert_eq!(fail(&b).kind(), &K::Not64Bit { class: 1 });
}

#[test]
fn wrong_endianness() {
    let mut b = sample_object();
    b[5] = 2; // ELFDATA2MSB
    assert_eq!(fail(&b).kind(), &K::NotLittleEndian { data: 2 });
}

#[test]
fn wrong_version() {
    let mut b = sample_object();
    b[6] = 0;
    assert_eq!(fail(&b).kind(), &K::BadElfVersion { version: 0 });
}

#[test]
fn wrong_machine() {
    let mut b = sample_object();
    patch_u16(&mut b, 18, 62); // EM_X86_64
    let e = fail(&b);
    assert_eq!(e.kind(), &K::WrongMachine { machine: 62 });
    assert_eq!(
        e.to_string(),
        format!("{FILE}: e_machine 62 is not EM_BPF (247)")
    );
}

#[test]
fn not_relocatable() {
    let mut b = sample_object();
    patch_u16(&mut b, 16, 2); // ET_EXEC
    assert_eq!(fail(&b).kind(), &K::NotRelocatable { e_type: 2 });
}

#[test]
fn section_table_out_of_range() {
    let mut b = sample_object();
    let len = b.len();
    patch_u64(&mut b, 40, len as u64 - 10); // e_shoff
    assert!(matches!(
        fail(&b).kind(),
        K::SectionTableOutOfBounds { file_len, .. } if *file_len == len
    ));
    let mut b = sample_object();
    patch_u64(&mut b, 40, u64::MAX - 8);
    assert!(matches!(fail(&b).kind(), K::SectionTableOutOfBounds { .. }));
}

#[test]
fn absurd_section_count() {
    let mut b = sample_object();
    patch_u16(&mut b, 60, 65535); // e_shnum
    assert!(matches!(
        fail(&b).kind(),
        K::SectionTableOutOfBounds { count: 65535, .. }
    ));
}

#[test]
fn bad_section_header_size() {
    let mut b = sample_object();
    patch_u16(&mut b, 58, 40); // e_shentsize
    assert_eq!(fail(&b).kind(), &K::BadSectionHeaderSize { size: 40 });
}

#[test]
fn bad_shstrndx() {
    let mut b = sample_object();
    patch_u16(&mut b, 62, 999); // e_shstrndx
    assert!(matches!(fail(&b).kind(), K::SectionTable(_)));
}

#[test]
fn section_data_out_of_range() {
    let mut b = sample_object();
    let h = section_header_offset(&b, "license");
    patch_u64(&mut b, h + 24, 1 << 40); // sh_offset
    let e = fail(&b);
    assert!(matches!(e.kind(), K::SectionOutOfBounds { offset, .. } if *offset == 1 << 40));
    assert_eq!(e.section(), Some("license"));

    let mut b = sample_object();
    let h = section_header_offset(&b, "maps");
    patch_u64(&mut b, h + 32, u64::MAX); // sh_size
    assert!(matches!(fail(&b).kind(), K::SectionOutOfBounds { .. }));

    let mut b = sample_object();
    let h = section_header_offset(&b, ".symtab");
    patch_u64(&mut b, h + 32, 1 << 50);
    let e = fail(&b);
    assert!(matches!(e.kind(), K::SectionOutOfBounds { .. }));
    assert_eq!(e.section(), Some(".symtab"));
}

#[test]
fn maps_not_multiple_of_record_size() {
    let e = fail_sample(|s| s.maps.resize(250, 0));
    assert_eq!(
        e.kind(),
        &K::RecordsNotMultiple {
            size: 250,
            stride: 120
        }
    );
    assert_eq!(
        e.to_string(),
        format!("{FILE}: section maps: size 250 is not a multiple of the record size 120")
    );
    let e = fail_sample(|s| s.progs.push(0));
    assert_eq!(e.section(), Some("progs"));
    assert!(matches!(
        e.kind(),
        K::RecordsNotMultiple {
            size: 93,
            stride: 92
        }
    ));
}

#[test]
fn symbol_past_its_section() {
    let e = fail_sample(|s| s.map_syms[1].1 = 240);
    assert!(
        matches!(e.kind(), K::SymbolOutOfSection { symbol, value: 240, .. } if symbol == "second_map"),
        "{e}"
    );
    let e = fail_sample(|s| s.map_syms[1].2 = u64::MAX);
    assert!(matches!(e.kind(), K::SymbolOutOfSection { .. }), "{e}");
}

#[test]
fn symbol_not_on_its_record() {
    let e = fail_sample(|s| s.map_syms[1].1 = 100);
    assert!(
        matches!(e.kind(), K::SymbolMisplaced { symbol, value: 100, expected: 120 } if symbol == "second_map"),
        "{e}"
    );
}

#[test]
fn symbol_count_mismatch() {
    let e = fail_sample(|s| {
        s.map_syms.pop();
        s.rels.pop();
    });
    assert_eq!(
        e.kind(),
        &K::SymbolCountMismatch {
            symbols: 1,
            records: 2
        }
    );
}

#[test]
fn map_name_with_slash() {
    let e = fail_sample(|s| s.map_syms[0].0 = "../../evil".into());
    assert!(matches!(e.kind(), K::BadSymbolName { name, .. } if name == "../../evil"));
}

#[test]
fn relocation_to_missing_symbol() {
    let e = fail_sample(|s| s.rels[1].1 = RelSym::Raw(999));
    assert!(
        matches!(e.kind(), K::RelocationSymbolMissing { index: 999, .. }),
        "{e}"
    );
    assert_eq!(e.section(), Some(".relskfilter/test$opt"));
}

#[test]
fn relocation_outside_code() {
    let e = fail_sample(|s| s.rels[0].0 = 3);
    assert!(matches!(
        e.kind(),
        K::RelocationOutOfRange {
            offset: 3,
            code_size: 48
        }
    ));
    let e = fail_sample(|s| s.rels[0].0 = 48);
    assert!(matches!(
        e.kind(),
        K::RelocationOutOfRange { offset: 48, .. }
    ));
    let e = fail_sample(|s| s.rels[0].0 = u64::MAX - 7);
    assert!(matches!(e.kind(), K::RelocationOutOfRange { .. }));
}

#[test]
fn relocation_not_on_ld_imm64_is_skipped_with_warning() {
    let mut s = Sample::default();
    s.rels[1].0 = 32; // the MOV r0, 0
    let spec = parse(&s.build()).unwrap();
    assert_eq!(spec.programs[0].relocations.len(), 1);
    assert_eq!(spec.warnings.len(), 1);
    assert!(
        spec.warnings[0].contains("second_map"),
        "{:?}",
        spec.warnings
    );
    // On the second half of an LD_IMM64: not an instruction of its own.
    let mut s = Sample::default();
    s.rels[1].0 = 8;
    let spec = parse(&s.build()).unwrap();
    assert_eq!(spec.programs[0].relocations.len(), 1);
    assert_eq!(spec.warnings.len(), 1, "{:?}", spec.warnings);
    assert!(spec.warnings[0].contains("insn 1"), "{:?}", spec.warnings);
    // An LD_IMM64 whose second half would be past the end of the code is no
    // longer skipped: the program is refused (issue 11, item 4).
    let mut s = Sample::default();
    s.code.truncate(40);
    s.code.extend_from_slice(&LD_IMM64[..8]);
    s.rels[1].0 = 40;
    let e = fail(&s.build());
    assert_eq!(e.kind(), &K::TruncatedLdImm64 { insn: 5 });
    assert_eq!(e.section(), Some("skfilter/test$opt"));
}

#[test]
fn relocation_to_non_map_symbol_is_ignored() {
    let mut s = Sample::default();
    s.rels[0].1 = RelSym::Raw(1); // prog_test (FUNC)
    let spec = parse(&s.build()).unwrap();
    assert_eq!(spec.programs[0].relocations.len(), 1);
    assert!(
        spec.warnings[0].contains("prog_test"),
        "{:?}",
        spec.warnings
    );
}

#[test]
fn code_size_not_multiple_of_8() {
    let e = fail_sample(|s| {
        s.code.push(0);
        s.rels.clear();
    });
    assert_eq!(e.kind(), &K::CodeSizeNotMultiple { size: 49 });
    assert_eq!(e.section(), Some("skfilter/test$opt"));
}

#[test]
fn empty_code() {
    let e = fail_sample(|s| {
        s.code.clear();
        s.rels.clear();
    });
    assert_eq!(e.kind(), &K::EmptyCode);
}

#[test]
fn absurd_record_sizes() {
    let e = fail_sample(|s| s.map_def_size = Some((1u64 << 40).to_le_bytes().to_vec()));
    assert!(matches!(e.kind(), K::DefSizeTooLarge { size, .. } if *size == 1 << 40));
    assert_eq!(e.section(), Some("size_of_bpf_map_def"));
    let e = fail_sample(|s| s.map_def_size = Some(u64::MAX.to_le_bytes().to_vec()));
    assert!(matches!(e.kind(), K::DefSizeTooLarge { .. }));
    let e = fail_sample(|s| s.map_def_size = Some(16u64.to_le_bytes().to_vec()));
    assert_eq!(e.kind(), &K::DefSizeTooSmall { size: 16, min: 32 });
    let e = fail_sample(|s| s.prog_def_size = Some(19u64.to_le_bytes().to_vec()));
    assert_eq!(e.kind(), &K::DefSizeTooSmall { size: 19, min: 20 });
    let e = fail_sample(|s| s.prog_def_size = Some(vec![92, 0, 0, 0]));
    assert_eq!(e.kind(), &K::SectionTooShort { size: 4, need: 8 });
    let e = fail_sample(|s| s.min_ver = Some(vec![1, 2]));
    assert_eq!(e.kind(), &K::SectionTooShort { size: 2, need: 4 });
}

#[test]
fn too_many_maps() {
    // 4097 legacy 32-byte records: rejected before any symbol is looked at.
    let e = fail_sample(|s| {
        s.map_def_size = Some(32u64.to_le_bytes().to_vec());
        s.maps = vec![0; 4097 * 32];
    });
    assert!(
        matches!(
            e.kind(),
            K::TooMany {
                what: "maps",
                count: 4097,
                max: 4096
            }
        ),
        "{e}"
    );
}

#[test]
fn license_missing_or_unterminated() {
    assert_eq!(fail_sample(|s| s.license = None).kind(), &K::MissingLicense);
    let e = fail_sample(|s| s.license = Some(b"GPL".to_vec()));
    assert_eq!(e.kind(), &K::UnterminatedString);
    assert_eq!(e.section(), Some("license"));
    let e = fail_sample(|s| s.critical = Some(b"\xff\xfe\0".to_vec()));
    assert_eq!(e.kind(), &K::InvalidUtf8);
}

#[test]
fn nonzero_zero_field() {
    let e = fail_sample(|s| s.maps[120 + 20] = 7);
    assert_eq!(
        e.kind(),
        &K::NonZeroField {
            map: "second_map".into(),
            value: 7
        }
    );
}

/// A domain string no release knows parses (as `Domain::Unknown` with its
/// text): whether it is ignored or fails the object is the release's rule,
/// decided by the plan (Android 15 ignores an unknown selinux_context, its
/// platform loader both fields).
#[test]
fn unknown_domains_parse_with_their_text() {
    use netbpfload::spec::Domain;
    let sample = |f: &dyn Fn(&mut Sample)| {
        let mut s = Sample::default();
        f(&mut s);
        parse(&s.build()).expect("parses")
    };
    let spec = sample(&|s: &mut Sample| {
        s.maps[..120].copy_from_slice(
            &MapRec {
                selinux_context: "fs_bpf_bogus",
                ..MapRec::default()
            }
            .bytes(),
        )
    });
    let d = &spec.maps[0].def;
    assert_eq!(
        (d.selinux_context, d.pin_subdir),
        (Domain::Unknown, Domain::Unspecified)
    );
    assert_eq!(
        d.raw_domains.selinux_context.as_deref(),
        Some("fs_bpf_bogus")
    );
    assert_eq!(d.raw_domains.pin_subdir, None);

    let spec = sample(&|s: &mut Sample| {
        s.progs = ProgRec {
            pin_subdir: "vendor/",
            ..ProgRec::default()
        }
        .bytes()
    });
    let d = &spec.programs[0].def;
    assert_eq!(d.pin_subdir, Domain::Unknown);
    assert_eq!(d.raw_domains.pin_subdir.as_deref(), Some("vendor/"));

    // 32 non-NUL bytes: strncmp(…, 32) never equals a shorter name.
    let spec = sample(&|s: &mut Sample| s.maps[48..80].copy_from_slice(&[b'a'; 32]));
    assert_eq!(
        spec.maps[0].def.raw_domains.selinux_context.as_deref(),
        Some("a".repeat(32).as_str())
    );
    // Control characters and bytes that are not UTF-8 are escaped.
    let spec = sample(&|s: &mut Sample| {
        s.maps[48..52].copy_from_slice(b"a\n\xffb");
    });
    let raw = spec.maps[0]
        .def
        .raw_domains
        .selinux_context
        .clone()
        .unwrap();
    assert!(!raw.contains('\n') && raw.contains("\\xff"), "{raw}");
}

#[test]
fn missing_prog_def() {
    let e = fail_sample(|s| s.prog_syms[0].0 = "other_def".into());
    assert_eq!(
        e.kind(),
        &K::MissingProgDef {
            func: "prog_test".into()
        }
    );
    assert_eq!(
        e.to_string(),
        format!(
            "{FILE}: section skfilter/test$opt: no program definition prog_test_def in the progs section"
        )
    );
}

#[test]
fn no_func_symbol() {
    let e = fail_sample(|s| s.func = None);
    assert_eq!(e.kind(), &K::NoFuncSymbol);
}

#[test]
fn unknown_sections_are_ignored() {
    let s = Sample {
        section_name: "fuse/test".into(),
        rels: vec![],
        ..Sample::default()
    };
    let spec = parse(&s.build()).unwrap();
    assert!(spec.programs.is_empty());
    assert_eq!(spec.maps.len(), 2);
}

#[test]
fn release_sections_and_presence() {
    let spec = parse(&sample_object()).unwrap();
    assert_eq!(spec.netbpfload_min_ver, None);
    assert_eq!(spec.bpfloader_min_required_ver, None);
    let p = spec.present;
    assert!(p.bpfloader_min_ver && p.bpfloader_max_ver && p.maps && p.progs);
    assert!(p.size_of_bpf_map_def && p.size_of_bpf_prog_def);

    let mut s = Sample {
        extra: vec![
            ("netbpfload_min_ver".into(), 45u32.to_le_bytes().to_vec()),
            (
                "bpfloader_min_required_ver".into(),
                47u32.to_le_bytes().to_vec(),
            ),
        ],
        min_ver: None,
        prog_def_size: None,
        ..Sample::default()
    };
    s.progs.truncate(20); // v0.0 records without the size section
    s.prog_syms[0].2 = 20;
    let spec = parse(&s.build()).unwrap();
    assert_eq!(spec.netbpfload_min_ver, Some(45));
    assert_eq!(spec.bpfloader_min_required_ver, Some(47));
    assert!(!spec.present.bpfloader_min_ver && spec.present.bpfloader_max_ver);
    assert!(!spec.present.size_of_bpf_prog_def && spec.present.size_of_bpf_map_def);

    let e = fail_sample(|s| s.extra = vec![("netbpfload_min_ver".into(), vec![45, 0])]);
    assert_eq!(e.kind(), &K::SectionTooShort { size: 2, need: 4 });
    assert_eq!(e.section(), Some("netbpfload_min_ver"));
}

#[test]
fn map_names_must_be_pin_path_components() {
    for (name, reason) in [
        ("a.b", "contains '.' (reserved by bpffs)"),
        ("..", "contains '.' (reserved by bpffs)"),
        ("m\nnetbpfload: forged", "contains a control character"),
        ("m\u{7f}", "contains a control character"),
        ("", "is empty"),
        ("a/b", "contains '/'"),
    ] {
        let e = fail_sample(|s| s.map_syms[1].0 = name.to_string());
        assert!(
            matches!(e.kind(), K::BadSymbolName { name: n, reason: r, .. } if *n == name && *r == reason),
            "{name:?}: {e}"
        );
        assert!(!e.to_string().contains('\n'), "{e}");
    }
    // Function and definition names are not path components: dots are fine.
    let mut s = Sample {
        func: Some("prog.test".into()),
        ..Sample::default()
    };
    s.prog_syms[0].0 = "prog.test_def".into();
    parse(&s.build()).unwrap();
}

#[test]
fn overlapping_sections_are_refused_naming_both() {
    // `.BTF` is read (by the BTF extraction): it may not alias `maps`...
    let mut b = Sample {
        extra: vec![(".BTF".into(), vec![0; 64])],
        ..Sample::default()
    }
    .build();
    let (maps_off, _) = section_range(&b, "maps");
    let h = section_header_offset(&b, ".BTF");
    patch_u64(&mut b, h + 24, maps_off as u64 + 8);
    let e = fail(&b);
    assert_eq!(e.section(), Some(".BTF"));
    assert_eq!(
        e.kind(),
        &K::SectionsOverlap {
            other: "maps".into(),
            range: (maps_off as u64 + 8, maps_off as u64 + 72),
            other_range: (maps_off as u64, maps_off as u64 + 240),
        }
    );
    assert_eq!(
        e.to_string(),
        format!(
            "{FILE}: section .BTF: data (bytes {}..{}) overlaps section maps (bytes {}..{})",
            maps_off + 8,
            maps_off + 72,
            maps_off,
            maps_off + 240
        )
    );
    // ... but an empty section may sit anywhere.
    patch_u64(&mut b, h + 32, 0);
    parse(&b).unwrap();
    // An unread section may alias anything.
    let mut b = Sample {
        extra: vec![(".comment".into(), vec![0; 64])],
        ..Sample::default()
    }
    .build();
    let h = section_header_offset(&b, ".comment");
    patch_u64(&mut b, h + 24, maps_off as u64);
    parse(&b).unwrap();
}

#[test]
fn code_over_its_own_relocations_is_refused() {
    let mut b = sample_object();
    let (rel_off, rel_size) = section_range(&b, ".relskfilter/test$opt");
    let h = section_header_offset(&b, "skfilter/test$opt");
    patch_u64(&mut b, h + 24, rel_off as u64);
    patch_u64(&mut b, h + 32, rel_size as u64);
    let e = fail(&b);
    assert!(matches!(e.kind(), K::SectionsOverlap { .. }), "{e}");
}

#[test]
fn uncovered_map_fd_load_is_refused() {
    // `r1 = 3 ll` with src_reg = BPF_PSEUDO_MAP_FD at insn 2, no relocation:
    // fd 3 may be another object's map in a parallel load.
    let e = fail_sample(|s| {
        s.code[16 + 1] = 0x11;
        s.code[16 + 4] = 3;
        s.rels.pop();
    });
    assert_eq!(
        e.kind(),
        &K::UncoveredPseudoLoad {
            insn: 2,
            src_reg: 1
        }
    );
    assert_eq!(e.section(), Some("skfilter/test$opt"));
    // Covered by a map relocation: the engine rewrites it; fine.
    let mut s = Sample::default();
    s.code[16 + 1] = 0x11;
    s.code[16 + 4] = 3;
    assert_eq!(parse(&s.build()).unwrap().programs[0].relocations.len(), 2);
    // Covered only by a relocation to a non-map symbol: refused.
    let e = fail_sample(|s| {
        s.code[16 + 1] = 0x11;
        s.rels[1].1 = RelSym::Raw(1); // prog_test, a FUNC
    });
    assert_eq!(
        e.kind(),
        &K::UncoveredPseudoLoad {
            insn: 2,
            src_reg: 1
        }
    );
}

#[test]
fn duplicate_relocation_section_is_refused() {
    let mut b = sample_object();
    // Make `license` a second SHT_REL for the program.
    let code = section_header_offset(&b, "skfilter/test$opt");
    let idx = (code - u64::from_le_bytes(b[40..48].try_into().unwrap()) as usize) / 64;
    let lic = section_header_offset(&b, "license");
    patch_u32(&mut b, lic + 4, 9); // SHT_REL
    patch_u32(&mut b, lic + 44, idx as u32); // sh_info
    let e = fail(&b);
    assert_eq!(e.section(), Some("skfilter/test$opt"));
    assert!(
        matches!(e.kind(), K::DuplicateRelocationSection { first, second } if first == ".relskfilter/test$opt" && second == "license"
            || first == "license" && second == ".relskfilter/test$opt"),
        "{e}"
    );
}

#[test]
fn pin_file_names_fit_name_max() {
    // Object `bad`: the pin file names are `map_bad_<map>` and
    // `prog_bad_<pin name>`, at most 255 bytes (temporary pins have short
    // names of their own).
    let ok = |n: usize| "m".repeat(n);
    let spec = parse(
        &Sample {
            map_syms: vec![(ok(255 - 8), 0, 120), ("second_map".into(), 120, 120)],
            ..Sample::default()
        }
        .build(),
    )
    .unwrap();
    assert_eq!(spec.maps[0].name.len(), 247);
    let e = fail_sample(|s| s.map_syms[0].0 = ok(255 - 7));
    assert!(
        matches!(e.kind(), K::BadSymbolName { reason, .. } if reason.contains("longer than 255")),
        "{e}"
    );
    let section = |n: usize| format!("skfilter/{}", "p".repeat(n - 9));
    parse(
        &Sample {
            section_name: section(255 - 9),
            ..Sample::default()
        }
        .build(),
    )
    .unwrap();
    let e = fail_sample(|s| s.section_name = section(255 - 8));
    assert!(
        matches!(e.kind(), K::BadProgramName { reason, .. } if reason.contains("longer than 255")),
        "{e}"
    );
}

/// 2025 main's loader and the platform loader never read the size
/// sections: records are 120/92 bytes. An object without the sections is
/// read that way under `Records::Fixed` (and with the 32/20-byte defaults
/// under `Records::Declared`, where its 240-byte maps section is then read
/// as 7 records and does not match its 2 map symbols); a declared legacy
/// size is ignored.
#[test]
fn fixed_records_ignore_the_size_sections() {
    use netbpfload::parse::{parse_object_as, Records};
    let bytes = Sample {
        map_def_size: None,
        prog_def_size: None,
        ..Sample::default()
    }
    .build();
    let spec = parse_object_as(Path::new(FILE), &bytes, Records::Fixed).expect("fixed");
    assert_eq!(
        (spec.size_of_bpf_map_def, spec.size_of_bpf_prog_def),
        (120, 92)
    );
    assert_eq!(spec.maps.len(), 2);
    assert_eq!(spec.maps[1].def.map_type, 2);
    assert!(parse(&bytes).is_err(), "32/20-byte defaults");

    let s = Sample {
        map_def_size: Some(116u64.to_le_bytes().to_vec()),
        ..Sample::default()
    };
    let spec = parse_object_as(Path::new(FILE), &s.build(), Records::Fixed).expect("fixed");
    assert_eq!(spec.size_of_bpf_map_def, 120);
    assert_eq!(spec.maps[1].def.map_type, 2);
}
