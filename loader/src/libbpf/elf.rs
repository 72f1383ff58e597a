//! The ELF checks before aya-obj: every section, symbol and code
//! relocation classified exactly as aya-obj 0.3 classifies them (same
//! `object` crate, same calls), and refused where aya-obj would panic,
//! misbehave or where this loader does not support the feature.

use super::sections::{self, SectionDef};
use super::{LibbpfErrorKind as E, MAX_FUNCTIONS, MAX_MAPS, MAX_NAME_LEN, MAX_PROGRAMS};
use super::{MAX_SECTIONS, MAX_SYMBOLS, MAX_TEXT_SECTIONS};
use crate::spec::ProgKind;
use object::read::elf::{ElfFile64, FileHeader};
use object::{
    LittleEndian as LE, Object as _, ObjectSection as _, ObjectSymbol as _, ObjectSymbolTable as _,
    RelocationKind, RelocationTarget, SectionKind, SymbolKind,
};

/// `EM_BPF`.
const EM_BPF: u16 = 247;
/// `ET_REL`.
const ET_REL: u16 = 1;
/// Size of one instruction.
pub(super) const INSN: u64 = 8;
/// `BPF_LD | BPF_IMM | BPF_DW`.
pub(super) const LD_IMM64: u8 = 0x18;
/// `BPF_JMP | BPF_CALL`.
pub(super) const CALL: u8 = 0x85;
/// `BPF_PSEUDO_CALL`.
pub(super) const PSEUDO_CALL: u8 = 1;

/// How aya-obj 0.3 treats a section (its `EbpfSectionKind`, by name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
    /// Not looked at.
    Ignored,
    /// `license*`.
    License,
    /// `version*`.
    Version,
    /// `.maps*`.
    BtfMaps,
    /// `.text*`.
    Text,
    /// `.BTF`.
    Btf,
    /// `.BTF.ext`.
    BtfExt,
    /// A non-empty executable section with any other name: a program
    /// section of this kind.
    Program(ProgKind),
}

/// One section header.
#[derive(Debug)]
pub(super) struct Sec<'a> {
    pub(super) name: &'a str,
    pub(super) class: Class,
    /// `sh_size`.
    pub(super) size: u64,
    /// Its bytes (empty for NOBITS).
    pub(super) data: &'a [u8],
}

/// One symbol.
#[derive(Debug)]
pub(super) struct Sym<'a> {
    pub(super) name: &'a str,
    pub(super) section: Option<usize>,
    pub(super) address: u64,
    pub(super) size: u64,
    pub(super) kind: SymbolKind,
}

/// A function: a program (in a program section) or a subprogram (in a
/// `.text*` section).
#[derive(Debug, Clone, Copy)]
pub(super) struct Func {
    pub(super) section: usize,
    pub(super) address: u64,
    pub(super) size: u64,
    pub(super) symbol: usize,
    pub(super) program: bool,
}

/// A relocation in a code section.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reloc {
    pub(super) section: usize,
    pub(super) offset: u64,
    /// What it refers to.
    pub(super) target: RelocTarget,
}

/// What a code relocation refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RelocTarget {
    /// A map (the symbol is in `.maps`).
    Map,
    /// A function at `(section, address)`: a call (`R_BPF_64_32`) or a
    /// function pointer (`R_BPF_64_64`).
    Function { section: usize, address: u64 },
}

/// Everything the checks found.
#[derive(Debug)]
pub(super) struct Scan<'a> {
    pub(super) file_len: usize,
    pub(super) sections: Vec<Sec<'a>>,
    pub(super) symbols: Vec<Sym<'a>>,
    /// `e_shoff`.
    pub(super) shoff: u64,
    /// `e_shstrndx` (resolved).
    pub(super) shstrndx: usize,
    pub(super) license: Option<usize>,
    pub(super) maps: Option<usize>,
    pub(super) btf: Option<usize>,
    pub(super) btf_ext: Option<usize>,
    /// Sorted by (section, address).
    pub(super) functions: Vec<Func>,
    /// Symbols of maps, sorted by address in `.maps`.
    pub(super) map_symbols: Vec<usize>,
    pub(super) relocs: Vec<Reloc>,
}

