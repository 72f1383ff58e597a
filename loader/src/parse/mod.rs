//! Pure parser: the bytes of one Android-format eBPF ELF object in, an
//! [`ObjectSpec`] out.
//!
//! No syscalls and no knowledge of the running kernel; the file path is used
//! only for the object name and for error messages. Every object is untrusted
//! input: each offset, size and count read from the file is checked before
//! use, allocations are bounded, and a malformed file yields a
//! [`ParseError`] naming the file, the section and the reason, never a panic.
//!
//! The format is described in `shared/reference/android-bpf-loader-facts.md`
//! §1 (sections and structs), §2 (program sections), §3 (names) and §6
//! (relocations). Record sizes follow the Android 15 compatibility rules:
//! the stride is the declared `size_of_bpf_*_def`, shorter (older) records
//! keep defaults for the fields they lack, longer (newer) ones are truncated.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod btf;
mod code;
mod defs;
mod elf;
mod error;

pub use error::{ParseError, ParseErrorKind};

use crate::paths;
use crate::spec::{
    MapSpec, ObjectSpec, SectionsPresent, DEFAULT_BPFLOADER_MAX_VER, DEFAULT_BPFLOADER_MIN_VER,
    DEFAULT_MAP_DEF_SIZE, DEFAULT_PROG_DEF_SIZE, MIN_BPF_MAP_DEF_SIZE, MIN_BPF_PROG_DEF_SIZE,
};
use std::path::Path;

/// Largest accepted `size_of_bpf_map_def` / `size_of_bpf_prog_def`. The
/// structs grew from 32/20 to 120/92 bytes in five Android releases; a
/// declared size beyond this is corruption, not a newer ABI.
pub const MAX_DEF_SIZE: usize = 4096;
/// Most maps accepted in one object (netd.o, the largest, has about 25).
pub const MAX_MAPS: usize = 4096;
/// Most `progs` records accepted in one object.
pub const MAX_PROG_DEFS: usize = 4096;
/// Most program sections accepted in one object.
pub const MAX_PROGRAMS: usize = 4096;

/// Parses one object. `file` names it (object name, error messages); `bytes`
/// is its whole content.
pub fn parse_object(file: &Path, bytes: &[u8]) -> Result<ObjectSpec, ParseError> {
    let elf = elf::Elf::parse(file, bytes)?;

    let license = defs::string_section(&elf, "license")?
        .ok_or_else(|| elf.error(ParseErrorKind::MissingLicense))?;
    let critical = defs::string_section(&elf, "critical")?;
    let bpfloader_min_ver =
        defs::u32_section(&elf, "bpfloader_min_ver", DEFAULT_BPFLOADER_MIN_VER)?;
    let bpfloader_max_ver =
        defs::u32_section(&elf, "bpfloader_max_ver", DEFAULT_BPFLOADER_MAX_VER)?;
    let size_of_bpf_map_def = defs::def_size_section(
        &elf,
        "size_of_bpf_map_def",
        DEFAULT_MAP_DEF_SIZE,
        MIN_BPF_MAP_DEF_SIZE,
    )?;
    let size_of_bpf_prog_def = defs::def_size_section(
        &elf,
        "size_of_bpf_prog_def",
        DEFAULT_PROG_DEF_SIZE,
        MIN_BPF_PROG_DEF_SIZE,
    )?;

    let maps: Vec<MapSpec> = defs::maps(&elf, size_of_bpf_map_def)?
        .into_iter()
        .map(|(name, def)| MapSpec { name, def })
        .collect();
    let prog_defs = defs::prog_defs(&elf, size_of_bpf_prog_def)?;
    let map_names: Vec<String> = maps.iter().map(|m| m.name.clone()).collect();
    let mut warnings = Vec::new();
    let programs = code::programs(&elf, &map_names, &prog_defs, &mut warnings)?;
    let btf = btf::extract(&elf, bytes)?;

    let present = SectionsPresent {
        bpfloader_min_ver: elf.find_section("bpfloader_min_ver").is_some(),
        bpfloader_max_ver: elf.find_section("bpfloader_max_ver").is_some(),
        size_of_bpf_map_def: elf.find_section("size_of_bpf_map_def").is_some(),
        size_of_bpf_prog_def: elf.find_section("size_of_bpf_prog_def").is_some(),
        maps: elf.find_section("maps").is_some(),
        progs: elf.find_section("progs").is_some(),
        btf: elf.find_section(".BTF").is_some(),
    };
    let netbpfload_min_ver = defs::u32_section_opt(&elf, "netbpfload_min_ver")?;
    let bpfloader_min_required_ver = defs::u32_section_opt(&elf, "bpfloader_min_required_ver")?;

    Ok(ObjectSpec {
        name: paths::object_name(file),
        license,
        critical,
        bpfloader_min_ver,
        bpfloader_max_ver,
        size_of_bpf_map_def,
        size_of_bpf_prog_def,
        maps,
        programs,
        warnings,
        netbpfload_min_ver,
        bpfloader_min_required_ver,
        present,
        btf,
        libbpf: None,
    })
}
