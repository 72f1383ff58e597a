//! The two indexing passes that keep parsing linear in the file size: one
//! over the section headers ([`Sections`]) and one over the symbols
//! ([`symbols`]). Everything later looks sections, relocation sections and
//! symbols up here instead of walking the tables again (the parser before
//! issue 11 walked every symbol, reading its name, once per program section,
//! and every section header once per program to find its `SHT_REL`).

use super::elf::{Elf, Name, Symbol};
use super::error::{ParseError, ParseErrorKind};
use super::{work, MAX_PROGRAMS};
use crate::section;
use object::elf;

/// The sections the parser reads by name. Only the first section of each
/// name is read (as the reference does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Special {
    License,
    Critical,
    BpfloaderMinVer,
    BpfloaderMaxVer,
    SizeOfBpfMapDef,
    SizeOfBpfProgDef,
    NetbpfloadMinVer,
    BpfloaderMinRequiredVer,
    Maps,
    Progs,
    Btf,
}

impl Special {
    const COUNT: usize = 11;

    fn from_name(name: &[u8]) -> Option<Special> {
        Some(match name {
            b"license" => Special::License,
            b"critical" => Special::Critical,
            b"bpfloader_min_ver" => Special::BpfloaderMinVer,
            b"bpfloader_max_ver" => Special::BpfloaderMaxVer,
            b"size_of_bpf_map_def" => Special::SizeOfBpfMapDef,
            b"size_of_bpf_prog_def" => Special::SizeOfBpfProgDef,
            b"netbpfload_min_ver" => Special::NetbpfloadMinVer,
            b"bpfloader_min_required_ver" => Special::BpfloaderMinRequiredVer,
            b"maps" => Special::Maps,
            b"progs" => Special::Progs,
            b".BTF" => Special::Btf,
            _ => return None,
        })
    }
}

/// No program slot.
const NONE: u32 = u32::MAX;

/// What the section-header pass found.
#[derive(Debug)]
pub(super) struct Sections {
    special: [Option<usize>; Special::COUNT],
    /// Program sections, in section-header order.
    pub(super) programs: Vec<usize>,
    /// The `SHT_REL` section of each program (by `sh_info`), by program slot.
    pub(super) rel_of: Vec<Option<usize>>,
    /// Program slot of each section index, [`NONE`] if not a program.
    slot_of: Vec<u32>,
}

impl Sections {
    /// One pass over the section headers: names (bounded reads), the
    /// sections read by name, program sections, and each program's
    /// relocation section. Two `SHT_REL` sections for one program section
    /// are an error (which one applies would be a guess).
    pub(super) fn scan(elf: &Elf<'_>) -> Result<Self, ParseError> {
        let count = elf.section_count();
        let mut s = Sections {
            special: [None; Special::COUNT],
            programs: Vec::new(),
            rel_of: Vec::new(),
            slot_of: vec![NONE; count],
        };
        let mut rels = Vec::new();
        for index in 0..count {
            match elf.section_name(index) {
                Name::Bad => {
                    return Err(elf.error(ParseErrorKind::SectionName { index }));
                }
                Name::TooLong(prefix) => {
                    // Not one of the names read; only a program would matter.
                    if section::is_program_section(prefix) {
                        return Err(elf.error_in(
                            index,
                            ParseErrorKind::NameTooLong {
                                what: "section",
                                index,
                                max: super::MAX_NAME_LEN,
                            },
                        ));
                    }
                }
                Name::Ok(name) => {
                    if let Some(sp) = Special::from_name(name) {
                        if let Some(slot) = s.special.get_mut(sp as usize) {
                            slot.get_or_insert(index);
                        }
                    }
                    if section::is_program_section(name) {
                        if s.programs.len() >= MAX_PROGRAMS {
                            return Err(elf.error(ParseErrorKind::TooMany {
                                what: "programs",
                                count: s.programs.len().saturating_add(1) as u64,
                                max: MAX_PROGRAMS,
                            }));
                        }
                        if let Some(slot) = s.slot_of.get_mut(index) {
                            *slot = s.programs.len() as u32;
                        }
                        s.programs.push(index);
                    }
                }
            }
            if elf.section_type(index) == elf::SHT_REL {
                rels.push(index);
            }
        }
        s.rel_of = vec![None; s.programs.len()];
        for rel in rels {
            let target = usize::try_from(elf.section_info(rel)).unwrap_or(usize::MAX);
            let Some(slot) = s.slot(target) else {
                continue;
            };
            if let Some(entry) = s.rel_of.get_mut(slot) {
                if let Some(first) = *entry {
                    return Err(elf.error_in(
                        target,
                        ParseErrorKind::DuplicateRelocationSection {
                            first: lossy(elf, first),
                            second: lossy(elf, rel),
                        },
                    ));
                }
                *entry = Some(rel);
            }
        }
        Ok(s)
    }