impl Scan<'_> {
    /// The function of `section` containing byte `offset`.
    pub(super) fn function_containing(&self, section: usize, offset: u64) -> Option<&Func> {
        let i = self
            .functions
            .partition_point(|f| (f.section, f.address) <= (section, offset));
        let f = self.functions.get(i.checked_sub(1)?)?;
        (f.section == section && offset < f.address.saturating_add(f.size)).then_some(f)
    }

    /// The instruction bytes at `offset` of `section`.
    pub(super) fn insn(&self, section: usize, offset: u64) -> Option<[u8; 8]> {
        let data = self.sections.get(section)?.data;
        let start = usize::try_from(offset).ok()?;
        let bytes = data.get(start..start.checked_add(8)?)?;
        <[u8; 8]>::try_from(bytes).ok()
    }

    /// The name of a symbol, for messages.
    pub(super) fn symbol_name(&self, index: usize) -> &str {
        self.symbols.get(index).map_or("?", |s| s.name)
    }

    /// The name of a section, for messages.
    pub(super) fn section_name(&self, index: usize) -> &str {
        self.sections.get(index).map_or("?", |s| s.name)
    }

    /// The code sections (`.text*` and programs), which aya-obj calls text
    /// sections once it has parsed them.
    pub(super) fn is_code(&self, section: usize) -> bool {
        self.sections
            .get(section)
            .is_some_and(|s| matches!(s.class, Class::Text | Class::Program(_)))
    }
}

/// aya-obj's `EbpfSectionKind::from_name` and its executable fallback.
fn classify(name: &str, kind: SectionKind, size: u64) -> Result<Class, E> {
    let unsupported = |reason: &str| E::Unsupported {
        section: name.to_string(),
        reason: reason.to_string(),
    };
    Ok(if name.starts_with("license") {
        Class::License
    } else if name.starts_with("version") {
        Class::Version
    } else if name.starts_with("maps") {
        return Err(unsupported(
            "a legacy `maps` section in a libbpf object (libbpf 1.0 refuses it too)",
        ));
    } else if name.starts_with(".maps") {
        if name != ".maps" {
            return Err(unsupported("BTF-defined maps outside the `.maps` section"));
        }
        Class::BtfMaps
    } else if name.starts_with(".text") {
        Class::Text
    } else if name.starts_with(".bss") || name.starts_with(".data") || name.starts_with(".rodata") {
        return Err(unsupported(
            "global data (.data/.rodata/.bss, string literals) needs maps this loader does not create",
        ));
    } else if name == ".BTF" {
        Class::Btf
    } else if name == ".BTF.ext" {
        Class::BtfExt
    } else if kind == SectionKind::Text && size > 0 {
        match sections::lookup(name) {
            Some(SectionDef::Program(k)) => Class::Program(k),
            Some(SectionDef::Unsupported(reason)) => return Err(unsupported(reason)),
            None => {
                return Err(E::UnknownProgramSection {
                    section: name.to_string(),
                })
            }
        }
    } else {
        Class::Ignored
    })
}

/// A program or map name: a C identifier of at most [`MAX_NAME_LEN`]
/// bytes (it becomes part of a pin name).
pub(super) fn good_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn too_many(what: &'static str, count: usize, max: usize) -> Result<(), E> {
    if count > max {
        Err(E::TooMany { what, count, max })
    } else {
        Ok(())
    }
}

