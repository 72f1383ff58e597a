//! The subprogram call graph, as aya-obj 0.3's `relocate_calls` will walk
//! it, checked before it runs: every call and function pointer reaches the
//! start of a function; each program after linking stays within the
//! kernel's instruction limit; all programs together within a budget
//! linear in the file size (aya-obj appends a copy of every subprogram a
//! program reaches); and no two subprograms a program reaches share an
//! address (aya-obj's linker keys them by address alone and would link
//! the wrong one).

use super::elf::{RelocTarget, Scan, CALL, INSN, PSEUDO_CALL};
use super::{LibbpfErrorKind as E, LINK_BUDGET_BASE, LINK_BUDGET_FACTOR, MAX_PROG_INSNS};
use std::collections::HashMap;

/// What linking will produce.
#[derive(Debug, Default)]
pub(super) struct Linked {
    /// Instructions of each program after linking, by function index.
    pub(super) program_insns: HashMap<usize, u64>,
    /// Calls and function pointers to subprograms.
    pub(super) calls: usize,
}

/// Checks the call graph of `scan`.
pub(super) fn check(scan: &Scan<'_>) -> Result<Linked, E> {
    let n = scan.functions.len();
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut out = Linked::default();
    for (i, f) in scan.functions.iter().enumerate() {
        let mut off = f.address;
        let end = f.address.saturating_add(f.size);
        while off < end {
            let here = off;
            off = off.saturating_add(INSN);
            let Some([code, regs, o0, o1, i0, i1, i2, i3]) = scan.insn(f.section, here) else {
                break;
            };
            let imm = i32::from_le_bytes([i0, i1, i2, i3]);
            let is_call = code == CALL
                && regs >> 4 == PSEUDO_CALL
                && regs & 0x0f == 0
                && i16::from_le_bytes([o0, o1]) == 0;
            let rel = scan
                .relocs
                .binary_search_by(|r| (r.section, r.offset).cmp(&(f.section, here)))
                .ok()
                .and_then(|k| scan.relocs.get(k))
                .and_then(|r| match r.target {
                    RelocTarget::Function { section, address } => Some((section, address)),
                    RelocTarget::Map => None,
                });
            if !is_call && rel.is_none() {
                continue;
            }
            let err = |reason: String| E::Relocation {
                section: scan.section_name(f.section).to_string(),
                offset: here,
                reason,
            };
            let (section, address) = match rel {
                Some(t) => t,
                None => {
                    // A call within the section, relative to the next
                    // instruction (imm != i32::MAX: checked by the scan).
                    let target = i64::from(imm)
                        .checked_add(1)
                        .and_then(|d| d.checked_mul(INSN as i64))
                        .and_then(|d| i64::try_from(here).ok()?.checked_add(d))
                        .and_then(|t| u64::try_from(t).ok())
                        .ok_or_else(|| err(format!("call {imm:+} leaves the section")))?;
                    (f.section, target)
                }
            };
            let callee = scan
                .functions
                .binary_search_by(|g| (g.section, g.address).cmp(&(section, address)))
                .map_err(|_| {
                    err(format!(
                        "call to {:#x} in section {:?}, which is not the start of a function",
                        address,
                        scan.section_name(section)
                    ))
                })?;
            if let Some(list) = edges.get_mut(i) {
                list.push(callee);
            }
            out.calls = out.calls.saturating_add(1);
        }
        if let Some(list) = edges.get_mut(i) {
            list.sort_unstable();
            list.dedup();
        }
    }

    let insns = |i: usize| scan.functions.get(i).map_or(0, |f| f.size / INSN);
    let file_insns = (scan.file_len as u64) / INSN;
    let budget = file_insns
        .saturating_mul(LINK_BUDGET_FACTOR as u64)
        .saturating_add(LINK_BUDGET_BASE as u64);
    let mut total: u64 = 0;
    for (p, f) in scan.functions.iter().enumerate().filter(|(_, f)| f.program) {
        let name = scan.symbol_name(f.symbol).to_string();
        let mut seen = vec![false; n];
        let mut stack: Vec<usize> = edges.get(p).cloned().unwrap_or_default();
        let mut size = insns(p);
        let mut addresses: HashMap<u64, usize> = HashMap::new();
        while let Some(c) = stack.pop() {
            if std::mem::replace(seen.get_mut(c).unwrap_or(&mut true), true) {
                continue;
            }
            let Some(g) = scan.functions.get(c) else {
                continue;
            };
            if let Some(&other) = addresses.get(&g.address) {
                return Err(E::Program {
                    program: name,
                    reason: format!(
                        "calls {:?} and {:?}, both at address {:#x} of their sections \
                         (aya-obj 0.3 links subprograms by address alone)",
                        scan.symbol_name(scan.functions.get(other).map_or(0, |o| o.symbol)),
                        scan.symbol_name(g.symbol),
                        g.address
                    ),
                });
            }
            addresses.insert(g.address, c);
            size = size.saturating_add(insns(c));
            if let Some(next) = edges.get(c) {
                stack.extend(next.iter().copied());
            }
        }
        if size > MAX_PROG_INSNS as u64 {
            return Err(E::Program {
                program: name,
                reason: format!(
                    "{size} instructions with its subprograms, more than the kernel's \
                     {MAX_PROG_INSNS}"
                ),
            });
        }
        total = total.saturating_add(size);
        if total > budget {
            return Err(E::TooMany {
                what: "instructions of all programs linked with their subprograms",
                count: usize::try_from(total).unwrap_or(usize::MAX),
                max: usize::try_from(budget).unwrap_or(usize::MAX),
            });
        }
        out.program_insns.insert(p, size);
    }
    Ok(out)
}
