//! Typed parse errors. Every error names the file, and the section when one
//! is involved, so a bad object on the boot path is diagnosed from one log line.

use std::fmt;
use std::path::{Path, PathBuf};

/// Why an object could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// Too short for an ELF header, or no `\x7fELF` magic.
    #[error("not an ELF file")]
    NotElf,
    /// `EI_CLASS` is not `ELFCLASS64`.
    #[error("ELF class {class} is not ELFCLASS64")]
    Not64Bit {
        /// `e_ident[EI_CLASS]`.
        class: u8,
    },
    /// `EI_DATA` is not `ELFDATA2LSB`.
    #[error("ELF data encoding {data} is not little-endian")]
    NotLittleEndian {
        /// `e_ident[EI_DATA]`.
        data: u8,
    },
    /// `EI_VERSION` is not `EV_CURRENT`.
    #[error("ELF version {version} is not EV_CURRENT")]
    BadElfVersion {
        /// `e_ident[EI_VERSION]`.
        version: u8,
    },
    /// `e_machine` is not `EM_BPF`.
    #[error("e_machine {machine} is not EM_BPF (247)")]
    WrongMachine {
        /// `e_machine`.
        machine: u16,
    },
    /// `e_type` is not `ET_REL`.
    #[error("e_type {e_type} is not ET_REL (relocatable)")]
    NotRelocatable {
        /// `e_type`.
        e_type: u16,
    },
    /// `e_shentsize` is not the size of an `Elf64_Shdr`.
    #[error("section header size {size} is not 64")]
    BadSectionHeaderSize {
        /// `e_shentsize`.
        size: u16,
    },
    /// The section header table does not fit in the file.
    #[error("section header table ({count} headers at offset {offset}) runs past the end of the file ({file_len} bytes)")]
    SectionTableOutOfBounds {
        /// `e_shoff`.
        offset: u64,
        /// Number of headers.
        count: u64,
        /// File size.
        file_len: usize,
    },
    /// The section header table could not be read (bad `e_shstrndx`, bad
    /// extended section count, ...).
    #[error("bad section header table: {0}")]
    SectionTable(object::read::Error),
    /// A section's name could not be read from the section-name string table.
    #[error("section header {index}: name offset is outside the string table")]
    SectionName {
        /// Section header index.
        index: usize,
    },
    /// A section's data does not fit in the file.
    #[error(
        "data ({size} bytes at offset {offset}) runs past the end of the file ({file_len} bytes)"
    )]
    SectionOutOfBounds {
        /// `sh_offset`.
        offset: u64,
        /// `sh_size`.
        size: u64,
        /// File size.
        file_len: usize,
    },
    /// The symbol table could not be read.
    #[error("bad symbol table: {0}")]
    SymbolTable(object::read::Error),
    /// A symbol's name could not be read, is not UTF-8, or breaks the
    /// name rules: empty, `/`, a control character, or (for a map, whose
    /// name is a pin-path component) a `.`.
    #[error("symbol {index} has an invalid name {name:?}: {reason}")]
    BadSymbolName {
        /// Symbol table index.
        index: usize,
        /// The name as far as it could be read (lossy).
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A name the parser needs is longer than
    /// [`MAX_NAME_LEN`](super::MAX_NAME_LEN) bytes.
    #[error("{what} {index}: name is longer than {max} bytes")]
    NameTooLong {
        /// `section` or `symbol`.
        what: &'static str,
        /// Section or symbol index.
        index: usize,
        /// The limit.
        max: usize,
    },
    /// The object name (from the file name) cannot be a pin-path component.
    #[error("object name {name:?} (from the file name) {reason}")]
    BadObjectName {
        /// The object name.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A program section name has a control character, or its pin name
    /// (cut at the last `$`) cannot be a pin-path component.
    #[error("program section name {name:?} {reason}")]
    BadProgramName {
        /// The section name.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// Two sections the parser reads share bytes of the file (the aliased
    /// ranges would be copied or expanded once per header).
    #[error("data (bytes {}..{}) overlaps section {} (bytes {}..{})", .range.0, .range.1, .other.escape_debug(), .other_range.0, .other_range.1)]
    SectionsOverlap {
        /// The other section's name.
        other: String,
        /// This section's file range.
        range: (u64, u64),
        /// The other section's file range.
        other_range: (u64, u64),
    },
    /// Two `SHT_REL` sections name the same code section in `sh_info`.
    #[error("two relocation sections apply to it: {} and {}", .first.escape_debug(), .second.escape_debug())]
    DuplicateRelocationSection {
        /// The first one.
        first: String,
        /// The second one.
        second: String,
    },
    /// An `LD_IMM64` with a non-zero `src_reg` that no relocation of the
    /// object rewrites: its `imm` would reach the kernel as written, and for
    /// the map kinds that is some other object's map fd.
    #[error("instruction {insn}: LD_IMM64 with src_reg {src_reg} is not covered by a map relocation; its immediate would reach the kernel unchecked")]
    UncoveredPseudoLoad {
        /// Instruction index.
        insn: usize,
        /// `src_reg` of the instruction.
        src_reg: u8,
    },
    /// The code ends in the first half of an `LD_IMM64`.
    #[error("instruction {insn}: LD_IMM64 without its second half at the end of the code")]
    TruncatedLdImm64 {
        /// Instruction index.
        insn: usize,
    },
    /// A program section's name is not UTF-8.
    #[error("section name is not UTF-8")]
    BadSectionName,
    /// No `license` section.
    #[error("no license section")]
    MissingLicense,
    /// A string section has no terminating NUL.
    #[error("string is not NUL-terminated")]
    UnterminatedString,
    /// A string section is not UTF-8.
    #[error("string is not UTF-8")]
    InvalidUtf8,
    /// A fixed-size integer section is shorter than its integer.
    #[error("size {size} is too short for a {need}-byte integer")]
    SectionTooShort {
        /// Section size.
        size: u64,
        /// Bytes needed.
        need: usize,
    },
    /// `size_of_bpf_map_def` / `size_of_bpf_prog_def` is smaller than any
    /// struct ever shipped.
    #[error("declared record size {size} is smaller than the minimum {min}")]
    DefSizeTooSmall {
        /// Declared size.
        size: u64,
        /// Smallest accepted size.
        min: usize,
    },
    /// `size_of_bpf_map_def` / `size_of_bpf_prog_def` is absurdly large.
    #[error("declared record size {size} is larger than the maximum {max}")]
    DefSizeTooLarge {
        /// Declared size.
        size: u64,
        /// Largest accepted size.
        max: usize,
    },
    /// A record section's size is not a multiple of its record size.
    #[error("size {size} is not a multiple of the record size {stride}")]
    RecordsNotMultiple {
        /// Section size.
        size: u64,
        /// Record size.
        stride: usize,
    },
    /// The number of symbols in `maps`/`progs` differs from the number of records.
    #[error("{symbols} symbols for {records} records")]
    SymbolCountMismatch {
        /// Symbols found in the section.
        symbols: usize,
        /// Records in the section.
        records: usize,
    },
    /// A symbol's value and size reach past the end of its section.
    #[error("symbol {} (offset {value}, size {size}) lies outside the section", .symbol.escape_debug())]
    SymbolOutOfSection {
        /// Symbol name.
        symbol: String,
        /// `st_value`.
        value: u64,
        /// `st_size`.
        size: u64,
    },
    /// The i-th symbol (by address) does not start the i-th record, so the
    /// name-to-record pairing would be wrong.
    #[error("symbol {} is at offset {value}, but its record starts at {expected}", .symbol.escape_debug())]
    SymbolMisplaced {
        /// Symbol name.
        symbol: String,
        /// `st_value`.
        value: u64,
        /// Start of the record paired with it.
        expected: u64,
    },
    /// `bpf_map_def.zero` (offset 20, the old `uid`) is not zero.
    #[error("map {}: field `zero` (offset 20) is {value}, must be 0", .map.escape_debug())]
    NonZeroField {
        /// Map name.
        map: String,
        /// The value found.
        value: u32,
    },
    /// No `<func>_def` symbol in `progs` for a program's function.
    #[error("no program definition {}_def in the progs section", .func.escape_debug())]
    MissingProgDef {
        /// The function symbol name.
        func: String,
    },
    /// A program section has no `STT_FUNC` symbol.
    #[error("no function symbol in program section")]
    NoFuncSymbol,
    /// Program code size is not a multiple of the instruction size.
    #[error("code size {size} is not a multiple of 8")]
    CodeSizeNotMultiple {
        /// Section size.
        size: u64,
    },
    /// Program section is empty.
    #[error("program section has no instructions")]
    EmptyCode,
    /// A relocation names a symbol index outside the symbol table.
    #[error("relocation names symbol index {index}, symbol table has {count}")]
    RelocationSymbolMissing {
        /// `ELF64_R_SYM(r_info)`.
        index: u64,
        /// Symbols in the table.
        count: usize,
    },
    /// A relocation's offset is unaligned or outside the code.
    #[error("relocation offset {offset} is not an instruction of the {code_size}-byte code")]
    RelocationOutOfRange {
        /// `r_offset`.
        offset: u64,
        /// Code size.
        code_size: usize,
    },
    /// More maps/programs/sections than any sane object has.
    #[error("{count} {what} exceed the limit of {max}")]
    TooMany {
        /// What is counted.
        what: &'static str,
        /// How many.
        count: u64,
        /// The limit.
        max: usize,
    },
}

/// A parse failure of one object file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    file: PathBuf,
    section: Option<String>,
    kind: ParseErrorKind,
}

impl ParseError {
    pub(crate) fn new(file: &Path, section: Option<&str>, kind: ParseErrorKind) -> Self {
        ParseError {
            file: file.to_path_buf(),
            section: section.map(str::to_string),
            kind,
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &ParseErrorKind {
        &self.kind
    }

    /// The object file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The section involved, if any.
    pub fn section(&self) -> Option<&str> {
        self.section.as_deref()
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", crate::logging::shown(&self.file))?;
        // Names come from the file: escaped, so that a newline in one
        // cannot start a forged line in the log.
        if let Some(s) = &self.section {
            write!(f, "section {}: ", s.escape_debug())?;
        }
        write!(f, "{}", self.kind)
    }
}

// The kind's text is part of `Display`, so `source()` stays `None` (an error
// chain printer would otherwise print the cause twice).
impl std::error::Error for ParseError {}