/// Checks `bytes` (see the module doc).
pub(super) fn scan(bytes: &[u8]) -> Result<Scan<'_>, E> {
    let elf = ElfFile64::<LE>::parse(bytes).map_err(|e| E::Elf(e.to_string()))?;
    let header = elf.elf_header();
    let machine = header.e_machine(LE);
    if machine != EM_BPF {
        return Err(E::Elf(format!("e_machine {machine} is not EM_BPF (247)")));
    }
    let e_type = header.e_type(LE);
    if e_type != ET_REL {
        return Err(E::Elf(format!("e_type {e_type} is not ET_REL")));
    }
    let section_count = elf.elf_section_table().len();
    too_many("sections", section_count, MAX_SECTIONS)?;
    let shstrndx = header
        .shstrndx(LE, bytes)
        .map_err(|e| E::Elf(e.to_string()))? as usize;

    let mut out = Scan {
        file_len: bytes.len(),
        sections: Vec::with_capacity(section_count),
        symbols: Vec::new(),
        shoff: header.e_shoff(LE),
        shstrndx,
        license: None,
        maps: None,
        btf: None,
        btf_ext: None,
        functions: Vec::new(),
        map_symbols: Vec::new(),
        relocs: Vec::new(),
    };
    let mut text_sections = 0usize;
    // `sections()` skips the null section: keep its slot so that
    // `out.sections[i]` is section `i`, as symbols name them.
    out.sections.push(Sec {
        name: "",
        class: Class::Ignored,
        size: 0,
        data: &[],
    });
    for s in elf.sections() {
        let index = s.index().0;
        let err = |reason: String| E::Section { index, reason };
        if index != out.sections.len() {
            return Err(err("out of order".into()));
        }
        let name = s.name().map_err(|e| err(format!("name: {e}")))?;
        if s.address() != 0 {
            return Err(err(format!(
                "{name}: sh_addr {:#x} in a relocatable object",
                s.address()
            )));
        }
        let class = classify(name, s.kind(), s.size())?;
        let data = s.data().map_err(|e| err(format!("{name}: {e}")))?;
        match class {
            Class::License if name == "license" && out.license.is_none() => {
                out.license = Some(index);
            }
            Class::BtfMaps => {
                if out.maps.is_some() {
                    return Err(err("a second .maps section".into()));
                }
                out.maps = Some(index);
            }
            Class::Btf if out.btf.is_none() => out.btf = Some(index),
            Class::BtfExt if out.btf_ext.is_none() => out.btf_ext = Some(index),
            Class::Text => text_sections = text_sections.saturating_add(1),
            _ => {}
        }
        out.sections.push(Sec {
            name,
            class,
            size: s.size(),
            data,
        });
    }
    too_many(".text sections", text_sections, MAX_TEXT_SECTIONS)?;
    // aya-obj finds a section's CO-RE relocations by its name: two code
    // sections with one name would mix them up.
    let mut code_names: Vec<&str> = out
        .sections
        .iter()
        .filter(|s| matches!(s.class, Class::Text | Class::Program(_)))
        .map(|s| s.name)
        .collect();
    code_names.sort_unstable();
    if let Some(w) = code_names.windows(2).find(|w| w.first() == w.get(1)) {
        return Err(E::Unsupported {
            section: w.first().copied().unwrap_or_default().to_string(),
            reason: "two code sections with one name".into(),
        });
    }

    if let Some(table) = elf.symbol_table() {
        // `symbols()` starts at index 1: keep the null symbol's slot so
        // that `out.symbols[i]` is symbol `i`, as relocations name them.
        out.symbols.push(Sym {
            name: "",
            section: None,
            address: 0,
            size: 0,
            kind: SymbolKind::Unknown,
        });
        for sym in table.symbols() {
            if out.symbols.len() >= MAX_SYMBOLS {
                return Err(E::TooMany {
                    what: "symbols",
                    count: out.symbols.len().saturating_add(1),
                    max: MAX_SYMBOLS,
                });
            }
            let index = sym.index().0;
            if index != out.symbols.len() {
                return Err(E::Elf(format!("symbol {index} out of order")));
            }
            let name = sym.name().map_err(|e| E::Symbol {
                index,
                name: String::new(),
                reason: format!("name: {e}"),
            })?;
            out.symbols.push(Sym {
                name,
                section: sym.section().index().map(|i| i.0),
                address: sym.address(),
                size: sym.size(),
                kind: sym.kind(),
            });
        }
    }

    functions(&mut out)?;
    maps(&mut out)?;
    relocations(&elf, &mut out)?;
    instructions(&out)?;
    Ok(out)
}

