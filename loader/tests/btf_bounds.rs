//! Memory bounds of the BTF path, asserted with a counting allocator on
//! generators of the worst case at growing sizes (no timing: speed belongs
//! in the benchmark).
//!
//! The worst cases are what a hostile object controls: the number of types
//! (every one a `____btf_map_*` struct, so each gets a hash entry), the
//! number of DATASEC entries and VARs (each needs a section size or symbol
//! value), and names that share one long string (each offset into it is a
//! different name, so copying names would be quadratic). Peak heap growth
//! must stay within a fixed multiple of the input, the same multiple at
//! every size.

use netbpfload::btf::{self, BtfSource};
use netbpfload::parse::parse_object;
use std::path::Path;

mod heap;
use heap::peak_during;

/// The bound: 64 KiB plus 4 times the input. Measured (2026-12): prepare
/// and its lookups peak at 2.8 times the blob, the parser at 1.0 times the
/// object, at every size generated here.
fn bound(len: usize) -> usize {
    (64 << 10) + 4 * len
}

// ---- Generators.

/// One long string of `len` distinct bytes ('a'..'z' repeated with a
/// counter mixed in) followed by NUL: every offset into it is a different
/// name of a different length.
fn long_name(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| b'a' + ((i * 7 + i / 26) % 26) as u8)
        .chain([0])
        .collect()
}

/// A BTF blob of `n` annotation structs `____btf_map_m<i>`, `n` VARs in
/// `n / 8` DATASECs and `n` FUNCs with linkage. VAR and DATASEC names are
/// offsets into one shared 200-byte string ([`long_name`]), so they are
/// distinct and up to 200 bytes long at no cost in blob size.
fn hostile_btf(n: usize) -> Vec<u8> {
    let mut strs = vec![0u8];
    let shared = strs.len();
    strs.extend(long_name(200));
    let var_name = |i: usize| (shared + i % 200) as u32;
    let mut types: Vec<u32> = Vec::new();
    let mut count = 0u32;
    let mut push = |words: &[u32]| {
        types.extend(words);
        count += 1;
        count
    };
    let int = push(&[0, 1 << 24, 4, 32]);
    let proto = push(&[0, 13 << 24, int]);
    let mut vars = Vec::new();
    for i in 0..n {
        let name = strs.len() as u32;
        strs.extend(format!("____btf_map_m{i}\0").as_bytes());
        push(&[name, 4 << 24 | 2, 8, 0, int, 0, 0, int, 32]);
        vars.push(push(&[var_name(i), 14 << 24, int, 1]));
        push(&[var_name(i), 12 << 24 | 1, proto]);
    }
    for (j, chunk) in vars.chunks(8).enumerate() {
        let mut ds = vec![var_name(j), 15 << 24 | chunk.len() as u32, 0];
        for &v in chunk {
            ds.extend([v, 0, 4]);
        }
        push(&ds);
    }
    let type_bytes: Vec<u8> = types.iter().flat_map(|w| w.to_le_bytes()).collect();
    let mut b = Vec::new();
    b.extend(0xeb9fu16.to_le_bytes());
    b.extend([1, 0]);
    for w in [
        24,
        0,
        type_bytes.len() as u32,
        type_bytes.len() as u32,
        strs.len() as u32,
    ] {
        b.extend(w.to_le_bytes());
    }
    b.extend(type_bytes);
    b.extend(strs);
    b
}

/// Every name the fix-up wants, resolved (the worst case for prepare).
fn resolved_source(data: Vec<u8>) -> BtfSource {
    let names = btf::fixup_names(&data).expect("generator makes valid BTF");
    let section_sizes = names.sections.iter().map(|n| (n.offset, 1 << 20)).collect();
    let symbol_values = names
        .symbols
        .iter()
        .enumerate()
        .map(|(i, n)| (n.offset, (i as u64 % 1024) * 4))
        .collect();
    BtfSource {
        data,
        section_sizes,
        symbol_values,
    }
}

#[test]
fn prepare_and_lookups_stay_within_a_fixed_multiple_of_the_blob() {
    for n in [1_000, 4_000, 16_000] {
        let data = hostile_btf(n);
        let len = data.len();
        let src = resolved_source(data);
        let ((), peak) = peak_during(|| {
            let _ = btf::summary(&src.data).expect("summary");
            let names = btf::fixup_names(&src.data).expect("names");
            drop(names);
            let prepared = btf::prepare(&src).expect("prepare");
            let down = prepared.downgraded().expect("FUNCs with linkage");
            assert_eq!(down.len(), len);
            for i in 0..64 {
                let _ = prepared.map_types(&format!("m{i}"), 4, 4);
            }
        });
        assert!(
            peak <= bound(len),
            "n={n}: {len}-byte blob peaked at {peak} bytes (bound {})",
            bound(len)
        );
    }
}

// ---- The parser side: an ELF whose symbols and sections share names.

