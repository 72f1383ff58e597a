//! Program sections, their map relocations, and the pseudo-load check
//! (`docs/object-format.md#program-sections`, `docs/object-format.md#relocations`).

use super::elf::{Elf, Name, Symbol};
use super::error::ParseErrorKind;
use super::index::Sections;
use super::names;
use super::{work, ParseError, MAX_OBJECT_INSNS, MAX_PROGRAM_INSNS, MAX_RELOCATIONS, MAX_WARNINGS};
use crate::paths;
use crate::section;
use crate::spec::{MapRelocation, ProgDef, ProgramSpec};
use std::collections::HashMap;

/// Size of one BPF instruction.
const INSN_SIZE: usize = 8;
/// Size of one `Elf64_Rel`.
const REL_SIZE: usize = 16;
/// `BPF_LD | BPF_IMM | BPF_DW`: the first half of a 64-bit immediate load,
/// the only instruction a map fd can be patched into.
const LD_IMM64: u8 = 0x18;
/// `src_reg` values of an `LD_IMM64` whose `imm` the kernel takes as a map
/// fd (`BPF_PSEUDO_MAP_FD`, `BPF_PSEUDO_MAP_VALUE`) or an index into the
/// caller's fd array (`BPF_PSEUDO_MAP_IDX`, `BPF_PSEUDO_MAP_IDX_VALUE`):
/// `include/uapi/linux/bpf.h`.
const FD_PSEUDO: [u8; 4] = [1, 2, 5, 6];

/// Per-instruction flags of the pseudo-load check.
const FIRST_HALF: u8 = 1;
const PSEUDO: u8 = 2;
const COVERED: u8 = 4;
const COVERED_BY_MAP: u8 = 8;

/// The object's warnings: the first [`MAX_WARNINGS`], then a count.
#[derive(Debug, Default)]
pub(super) struct Warnings {
    shown: Vec<String>,
    more: usize,
}

impl Warnings {
    /// Adds a warning; `text` is only called while under the cap.
    pub(super) fn push(&mut self, text: impl FnOnce() -> String) {
        if self.shown.len() < MAX_WARNINGS {
            self.shown.push(text());
        } else {
            self.more = self.more.saturating_add(1);
        }
    }

    /// The warnings, with "... and N more" last if some were dropped.
    pub(super) fn finish(mut self) -> Vec<String> {
        if self.more > 0 {
            self.shown
                .push(format!("... and {} more warnings like these", self.more));
        }
        self.shown
    }
}

/// Resolves relocation symbols to maps by name, as the reference does; each
/// symbol's name is read at most once (2 bytes of state per symbol).
struct Resolver<'m, 'a> {
    maps: &'m HashMap<&'a [u8], usize>,
    /// 0 = not looked up yet, 1 = not a map, 2 + i = map i.
    state: Vec<u16>,
}

impl Resolver<'_, '_> {
    fn map_of(&mut self, elf: &Elf<'_>, sym: usize) -> Option<usize> {
        if self.state.is_empty() {
            self.state = vec![0; elf.symbol_count()];
        }
        let slot = self.state.get_mut(sym)?;
        match *slot {
            0 => {
                let map = match elf.symbol_name(sym) {
                    Name::Ok(name) => self.maps.get(name).copied(),
                    _ => None,
                };
                // MAX_MAPS + 2 fits in a u16.
                *slot = map.map_or(1, |m| u16::try_from(m).map_or(1, |m| m.saturating_add(2)));
                map
            }
            1 => None,
            v => Some(usize::from(v.saturating_sub(2))),
        }
    }
}

/// Object-wide running totals checked against the caps.
#[derive(Debug, Default)]
struct Totals {
    insns: usize,
    relocations: usize,
}

/// Reads every program section, in section-header order.
pub(super) fn programs(
    elf: &Elf<'_>,
    obj: &str,
    sections: &Sections,
    funcs: &[Option<Symbol>],
    maps: &HashMap<&[u8], usize>,
    prog_defs: &[(&str, ProgDef)],
    warnings: &mut Warnings,
) -> Result<Vec<ProgramSpec>, ParseError> {
    let mut defs: HashMap<&str, &ProgDef> = HashMap::with_capacity(prog_defs.len());
    for (name, def) in prog_defs {
        // The first definition of a name wins, as the reference's lookup does.
        defs.entry(*name).or_insert(def);
    }
    let mut resolver = Resolver {
        maps,
        state: Vec::new(),
    };
    let mut totals = Totals::default();
    let mut out = Vec::with_capacity(sections.programs.len());
    for (slot, &index) in sections.programs.iter().enumerate() {
        let p = Program {
            elf,
            obj,
            index,
            func: funcs.get(slot).copied().flatten(),
            rel: sections.rel_of.get(slot).copied().flatten(),
        };
        out.push(p.read(&defs, &mut resolver, &mut totals, warnings)?);
    }
    Ok(out)
}