/// Programs and subprograms: where aya-obj reads them, checked to lie
/// inside their section, on instruction boundaries.
fn functions(out: &mut Scan<'_>) -> Result<(), E> {
    let mut funcs = Vec::new();
    for (index, sym) in out.symbols.iter().enumerate() {
        let Some(section) = sym.section else {
            continue;
        };
        let Some(sec) = out.sections.get(section) else {
            continue;
        };
        let program = match sec.class {
            Class::Program(_) => true,
            Class::Text => false,
            _ => continue,
        };
        // aya-obj: programs are the named FUNC symbols of a program
        // section, subprograms every defined FUNC symbol of a .text one.
        if sym.kind != SymbolKind::Text || (program && sym.name.is_empty()) {
            continue;
        }
        let bad = |reason: String| E::Symbol {
            index,
            name: sym.name.to_string(),
            reason,
        };
        let end = sym.address.checked_add(sym.size);
        if sym.size == 0
            || sym.address % INSN != 0
            || sym.size % INSN != 0
            || end.is_none_or(|e| e > sec.data.len() as u64)
        {
            return Err(bad(format!(
                "function at {:#x}, {} bytes, is not a whole number of instructions inside \
                 section {:?} ({} bytes)",
                sym.address,
                sym.size,
                sec.name,
                sec.data.len()
            )));
        }
        if program && !good_name(sym.name) {
            return Err(bad(format!(
                "a program name must be a C identifier of at most {MAX_NAME_LEN} bytes"
            )));
        }
        funcs.push(Func {
            section,
            address: sym.address,
            size: sym.size,
            symbol: index,
            program,
        });
    }
    funcs.sort_by_key(|f| (f.section, f.address));
    for w in funcs.windows(2) {
        if let [a, b] = w {
            if a.section == b.section && a.address.saturating_add(a.size) > b.address {
                return Err(E::Symbol {
                    index: b.symbol,
                    name: out.symbol_name(b.symbol).to_string(),
                    reason: format!(
                        "overlaps function {:?} in section {:?}",
                        out.symbol_name(a.symbol),
                        out.section_name(a.section)
                    ),
                });
            }
        }
    }
    let programs = funcs.iter().filter(|f| f.program).count();
    too_many("programs", programs, MAX_PROGRAMS)?;
    too_many("functions", funcs.len(), MAX_FUNCTIONS)?;
    let mut names: Vec<&str> = funcs
        .iter()
        .filter(|f| f.program)
        .map(|f| out.symbol_name(f.symbol))
        .collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w.first() == w.get(1)) {
        return Err(E::Program {
            program: w.first().copied().unwrap_or_default().to_string(),
            reason: "two programs with one name".into(),
        });
    }
    for (index, sec) in out.sections.iter().enumerate() {
        if matches!(sec.class, Class::Program(_)) && !funcs.iter().any(|f| f.section == index) {
            return Err(E::Unsupported {
                section: sec.name.to_string(),
                reason: "a program section without a function symbol".into(),
            });
        }
    }
    out.functions = funcs;
    Ok(())
}

/// The map symbols of `.maps`: named like C identifiers, unique, inside
/// the section.
fn maps(out: &mut Scan<'_>) -> Result<(), E> {
    let Some(maps) = out.maps else {
        return Ok(());
    };
    let size = out.sections.get(maps).map_or(0, |s| s.size);
    let mut syms: Vec<usize> = Vec::new();
    for (index, sym) in out.symbols.iter().enumerate() {
        if sym.section != Some(maps) || sym.kind != SymbolKind::Data {
            continue;
        }
        if !good_name(sym.name) || sym.address.checked_add(sym.size).is_none_or(|e| e > size) {
            return Err(E::Symbol {
                index,
                name: sym.name.to_string(),
                reason: format!(
                    "a map must be named like a C identifier (at most {MAX_NAME_LEN} bytes) \
                     and lie inside .maps"
                ),
            });
        }
        syms.push(index);
    }
    too_many("maps", syms.len(), MAX_MAPS)?;
    syms.sort_by_key(|&i| out.symbols.get(i).map_or(0, |s| s.address));
    let mut names: Vec<&str> = syms.iter().map(|&i| out.symbol_name(i)).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w.first() == w.get(1)) {
        return Err(E::Map {
            map: w.first().copied().unwrap_or_default().to_string(),
            reason: "two map symbols with one name".into(),
        });
    }
    out.map_symbols = syms;
    Ok(())
}