/// A minimal ELF64 LE EM_BPF relocatable with a `license`, the `.BTF` of
/// `hostile_btf(n)`, `n` sections and `4 n` symbols whose names are
/// offsets into two long strings: the 200-byte one the BTF's VAR and
/// DATASEC names use (so they resolve) and a 4096-byte one (names nothing
/// wants). Every name is distinct; a parser that copied each would use
/// quadratic memory.
fn hostile_elf(n: usize) -> Vec<u8> {
    let btf = hostile_btf(n);
    let mut strtab = vec![0u8];
    let mut add = |s: &[u8]| {
        let off = strtab.len() as u32;
        strtab.extend(s);
        strtab.push(0);
        off
    };
    let (license, btf_name, symtab_name, strtab_name) = (
        add(b"license"),
        add(b".BTF"),
        add(b".symtab"),
        add(b".strtab"),
    );
    let wanted = strtab.len() as u32;
    strtab.extend(long_name(200));
    let other = strtab.len() as u32;
    strtab.extend(long_name(4096));
    let name = |i: usize| {
        if i.is_multiple_of(2) {
            wanted + (i / 2 % 200) as u32
        } else {
            other + (i % 4096) as u32
        }
    };

    let mut body = Vec::new();
    let mut place = |data: &[u8]| {
        while body.len() % 8 != 0 {
            body.push(0);
        }
        let off = 64 + body.len();
        body.extend(data);
        (off as u64, data.len() as u64)
    };
    let license_data = place(b"GPL\0");
    let btf_data = place(&btf);
    let mut syms = vec![0u8; 24];
    for i in 0..4 * n {
        let mut s = [0u8; 24];
        s[..4].copy_from_slice(&name(i).to_le_bytes());
        s[4] = 0x11; // GLOBAL OBJECT
        s[6..8].copy_from_slice(&1u16.to_le_bytes()); // in `license`
        syms.extend(s);
    }
    let symtab_data = place(&syms);
    let strtab_data = place(&strtab);

    // Section headers: null, license, .BTF, .symtab, .strtab, then n
    // sections named into the shared string.
    let mut sh = vec![0u8; 64];
    let mut header = |name: u32, kind: u32, (off, size): (u64, u64), link: u32, entsize: u64| {
        let mut h = [0u8; 64];
        h[..4].copy_from_slice(&name.to_le_bytes());
        h[4..8].copy_from_slice(&kind.to_le_bytes());
        h[0x18..0x20].copy_from_slice(&off.to_le_bytes());
        h[0x20..0x28].copy_from_slice(&size.to_le_bytes());
        h[0x28..0x2c].copy_from_slice(&link.to_le_bytes());
        h[0x38..0x40].copy_from_slice(&entsize.to_le_bytes());
        sh.extend(h);
    };
    header(license, 1, license_data, 0, 0);
    header(btf_name, 1, btf_data, 0, 0);
    header(symtab_name, 2, symtab_data, 4, 24);
    header(strtab_name, 3, strtab_data, 0, 0);
    for i in 0..n {
        header(name(i), 8, (0, 4096), 0, 0); // NOBITS
    }
    let shnum = sh.len() / 64;
    while body.len() % 8 != 0 {
        body.push(0);
    }
    let shoff = 64 + body.len();

    let mut elf = vec![0u8; 64];
    elf[..4].copy_from_slice(b"\x7fELF");
    elf[4] = 2; // ELFCLASS64
    elf[5] = 1; // little-endian
    elf[6] = 1; // EV_CURRENT
    elf[16..18].copy_from_slice(&1u16.to_le_bytes()); // ET_REL
    elf[18..20].copy_from_slice(&247u16.to_le_bytes()); // EM_BPF
    elf[20..24].copy_from_slice(&1u32.to_le_bytes());
    elf[0x28..0x30].copy_from_slice(&(shoff as u64).to_le_bytes());
    elf[0x34..0x36].copy_from_slice(&64u16.to_le_bytes());
    elf[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
    elf[0x3c..0x3e].copy_from_slice(&(shnum as u16).to_le_bytes());
    elf[0x3e..0x40].copy_from_slice(&4u16.to_le_bytes()); // .strtab is also shstrtab
    elf.extend(body);
    elf.extend(sh);
    elf
}

#[test]
fn parser_resolves_btf_names_within_a_fixed_multiple_of_the_file() {
    for n in [500, 2_000, 8_000] {
        let elf = hostile_elf(n);
        let (spec, peak) = peak_during(|| parse_object(Path::new("/x/hostile.o"), &elf));
        let spec = spec.unwrap_or_else(|e| panic!("n={n}: {e}"));
        let src = spec.btf.expect(".BTF kept");
        assert_eq!(
            (src.symbol_values.len(), src.section_sizes.len()),
            (n.min(200), n.div_ceil(8).min(200)),
            "n={n}: every distinct VAR and DATASEC name resolves"
        );
        assert!(
            peak <= bound(elf.len()),
            "n={n}: {}-byte object peaked at {peak} bytes (bound {})",
            elf.len(),
            bound(elf.len())
        );
    }
}
