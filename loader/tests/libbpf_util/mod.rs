//! Test helpers for libbpf-style objects: an ELF64 writer with section
//! flags and relocation types (what `object` classifies code by), a BTF
//! writer (with BTF-defined map definitions), a `.BTF.ext` writer for CO-RE
//! records, and a reader of the corpus objects' layout for targeted
//! mutations. Test-only: trusted, self-built input.
#![allow(dead_code, reason = "each test binary uses a different subset")]
#![allow(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "test helpers on self-built input"
)]

pub const SHT_PROGBITS: u32 = 1;
pub const SHT_SYMTAB: u32 = 2;
pub const SHT_STRTAB: u32 = 3;
pub const SHT_NOBITS: u32 = 8;
pub const SHT_REL: u32 = 9;
pub const SHF_WRITE: u64 = 1;
pub const SHF_ALLOC: u64 = 2;
pub const SHF_EXECINSTR: u64 = 4;
pub const CODE: u64 = SHF_ALLOC | SHF_EXECINSTR;
pub const DATA: u64 = SHF_ALLOC | SHF_WRITE;
pub const STT_NOTYPE: u8 = 0;
pub const STT_OBJECT: u8 = 1;
pub const STT_FUNC: u8 = 2;
pub const STT_SECTION: u8 = 3;
pub const STB_LOCAL: u8 = 0;
pub const STB_GLOBAL: u8 = 1;
pub const R_BPF_64_64: u32 = 1;
pub const R_BPF_64_32: u32 = 10;

