//! Program sections and their map relocations (facts §2, §6).

use super::defs::symbol_name;
use super::elf::Elf;
use super::error::ParseErrorKind;
use super::{ParseError, MAX_PROGRAMS};
use crate::paths;
use crate::section;
use crate::spec::{MapRelocation, ProgDef, ProgramSpec};
use object::elf;

/// Size of one BPF instruction.
const INSN_SIZE: usize = 8;
/// Size of one `Elf64_Rel`.
const REL_SIZE: usize = 16;
/// `BPF_LD | BPF_IMM | BPF_DW`: the first half of a 64-bit immediate load,
/// the only instruction a map fd can be patched into.
const LD_IMM64: u8 = 0x18;

/// Reads every program section, in section-header order.
pub(super) fn programs(
    elf: &Elf<'_>,
    maps: &[String],
    prog_defs: &[(String, ProgDef)],
    warnings: &mut Vec<String>,
) -> Result<Vec<ProgramSpec>, ParseError> {
    let mut out = Vec::new();
    for index in 0..elf.section_count() {
        let raw = elf.section_name(index);
        if !section::is_program_section(raw) {
            continue;
        }
        if out.len() >= MAX_PROGRAMS {
            return Err(elf.error(ParseErrorKind::TooMany {
                what: "programs",
                count: out.len().saturating_add(1) as u64,
                max: MAX_PROGRAMS,
            }));
        }
        out.push(program(elf, index, maps, prog_defs, warnings)?);
    }
    Ok(out)
}

fn program(
    elf: &Elf<'_>,
    index: usize,
    maps: &[String],
    prog_defs: &[(String, ProgDef)],
    warnings: &mut Vec<String>,
) -> Result<ProgramSpec, ParseError> {
    let err = |kind| elf.error_in(index, kind);
    let name = std::str::from_utf8(elf.section_name(index))
        .map_err(|_| err(ParseErrorKind::BadSectionName))?;
    let kind = section::prog_kind(name).ok_or_else(|| err(ParseErrorKind::BadSectionName))?;
    let code = elf.section_data(index)?;
    if code.is_empty() {
        return Err(err(ParseErrorKind::EmptyCode));
    }
    if code.len().checked_rem(INSN_SIZE) != Some(0) {
        return Err(err(ParseErrorKind::CodeSizeNotMultiple {
            size: code.len() as u64,
        }));
    }

    // The program's def is `<lowest-address FUNC symbol>_def` in `progs`.
    let func = elf
        .symbols_in(index)?
        .into_iter()
        .filter(|s| s.kind == elf::STT_FUNC)
        .min_by_key(|s| s.value)
        .ok_or_else(|| err(ParseErrorKind::NoFuncSymbol))?;
    let func_name = symbol_name(elf, &func)?;
    let def_name = format!("{func_name}_def");
    let def = prog_defs
        .iter()
        .find(|(n, _)| *n == def_name)
        .map(|(_, d)| d.clone())
        .ok_or_else(|| {
            err(ParseErrorKind::MissingProgDef {
                func: func_name.to_string(),
            })
        })?;

    let relocations = match rel_section(elf, index) {
        Some(rel) => relocations(elf, name, rel, code, maps, warnings)?,
        None => Vec::new(),
    };

    Ok(ProgramSpec {
        section: name.to_string(),
        kind,
        kernel_name: paths::kernel_object_name(&name.replace('/', "_")),
        pin_name: paths::prog_pin_name(name),
        func_name: func_name.to_string(),
        def,
        insns: code.to_vec(),
        relocations,
    })
}

/// The `SHT_REL` section applying to code section `code`: matched by
/// `sh_info`, which is what the ELF spec defines. (The reference instead
/// takes the very next section header, which is where LLVM puts it.)
fn rel_section(elf: &Elf<'_>, code: usize) -> Option<usize> {
    (0..elf.section_count()).find(|&i| {
        elf.section_type(i) == elf::SHT_REL
            && usize::try_from(elf.section_info(i)).ok() == Some(code)
    })
}

fn relocations(
    elf: &Elf<'_>,
    section: &str,
    rel: usize,
    code: &[u8],
    maps: &[String],
    warnings: &mut Vec<String>,
) -> Result<Vec<MapRelocation>, ParseError> {
    let err = |kind| elf.error_in(rel, kind);
    let data = elf.section_data(rel)?;
    if data.len().checked_rem(REL_SIZE) != Some(0) {
        return Err(err(ParseErrorKind::RecordsNotMultiple {
            size: data.len() as u64,
            stride: REL_SIZE,
        }));
    }
    let mut out = Vec::new();
    for entry in data.chunks_exact(REL_SIZE) {
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
            .filter(|&o| o % INSN_SIZE == 0 && o < code.len())
            .ok_or_else(|| {
                err(ParseErrorKind::RelocationOutOfRange {
                    offset: r_offset,
                    code_size: code.len(),
                })
            })?;
        let insn_index = offset / INSN_SIZE;
        let sym = elf.symbol(sym)?;
        let sym_name = String::from_utf8_lossy(sym.name);
        let Some(map_index) = maps.iter().position(|m| *m == sym_name) else {
            warnings.push(format!(
                "{section}: relocation at insn {insn_index} refers to {sym_name:?}, which is not a map; ignored"
            ));
            continue;
        };
        // Both halves of the 16-byte LD_IMM64 must be inside the code.
        let fits = offset
            .checked_add(2 * INSN_SIZE)
            .is_some_and(|end| end <= code.len());
        if code.get(offset) != Some(&LD_IMM64) || !fits {
            warnings.push(format!(
                "{section}: relocation of map {sym_name} at insn {insn_index} is not on a complete LD_IMM64 instruction; ignored"
            ));
            continue;
        }
        out.push(MapRelocation {
            insn_index,
            map_index,
        });
    }
    Ok(out)
}

fn le_u64(b: &[u8]) -> u64 {
    <[u8; 8]>::try_from(b).map_or(0, u64::from_le_bytes)
}
