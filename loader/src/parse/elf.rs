//! The ELF layer: header checks, section table, section data and symbols,
//! every offset checked against the file.

use super::error::{ParseError, ParseErrorKind};
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

/// A validated ELF64 little-endian BPF relocatable object.
pub(super) struct Elf<'a> {
    pub(super) file: &'a Path,
    data: &'a [u8],
    sections: SectionTable<'a, Header, &'a [u8]>,
    /// Section names, by section index.
    names: Vec<&'a [u8]>,
    symbols: SymbolTable<'a, Header, &'a [u8]>,
}

/// One symbol with its resolved name.
#[derive(Debug, Clone, Copy)]
pub(super) struct Symbol<'a> {
    pub(super) index: usize,
    pub(super) name: &'a [u8],
    pub(super) value: u64,
    pub(super) size: u64,
    pub(super) kind: u8,
    /// Section index, `None` for undefined/absolute/common symbols.
    pub(super) section: Option<usize>,
}

impl<'a> Elf<'a> {
    /// Checks the header and reads the section table, section names and symbol table.
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

        let sections = Self::section_table(file, data, header)?;
        let mut names = Vec::with_capacity(sections.len());
        for (index, sh) in sections.enumerate() {
            let name = sections
                .section_name(LE, sh)
                .map_err(|_| err(ParseErrorKind::SectionName { index: index.0 }))?;
            names.push(name);
        }
        let symbols = match sections
            .enumerate()
            .find(|(_, sh)| sh.sh_type(LE) == elf::SHT_SYMTAB)
        {
            Some((index, sh)) => {
                // Check the bounds ourselves first for a precise error.
                let section = names.get(index.0).map(|n| String::from_utf8_lossy(n));
                check_range(data, sh)
                    .map_err(|kind| ParseError::new(file, section.as_deref(), kind))?;
                SymbolTable::parse(LE, data, &sections, index, sh).map_err(|e| {
                    ParseError::new(file, section.as_deref(), ParseErrorKind::SymbolTable(e))
                })?
            }
            None => SymbolTable::default(),
        };
        Ok(Elf {
            file,
            data,
            sections,
            names,
            symbols,
        })
    }

    fn section_table(
        file: &'a Path,
        data: &'a [u8],
        header: &'a Header,
    ) -> Result<SectionTable<'a, Header, &'a [u8]>, ParseError> {
        let err = |kind| ParseError::new(file, None, kind);
        let shoff = header.e_shoff(LE);
        if shoff == 0 {
            // No section table at all: an empty object (it will lack `license`).
            return Ok(SectionTable::default());
        }
        let shentsize = header.e_shentsize(LE);
        if usize::from(shentsize) != size_of::<SectionHeader64<LE>>() {
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
        header
            .sections(LE, data)
            .map_err(|e| err(ParseErrorKind::SectionTable(e)))
    }

    /// Number of section headers.
    pub(super) fn section_count(&self) -> usize {
        self.names.len()
    }

    /// Raw name of section `index`.
    pub(super) fn section_name(&self, index: usize) -> &'a [u8] {
        self.names.get(index).copied().unwrap_or_default()
    }

    /// Index of the first section named exactly `name`.
    pub(super) fn find_section(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| *n == name.as_bytes())
    }

    fn header(&self, index: usize) -> Option<&'a SectionHeader64<LE>> {
        self.sections.iter().as_slice().get(index)
    }

    /// `sh_type` of section `index`.
    pub(super) fn section_type(&self, index: usize) -> u32 {
        self.header(index)
            .map_or(elf::SHT_NULL, |sh| sh.sh_type(LE))
    }

    /// `sh_info` of section `index`.
    pub(super) fn section_info(&self, index: usize) -> u32 {
        self.header(index).map_or(0, |sh| sh.sh_info(LE))
    }

    /// The bytes of section `index`, bounds-checked (`SHT_NOBITS` is empty).
    pub(super) fn section_data(&self, index: usize) -> Result<&'a [u8], ParseError> {
        let Some(sh) = self.header(index) else {
            return Ok(&[]);
        };
        check_range(self.data, sh).map_err(|kind| self.error_in(index, kind))
    }

    /// An error about section `index`.
    pub(super) fn error_in(&self, index: usize, kind: ParseErrorKind) -> ParseError {
        let name = String::from_utf8_lossy(self.section_name(index));
        ParseError::new(self.file, Some(&name), kind)
    }

    /// An error about the object as a whole.
    pub(super) fn error(&self, kind: ParseErrorKind) -> ParseError {
        ParseError::new(self.file, None, kind)
    }

    /// Number of symbols, including the null symbol 0.
    pub(super) fn symbol_count(&self) -> usize {
        self.symbols.len()
    }

    /// Symbol `index` with its name.
    pub(super) fn symbol(&self, index: usize) -> Result<Symbol<'a>, ParseError> {
        let sym: &Sym64<LE> = self.symbols.symbols().get(index).ok_or_else(|| {
            self.error(ParseErrorKind::RelocationSymbolMissing {
                index: index as u64,
                count: self.symbols.len(),
            })
        })?;
        let name = self.symbols.symbol_name(LE, sym).map_err(|_| {
            self.error(ParseErrorKind::BadSymbolName {
                index,
                name: String::new(),
            })
        })?;
        let shndx = sym.st_shndx(LE);
        let section = if shndx == elf::SHN_UNDEF || shndx >= elf::SHN_LORESERVE {
            None
        } else {
            Some(usize::from(shndx))
        };
        Ok(Symbol {
            index,
            name,
            value: sym.st_value(LE),
            size: sym.st_size(LE),
            kind: sym.st_type(),
            section,
        })
    }

    /// Every symbol (without the null symbol) defined in section `index`.
    pub(super) fn symbols_in(&self, index: usize) -> Result<Vec<Symbol<'a>>, ParseError> {
        let mut out = Vec::new();
        for i in 1..self.symbols.len() {
            let sym = self.symbol(i)?;
            if sym.section == Some(index) {
                out.push(sym);
            }
        }
        Ok(out)
    }
}

/// The file range of a section, checked against the file.
fn check_range<'a>(data: &'a [u8], sh: &SectionHeader64<LE>) -> Result<&'a [u8], ParseErrorKind> {
    if sh.sh_type(LE) == elf::SHT_NOBITS {
        return Ok(&[]);
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
    start
        .checked_add(len)
        .and_then(|end| data.get(start..end))
        .ok_or(out_of_bounds)
}