pub const EXIT: [u8; 8] = [0x95, 0, 0, 0, 0, 0, 0, 0];
pub const MOV_R0_0: [u8; 8] = [0xb7, 0, 0, 0, 0, 0, 0, 0];
pub const LD_MAP_R1: [u8; 16] = [0x18, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

/// `call imm` (a BPF-to-BPF call: src_reg 1).
pub fn call(imm: i32) -> [u8; 8] {
    let mut i = [0x85, 0x10, 0, 0, 0, 0, 0, 0];
    i[4..8].copy_from_slice(&imm.to_le_bytes());
    i
}

struct Sec {
    name: String,
    sh_type: u32,
    flags: u64,
    data: Vec<u8>,
    size: Option<u64>,
    info: u32,
    link_symtab: bool,
    entsize: u64,
}

struct Sym {
    name: String,
    info: u8,
    shndx: u16,
    value: u64,
    size: u64,
}

/// An ELF64 LE `EM_BPF` relocatable object, one `.strtab` for section and
/// symbol names (as LLVM writes them).
#[derive(Default)]
pub struct Elf {
    secs: Vec<Sec>,
    syms: Vec<Sym>,
}

impl Elf {
    pub fn new() -> Elf {
        Elf::default()
    }

    /// Adds a section; returns its index.
    pub fn section(&mut self, name: &str, sh_type: u32, flags: u64, data: &[u8]) -> usize {
        self.secs.push(Sec {
            name: name.into(),
            sh_type,
            flags,
            data: data.to_vec(),
            size: None,
            info: 0,
            link_symtab: false,
            entsize: 0,
        });
        self.secs.len()
    }

    /// Code (`SHF_ALLOC | SHF_EXECINSTR`).
    pub fn code(&mut self, name: &str, insns: &[u8]) -> usize {
        self.section(name, SHT_PROGBITS, CODE, insns)
    }

    /// A `SHT_NOBITS` section of `size` bytes.
    pub fn nobits(&mut self, name: &str, size: u64) -> usize {
        let i = self.section(name, SHT_NOBITS, DATA, &[]);
        self.secs[i - 1].size = Some(size);
        i
    }

    /// Adds a symbol; returns its index.
    pub fn symbol(
        &mut self,
        name: &str,
        stt: u8,
        bind: u8,
        shndx: usize,
        value: u64,
        size: u64,
    ) -> u32 {
        self.syms.push(Sym {
            name: name.into(),
            info: (bind << 4) | stt,
            shndx: shndx as u16,
            value,
            size,
        });
        self.syms.len() as u32
    }

    /// A global function.
    pub fn func(&mut self, name: &str, shndx: usize, value: u64, size: u64) -> u32 {
        self.symbol(name, STT_FUNC, STB_GLOBAL, shndx, value, size)
    }

    /// Relocations of `target`: `(offset, symbol, type)`.
    pub fn rel(&mut self, target: usize, rels: &[(u64, u32, u32)]) -> usize {
        let mut data = Vec::new();
        for &(off, sym, ty) in rels {
            data.extend_from_slice(&off.to_le_bytes());
            data.extend_from_slice(&((u64::from(sym) << 32) | u64::from(ty)).to_le_bytes());
        }
        let name = format!(".rel{}", self.secs[target - 1].name);
        self.secs.push(Sec {
            name,
            sh_type: SHT_REL,
            flags: 0,
            data,
            size: None,
            info: target as u32,
            link_symtab: true,
            entsize: 16,
        });
        self.secs.len()
    }

    pub fn build(&self) -> Vec<u8> {
        let symtab_index = self.secs.len() + 1;
        let strtab_index = self.secs.len() + 2;
        let mut strtab = vec![0u8];
        let mut add = |s: &str| -> u32 {
            if s.is_empty() {
                return 0;
            }
            let off = strtab.len() as u32;
            strtab.extend_from_slice(s.as_bytes());
            strtab.push(0);
            off
        };
        let names: Vec<u32> = self.secs.iter().map(|s| add(&s.name)).collect();
        let symtab_name = add(".symtab");
        let strtab_name = add(".strtab");
        let mut symtab = vec![0u8; 24];
        for s in &self.syms {
            let n = add(&s.name);
            symtab.extend_from_slice(&n.to_le_bytes());
            symtab.push(s.info);
            symtab.push(0);
            symtab.extend_from_slice(&s.shndx.to_le_bytes());
            symtab.extend_from_slice(&s.value.to_le_bytes());
            symtab.extend_from_slice(&s.size.to_le_bytes());
        }
        let mut out = vec![0u8; 64];
        let mut headers: Vec<[u8; 64]> = vec![[0u8; 64]];
        #[allow(
            clippy::too_many_arguments,
            reason = "an ELF section header has that many fields"
        )]
        fn place(
            out: &mut Vec<u8>,
            headers: &mut Vec<[u8; 64]>,
            name: u32,
            sh_type: u32,
            flags: u64,
            data: &[u8],
            size: Option<u64>,
            link: u32,
            info: u32,
            entsize: u64,
        ) {
            while !out.len().is_multiple_of(8) {
                out.push(0);
            }
            let off = out.len() as u64;
            out.extend_from_slice(data);
            let mut h = [0u8; 64];
            h[0..4].copy_from_slice(&name.to_le_bytes());
            h[4..8].copy_from_slice(&sh_type.to_le_bytes());
            h[8..16].copy_from_slice(&flags.to_le_bytes());
            h[24..32].copy_from_slice(&off.to_le_bytes());
            h[32..40].copy_from_slice(&size.unwrap_or(data.len() as u64).to_le_bytes());
            h[40..44].copy_from_slice(&link.to_le_bytes());
            h[44..48].copy_from_slice(&info.to_le_bytes());
            h[48..56].copy_from_slice(&8u64.to_le_bytes());
            h[56..64].copy_from_slice(&entsize.to_le_bytes());
            headers.push(h);
        }
        for (s, &n) in self.secs.iter().zip(&names) {
            let link = if s.link_symtab {
                symtab_index as u32
            } else {
                0
            };
            place(
                &mut out,
                &mut headers,
                n,
                s.sh_type,
                s.flags,
                &s.data,
                s.size,
                link,
                s.info,
                s.entsize,
            );
        }
        let first_global = 1 + self
            .syms
            .iter()
            .take_while(|s| s.info >> 4 == STB_LOCAL)
            .count() as u32;
        place(
            &mut out,
            &mut headers,
            symtab_name,
            SHT_SYMTAB,
            0,
            &symtab,
            None,
            strtab_index as u32,
            first_global,
            24,
        );
        place(
            &mut out,
            &mut headers,
            strtab_name,
            SHT_STRTAB,
            0,
            &strtab,
            None,
            0,
            0,
            0,
        );
        while !out.len().is_multiple_of(8) {
            out.push(0);
        }
        let shoff = out.len() as u64;
        for h in &headers {
            out.extend_from_slice(h);
        }
        let e = &mut out[..64];
        e[0..4].copy_from_slice(b"\x7fELF");
        e[4] = 2;
        e[5] = 1;
        e[6] = 1;
        e[16..18].copy_from_slice(&1u16.to_le_bytes());
        e[18..20].copy_from_slice(&247u16.to_le_bytes());
        e[20..24].copy_from_slice(&1u32.to_le_bytes());
        e[40..48].copy_from_slice(&shoff.to_le_bytes());
        e[52..54].copy_from_slice(&64u16.to_le_bytes());
        e[58..60].copy_from_slice(&64u16.to_le_bytes());
        e[60..62].copy_from_slice(&(headers.len() as u16).to_le_bytes());
        e[62..64].copy_from_slice(&(strtab_index as u16).to_le_bytes());
        out
    }
}