/// Every relocation of a code section, in the forms aya-obj handles
/// without panicking and this loader supports.
fn relocations(elf: &ElfFile64<'_, LE>, out: &mut Scan<'_>) -> Result<(), E> {
    for s in elf.sections() {
        let section = s.index().0;
        if !out.is_code(section) {
            continue;
        }
        let name = out.section_name(section).to_string();
        for (offset, r) in s.relocations() {
            let err = |reason: String| E::Relocation {
                section: name.clone(),
                offset,
                reason,
            };
            let RelocationTarget::Symbol(sym_index) = r.target() else {
                return Err(err("not against a symbol".into()));
            };
            let symbol = sym_index.0;
            let Some(sym) = out.symbols.get(symbol) else {
                return Err(err(format!("symbol {symbol} does not exist")));
            };
            if r.kind() != RelocationKind::Absolute || !matches!(r.size(), 32 | 64) {
                return Err(err(format!(
                    "relocation type {:?} against {:?} (only R_BPF_64_64 and R_BPF_64_32)",
                    r.flags(),
                    sym.name
                )));
            }
            let insn = offset
                .checked_add(INSN)
                .filter(|_| offset % INSN == 0)
                .and_then(|_| out.insn(section, offset))
                .ok_or_else(|| err("not on an instruction of the section".into()))?;
            let [code, regs, _, _, i0, i1, i2, i3] = insn;
            let imm = i32::from_le_bytes([i0, i1, i2, i3]);
            let src = regs >> 4;
            let Some(target_section) = sym.section else {
                return Err(E::Unsupported {
                    section: name.clone(),
                    reason: format!(
                        "a reference to the undefined symbol {:?} (externs: __kconfig, \
                         __ksym, kfuncs)",
                        sym.name
                    ),
                });
            };
            let target = if Some(target_section) == out.maps {
                if !out.map_symbols.contains(&symbol) {
                    return Err(err(format!("{:?} in .maps is not a map", sym.name)));
                }
                let ld = code == LD_IMM64
                    && src == 0
                    && r.size() == 64
                    && out.insn(section, offset.saturating_add(INSN)).is_some();
                if !ld {
                    return Err(err(format!(
                        "map {:?} referenced by an instruction that is not a 64-bit load",
                        sym.name
                    )));
                }
                RelocTarget::Map
            } else if out.is_code(target_section) {
                let call = code == CALL && src == PSEUDO_CALL && r.size() == 32;
                let ld = code == LD_IMM64 && src == 0 && r.size() == 64;
                if !call && !ld {
                    return Err(err(format!(
                        "reference to code ({:?}) from an instruction that is neither a call \
                         nor a 64-bit load",
                        sym.name
                    )));
                }
                // What aya-obj computes (FunctionLinker::relocate), checked.
                let address = match sym.kind {
                    SymbolKind::Text => Some(sym.address),
                    SymbolKind::Section if call => imm
                        .checked_add(1)
                        .and_then(|n| u64::try_from(n).ok())
                        .and_then(|n| n.checked_mul(INSN))
                        .and_then(|n| sym.address.checked_add(n)),
                    SymbolKind::Section => u64::try_from(imm)
                        .ok()
                        .and_then(|n| sym.address.checked_add(n)),
                    _ => {
                        return Err(err(format!(
                            "{:?} in a code section is neither a function nor the section",
                            sym.name
                        )))
                    }
                };
                let address = address
                    .ok_or_else(|| err(format!("target {:?} + {imm} overflows", sym.name)))?;
                RelocTarget::Function {
                    section: target_section,
                    address,
                }
            } else {
                return Err(err(format!(
                    "reference to {:?} in section {:?}, which is neither a map nor code",
                    sym.name,
                    out.section_name(target_section)
                )));
            };
            out.relocs.push(Reloc {
                section,
                offset,
                target,
            });
        }
    }
    out.relocs.sort_by_key(|r| (r.section, r.offset));
    if let Some(w) = out
        .relocs
        .windows(2)
        .find(|w| matches!(w, [a, b] if (a.section, a.offset) == (b.section, b.offset)))
    {
        let r = w.first().copied();
        return Err(E::Relocation {
            section: out.section_name(r.map_or(0, |r| r.section)).to_string(),
            offset: r.map_or(0, |r| r.offset),
            reason: "two relocations of one instruction".into(),
        });
    }
    Ok(())
}

/// Every instruction of every function: no 64-bit load already carrying
/// a pseudo source (a map fd, a map value, a BTF id: the kernel would take
/// it from the object, outside this loader's relocations), no call whose
/// target aya-obj would compute with `imm + 1` overflowing.
fn instructions(out: &Scan<'_>) -> Result<(), E> {
    for f in &out.functions {
        let mut off = f.address;
        let end = f.address.saturating_add(f.size);
        while off < end {
            let Some([code, regs, _, _, i0, i1, i2, i3]) = out.insn(f.section, off) else {
                break;
            };
            let imm = i32::from_le_bytes([i0, i1, i2, i3]);
            let err = |reason: &str| E::Relocation {
                section: out.section_name(f.section).to_string(),
                offset: off,
                reason: reason.to_string(),
            };
            if code == LD_IMM64 && regs >> 4 != 0 {
                return Err(err(
                    "a 64-bit load with a pseudo source already set (map fd, map value or BTF id)",
                ));
            }
            if code == CALL && regs >> 4 == PSEUDO_CALL && imm == i32::MAX {
                return Err(err("a call whose target overflows"));
            }
            // aya-obj looks at every slot, second halves of 64-bit loads too.
            off = off.saturating_add(INSN);
        }
    }
    Ok(())
}
