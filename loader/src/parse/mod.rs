//! Pure parser: the bytes of one Android-format eBPF ELF object in, an
//! [`ObjectSpec`] out.
//!
//! No syscalls and no knowledge of the running kernel; the file path is used
//! only for the object name and for error messages. Every object is untrusted
//! input: each offset, size and count read from the file is checked before
//! use, and a malformed file yields a [`ParseError`] naming the file, the
//! section and the reason, never a panic.
//!
//! Cost is linear in the file size, memory a small multiple of it (issue 11):
//! * one pass over the section headers and one over the symbols build every
//!   index the rest needs ([`index`]); nothing walks a table per program;
//! * names are read with a bounded scan of at most [`MAX_NAME_LEN`]` + 1`
//!   bytes, and a name the parser needs that is longer is an error;
//! * no two sections the parser reads may share a byte, so code copied and
//!   relocation entries expanded add up to at most the file size;
//! * instructions, relocations, programs, maps and warnings are capped.
//!
//! The format is described in `docs/object-format.md` (sections, records,
//! program sections, names, relocations). Record sizes follow the Android 15
//! compatibility rules (`docs/object-format.md#legacy-record-sizes`):
//! the stride is the declared `size_of_bpf_*_def`, shorter (older) records
//! keep defaults for the fields they lack, longer (newer) ones are truncated.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod btf;
mod code;
mod defs;
mod elf;
mod error;
mod index;
mod names;
#[cfg(test)]
mod tests;

pub use error::{ParseError, ParseErrorKind};

use crate::paths;
use crate::spec::{
    ObjectSpec, SectionsPresent, BPF_MAP_DEF_SIZE, BPF_PROG_DEF_SIZE, DEFAULT_BPFLOADER_MAX_VER,
    DEFAULT_BPFLOADER_MIN_VER, DEFAULT_MAP_DEF_SIZE, DEFAULT_PROG_DEF_SIZE, MIN_BPF_MAP_DEF_SIZE,
    MIN_BPF_PROG_DEF_SIZE,
};
use index::Special;
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
/// Longest section or symbol name the parser reads, in bytes without the
/// NUL: a path component's limit (`NAME_MAX`). Names are read with a scan of
/// at most this + 1 bytes; a longer name that the parser needs (a program
/// section, a map, a function or a definition) is
/// [`ParseErrorKind::NameTooLong`]. Names the parser does not need are never
/// read, and a longer section name without a program prefix is ignored.
pub const MAX_NAME_LEN: usize = 255;
/// Most instructions in one program: the kernel's own limit
/// (`BPF_COMPLEXITY_LIMIT_INSNS`); a longer program can never load.
pub const MAX_PROGRAM_INSNS: usize = 1_000_000;
/// Most instructions in one object (8 MiB of code; real objects have a few
/// thousand).
pub const MAX_OBJECT_INSNS: usize = 1 << 20;
/// Most relocation entries in one object (real objects have hundreds).
pub const MAX_RELOCATIONS: usize = 1 << 18;
/// Most warnings kept per object; the rest are counted in one last line.
pub const MAX_WARNINGS: usize = 32;

/// How the `maps` / `progs` records are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Records {
    /// As the `size_of_bpf_map_def` / `size_of_bpf_prog_def` sections
    /// declare (32 / 20 bytes without them): Android 15's NetBpfLoad.
    #[default]
    Declared,
    /// Always 120 / 92 bytes, the size sections not read: 2025 main's
    /// NetBpfLoad and the platform bpfloader.
    Fixed,
}

/// Parses one object with its declared record sizes ([`Records::Declared`]).
/// `file` names it (object name, error messages); `bytes` is its whole
/// content.
pub fn parse_object(file: &Path, bytes: &[u8]) -> Result<ObjectSpec, ParseError> {
    parse_object_as(file, bytes, Records::Declared)
}