// ---- BTF.

pub const KIND_INT: u32 = 1;
pub const KIND_PTR: u32 = 2;
pub const KIND_ARRAY: u32 = 3;
pub const KIND_STRUCT: u32 = 4;
pub const KIND_FUNC: u32 = 12;
pub const KIND_FUNC_PROTO: u32 = 13;
pub const KIND_VAR: u32 = 14;
pub const KIND_DATASEC: u32 = 15;

/// A `.BTF` writer.
pub struct Btf {
    pub types: Vec<u8>,
    pub strings: Vec<u8>,
    pub n: u32,
}

impl Default for Btf {
    fn default() -> Self {
        Btf {
            types: Vec::new(),
            strings: vec![0],
            n: 0,
        }
    }
}

impl Btf {
    pub fn new() -> Btf {
        Btf::default()
    }
    pub fn s(&mut self, name: &str) -> u32 {
        if name.is_empty() {
            return 0;
        }
        let off = self.strings.len() as u32;
        self.strings.extend_from_slice(name.as_bytes());
        self.strings.push(0);
        off
    }
    fn w(&mut self, w: u32) {
        self.types.extend_from_slice(&w.to_le_bytes());
    }
    pub fn head(
        &mut self,
        name: &str,
        kind: u32,
        kflag: bool,
        vlen: u32,
        size_or_type: u32,
    ) -> u32 {
        let n = self.s(name);
        self.w(n);
        self.w((kind << 24) | (u32::from(kflag) << 31) | vlen);
        self.w(size_or_type);
        self.n += 1;
        self.n
    }
    pub fn int(&mut self, name: &str, size: u32) -> u32 {
        let id = self.head(name, KIND_INT, false, 0, size);
        self.w(size * 8);
        id
    }
    pub fn ptr(&mut self, to: u32) -> u32 {
        self.head("", KIND_PTR, false, 0, to)
    }
    pub fn array(&mut self, elem: u32, index: u32, len: u32) -> u32 {
        let id = self.head("", KIND_ARRAY, false, 0, 0);
        self.w(elem);
        self.w(index);
        self.w(len);
        id
    }
    /// `members`: (name, type, bit offset).
    pub fn strukt(&mut self, name: &str, size: u32, members: &[(&str, u32, u32)]) -> u32 {
        let id = self.head(name, KIND_STRUCT, false, members.len() as u32, size);
        for &(m, ty, off) in members {
            let n = self.s(m);
            self.w(n);
            self.w(ty);
            self.w(off);
        }
        id
    }
    pub fn func_proto(&mut self, ret: u32, params: &[u32]) -> u32 {
        let id = self.head("", KIND_FUNC_PROTO, false, params.len() as u32, ret);
        for &p in params {
            self.w(0);
            self.w(p);
        }
        id
    }
    pub fn func(&mut self, name: &str, proto: u32) -> u32 {
        // linkage: global (1) in vlen.
        self.head(name, KIND_FUNC, false, 1, proto)
    }
    pub fn var(&mut self, name: &str, ty: u32) -> u32 {
        let id = self.head(name, KIND_VAR, false, 0, ty);
        self.w(1); // global allocated
        id
    }
    /// `entries`: (var, offset, size).
    pub fn datasec(&mut self, name: &str, size: u32, entries: &[(u32, u32, u32)]) -> u32 {
        let id = self.head(name, KIND_DATASEC, false, entries.len() as u32, size);
        for &(v, off, sz) in entries {
            self.w(v);
            self.w(off);
            self.w(sz);
        }
        id
    }
    pub fn build(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&0xeb9fu16.to_le_bytes());
        b.extend_from_slice(&[1, 0]);
        let tl = self.types.len() as u32;
        for w in [24u32, 0, tl, tl, self.strings.len() as u32] {
            b.extend_from_slice(&w.to_le_bytes());
        }
        b.extend_from_slice(&self.types);
        b.extend_from_slice(&self.strings);
        b
    }
}

