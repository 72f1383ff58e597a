//! A minimal ELF64 little-endian `EM_BPF` relocatable writer that does not
//! try to be correct: section headers take any offset and size (so several can
//! alias one blob), names are raw string-table offsets (so many can share one
//! long name), and section counts past `SHN_LORESERVE` use the extended
//! numbering of the ELF spec.
//!
//! Layout: ELF header, section data in the order added (8-aligned), then the
//! symbol table, the string table (shared by section and symbol names, as
//! LLVM does) and the section header table. Section 1 is always `.symtab` and
//! section 2 `.strtab`, so `e_shstrndx` stays small whatever the count.

/// `SHT_PROGBITS`.
pub const SHT_PROGBITS: u32 = 1;
/// `SHT_SYMTAB`.
pub const SHT_SYMTAB: u32 = 2;
/// `SHT_STRTAB`.
pub const SHT_STRTAB: u32 = 3;
/// `SHT_REL`.
pub const SHT_REL: u32 = 9;
/// `STT_NOTYPE`.
pub const STT_NOTYPE: u8 = 0;
/// `STT_OBJECT`.
pub const STT_OBJECT: u8 = 1;
/// `STT_FUNC`.
pub const STT_FUNC: u8 = 2;
/// `STB_GLOBAL << 4`.
const STB_GLOBAL: u8 = 1 << 4;
/// Index of the `.symtab` section.
pub const SYMTAB_INDEX: usize = 1;
/// Index of the `.strtab` section (also the section-name table).
pub const STRTAB_INDEX: usize = 2;
/// Size of one symbol-table entry.
pub const SYM_SIZE: usize = 24;
/// Size of one section header.
pub const SHDR_SIZE: usize = 64;
/// Size of one `Elf64_Rel`.
pub const REL_SIZE: usize = 16;
/// Size of the ELF header.
pub const EHDR_SIZE: usize = 64;
/// First reserved section index: above it, `st_shndx` cannot name a section
/// and `e_shnum` moves to section 0's `sh_size`.
pub const SHN_LORESERVE: usize = 0xff00;

/// A byte range of the file: `(offset, size)`.
pub type Range = (u64, u64);

/// One section header as written.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shdr {
    /// `sh_name`: offset in `.strtab`.
    pub name: u32,
    /// `sh_type`.
    pub sh_type: u32,
    /// `sh_offset`.
    pub offset: u64,
    /// `sh_size`.
    pub size: u64,
    /// `sh_link`.
    pub link: u32,
    /// `sh_info`.
    pub info: u32,
    /// `sh_entsize`.
    pub entsize: u64,
}

#[derive(Debug, Clone, Copy)]
struct Sym {
    name: u32,
    info: u8,
    shndx: u16,
    value: u64,
    size: u64,
}

/// The object being written.
#[derive(Debug)]
pub struct Writer {
    body: Vec<u8>,
    /// User sections; section index = position + 3.
    sections: Vec<Shdr>,
    strtab: Vec<u8>,
    symbols: Vec<Sym>,
}

impl Default for Writer {
    fn default() -> Self {
        Self::new()
    }
}

impl Writer {
    /// An empty object.
    pub fn new() -> Self {
        Writer {
            body: vec![0; EHDR_SIZE],
            sections: Vec::new(),
            strtab: vec![0],
            symbols: Vec::new(),
        }
    }

    /// Bytes written so far, plus the symbol table, string table and headers
    /// that [`Writer::build`] will add: the size of the file if built now.
    pub fn len(&self) -> usize {
        align8(self.body.len())
            + SYM_SIZE * (self.symbols.len() + 1)
            + align8(self.strtab.len() + 16)
            + SHDR_SIZE * (self.sections.len() + 3)
    }

    /// Whether nothing was added yet.
    pub fn is_empty(&self) -> bool {
        self.sections.is_empty() && self.symbols.is_empty()
    }

    /// Adds `s` and a NUL to `.strtab`; returns its offset.
    pub fn str(&mut self, s: &[u8]) -> u32 {
        let off = self.raw_str(s);
        self.strtab.push(0);
        off
    }

