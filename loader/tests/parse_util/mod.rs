//! Test helpers shared by the `parse_*` integration tests: a minimal ELF64
//! writer for hand-made BPF objects, Android record encoders written from the
//! struct layouts of `docs/object-format.md#map-record` and
//! `docs/object-format.md#program-record`, and byte patchers for section headers.
#![allow(dead_code, reason = "each test binary uses a different subset")]

use object::read::elf::{FileHeader, SectionHeader};
use object::LittleEndian as LE;

pub const SHT_PROGBITS: u32 = 1;
pub const SHT_SYMTAB: u32 = 2;
pub const SHT_STRTAB: u32 = 3;
pub const SHT_REL: u32 = 9;
pub const STT_OBJECT: u8 = 1;
pub const STT_FUNC: u8 = 2;
pub const STT_SECTION: u8 = 3;
pub const LD_IMM64: [u8; 16] = [0x18, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
pub const EXIT: [u8; 8] = [0x95, 0, 0, 0, 0, 0, 0, 0];
pub const MOV_R0_0: [u8; 8] = [0xb7, 0, 0, 0, 0, 0, 0, 0];

struct Sec {
    name: String,
    sh_type: u32,
    data: Vec<u8>,
    info: u32,
    link_symtab: bool,
    entsize: u64,
}

struct SymDef {
    name: String,
    shndx: u16,
    value: u64,
    size: u64,
    stt: u8,
}

/// Builds ELF64 little-endian `EM_BPF` relocatable objects laid out like
/// LLVM's: one `.strtab` shared by section and symbol names.
#[derive(Default)]
pub struct ElfBuilder {
    sections: Vec<Sec>,
    symbols: Vec<SymDef>,
}

impl ElfBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a `SHT_PROGBITS` section; returns its section index.
    pub fn section(&mut self, name: &str, data: &[u8]) -> usize {
        self.sections.push(Sec {
            name: name.into(),
            sh_type: SHT_PROGBITS,
            data: data.to_vec(),
            info: 0,
            link_symtab: false,
            entsize: 0,
        });
        self.sections.len()
    }

    /// Adds a symbol; returns its symbol index.
    pub fn symbol(&mut self, name: &str, section: usize, value: u64, size: u64, stt: u8) -> u32 {
        self.symbols.push(SymDef {
            name: name.into(),
            shndx: section as u16,
            value,
            size,
            stt,
        });
        self.symbols.len() as u32
    }

    /// Adds a `SHT_REL` section for `target` with `(r_offset, symbol index)` entries.
    pub fn rel(&mut self, target: usize, rels: &[(u64, u32)]) -> usize {
        let mut data = Vec::new();
        for &(off, sym) in rels {
            data.extend_from_slice(&off.to_le_bytes());
            // R_BPF_64_64 = 1
            data.extend_from_slice(&((u64::from(sym) << 32) | 1).to_le_bytes());
        }
        let name = format!(".rel{}", self.sections[target - 1].name);
        self.sections.push(Sec {
            name,
            sh_type: SHT_REL,
            data,
            info: target as u32,
            link_symtab: true,
            entsize: 16,
        });
        self.sections.len()
    }

    /// Serialises: header, section data, then the section header table.
    pub fn build(&self) -> Vec<u8> {
        let symtab_index = self.sections.len() + 1;
        let strtab_index = self.sections.len() + 2;
        let mut strtab = vec![0u8];
        let mut add_str = |s: &str| -> u32 {
            if s.is_empty() {
                return 0;
            }
            let off = strtab.len() as u32;
            strtab.extend_from_slice(s.as_bytes());
            strtab.push(0);
            off
        };
        let sec_names: Vec<u32> = self.sections.iter().map(|s| add_str(&s.name)).collect();
        let symtab_name = add_str(".symtab");
        let strtab_name = add_str(".strtab");
        let mut symtab = vec![0u8; 24];
        for s in &self.symbols {
            let name = add_str(&s.name);
            symtab.extend_from_slice(&name.to_le_bytes());
            symtab.push((1 << 4) | s.stt); // STB_GLOBAL
            symtab.push(0);
            symtab.extend_from_slice(&s.shndx.to_le_bytes());
            symtab.extend_from_slice(&s.value.to_le_bytes());
            symtab.extend_from_slice(&s.size.to_le_bytes());
        }

        let mut out = vec![0u8; 64];
        let mut headers: Vec<[u8; 64]> = vec![[0u8; 64]];
        let mut place = |out: &mut Vec<u8>,
                         name: u32,
                         sh_type: u32,
                         data: &[u8],
                         link: u32,
                         info: u32,
                         entsize: u64| {
            while !out.len().is_multiple_of(8) {
                out.push(0);
            }
            let off = out.len() as u64;
            out.extend_from_slice(data);
            let mut h = [0u8; 64];
            h[0..4].copy_from_slice(&name.to_le_bytes());
            h[4..8].copy_from_slice(&sh_type.to_le_bytes());
            h[24..32].copy_from_slice(&off.to_le_bytes());
            h[32..40].copy_from_slice(&(data.len() as u64).to_le_bytes());
            h[40..44].copy_from_slice(&link.to_le_bytes());
            h[44..48].copy_from_slice(&info.to_le_bytes());
            h[48..56].copy_from_slice(&8u64.to_le_bytes());
            h[56..64].copy_from_slice(&entsize.to_le_bytes());
            headers.push(h);
        };
        for (s, &name) in self.sections.iter().zip(&sec_names) {
            let link = if s.link_symtab {
                symtab_index as u32
            } else {
                0
            };
            place(&mut out, name, s.sh_type, &s.data, link, s.info, s.entsize);
        }
        place(
            &mut out,
            symtab_name,
            SHT_SYMTAB,
            &symtab,
            strtab_index as u32,
            1,
            24,
        );
        place(&mut out, strtab_name, SHT_STRTAB, &strtab, 0, 0, 0);
        while !out.len().is_multiple_of(8) {
            out.push(0);
        }
        let shoff = out.len() as u64;
        for h in &headers {
            out.extend_from_slice(h);
        }

        let e = &mut out[..64];
        e[0..4].copy_from_slice(b"\x7fELF");
        e[4] = 2; // ELFCLASS64
        e[5] = 1; // ELFDATA2LSB
        e[6] = 1; // EV_CURRENT
        e[16..18].copy_from_slice(&1u16.to_le_bytes()); // ET_REL
        e[18..20].copy_from_slice(&247u16.to_le_bytes()); // EM_BPF
        e[20..24].copy_from_slice(&1u32.to_le_bytes());
        e[40..48].copy_from_slice(&shoff.to_le_bytes());
        e[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
        e[58..60].copy_from_slice(&64u16.to_le_bytes()); // e_shentsize
        e[60..62].copy_from_slice(&(headers.len() as u16).to_le_bytes());
        e[62..64].copy_from_slice(&(strtab_index as u16).to_le_bytes());
        out
    }
}

/// `struct bpf_map_def` (120 bytes) field values; `Default` = the reference
/// defaults (`bpfloader_max_ver` 0x10000, `max_kver` 0xFFFFFFFF).
#[derive(Clone)]
pub struct MapRec {
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    pub zero: u32,
    pub gid: u32,
    pub mode: u32,
    pub bpfloader_min_ver: u32,
    pub bpfloader_max_ver: u32,
    pub min_kver: u32,
    pub max_kver: u32,
    pub selinux_context: &'static str,
    pub pin_subdir: &'static str,
    pub shared: bool,
    pub ignore_bits: u8,
    pub uid: u32,
}

impl Default for MapRec {
    fn default() -> Self {
        MapRec {
            map_type: 1,
            key_size: 4,
            value_size: 4,
            max_entries: 1,
            map_flags: 0,
            zero: 0,
            gid: 0,
            mode: 0o600,
            bpfloader_min_ver: 0,
            bpfloader_max_ver: 0x10000,
            min_kver: 0,
            max_kver: 0xFFFF_FFFF,
            selinux_context: "",
            pin_subdir: "",
            shared: false,
            ignore_bits: 0,
            uid: 0,
        }
    }
}

fn put(buf: &mut [u8], off: usize, v: u32) {
    buf[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_str(buf: &mut [u8], off: usize, s: &str) {
    buf[off..off + s.len()].copy_from_slice(s.as_bytes());
}

impl MapRec {
    /// The full 120-byte record (`docs/object-format.md#map-record`).
    pub fn bytes(&self) -> Vec<u8> {
        let mut b = vec![0u8; 120];
        put(&mut b, 0, self.map_type);
        put(&mut b, 4, self.key_size);
        put(&mut b, 8, self.value_size);
        put(&mut b, 12, self.max_entries);
        put(&mut b, 16, self.map_flags);
        put(&mut b, 20, self.zero);
        put(&mut b, 24, self.gid);
        put(&mut b, 28, self.mode);
        put(&mut b, 32, self.bpfloader_min_ver);
        put(&mut b, 36, self.bpfloader_max_ver);
        put(&mut b, 40, self.min_kver);
        put(&mut b, 44, self.max_kver);
        put_str(&mut b, 48, self.selinux_context);
        put_str(&mut b, 80, self.pin_subdir);
        b[112] = u8::from(self.shared);
        b[113] = self.ignore_bits;
        put(&mut b, 116, self.uid);
        b
    }
}

/// `struct bpf_prog_def` (92 bytes) field values; `Default` = reference defaults.
#[derive(Clone)]
pub struct ProgRec {
    pub uid: u32,
    pub gid: u32,
    pub min_kver: u32,
    pub max_kver: u32,
    pub optional: bool,
    pub ignore_bits: u8,
    pub bpfloader_min_ver: u32,
    pub bpfloader_max_ver: u32,
    pub selinux_context: &'static str,
    pub pin_subdir: &'static str,
}

impl Default for ProgRec {
    fn default() -> Self {
        ProgRec {
            uid: 0,
            gid: 0,
            min_kver: 0,
            max_kver: 0xFFFF_FFFF,
            optional: false,
            ignore_bits: 0,
            bpfloader_min_ver: 0,
            bpfloader_max_ver: 0x10000,
            selinux_context: "",
            pin_subdir: "",
        }
    }
}

impl ProgRec {
    /// The full 92-byte record (`docs/object-format.md#program-record`).
    pub fn bytes(&self) -> Vec<u8> {
        let mut b = vec![0u8; 92];
        put(&mut b, 0, self.uid);
        put(&mut b, 4, self.gid);
        put(&mut b, 8, self.min_kver);
        put(&mut b, 12, self.max_kver);
        b[16] = u8::from(self.optional);
        b[17] = self.ignore_bits;
        put(&mut b, 20, self.bpfloader_min_ver);
        put(&mut b, 24, self.bpfloader_max_ver);
        put_str(&mut b, 28, self.selinux_context);
        put_str(&mut b, 60, self.pin_subdir);
        b
    }
}

/// Target of a relocation in [`Sample`].
#[derive(Clone, Copy)]
pub enum RelSym {
    /// The symbol of map `i` of [`Sample::map_syms`].
    Map(usize),
    /// A raw symbol-table index.
    Raw(u32),
}

/// The parts of a small object, `Default` = a valid one: two maps
/// (`first_map` HASH, `second_map` ARRAY), one program `skfilter/test$opt`
/// whose function `prog_test` loads both maps (insns 0 and 2), license
/// `GPL`, loader versions [42, 0x10000), record sizes 120/92.
#[derive(Clone)]
pub struct Sample {
    pub section_name: String,
    pub code: Vec<u8>,
    pub func: Option<String>,
    pub license: Option<Vec<u8>>,
    pub critical: Option<Vec<u8>>,
    pub min_ver: Option<Vec<u8>>,
    pub max_ver: Option<Vec<u8>>,
    pub map_def_size: Option<Vec<u8>>,
    pub prog_def_size: Option<Vec<u8>>,
    pub maps: Vec<u8>,
    pub map_syms: Vec<(String, u64, u64)>,
    pub progs: Vec<u8>,
    pub prog_syms: Vec<(String, u64, u64)>,
    pub rels: Vec<(u64, RelSym)>,
    /// More `SHT_PROGBITS` sections, added after `progs`.
    pub extra: Vec<(String, Vec<u8>)>,
}

impl Default for Sample {
    fn default() -> Self {
        let mut code = Vec::new();
        code.extend_from_slice(&LD_IMM64);
        code.extend_from_slice(&LD_IMM64);
        code.extend_from_slice(&MOV_R0_0);
        code.extend_from_slice(&EXIT);
        let mut maps = MapRec::default().bytes();
        maps.extend(
            MapRec {
                map_type: 2,
                ..MapRec::default()
            }
            .bytes(),
        );
        Sample {
            section_name: "skfilter/test$opt".into(),
            code,
            func: Some("prog_test".into()),
            license: Some(b"GPL\0".to_vec()),
            critical: None,
            min_ver: Some(42u32.to_le_bytes().to_vec()),
            max_ver: Some(0x10000u32.to_le_bytes().to_vec()),
            map_def_size: Some(120u64.to_le_bytes().to_vec()),
            prog_def_size: Some(92u64.to_le_bytes().to_vec()),
            maps,
            map_syms: vec![
                ("first_map".into(), 0, 120),
                ("second_map".into(), 120, 120),
            ],
            progs: ProgRec::default().bytes(),
            prog_syms: vec![("prog_test_def".into(), 0, 92)],
            rels: vec![(0, RelSym::Map(0)), (16, RelSym::Map(1))],
            extra: Vec::new(),
        }
    }
}

impl Sample {
    pub fn build(&self) -> Vec<u8> {
        let mut b = ElfBuilder::new();
        let text = b.section(&self.section_name, &self.code);
        if let Some(l) = &self.license {
            b.section("license", l);
        }
        if let Some(c) = &self.critical {
            b.section("critical", c);
        }
        if let Some(v) = &self.min_ver {
            b.section("bpfloader_min_ver", v);
        }
        if let Some(v) = &self.max_ver {
            b.section("bpfloader_max_ver", v);
        }
        if let Some(v) = &self.map_def_size {
            b.section("size_of_bpf_map_def", v);
        }
        if let Some(v) = &self.prog_def_size {
            b.section("size_of_bpf_prog_def", v);
        }
        let maps = b.section("maps", &self.maps);
        let progs = b.section("progs", &self.progs);
        for (name, data) in &self.extra {
            b.section(name, data);
        }
        if let Some(f) = &self.func {
            b.symbol(f, text, 0, self.code.len() as u64, STT_FUNC);
        }
        let map_syms: Vec<u32> = self
            .map_syms
            .iter()
            .map(|(n, v, sz)| b.symbol(n, maps, *v, *sz, STT_OBJECT))
            .collect();
        for (n, v, sz) in &self.prog_syms {
            b.symbol(n, progs, *v, *sz, STT_OBJECT);
        }
        let rels: Vec<(u64, u32)> = self
            .rels
            .iter()
            .map(|&(off, s)| match s {
                RelSym::Map(i) => (off, map_syms[i]),
                RelSym::Raw(r) => (off, r),
            })
            .collect();
        if !rels.is_empty() {
            b.rel(text, &rels);
        }
        b.build()
    }
}

/// The default [`Sample`], built.
pub fn sample_object() -> Vec<u8> {
    Sample::default().build()
}

/// Byte offset of the section header of the first section named `name`.
pub fn section_header_offset(bytes: &[u8], name: &str) -> usize {
    let header = object::elf::FileHeader64::<LE>::parse(bytes).unwrap();
    let sections = header.sections(LE, bytes).unwrap();
    let shoff = header.e_shoff.get(LE) as usize;
    for (i, sh) in sections.iter().enumerate() {
        if sections.section_name(LE, sh).unwrap() == name.as_bytes() {
            return shoff + i * 64;
        }
    }
    panic!("no section {name}");
}

/// `(sh_offset, sh_size)` of the first section named `name`.
pub fn section_range(bytes: &[u8], name: &str) -> (usize, usize) {
    let h = section_header_offset(bytes, name);
    let header = object::elf::FileHeader64::<LE>::parse(bytes).unwrap();
    let sections = header.sections(LE, bytes).unwrap();
    let idx = (h - header.e_shoff.get(LE) as usize) / 64;
    let sh = sections.iter().nth(idx).unwrap();
    (sh.sh_offset(LE) as usize, sh.sh_size(LE) as usize)
}

/// Overwrites a little-endian u64 at `off`.
pub fn patch_u64(bytes: &mut [u8], off: usize, v: u64) {
    bytes[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

/// Overwrites a little-endian u32 at `off`.
pub fn patch_u32(bytes: &mut [u8], off: usize, v: u32) {
    bytes[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

/// Overwrites a little-endian u16 at `off`.
pub fn patch_u16(bytes: &mut [u8], off: usize, v: u16) {
    bytes[off..off + 2].copy_from_slice(&v.to_le_bytes());
}
