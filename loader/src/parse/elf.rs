//! The ELF layer: header checks, section headers, section data and symbols,
//! every offset checked against the file.
//!
//! Nothing here walks a name to its NUL without a bound: section and symbol
//! names are read with [`MAX_NAME_LEN`]` + 1` bytes at most (the `object`
//! crate's name lookups scan to the NUL, which made one long name shared by
//! many headers quadratic).

use super::error::{ParseError, ParseErrorKind};
use super::{work, MAX_NAME_LEN};
use object::elf::{self, FileHeader64, SectionHeader64, Sym64};
use object::read::elf::{FileHeader, SectionHeader, SectionTable, Sym, SymbolTable};
use object::LittleEndian as LE;
use std::path::Path;

type Header = FileHeader64<LE>;

/// `EM_BPF`.
const EM_BPF: u16 = 247;
/// `e_ident` layout (ELF spec, "ELF Identification").
const EI_NIDENT: usize = 16;
const EI_CLASS: usize = 4;
const EI_DATA: usize = 5;
const EI_VERSION: usize = 6;
/// Size of one section header.
const SHDR_SIZE: usize = 64;
/// Size of one symbol.
const SYM_SIZE: usize = 24;

/// A validated ELF64 little-endian BPF relocatable object.
pub(super) struct Elf<'a> {
    pub(super) file: &'a Path,
    data: &'a [u8],
    table: SectionTable<'a, Header, &'a [u8]>,
    headers: &'a [SectionHeader64<LE>],
    /// The section-name string table (`e_shstrndx`).
    shstrtab: &'a [u8],
    /// The first `SHT_SYMTAB`: its section index, symbols and string table.
    symtab: Option<Symtab<'a>>,
}

#[derive(Clone, Copy)]
pub(super) struct Symtab<'a> {
    pub(super) index: usize,
    pub(super) strtab_index: usize,
    symbols: &'a [Sym64<LE>],
    strings: &'a [u8],
}

/// A name read with a bounded scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Name<'a> {
    /// The bytes before the NUL (at most [`MAX_NAME_LEN`]).
    Ok(&'a [u8]),
    /// No NUL within [`MAX_NAME_LEN`]` + 1` bytes: the first
    /// [`MAX_NAME_LEN`] bytes.
    TooLong(&'a [u8]),
    /// The offset is outside the table, or the table ends before a NUL.
    Bad,
}

impl<'a> Name<'a> {
    /// The name, or its first [`MAX_NAME_LEN`] bytes, or nothing.
    pub(super) fn bytes(self) -> &'a [u8] {
        match self {
            Name::Ok(b) | Name::TooLong(b) => b,
            Name::Bad => &[],
        }
    }
}

/// Reads the NUL-terminated name at `offset` of `table`, scanning at most
/// `MAX_NAME_LEN + 1` bytes.
pub(super) fn read_name(table: &[u8], offset: u64) -> Name<'_> {
    let Some(rest) = usize::try_from(offset).ok().and_then(|o| table.get(o..)) else {
        return Name::Bad;
    };
    let window = rest.get(..MAX_NAME_LEN.saturating_add(1)).unwrap_or(rest);
    work::add(window.len());
    match memchr::memchr(0, window) {
        Some(end) => Name::Ok(window.get(..end).unwrap_or_default()),
        None if window.len() > MAX_NAME_LEN => {
            Name::TooLong(window.get(..MAX_NAME_LEN).unwrap_or_default())
        }
        None => Name::Bad,
    }
}

/// One symbol, as the index needs it (no name: read on demand).
#[derive(Debug, Clone, Copy)]
pub(super) struct Symbol {
    pub(super) index: usize,
    pub(super) value: u64,
    pub(super) size: u64,
    pub(super) kind: u8,
    /// Section index, `None` for undefined/absolute/common/extended ones.
    pub(super) section: Option<usize>,
}

