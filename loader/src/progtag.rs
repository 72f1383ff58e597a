//! The kernel's tag of a program: what `bpf_prog_info.tag` (and bpftool's
//! `tag`) shows, computed here from the instructions the loader would pass
//! to `BPF_PROG_LOAD`, so that a pinned program can be compared with the
//! object's without asking the kernel to verify anything.
//!
//! The kernel computes it in `bpf_prog_calc_tag()` (kernel/bpf/core.c),
//! called at the start of the verifier's pass over `LD_IMM64` instructions
//! (`resolve_pseudo_ldimm64()`, once `replace_map_fd_with_map_ptr()`), on the
//! instructions exactly as user space passed them, except that the map
//! references are cleared because fds mean nothing outside the process:
//! in an `LD_IMM64` whose `src_reg` is `BPF_PSEUDO_MAP_FD` or
//! `BPF_PSEUDO_MAP_VALUE`, the `imm` of both halves is zeroed (the second
//! half only if it is a well-formed one: `code`, registers and `off` all
//! zero). The digest of those bytes is then cut to its first 8 bytes:
//! SHA-1 until Linux 6.17, SHA-256 from 6.18 on (the signed-programs series
//! moved the program digest to SHA-256 and the tag became its prefix;
//! measured on 6.18: `r0 = 7; exit` has tag `9efe8873120741b3`, the first 8
//! bytes of the SHA-256 of its 16 bytes).
//!
//! [`kernel_tags`] returns both candidates; a pinned program matches the
//! object's when its tag is either one (which one the running kernel uses
//! needs no version check, and the chance that a different program's tag
//! equals the other algorithm's prefix is 2^-64).

use crate::reloc::LD_IMM64;
use sha1::Digest as _;

/// `BPF_PSEUDO_MAP_FD`: `imm` is a map fd.
const PSEUDO_MAP_FD: u8 = 1;
/// `BPF_PSEUDO_MAP_VALUE`: `imm` is a map fd, the second `imm` an offset.
const PSEUDO_MAP_VALUE: u8 = 2;

/// Size of `bpf_prog_info.tag` (`BPF_TAG_SIZE`).
pub const TAG_SIZE: usize = 8;

/// A program tag.
pub type Tag = [u8; TAG_SIZE];

/// The instructions as the kernel hashes them: map fds (and map value
/// offsets) cleared. Trailing bytes that do not make a whole instruction are
/// kept as they are (the kernel never sees such a program: `insn_cnt` counts
/// whole instructions, and the loader passes `len / 8` of them).
pub fn masked(insns: &[u8]) -> Vec<u8> {
    let whole = insns.len() - insns.len() % 8;
    let mut out = insns.get(..whole).unwrap_or_default().to_vec();
    let mut was_ld_map = false;
    for insn in out.chunks_exact_mut(8) {
        let code = insn[0];
        let src_reg = insn[1] >> 4;
        let dst_reg = insn[1] & 0x0f;
        let off_zero = insn[2] == 0 && insn[3] == 0;
        if !was_ld_map
            && code == LD_IMM64
            && (src_reg == PSEUDO_MAP_FD || src_reg == PSEUDO_MAP_VALUE)
        {
            was_ld_map = true;
            insn[4..8].fill(0);
        } else if was_ld_map && code == 0 && dst_reg == 0 && src_reg == 0 && off_zero {
            was_ld_map = false;
            insn[4..8].fill(0);
        } else {
            was_ld_map = false;
        }
    }
    out
}

fn prefix(digest: &[u8]) -> Tag {
    let mut t = [0u8; TAG_SIZE];
    for (d, s) in t.iter_mut().zip(digest) {
        *d = *s;
    }
    t
}

/// The tags a kernel gives a program loaded from `insns` (relocated, as
/// passed to `BPF_PROG_LOAD`): `[SHA-1 prefix (before 6.18), SHA-256 prefix
/// (6.18 on)]`.
pub fn kernel_tags(insns: &[u8]) -> [Tag; 2] {
    let m = masked(insns);
    [
        prefix(&sha1::Sha1::digest(&m)),
        prefix(&sha2::Sha256::digest(&m)),
    ]
}