    /// The first section named like `sp`.
    pub(super) fn get(&self, sp: Special) -> Option<usize> {
        self.special.get(sp as usize).copied().flatten()
    }

    /// Program slot of section `index`.
    pub(super) fn slot(&self, index: usize) -> Option<usize> {
        match self.slot_of.get(index) {
            Some(&slot) if slot != NONE => Some(slot as usize),
            _ => None,
        }
    }

    /// Checks the file range of every section the parser reads (the named
    /// ones, `.BTF` included, program code, its relocations, the symbol
    /// table and its string table) and refuses any two that share a byte.
    /// Empty sections are exempt. With this, the bytes the parser copies
    /// (code) and the entries it expands (relocations) add up to at most
    /// the file size, whatever the headers say.
    pub(super) fn check_overlaps(&self, elf: &Elf<'_>) -> Result<(), ParseError> {
        let mut read: Vec<usize> = self.special.iter().flatten().copied().collect();
        read.extend(&self.programs);
        read.extend(self.rel_of.iter().flatten());
        if let Some((symtab, strtab)) = elf.symtab_sections() {
            read.push(symtab);
            read.push(strtab);
        }
        let mut ranges = Vec::with_capacity(read.len());
        for index in read {
            let (start, end) = elf.section_range(index)?;
            if end > start {
                ranges.push((start, end, index));
            }
        }
        work::add(ranges.len().saturating_mul(16));
        ranges.sort_unstable();
        // Sorted by start: a range overlaps an earlier one iff it starts
        // before the furthest end seen so far (tracking only the previous
        // range would miss small ranges nested in a large one).
        let mut furthest: Option<(usize, usize, usize)> = None;
        for (start, end, index) in ranges {
            if let Some((f_start, f_end, f_index)) = furthest {
                if start < f_end {
                    return Err(elf.error_in(
                        index,
                        ParseErrorKind::SectionsOverlap {
                            other: lossy(elf, f_index),
                            range: (start as u64, end as u64),
                            other_range: (f_start as u64, f_end as u64),
                        },
                    ));
                }
            }
            if furthest.is_none_or(|(_, f_end, _)| end > f_end) {
                furthest = Some((start, end, index));
            }
        }
        Ok(())
    }
}

fn lossy(elf: &Elf<'_>, index: usize) -> String {
    String::from_utf8_lossy(elf.section_name(index).bytes()).into_owned()
}

/// What the symbol pass found.
#[derive(Debug)]
pub(super) struct SymbolIndex {
    /// Symbols of `maps` (without section/file symbols), at most as many as
    /// there are records; `map_symbols` counts them all.
    pub(super) maps: Vec<Symbol>,
    pub(super) map_symbols: usize,
    /// Same for `progs`.
    pub(super) defs: Vec<Symbol>,
    pub(super) def_symbols: usize,
    /// Lowest-address `STT_FUNC` symbol of each program section (the first
    /// one on ties), by program slot.
    pub(super) funcs: Vec<Option<Symbol>>,
}

/// One pass over the symbol table. `maps`/`progs` are the sections' indices
/// and record counts; symbols beyond the record count are counted, not kept.
pub(super) fn symbols(
    elf: &Elf<'_>,
    sections: &Sections,
    maps: Option<(usize, usize)>,
    progs: Option<(usize, usize)>,
) -> SymbolIndex {
    let cap = |l: Option<(usize, usize)>| l.map_or(0, |(_, n)| n);
    let mut out = SymbolIndex {
        maps: Vec::with_capacity(cap(maps)),
        map_symbols: 0,
        defs: Vec::with_capacity(cap(progs)),
        def_symbols: 0,
        funcs: vec![None; sections.programs.len()],
    };
    let in_section = |l: Option<(usize, usize)>, s: usize| l.is_some_and(|(i, _)| i == s);
    for i in 1..elf.symbol_count() {
        let Some(sym) = elf.symbol(i) else {
            break;
        };
        let Some(section) = sym.section else {
            continue;
        };
        // Section and file symbols carry no name; the reference never sees
        // them because the build strips local symbols, so they are not
        // counted as records' symbols.
        let named = sym.kind != elf::STT_SECTION && sym.kind != elf::STT_FILE;
        if named && in_section(maps, section) {
            out.map_symbols = out.map_symbols.saturating_add(1);
            if out.maps.len() < cap(maps) {
                out.maps.push(sym);
            }
        } else if named && in_section(progs, section) {
            out.def_symbols = out.def_symbols.saturating_add(1);
            if out.defs.len() < cap(progs) {
                out.defs.push(sym);
            }
        }
        if sym.kind == elf::STT_FUNC {
            if let Some(best) = sections
                .slot(section)
                .and_then(|slot| out.funcs.get_mut(slot))
            {
                if best.is_none_or(|b| sym.value < b.value) {
                    *best = Some(sym);
                }
            }
        }
    }
    out
}
