//! The Android object format on top of [`crate::elf`]: instructions, the
//! `bpf_map_def` / `bpf_prog_def` records (`docs/object-format.md#map-record`,
//! `docs/object-format.md#program-record`) with the reference
//! defaults, and the object-level sections every valid object carries.

use crate::elf::{Writer, STT_FUNC, STT_OBJECT};

/// Size of one instruction.
pub const INSN: usize = 8;
/// `BPF_LD | BPF_IMM | BPF_DW`.
pub const LD_IMM64_OP: u8 = 0x18;
/// `r0 = 0`.
pub const MOV_R0_0: [u8; 8] = [0xb7, 0, 0, 0, 0, 0, 0, 0];
/// `exit`.
pub const EXIT: [u8; 8] = [0x95, 0, 0, 0, 0, 0, 0, 0];
/// Size of `struct bpf_map_def`.
pub const MAP_DEF_SIZE: usize = 120;
/// Size of `struct bpf_prog_def`.
pub const PROG_DEF_SIZE: usize = 92;
/// `BPF_PSEUDO_MAP_FD`.
pub const PSEUDO_MAP_FD: u8 = 1;
/// `BPF_PSEUDO_MAP_VALUE`.
pub const PSEUDO_MAP_VALUE: u8 = 2;
/// `BPF_PSEUDO_FUNC`.
pub const PSEUDO_FUNC: u8 = 4;
/// `BPF_PSEUDO_MAP_IDX`.
pub const PSEUDO_MAP_IDX: u8 = 5;

/// `rDST = IMM ll` with `src_reg = src`: the two halves of an `LD_IMM64`.
pub fn ld_imm64(dst: u8, src: u8, imm: i32) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[0] = LD_IMM64_OP;
    b[1] = (dst & 0x0f) | (src << 4);
    b[4..8].copy_from_slice(&imm.to_le_bytes());
    b
}

/// A `bpf_map_def` of `map_type` with the reference defaults
/// (`bpfloader_max_ver` 0x10000, `max_kver` 0xFFFFFFFF, mode 0600).
pub fn map_record(map_type: u32) -> [u8; MAP_DEF_SIZE] {
    let mut b = [0u8; MAP_DEF_SIZE];
    put(&mut b, 0, map_type);
    put(&mut b, 4, 4); // key_size
    put(&mut b, 8, 4); // value_size
    put(&mut b, 12, 1); // max_entries
    put(&mut b, 28, 0o600); // mode
    put(&mut b, 36, 0x1_0000); // bpfloader_max_ver
    put(&mut b, 44, 0xFFFF_FFFF); // max_kver
    b
}

/// A `bpf_prog_def` with the reference defaults.
pub fn prog_record() -> [u8; PROG_DEF_SIZE] {
    let mut b = [0u8; PROG_DEF_SIZE];
    put(&mut b, 12, 0xFFFF_FFFF); // max_kver
    put(&mut b, 24, 0x1_0000); // bpfloader_max_ver
    b
}

fn put(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

/// Sections and symbols of the object-level part.
#[derive(Debug, Clone)]
pub struct Base {
    /// Index of the `maps` section.
    pub maps: usize,
    /// Index of the `progs` section.
    pub progs: usize,
    /// Symbol index of each map, in record order.
    pub map_syms: Vec<u32>,
    /// Index of the `license` section (a harmless target for `sh_info`).
    pub license: usize,
}

/// Adds `license` ("GPL"), the loader-version and record-size sections, a
/// `maps` section with one HASH map per name and a `progs` section with one
/// default record per def name. Names are `.strtab` offsets, so callers
/// choose how long and how shared they are.
pub fn base(w: &mut Writer, map_names: &[u32], def_names: &[u32]) -> Base {
    let license = w.section(b"license", b"GPL\0");
    w.section(b"bpfloader_min_ver", &0u32.to_le_bytes());
    w.section(b"bpfloader_max_ver", &0x1_0000u32.to_le_bytes());
    w.section(b"size_of_bpf_map_def", &(MAP_DEF_SIZE as u64).to_le_bytes());
    w.section(
        b"size_of_bpf_prog_def",
        &(PROG_DEF_SIZE as u64).to_le_bytes(),
    );
    let rec = map_record(1);
    let mut maps_data = Vec::with_capacity(map_names.len() * MAP_DEF_SIZE);
    for _ in map_names {
        maps_data.extend_from_slice(&rec);
    }
    let maps = w.section(b"maps", &maps_data);
    let rec = prog_record();
    let mut progs_data = Vec::with_capacity(def_names.len() * PROG_DEF_SIZE);
    for _ in def_names {
        progs_data.extend_from_slice(&rec);
    }
    let progs = w.section(b"progs", &progs_data);
    let map_syms = map_names
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            w.symbol(
                n,
                STT_OBJECT,
                maps,
                (i * MAP_DEF_SIZE) as u64,
                MAP_DEF_SIZE as u64,
            )
        })
        .collect();
    for (i, &n) in def_names.iter().enumerate() {
        w.symbol(
            n,
            STT_OBJECT,
            progs,
            (i * PROG_DEF_SIZE) as u64,
            PROG_DEF_SIZE as u64,
        );
    }
    Base {
        maps,
        progs,
        map_syms,
        license,
    }
}

/// Adds a program section named by `name` holding `code`, with a FUNC symbol
/// named by `func` at its start; returns `(section index, symbol index)`.
pub fn program(w: &mut Writer, name: u32, code: &[u8], func: u32) -> (usize, u32) {
    let range = w.data(code);
    let sec = w.progbits_at(name, range);
    let sym = w.symbol(func, STT_FUNC, sec, 0, code.len() as u64);
    (sec, sym)
}

/// `n` instructions of `r0 = 0` followed by `exit` (`n + 1` in all).
pub fn filler_code(n: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity((n + 1) * INSN);
    for _ in 0..n {
        v.extend_from_slice(&MOV_R0_0);
    }
    v.extend_from_slice(&EXIT);
    v
}
