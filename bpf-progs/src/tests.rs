//! Unit tests: the compiled objects are well-formed ELF for EM_BPF, and
//! `install_tree` lays them out the way the loader's locations expect.

use super::*;

const EM_BPF: u16 = 247;
const ET_REL: u16 = 1;

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes(b[off..off + 2].try_into().unwrap())
}

#[test]
fn every_object_is_elf64_le_relocatable_for_bpf() {
    assert!(!OBJECTS.is_empty());
    for obj in OBJECTS {
        let b = obj.bytes;
        assert!(b.len() > 64, "{}: too short", obj.file_name);
        assert_eq!(&b[..4], b"\x7fELF", "{}: ELF magic", obj.file_name);
        assert_eq!(b[4], 2, "{}: ELFCLASS64", obj.file_name);
        assert_eq!(b[5], 1, "{}: little-endian", obj.file_name);
        assert_eq!(u16_at(b, 16), ET_REL, "{}: ET_REL", obj.file_name);
        assert_eq!(u16_at(b, 18), EM_BPF, "{}: EM_BPF", obj.file_name);
    }
}

#[test]
fn table_matches_what_build_rs_compiled() {
    let built = include_str!(concat!(env!("OUT_DIR"), "/objects.txt"));
    let mut built: Vec<&str> = built.lines().filter(|l| !l.is_empty()).collect();
    built.sort_unstable();
    let mut listed: Vec<&str> = OBJECTS.iter().map(|o| o.file_name).collect();
    listed.sort_unstable();
    assert_eq!(built, listed);
}