/// Parses one object with its records laid out as `records` says.
pub fn parse_object_as(
    file: &Path,
    bytes: &[u8],
    records: Records,
) -> Result<ObjectSpec, ParseError> {
    let name = paths::object_name(file);
    let utf8 = file.file_name().is_none_or(|n| n.to_str().is_some());
    let valid = if utf8 {
        names::component(&name)
    } else {
        // Lossy decoding would give two files one name (and one pin path).
        Err("is not valid UTF-8")
    };
    valid.map_err(|reason| {
        ParseError::new(
            file,
            None,
            ParseErrorKind::BadObjectName {
                name: name.clone(),
                reason,
            },
        )
    })?;
    let elf = elf::Elf::parse(file, bytes)?;
    let sections = index::Sections::scan(&elf)?;
    sections.check_overlaps(&elf)?;
    let get = |s| sections.get(s);

    let license = defs::string_section(&elf, get(Special::License))?
        .ok_or_else(|| elf.error(ParseErrorKind::MissingLicense))?;
    let critical = defs::string_section(&elf, get(Special::Critical))?;
    let bpfloader_min_ver = defs::u32_section(&elf, get(Special::BpfloaderMinVer))?
        .unwrap_or(DEFAULT_BPFLOADER_MIN_VER);
    let bpfloader_max_ver = defs::u32_section(&elf, get(Special::BpfloaderMaxVer))?
        .unwrap_or(DEFAULT_BPFLOADER_MAX_VER);
    let netbpfload_min_ver = defs::u32_section(&elf, get(Special::NetbpfloadMinVer))?;
    let bpfloader_min_required_ver =
        defs::u32_section(&elf, get(Special::BpfloaderMinRequiredVer))?;
    let (size_of_bpf_map_def, size_of_bpf_prog_def) = match records {
        Records::Fixed => (BPF_MAP_DEF_SIZE, BPF_PROG_DEF_SIZE),
        Records::Declared => (
            defs::def_size_section(
                &elf,
                get(Special::SizeOfBpfMapDef),
                DEFAULT_MAP_DEF_SIZE,
                MIN_BPF_MAP_DEF_SIZE,
            )?,
            defs::def_size_section(
                &elf,
                get(Special::SizeOfBpfProgDef),
                DEFAULT_PROG_DEF_SIZE,
                MIN_BPF_PROG_DEF_SIZE,
            )?,
        ),
    };

    let maps_layout = defs::layout(
        &elf,
        get(Special::Maps),
        size_of_bpf_map_def,
        MAX_MAPS,
        "maps",
    )?;
    let progs_layout = defs::layout(
        &elf,
        get(Special::Progs),
        size_of_bpf_prog_def,
        MAX_PROG_DEFS,
        "program definitions",
    )?;
    let count = |l: &Option<defs::Layout<'_>>| l.as_ref().map(|l| (l.index, l.count));
    let mut symbols = index::symbols(&elf, &sections, count(&maps_layout), count(&progs_layout));
    let (maps, map_index) = defs::maps(
        &elf,
        &name,
        maps_layout.as_ref(),
        &mut symbols.maps,
        symbols.map_symbols,
    )?;
    let prog_defs = defs::prog_defs(
        &elf,
        progs_layout.as_ref(),
        &mut symbols.defs,
        symbols.def_symbols,
    )?;
    let mut warnings = code::Warnings::default();
    let programs = code::programs(
        &elf,
        &name,
        &sections,
        &symbols.funcs,
        &map_index,
        &prog_defs,
        &mut warnings,
    )?;
    let btf = btf::extract(&elf, bytes)?;

    Ok(ObjectSpec {
        name,
        license,
        critical,
        bpfloader_min_ver,
        bpfloader_max_ver,
        size_of_bpf_map_def,
        size_of_bpf_prog_def,
        maps,
        programs,
        warnings: warnings.finish(),
        netbpfload_min_ver,
        bpfloader_min_required_ver,
        present: SectionsPresent {
            bpfloader_min_ver: get(Special::BpfloaderMinVer).is_some(),
            bpfloader_max_ver: get(Special::BpfloaderMaxVer).is_some(),
            size_of_bpf_map_def: get(Special::SizeOfBpfMapDef).is_some(),
            size_of_bpf_prog_def: get(Special::SizeOfBpfProgDef).is_some(),
            maps: get(Special::Maps).is_some(),
            progs: get(Special::Progs).is_some(),
            btf: get(Special::Btf).is_some(),
        },
        btf,
        libbpf: None,
    })
}

/// A count of the bytes the parser touched (headers and symbols visited,
/// name bytes scanned, relocation entries and instructions walked, bytes
/// copied), kept per thread in test and fuzzing builds so that tests and the
/// fuzz target can assert that parse work is linear in the input size.
#[cfg(any(test, fuzzing))]
pub mod work {
    use std::cell::Cell;

    thread_local! {
        static UNITS: Cell<u64> = const { Cell::new(0) };
    }

    pub(crate) fn add(n: usize) {
        UNITS.with(|u| u.set(u.get().saturating_add(n as u64)));
    }

    /// The count since the last call, resetting it.
    pub fn take() -> u64 {
        UNITS.with(|u| u.replace(0))
    }
}

#[cfg(not(any(test, fuzzing)))]
mod work {
    #[inline(always)]
    pub(crate) fn add(_: usize) {}
}