struct Program<'e, 'a> {
    elf: &'e Elf<'a>,
    obj: &'e str,
    index: usize,
    func: Option<Symbol>,
    rel: Option<usize>,
}

impl<'a> Program<'_, 'a> {
    fn err(&self, kind: ParseErrorKind) -> ParseError {
        self.elf.error_in(self.index, kind)
    }

    fn read(
        &self,
        defs: &HashMap<&str, &ProgDef>,
        resolver: &mut Resolver<'_, '_>,
        totals: &mut Totals,
        warnings: &mut Warnings,
    ) -> Result<ProgramSpec, ParseError> {
        let elf = self.elf;
        // The section pass refused unreadable and over-long names.
        let name = std::str::from_utf8(elf.section_name(self.index).bytes())
            .map_err(|_| self.err(ParseErrorKind::BadSectionName))?;
        let kind =
            section::prog_kind(name).ok_or_else(|| self.err(ParseErrorKind::BadSectionName))?;
        let pin_name = paths::prog_pin_name(name);
        let bad_name = |reason| {
            self.err(ParseErrorKind::BadProgramName {
                name: name.to_string(),
                reason,
            })
        };
        names::printable(name).map_err(bad_name)?;
        names::component(&pin_name).map_err(bad_name)?;
        names::prog_pin_fits(self.obj, &pin_name).map_err(bad_name)?;

        let code = elf.section_data(self.index)?;
        if code.is_empty() {
            return Err(self.err(ParseErrorKind::EmptyCode));
        }
        if code.len().checked_rem(INSN_SIZE) != Some(0) {
            return Err(self.err(ParseErrorKind::CodeSizeNotMultiple {
                size: code.len() as u64,
            }));
        }
        let insn_count = code.len().checked_div(INSN_SIZE).unwrap_or_default();
        if insn_count > MAX_PROGRAM_INSNS {
            return Err(self.err(ParseErrorKind::TooMany {
                what: "instructions in one program",
                count: insn_count as u64,
                max: MAX_PROGRAM_INSNS,
            }));
        }
        totals.insns = totals.insns.saturating_add(insn_count);
        if totals.insns > MAX_OBJECT_INSNS {
            return Err(self.err(ParseErrorKind::TooMany {
                what: "instructions in the object",
                count: totals.insns as u64,
                max: MAX_OBJECT_INSNS,
            }));
        }

        // The program's def is `<lowest-address FUNC symbol>_def` in `progs`.
        let func = self
            .func
            .ok_or_else(|| self.err(ParseErrorKind::NoFuncSymbol))?;
        let func_name = names::symbol(elf, func.index, names::label)?;
        let def = defs
            .get(format!("{func_name}_def").as_str())
            .map(|d| (*d).clone())
            .ok_or_else(|| {
                self.err(ParseErrorKind::MissingProgDef {
                    func: func_name.to_string(),
                })
            })?;

        let mut flags = self.scan(code)?;
        let relocations = match self.rel {
            Some(rel) => {
                self.relocations(name, rel, code, &mut flags, resolver, totals, warnings)?
            }
            None => Vec::new(),
        };
        self.check_pseudo_loads(code, &flags)?;
        drop(flags);

        work::add(code.len());
        Ok(ProgramSpec {
            section: name.to_string(),
            kind,
            kernel_name: paths::kernel_object_name(&name.replace('/', "_")),
            pin_name,
            func_name: func_name.to_string(),
            def,
            insns: code.to_vec(),
            relocations,
        })
    }

    /// Walks the instructions as the kernel does (an `LD_IMM64` takes two
    /// slots) and flags each first half, and each with a non-zero `src_reg`.
    /// An `LD_IMM64` without its second half is an error.
    fn scan(&self, code: &[u8]) -> Result<Vec<u8>, ParseError> {
        let mut flags = vec![0u8; code.len().checked_div(INSN_SIZE).unwrap_or_default()];
        let mut insns = code.chunks_exact(INSN_SIZE).enumerate();
        while let Some((i, insn)) = insns.next() {
            work::add(INSN_SIZE);
            if insn.first() != Some(&LD_IMM64) {
                continue;
            }
            if insns.next().is_none() {
                return Err(self.err(ParseErrorKind::TruncatedLdImm64 { insn: i }));
            }
            let src_reg = insn.get(1).map_or(0, |regs| regs >> 4);
            if let Some(f) = flags.get_mut(i) {
                *f = FIRST_HALF | if src_reg != 0 { PSEUDO } else { 0 };
            }
        }
        Ok(flags)
    }

    /// Refuses any `LD_IMM64` with a non-zero `src_reg` that the loader will
    /// not overwrite: its `imm` would reach the kernel as the file wrote it,
    /// and for the map kinds that is a map fd (or fd-array index) of
    /// whichever object holds that number in this process. Such a load must
    /// be covered by a map relocation; other pseudo kinds (BTF id, function)
    /// by any relocation.
    fn check_pseudo_loads(&self, code: &[u8], flags: &[u8]) -> Result<(), ParseError> {
        for (insn, &f) in flags.iter().enumerate() {
            if f & PSEUDO == 0 {
                continue;
            }
            let src_reg = insn
                .checked_mul(INSN_SIZE)
                .and_then(|o| code.get(o.saturating_add(1)))
                .map_or(0, |regs| regs >> 4);
            let need = if FD_PSEUDO.contains(&src_reg) {
                COVERED_BY_MAP
            } else {
                COVERED
            };
            if f & need == 0 {
                return Err(self.err(ParseErrorKind::UncoveredPseudoLoad { insn, src_reg }));
            }
        }
        Ok(())
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one call site; the state is the caller's"
    )]
    fn relocations(
        &self,
        section: &str,
        rel: usize,
        code: &[u8],
        flags: &mut [u8],
        resolver: &mut Resolver<'_, '_>,
        totals: &mut Totals,
        warnings: &mut Warnings,
    ) -> Result<Vec<MapRelocation>, ParseError> {
        let elf = self.elf;
        let err = |kind| elf.error_in(rel, kind);
        let data = elf.section_data(rel)?;
        if data.len().checked_rem(REL_SIZE) != Some(0) {
            return Err(err(ParseErrorKind::RecordsNotMultiple {
                size: data.len() as u64,
                stride: REL_SIZE,
            }));
        }
        let count = data.len().checked_div(REL_SIZE).unwrap_or_default();
        totals.relocations = totals.relocations.saturating_add(count);
        if totals.relocations > MAX_RELOCATIONS {
            return Err(err(ParseErrorKind::TooMany {
                what: "relocations",
                count: totals.relocations as u64,
                max: MAX_RELOCATIONS,
            }));
        }
        let section = section.escape_debug();
        let mut out = Vec::new();
        for entry in data.chunks_exact(REL_SIZE) {
            work::add(REL_SIZE);
            let (r_offset, r_info) = match (entry.get(..8), entry.get(8..)) {
                (Some(o), Some(i)) => (le_u64(o), le_u64(i)),
                _ => continue,
            };
            let sym_index = r_info >> 32;
            let sym = usize::try_from(sym_index)
                .ok()
                .filter(|&i| i < elf.symbol_count())
                .ok_or_else(|| {
                    err(ParseErrorKind::RelocationSymbolMissing {
                        index: sym_index,
                        count: elf.symbol_count(),
                    })
                })?;
            let offset = usize::try_from(r_offset)
                .ok()
                .filter(|&o| o.checked_rem(INSN_SIZE) == Some(0) && o < code.len())
                .ok_or_else(|| {
                    err(ParseErrorKind::RelocationOutOfRange {
                        offset: r_offset,
                        code_size: code.len(),
                    })
                })?;
            let insn_index = offset.checked_div(INSN_SIZE).unwrap_or_default();
            let Some(f) = flags.get_mut(insn_index) else {
                continue;
            };
            *f |= COVERED;
            let sym_name = || {
                String::from_utf8_lossy(elf.symbol_name(sym).bytes())
                    .escape_debug()
                    .to_string()
            };
            let Some(map_index) = resolver.map_of(elf, sym) else {
                warnings.push(|| {
                    format!(
                        "{section}: relocation at insn {insn_index} refers to \"{}\", which is not a map; ignored",
                        sym_name()
                    )
                });
                continue;
            };
            if *f & FIRST_HALF == 0 {
                warnings.push(|| {
                    format!(
                        "{section}: relocation of map {} at insn {insn_index} is not on a complete LD_IMM64 instruction; ignored",
                        sym_name()
                    )
                });
                continue;
            }
            *f |= COVERED_BY_MAP;
            if out.capacity() == 0 {
                out.reserve_exact(count);
            }
            out.push(MapRelocation {
                insn_index,
                map_index,
            });
        }
        out.shrink_to_fit();
        Ok(out)
    }
}

fn le_u64(b: &[u8]) -> u64 {
    <[u8; 8]>::try_from(b).map_or(0, u64::from_le_bytes)
}