impl<'a> Elf<'a> {
    /// Checks the header and reads the section table and the symbol table.
    pub(super) fn parse(file: &'a Path, data: &'a [u8]) -> Result<Self, ParseError> {
        let err = |kind| ParseError::new(file, None, kind);
        let ident = data.get(..EI_NIDENT).ok_or(err(ParseErrorKind::NotElf))?;
        let field = |i: usize| ident.get(i).copied().unwrap_or(0);
        if ident.get(..4) != Some(&elf::ELFMAG[..]) {
            return Err(err(ParseErrorKind::NotElf));
        }
        if field(EI_CLASS) != elf::ELFCLASS64 {
            return Err(err(ParseErrorKind::Not64Bit {
                class: field(EI_CLASS),
            }));
        }
        if field(EI_DATA) != elf::ELFDATA2LSB {
            return Err(err(ParseErrorKind::NotLittleEndian {
                data: field(EI_DATA),
            }));
        }
        if field(EI_VERSION) != elf::EV_CURRENT {
            return Err(err(ParseErrorKind::BadElfVersion {
                version: field(EI_VERSION),
            }));
        }
        // Magic, class, data and version are checked above, so the only
        // remaining failure is a file shorter than the 64-byte header.
        let header = Header::parse(data).map_err(|_| err(ParseErrorKind::NotElf))?;
        let machine = header.e_machine(LE);
        if machine != EM_BPF {
            return Err(err(ParseErrorKind::WrongMachine { machine }));
        }
        let e_type = header.e_type(LE);
        if e_type != elf::ET_REL {
            return Err(err(ParseErrorKind::NotRelocatable { e_type }));
        }

        let mut elf = Elf {
            file,
            data,
            table: SectionTable::default(),
            headers: &[],
            shstrtab: &[],
            symtab: None,
        };
        elf.section_table(header)?;
        elf.symbol_table()?;
        Ok(elf)
    }

    fn section_table(&mut self, header: &'a Header) -> Result<(), ParseError> {
        let (file, data) = (self.file, self.data);
        let err = |kind| ParseError::new(file, None, kind);
        let shoff = header.e_shoff(LE);
        if shoff == 0 {
            // No section table at all: an empty object (it will lack `license`).
            return Ok(());
        }
        let shentsize = header.e_shentsize(LE);
        if usize::from(shentsize) != SHDR_SIZE {
            return Err(err(ParseErrorKind::BadSectionHeaderSize {
                size: shentsize,
            }));
        }
        // Precise bounds check (count as declared, or from section 0 when
        // e_shnum is 0) before handing the table to `object`.
        let count = header
            .shnum(LE, data)
            .map_err(|e| err(ParseErrorKind::SectionTable(e)))? as u64;
        let end = count
            .checked_mul(u64::from(shentsize))
            .and_then(|len| len.checked_add(shoff));
        if end.is_none_or(|end| end > data.len() as u64) {
            return Err(err(ParseErrorKind::SectionTableOutOfBounds {
                offset: shoff,
                count,
                file_len: data.len(),
            }));
        }
        // `sections` checks e_shstrndx and the bounds of the name table; it
        // reads no name.
        let table = header
            .sections(LE, data)
            .map_err(|e| err(ParseErrorKind::SectionTable(e)))?;
        self.headers = table.iter().as_slice();
        self.table = table;
        work::add(self.headers.len().saturating_mul(SHDR_SIZE));
        let shstrndx = header
            .shstrndx(LE, data)
            .map_err(|e| err(ParseErrorKind::SectionTable(e)))?;
        self.shstrtab = self.section_data(shstrndx as usize).unwrap_or_default();
        Ok(())
    }

    fn symbol_table(&mut self) -> Result<(), ParseError> {
        let Some(index) = self
            .headers
            .iter()
            .position(|sh| sh.sh_type(LE) == elf::SHT_SYMTAB)
        else {
            return Ok(());
        };
        // Our own bounds check first for a precise error.
        self.section_data(index)?;
        let sh = self
            .headers
            .get(index)
            .ok_or_else(|| self.error(ParseErrorKind::NotElf))?;
        // `SymbolTable::parse` checks the entry size and the string table
        // link; it reads no name.
        let symbols: SymbolTable<'a, Header, &'a [u8]> =
            SymbolTable::parse(LE, self.data, &self.table, object::SectionIndex(index), sh)
                .map_err(|e| self.error_in(index, ParseErrorKind::SymbolTable(e)))?;
        let strtab_index = sh.sh_link(LE) as usize;
        let strings = self.section_data(strtab_index)?;
        self.symtab = Some(Symtab {
            index,
            strtab_index,
            symbols: symbols.symbols(),
            strings,
        });
        Ok(())
    }

    /// Number of section headers.
    pub(super) fn section_count(&self) -> usize {
        self.headers.len()
    }

