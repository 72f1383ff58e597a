//! Map relocation: patching map file descriptors into `LD_IMM64` instructions.
//!
//! Pure: bytes and fds in, patched bytes out. For each relocation the first
//! half of the `LD_IMM64` gets `src_reg = BPF_PSEUDO_MAP_FD` and `imm = fd`,
//! which is what `BPF_PROG_LOAD` expects. A map that was gated out relocates
//! to fd -1, as the reference does (the kernel then refuses the program if it
//! really uses that map, rather than the loader silently dropping the access).

use crate::spec::MapRelocation;
use aya_obj::generated::BPF_PSEUDO_MAP_FD;

/// `BPF_LD | BPF_IMM | BPF_DW`: the first half of a 64-bit immediate load.
pub const LD_IMM64: u8 = 0x18;

/// Size of one instruction.
const INSN_SIZE: usize = 8;

/// A relocation that cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelocError {
    /// The instruction index is past the end of the program.
    #[error("relocation at instruction {insn_index} is past the end ({insn_count} instructions)")]
    InsnOutOfRange {
        /// Instruction index of the relocation.
        insn_index: usize,
        /// Instructions in the program.
        insn_count: usize,
    },
    /// The relocation names a map the object does not have.
    #[error(
        "relocation at instruction {insn_index} names map #{map_index}, the object has {map_count}"
    )]
    NoSuchMap {
        /// Instruction index of the relocation.
        insn_index: usize,
        /// Map index.
        map_index: usize,
        /// Maps in the object.
        map_count: usize,
    },
}

/// A relocation that was skipped (not an `LD_IMM64`), as the reference does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedReloc {
    /// Instruction index.
    pub insn_index: usize,
    /// The opcode found there.
    pub code: u8,
}

impl std::fmt::Display for SkippedReloc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "relocation at instruction {} skipped: opcode {:#04x} is not LD_IMM64",
            self.insn_index, self.code
        )
    }
}

/// Patches `insns` in place. `map_fds[i]` is the fd of map `i` of the object,
/// `None` for a map that was gated out (relocated to -1).
///
/// All relocations are checked before any byte is written, so on error
/// `insns` is unchanged.
pub fn relocate_maps(
    insns: &mut [u8],
    relocs: &[MapRelocation],
    map_fds: &[Option<i32>],
) -> Result<Vec<SkippedReloc>, RelocError> {
    let insn_count = insns.len() / INSN_SIZE;
    let mut plan = Vec::with_capacity(relocs.len());
    let mut skipped = Vec::new();
    for r in relocs {
        let off = r
            .insn_index
            .checked_mul(INSN_SIZE)
            .filter(|_| r.insn_index < insn_count)
            .ok_or(RelocError::InsnOutOfRange {
                insn_index: r.insn_index,
                insn_count,
            })?;
        let fd = map_fds
            .get(r.map_index)
            .ok_or(RelocError::NoSuchMap {
                insn_index: r.insn_index,
                map_index: r.map_index,
                map_count: map_fds.len(),
            })?
            .unwrap_or(-1);
        let code = insns.get(off).copied().unwrap_or_default();
        if code != LD_IMM64 {
            skipped.push(SkippedReloc {
                insn_index: r.insn_index,
                code,
            });
            continue;
        }
        plan.push((off, fd));
    }
    for (off, fd) in plan {
        if let Some([_, regs, _, _, imm @ ..]) = insns.get_mut(off..off + INSN_SIZE) {
            // Little-endian bit-field: dst_reg is the low nibble, src_reg the high one.
            *regs = (*regs & 0x0F) | ((BPF_PSEUDO_MAP_FD as u8) << 4);
            imm.copy_from_slice(&fd.to_le_bytes());
        }
    }
    Ok(skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `r1 = 0 ll` (two halves), then `exit`, encoded like clang does:
    /// 18 01 00 00 00000000 / 00 00 00 00 00000000 / 95 00 ...
    fn prog() -> Vec<u8> {
        let mut v = vec![0x18, 0x01, 0, 0, 0, 0, 0, 0];
        v.extend([0u8; 8]);
        v.extend([0x18, 0x02, 0, 0, 0, 0, 0, 0]);
        v.extend([0u8; 8]);
        v.extend([0x95, 0, 0, 0, 0, 0, 0, 0]);
        v
    }

    fn rel(insn_index: usize, map_index: usize) -> MapRelocation {
        MapRelocation {
            insn_index,
            map_index,
        }
    }

    #[test]
    fn patches_src_reg_and_imm() {
        let mut p = prog();
        let skipped = relocate_maps(&mut p, &[rel(0, 1), rel(2, 0)], &[Some(7), Some(300)])
            .expect("valid relocations");
        assert!(skipped.is_empty());
        // src_reg = 1 (BPF_PSEUDO_MAP_FD) in the high nibble, dst_reg kept.
        assert_eq!(&p[..8], &[0x18, 0x11, 0, 0, 0x2c, 0x01, 0, 0]);
        assert_eq!(&p[16..24], &[0x18, 0x12, 0, 0, 7, 0, 0, 0]);
        // Second halves and other instructions untouched.
        assert_eq!(&p[8..16], &[0u8; 8]);
        assert_eq!(&p[32..40], &[0x95, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn skipped_map_relocates_to_minus_one() {
        let mut p = prog();
        relocate_maps(&mut p, &[rel(0, 0)], &[None]).expect("valid relocation");
        assert_eq!(&p[..8], &[0x18, 0x11, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    }

    #[test]
    fn non_ld_imm64_is_skipped_not_patched() {
        let mut p = prog();
        let skipped = relocate_maps(&mut p, &[rel(4, 0)], &[Some(5)]).expect("skips");
        assert_eq!(
            skipped,
            vec![SkippedReloc {
                insn_index: 4,
                code: 0x95
            }]
        );
        assert_eq!(p, prog());
    }

    #[test]
    fn out_of_range_is_an_error_and_writes_nothing() {
        let mut p = prog();
        let e = relocate_maps(&mut p, &[rel(0, 0), rel(5, 0)], &[Some(3)]).unwrap_err();
        assert_eq!(
            e,
            RelocError::InsnOutOfRange {
                insn_index: 5,
                insn_count: 5
            }
        );
        assert_eq!(p, prog(), "no partial patching");
        let e = relocate_maps(&mut p, &[rel(usize::MAX, 0)], &[Some(3)]).unwrap_err();
        assert!(matches!(e, RelocError::InsnOutOfRange { .. }));
        let e = relocate_maps(&mut p, &[rel(0, 2)], &[Some(3)]).unwrap_err();
        assert_eq!(
            e,
            RelocError::NoSuchMap {
                insn_index: 0,
                map_index: 2,
                map_count: 1
            }
        );
    }

    #[test]
    fn trailing_partial_insn_is_not_an_insn() {
        // 12 bytes = one instruction plus 4 stray bytes.
        let mut p = vec![0x18, 0x01, 0, 0, 0, 0, 0, 0, 0x18, 0, 0, 0];
        assert!(relocate_maps(&mut p, &[rel(1, 0)], &[Some(1)]).is_err());
    }
}