    /// Adds raw bytes (no NUL) to `.strtab`; returns their offset.
    pub fn raw_str(&mut self, bytes: &[u8]) -> u32 {
        let off = self.strtab.len() as u32;
        self.strtab.extend_from_slice(bytes);
        off
    }

    /// Appends `bytes` to the file body (8-aligned); returns their range.
    pub fn data(&mut self, bytes: &[u8]) -> Range {
        self.body.resize(align8(self.body.len()), 0);
        let off = self.body.len() as u64;
        self.body.extend_from_slice(bytes);
        (off, bytes.len() as u64)
    }

    /// Appends `len` bytes made by `fill(i)` for each byte index.
    pub fn data_with(&mut self, len: usize, mut fill: impl FnMut(&mut Vec<u8>)) -> Range {
        self.body.resize(align8(self.body.len()), 0);
        let off = self.body.len();
        fill(&mut self.body);
        debug_assert_eq!(self.body.len() - off, len, "fill wrote the wrong length");
        (off as u64, (self.body.len() - off) as u64)
    }

    /// Adds a raw section header; returns its section index.
    pub fn header(&mut self, h: Shdr) -> usize {
        self.sections.push(h);
        self.sections.len() + 2
    }

    /// Adds a `SHT_PROGBITS` section named by string offset `name` over `range`.
    pub fn progbits_at(&mut self, name: u32, range: Range) -> usize {
        self.header(Shdr {
            name,
            sh_type: SHT_PROGBITS,
            offset: range.0,
            size: range.1,
            ..Shdr::default()
        })
    }

    /// Adds a `SHT_PROGBITS` section with its own name and data.
    pub fn section(&mut self, name: &[u8], data: &[u8]) -> usize {
        let n = self.str(name);
        let r = self.data(data);
        self.progbits_at(n, r)
    }

    /// Adds a `SHT_REL` section for section `target` over `range`.
    pub fn rel_at(&mut self, name: u32, target: usize, range: Range) -> usize {
        self.header(Shdr {
            name,
            sh_type: SHT_REL,
            offset: range.0,
            size: range.1,
            link: SYMTAB_INDEX as u32,
            info: target as u32,
            entsize: REL_SIZE as u64,
        })
    }

    /// Adds a symbol; returns its symbol-table index. Sections past
    /// [`SHN_LORESERVE`] cannot be named (the index saturates to it).
    pub fn symbol(&mut self, name: u32, stt: u8, section: usize, value: u64, size: u64) -> u32 {
        self.symbols.push(Sym {
            name,
            info: STB_GLOBAL | stt,
            shndx: section.min(SHN_LORESERVE) as u16,
            value,
            size,
        });
        self.symbols.len() as u32
    }

    /// Number of symbols added (without the null symbol).
    pub fn symbol_count(&self) -> usize {
        self.symbols.len()
    }

    /// Number of sections, with the null section, `.symtab` and `.strtab`.
    pub fn section_count(&self) -> usize {
        self.sections.len() + 3
    }