    /// Name of section `index`, read with a bounded scan.
    pub(super) fn section_name(&self, index: usize) -> Name<'a> {
        match self.headers.get(index) {
            Some(sh) => read_name(self.shstrtab, u64::from(sh.sh_name(LE))),
            None => Name::Bad,
        }
    }

    /// Index of the first section named exactly `name`. Linear in the number
    /// of sections: the parser looks up each name it reads once, through
    /// [`super::index::Sections`]; this is for callers outside that index.
    #[allow(
        dead_code,
        reason = "the .BTF extraction (parse/btf.rs) looks its section up by name; the index has it as Special::Btf"
    )]
    pub(super) fn find_section(&self, name: &str) -> Option<usize> {
        (0..self.section_count()).find(|&i| self.section_name(i) == Name::Ok(name.as_bytes()))
    }

    /// `sh_type` of section `index`.
    pub(super) fn section_type(&self, index: usize) -> u32 {
        self.headers
            .get(index)
            .map_or(elf::SHT_NULL, |sh| sh.sh_type(LE))
    }

    /// `sh_info` of section `index`.
    pub(super) fn section_info(&self, index: usize) -> u32 {
        self.headers.get(index).map_or(0, |sh| sh.sh_info(LE))
    }

    /// The file range `(start, end)` of section `index` (empty for
    /// `SHT_NOBITS`), checked against the file.
    pub(super) fn section_range(&self, index: usize) -> Result<(usize, usize), ParseError> {
        let Some(sh) = self.headers.get(index) else {
            return Ok((0, 0));
        };
        check_range(self.data, sh).map_err(|kind| self.error_in(index, kind))
    }

    /// The bytes of section `index`, bounds-checked (`SHT_NOBITS` is empty).
    pub(super) fn section_data(&self, index: usize) -> Result<&'a [u8], ParseError> {
        let (start, end) = self.section_range(index)?;
        Ok(self.data.get(start..end).unwrap_or_default())
    }

    /// The symbol table's section index and its string table's.
    pub(super) fn symtab_sections(&self) -> Option<(usize, usize)> {
        self.symtab.map(|s| (s.index, s.strtab_index))
    }

    /// An error about section `index` (its name escaped when displayed).
    pub(super) fn error_in(&self, index: usize, kind: ParseErrorKind) -> ParseError {
        let name = String::from_utf8_lossy(self.section_name(index).bytes());
        ParseError::new(self.file, Some(&name), kind)
    }

    /// An error about the object as a whole.
    pub(super) fn error(&self, kind: ParseErrorKind) -> ParseError {
        ParseError::new(self.file, None, kind)
    }

    /// Number of symbols, including the null symbol 0.
    pub(super) fn symbol_count(&self) -> usize {
        self.symtab.map_or(0, |s| s.symbols.len())
    }

    /// Symbol `index` without its name; `None` past the table.
    pub(super) fn symbol(&self, index: usize) -> Option<Symbol> {
        let sym = self.symtab?.symbols.get(index)?;
        work::add(SYM_SIZE);
        let shndx = sym.st_shndx(LE);
        let section = if shndx == elf::SHN_UNDEF || shndx >= elf::SHN_LORESERVE {
            None
        } else {
            Some(usize::from(shndx))
        };
        Some(Symbol {
            index,
            value: sym.st_value(LE),
            size: sym.st_size(LE),
            kind: sym.st_type(),
            section,
        })
    }

    /// The name of symbol `index`, read with a bounded scan.
    pub(super) fn symbol_name(&self, index: usize) -> Name<'a> {
        let Some(symtab) = self.symtab else {
            return Name::Bad;
        };
        match symtab.symbols.get(index) {
            Some(sym) => read_name(symtab.strings, u64::from(sym.st_name(LE))),
            None => Name::Bad,
        }
    }
}

/// The file range of a section, checked against the file.
fn check_range(data: &[u8], sh: &SectionHeader64<LE>) -> Result<(usize, usize), ParseErrorKind> {
    if sh.sh_type(LE) == elf::SHT_NOBITS {
        return Ok((0, 0));
    }
    let offset = sh.sh_offset(LE);
    let size = sh.sh_size(LE);
    let out_of_bounds = ParseErrorKind::SectionOutOfBounds {
        offset,
        size,
        file_len: data.len(),
    };
    let start = usize::try_from(offset).map_err(|_| out_of_bounds.clone())?;
    let len = usize::try_from(size).map_err(|_| out_of_bounds.clone())?;
    match start.checked_add(len) {
        Some(end) if end <= data.len() => Ok((start, end)),
        _ => Err(out_of_bounds),
    }
}