/// A tag as bpftool prints it: 16 lower-case hex digits.
pub fn hex(tag: &Tag) -> String {
    tag.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0] = code;
        b[1] = (src << 4) | dst;
        b[2..4].copy_from_slice(&off.to_le_bytes());
        b[4..8].copy_from_slice(&imm.to_le_bytes());
        b
    }

    fn prog(insns: &[[u8; 8]]) -> Vec<u8> {
        insns.concat()
    }

    const MOV64_IMM: u8 = 0xb7;
    const EXIT: u8 = 0x95;

    #[test]
    fn tag_of_a_measured_program() {
        // `r0 = 7; exit`, loaded on Linux 6.18 (bpftool prog show):
        // tag 9efe8873120741b3.
        let p = prog(&[insn(MOV64_IMM, 0, 0, 0, 7), insn(EXIT, 0, 0, 0, 0)]);
        let [sha1, sha256] = kernel_tags(&p);
        assert_eq!(hex(&sha256), "9efe8873120741b3");
        // SHA-1 of the same 16 bytes (what kernels before 6.18 show).
        assert_eq!(hex(&sha1), "8923dad831f6fb51");
    }

    #[test]
    fn map_fds_do_not_change_the_tag() {
        let with_fd = |fd: i32, off: i32| {
            prog(&[
                insn(LD_IMM64, 1, PSEUDO_MAP_FD, 0, fd),
                insn(0, 0, 0, 0, off),
                insn(MOV64_IMM, 0, 0, 0, 0),
                insn(EXIT, 0, 0, 0, 0),
            ])
        };
        assert_eq!(kernel_tags(&with_fd(3, 0)), kernel_tags(&with_fd(77, 0)));
        // The second half's imm is cleared too (a map value offset).
        let value = |fd: i32, off: i32| {
            prog(&[
                insn(LD_IMM64, 1, PSEUDO_MAP_VALUE, 0, fd),
                insn(0, 0, 0, 0, off),
                insn(EXIT, 0, 0, 0, 0),
            ])
        };
        assert_eq!(kernel_tags(&value(3, 8)), kernel_tags(&value(9, 16)));
        // A plain 64-bit constant is part of the program.
        let constant = |imm: i32| {
            prog(&[
                insn(LD_IMM64, 1, 0, 0, imm),
                insn(0, 0, 0, 0, 0),
                insn(EXIT, 0, 0, 0, 0),
            ])
        };
        assert_ne!(kernel_tags(&constant(1)), kernel_tags(&constant(2)));
    }

    #[test]
    fn only_a_well_formed_second_half_is_cleared() {
        let p = |imm: i32| {
            prog(&[
                insn(LD_IMM64, 1, PSEUDO_MAP_FD, 0, 5),
                // Not a valid second half (off != 0): the kernel keeps its imm.
                insn(0, 0, 0, 1, imm),
                insn(EXIT, 0, 0, 0, 0),
            ])
        };
        assert_ne!(kernel_tags(&p(1)), kernel_tags(&p(2)));
        let m = masked(&p(1));
        assert_eq!(&m[4..8], &[0; 4]);
        assert_eq!(&m[12..16], &1i32.to_le_bytes());
        // Two map loads in a row: the second starts a new pair.
        let two = masked(&prog(&[
            insn(LD_IMM64, 1, PSEUDO_MAP_FD, 0, 5),
            insn(0, 0, 0, 0, 0),
            insn(LD_IMM64, 2, PSEUDO_MAP_FD, 0, 6),
            insn(0, 0, 0, 0, 0),
        ]));
        assert!(two.chunks(8).all(|i| i[4..8] == [0; 4]));
    }

    #[test]
    fn any_instruction_change_changes_the_tag() {
        let a = prog(&[insn(MOV64_IMM, 0, 0, 0, 0), insn(EXIT, 0, 0, 0, 0)]);
        let b = prog(&[insn(MOV64_IMM, 0, 0, 0, 1), insn(EXIT, 0, 0, 0, 0)]);
        let [a1, a2] = kernel_tags(&a);
        let [b1, b2] = kernel_tags(&b);
        assert_ne!(a1, b1);
        assert_ne!(a2, b2);
        // A partial trailing instruction is not hashed.
        let mut c = a.clone();
        c.push(0xff);
        assert_eq!(kernel_tags(&c), kernel_tags(&a));
    }
}