/// The BTF-defined map definition libbpf's `__uint`/`__type` macros write:
/// `struct { int (*type)[T]; int (*max_entries)[N]; K *key; V *value; }`
/// for `map_type` and `max_entries`, key `__u32`, value `__u64`. Returns the
/// struct's type id. `int_`, `u32_`, `u64_`, `idx` are type ids.
pub fn map_def(
    b: &mut Btf,
    int_: u32,
    u32_: u32,
    u64_: u32,
    idx: u32,
    map_type: u32,
    max: u32,
) -> u32 {
    let ta = b.array(int_, idx, map_type);
    let tp = b.ptr(ta);
    let ma = b.array(int_, idx, max);
    let mp = b.ptr(ma);
    let kp = b.ptr(u32_);
    let vp = b.ptr(u64_);
    b.strukt(
        "",
        32,
        &[
            ("type", tp, 0),
            ("max_entries", mp, 64),
            ("key", kp, 128),
            ("value", vp, 192),
        ],
    )
}

// ---- .BTF.ext.

/// A `.BTF.ext` with only CO-RE records: `secs` = (section name offset in
/// `.BTF`, records (insn_off, type_id, access_str_off, kind)).
pub fn btf_ext(secs: &[(u32, Vec<[u32; 4]>)]) -> Vec<u8> {
    let mut core = Vec::new();
    core.extend_from_slice(&16u32.to_le_bytes());
    for (name, recs) in secs {
        core.extend_from_slice(&name.to_le_bytes());
        core.extend_from_slice(&(recs.len() as u32).to_le_bytes());
        for r in recs {
            for w in r {
                core.extend_from_slice(&w.to_le_bytes());
            }
        }
    }
    let mut b = Vec::new();
    b.extend_from_slice(&0xeb9fu16.to_le_bytes());
    b.extend_from_slice(&[1, 0]);
    for w in [32u32, 0, 0, 0, 0, 0, core.len() as u32] {
        b.extend_from_slice(&w.to_le_bytes());
    }
    b.extend_from_slice(&core);
    b
}

// ---- Reading a (trusted) object's layout, for targeted mutations.

fn u16_at(b: &[u8], o: usize) -> usize {
    u16::from_le_bytes([b[o], b[o + 1]]) as usize
}
pub fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], o: usize) -> usize {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap()) as usize
}

/// Where things are in an object.
#[derive(Debug, Clone)]
pub struct Layout {
    /// (name, header offset, data offset, size, type, info).
    pub sections: Vec<(String, usize, usize, usize, u32, usize)>,
    /// (name, entry offset) of each symbol.
    pub symbols: Vec<(String, usize)>,
}

impl Layout {
    pub fn read(b: &[u8]) -> Layout {
        let (shoff, shnum, shstrndx) = (u64_at(b, 0x28), u16_at(b, 0x3c), u16_at(b, 0x3e));
        let hdr = |i: usize| shoff + i * 64;
        let strtab = u64_at(b, hdr(shstrndx) + 24);
        let cstr = |o: usize| {
            let end = o + b[o..].iter().position(|&c| c == 0).unwrap();
            String::from_utf8_lossy(&b[o..end]).into_owned()
        };
        let sections: Vec<_> = (0..shnum)
            .map(|i| {
                let h = hdr(i);
                (
                    cstr(strtab + u32_at(b, h) as usize),
                    h,
                    u64_at(b, h + 24),
                    u64_at(b, h + 32),
                    u32_at(b, h + 4),
                    u32_at(b, h + 44) as usize,
                )
            })
            .collect();
        let symtab = sections.iter().find(|s| s.4 == SHT_SYMTAB).unwrap();
        let link = u32_at(b, symtab.1 + 40) as usize;
        let symstr = sections[link].2;
        let symbols = (0..symtab.3 / 24)
            .map(|i| {
                let at = symtab.2 + i * 24;
                (cstr(symstr + u32_at(b, at) as usize), at)
            })
            .collect();
        Layout { sections, symbols }
    }

    pub fn section(&self, name: &str) -> &(String, usize, usize, usize, u32, usize) {
        self.sections
            .iter()
            .find(|s| s.0 == name)
            .unwrap_or_else(|| panic!("no section {name}"))
    }

    pub fn index(&self, name: &str) -> usize {
        self.sections.iter().position(|s| s.0 == name).unwrap()
    }

    /// File offset of symbol `name`'s entry.
    pub fn symbol(&self, name: &str) -> usize {
        self.symbols
            .iter()
            .find(|s| s.0 == name)
            .unwrap_or_else(|| panic!("no symbol {name}"))
            .1
    }

    /// File offsets of the entries of the relocation section for `name`.
    pub fn rels(&self, name: &str) -> Vec<usize> {
        let target = self.index(name);
        self.sections
            .iter()
            .filter(|s| s.4 == SHT_REL && s.5 == target)
            .flat_map(|s| (0..s.3 / 16).map(move |i| s.2 + i * 16))
            .collect()
    }
}
