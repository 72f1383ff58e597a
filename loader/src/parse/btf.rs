//! The `.BTF` section and the ELF facts its fix-up needs
//! ([`crate::btf::BtfSource`]).
//!
//! The fix-up (25Q2's `loadBtf`) sets each DATASEC's size to the size of
//! the ELF section of the same name and each non-static VAR's offset to the
//! value of the symbol of the same name. Only those names are resolved here:
//! [`crate::btf::fixup_names`] lists them, then one pass over the section
//! headers and one over the symbol table look each header's or symbol's
//! name up in a table of the wanted names. A name is read over at most
//! [`MAX_NAME_LEN`] + 1 bytes, so time is linear in the number of sections
//! and symbols, and memory in the number of wanted names, whatever the
//! string tables hold.
//!
//! A `.BTF` the BTF module cannot parse is kept as is (with empty tables):
//! whether it matters depends on the kernel and the configuration, so the
//! engine reports it when (and only when) it would use the BTF.

use super::elf::Elf;
use super::error::ParseErrorKind;
use super::ParseError;
use crate::btf::{self, BtfSource, MAX_NAME_LEN};
use object::elf::{FileHeader64, SHT_NOBITS, SHT_SYMTAB};
use object::read::elf::{FileHeader, SectionHeader};
use object::LittleEndian as LE;
use std::collections::{BTreeMap, HashMap};

/// Size of an `Elf64_Sym`.
const SYM_SIZE: usize = 24;

/// A raw symbol table and the string table its names are in.
type RawSymbols<'a> = (&'a [u8], &'a [u8]);

/// Reads `.BTF` (the first section so named, as the reference) and
/// resolves the names its fix-up needs. `Ok(None)` without a `.BTF`.
pub(super) fn extract(elf: &Elf<'_>, bytes: &[u8]) -> Result<Option<BtfSource>, ParseError> {
    let Some(index) = elf.find_section(".BTF") else {
        return Ok(None);
    };
    let data = elf.section_data(index)?;
    let mut src = BtfSource {
        data: data.to_vec(),
        ..BtfSource::default()
    };
    let Ok(names) = btf::fixup_names(data) else {
        return Ok(Some(src));
    };

    // Section sizes: first section with each wanted name.
    let wanted: HashMap<&[u8], Option<u64>> =
        names.sections.iter().map(|n| (n.name, None)).collect();
    let mut sizes = wanted;
    let headers = SectionHeaders::read(elf, bytes)?;
    for i in 0..elf.section_count() {
        let super::elf::Name::Ok(name) = elf.section_name(i) else {
            continue;
        };
        if let Some(slot @ None) = sizes.get_mut(name) {
            *slot = Some(headers.size(i));
        }
    }
    src.section_sizes = resolved(&names.sections, &sizes);

    // Symbol values: lowest value among symbols with each wanted name.
    let mut values: HashMap<&[u8], Option<u64>> =
        names.symbols.iter().map(|n| (n.name, None)).collect();
    if let Some((symtab, strtab)) = headers.symbols(elf, bytes)? {
        for sym in symtab.chunks_exact(SYM_SIZE) {
            let word = |off: usize, n: usize| sym.get(off..off.saturating_add(n));
            let (Some(name_off), Some(value)) = (word(0, 4), word(8, 8)) else {
                continue;
            };
            let name_off = u32::from_le_bytes(name_off.try_into().unwrap_or_default());
            let value = u64::from_le_bytes(value.try_into().unwrap_or_default());
            let Some(name) = capped_name(strtab, name_off) else {
                continue;
            };
            if let Some(slot) = values.get_mut(name) {
                *slot = Some(slot.map_or(value, |v| v.min(value)));
            }
        }
    }
    src.symbol_values = resolved(&names.symbols, &values);
    Ok(Some(src))
}

/// The wanted names that were found, keyed by BTF string offset.
fn resolved(
    names: &[btf::FixupName<'_>],
    found: &HashMap<&[u8], Option<u64>>,
) -> BTreeMap<u32, u64> {
    names
        .iter()
        .filter_map(|n| Some((n.offset, (*found.get(n.name)?)?)))
        .collect()
}

/// The NUL-terminated name at `offset` in `strtab`, if it has at most
/// [`MAX_NAME_LEN`] bytes.
fn capped_name(strtab: &[u8], offset: u32) -> Option<&[u8]> {
    let window = strtab.get(offset as usize..)?;
    let window = window.get(..window.len().min(MAX_NAME_LEN.saturating_add(1)))?;
    let end = window.iter().position(|&b| b == 0)?;
    window.get(..end)
}

/// The section header table, read again from the file (the ELF layer
/// validated it) for `sh_size` and `sh_link`, which it does not expose.
struct SectionHeaders<'a> {
    table: object::read::elf::SectionTable<'a, FileHeader64<LE>, &'a [u8]>,
}

impl<'a> SectionHeaders<'a> {
    fn read(elf: &Elf<'_>, bytes: &'a [u8]) -> Result<Self, ParseError> {
        let err = |e| elf.error(ParseErrorKind::SectionTable(e));
        let header = FileHeader64::<LE>::parse(bytes).map_err(err)?;
        let table = header.sections(LE, bytes).map_err(err)?;
        Ok(SectionHeaders { table })
    }

    fn header(&self, index: usize) -> Option<&'a object::elf::SectionHeader64<LE>> {
        self.table.iter().as_slice().get(index)
    }

    /// `sh_size` of section `index` (also for `SHT_NOBITS`, like `.bss`).
    fn size(&self, index: usize) -> u64 {
        self.header(index).map_or(0, |sh| sh.sh_size(LE))
    }

    /// The raw first `SHT_SYMTAB` and the string table its `sh_link` names
    /// (the symbol table the ELF layer reads), bounds-checked.
    fn symbols(
        &self,
        elf: &Elf<'a>,
        bytes: &'a [u8],
    ) -> Result<Option<RawSymbols<'a>>, ParseError> {
        let Some(index) = (0..elf.section_count()).find(|&i| elf.section_type(i) == SHT_SYMTAB)
        else {
            return Ok(None);
        };
        let symtab = elf.section_data(index)?;
        let link = self.header(index).map_or(0, |sh| sh.sh_link(LE)) as usize;
        let strtab = match self.header(link) {
            Some(sh) if sh.sh_type(LE) != SHT_NOBITS => sh.data(LE, bytes).unwrap_or_default(),
            _ => &[],
        };
        Ok(Some((symtab, strtab)))
    }
}