    /// Serialises the object.
    pub fn build(self) -> Vec<u8> {
        let Writer {
            mut body,
            sections,
            mut strtab,
            symbols,
        } = self;
        let symtab_name = strtab.len() as u32;
        strtab.extend_from_slice(b".symtab\0");
        let strtab_name = strtab.len() as u32;
        strtab.extend_from_slice(b".strtab\0");

        body.resize(align8(body.len()), 0);
        let symtab_off = body.len() as u64;
        body.reserve(SYM_SIZE * (symbols.len() + 1) + strtab.len() + 8);
        body.extend_from_slice(&[0u8; SYM_SIZE]);
        for s in &symbols {
            body.extend_from_slice(&s.name.to_le_bytes());
            body.push(s.info);
            body.push(0);
            body.extend_from_slice(&s.shndx.to_le_bytes());
            body.extend_from_slice(&s.value.to_le_bytes());
            body.extend_from_slice(&s.size.to_le_bytes());
        }
        let symtab_size = body.len() as u64 - symtab_off;
        let strtab_off = body.len() as u64;
        body.extend_from_slice(&strtab);
        body.resize(align8(body.len()), 0);

        let count = sections.len() + 3;
        let shoff = body.len() as u64;
        let mut null = Shdr::default();
        if count >= SHN_LORESERVE {
            null.size = count as u64;
        }
        let symtab = Shdr {
            name: symtab_name,
            sh_type: SHT_SYMTAB,
            offset: symtab_off,
            size: symtab_size,
            link: STRTAB_INDEX as u32,
            info: 1,
            entsize: SYM_SIZE as u64,
        };
        let strtab_hdr = Shdr {
            name: strtab_name,
            sh_type: SHT_STRTAB,
            offset: strtab_off,
            size: strtab.len() as u64,
            ..Shdr::default()
        };
        body.reserve(count * SHDR_SIZE);
        for h in [null, symtab, strtab_hdr].iter().chain(&sections) {
            body.extend_from_slice(&h.name.to_le_bytes());
            body.extend_from_slice(&h.sh_type.to_le_bytes());
            body.extend_from_slice(&0u64.to_le_bytes()); // sh_flags
            body.extend_from_slice(&0u64.to_le_bytes()); // sh_addr
            body.extend_from_slice(&h.offset.to_le_bytes());
            body.extend_from_slice(&h.size.to_le_bytes());
            body.extend_from_slice(&h.link.to_le_bytes());
            body.extend_from_slice(&h.info.to_le_bytes());
            body.extend_from_slice(&8u64.to_le_bytes()); // sh_addralign
            body.extend_from_slice(&h.entsize.to_le_bytes());
        }

        let e = &mut body[..EHDR_SIZE];
        e[0..4].copy_from_slice(b"\x7fELF");
        e[4] = 2; // ELFCLASS64
        e[5] = 1; // ELFDATA2LSB
        e[6] = 1; // EV_CURRENT
        e[16..18].copy_from_slice(&1u16.to_le_bytes()); // ET_REL
        e[18..20].copy_from_slice(&247u16.to_le_bytes()); // EM_BPF
        e[20..24].copy_from_slice(&1u32.to_le_bytes());
        e[40..48].copy_from_slice(&shoff.to_le_bytes());
        e[52..54].copy_from_slice(&(EHDR_SIZE as u16).to_le_bytes());
        e[58..60].copy_from_slice(&(SHDR_SIZE as u16).to_le_bytes());
        let shnum = if count >= SHN_LORESERVE {
            0
        } else {
            count as u16
        };
        e[60..62].copy_from_slice(&shnum.to_le_bytes());
        e[62..64].copy_from_slice(&(STRTAB_INDEX as u16).to_le_bytes());
        body
    }
}

/// `n` rounded up to a multiple of 8.
pub const fn align8(n: usize) -> usize {
    (n + 7) & !7
}

/// Encodes `Elf64_Rel` entries `(r_offset, symbol index)` of type `R_BPF_64_64`.
pub fn rel_entries(rels: impl IntoIterator<Item = (u64, u32)>) -> Vec<u8> {
    let mut out = Vec::new();
    for (off, sym) in rels {
        push_rel(&mut out, off, sym);
    }
    out
}

/// Appends one `Elf64_Rel` of type `R_BPF_64_64` (1).
pub fn push_rel(out: &mut Vec<u8>, r_offset: u64, sym: u32) {
    out.extend_from_slice(&r_offset.to_le_bytes());
    out.extend_from_slice(&((u64::from(sym) << 32) | 1).to_le_bytes());
}

impl Writer {
    /// `(sh_offset, sh_size)` of section `index` as added.
    pub fn range_of(&self, index: usize) -> Range {
        index
            .checked_sub(3)
            .and_then(|i| self.sections.get(i))
            .map_or((0, 0), |h| (h.offset, h.size))
    }
}
