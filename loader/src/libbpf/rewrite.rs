//! The copy of the object that aya-obj parses.
//!
//! * Program sections are renamed `kprobe/nbl_<index>`: aya-obj 0.3
//!   refuses libbpf names it does not know (`tc`, `tc/ingress`, `tcx/…`,
//!   `action`, `lwt_*`, `netfilter`…) and the meaning of a section is
//!   decided by [`super::sections`] anyway. The new names go into a copy
//!   of the section-name string table appended to the file (the old names
//!   stay, so symbol names sharing the table are untouched).
//! * aya-obj finds a section's CO-RE records by the name `.BTF.ext` gives
//!   it, a BTF string: when a renamed section has CO-RE records, a copy of
//!   `.BTF` with the new names appended to its strings is appended to the
//!   file too (type ids and every other string offset unchanged), and the
//!   records' section names point at them.
//! * Func and line info are cleared from `.BTF.ext` (this loader does not
//!   load programs with BTF; aya-obj parses them unchecked).
//!
//! Appending keeps every other offset of the file valid; only section
//! headers are patched.

use super::btfext::Ext;
use super::btfview::View;
use super::elf::{Class, Scan};
use super::LibbpfErrorKind as E;

/// Size of an `Elf64_Shdr`.
const SHDR: u64 = 64;
const SH_NAME: u64 = 0;
const SH_OFFSET: u64 = 24;
const SH_SIZE: u64 = 32;

fn idx(v: u64) -> Option<usize> {
    usize::try_from(v).ok()
}

fn put(out: &mut [u8], at: u64, bytes: &[u8]) -> Option<()> {
    let start = idx(at)?;
    out.get_mut(start..start.checked_add(bytes.len())?)?
        .copy_from_slice(bytes);
    Some(())
}

fn get_u64(b: &[u8], at: u64) -> Option<u64> {
    let start = idx(at)?;
    let w = b.get(start..start.checked_add(8)?)?;
    Some(u64::from_le_bytes(<[u8; 8]>::try_from(w).ok()?))
}

fn header_field(scan: &Scan<'_>, section: usize, field: u64) -> Option<u64> {
    scan.shoff
        .checked_add(SHDR.checked_mul(section as u64)?)?
        .checked_add(field)
}

/// Appends `data` at an 8-byte boundary; returns its offset.
fn append(out: &mut Vec<u8>, data: &[u8]) -> u64 {
    while !out.len().is_multiple_of(8) {
        out.push(0);
    }
    let at = out.len() as u64;
    out.extend_from_slice(data);
    at
}

/// The aya-obj name of program section `index`.
pub(super) fn aya_name(index: usize) -> String {
    format!("kprobe/nbl_{index}")
}

/// Builds the copy (see the module doc).
pub(super) fn rewrite(
    bytes: &[u8],
    scan: &Scan<'_>,
    btf: Option<&View<'_>>,
    ext: Option<&Ext>,
) -> Result<Vec<u8>, E> {
    let broken = |what: &str| E::Elf(format!("cannot rewrite {what}"));
    let mut out = bytes.to_vec();
    let renamed: Vec<(usize, String)> = scan
        .sections
        .iter()
        .enumerate()
        .filter(|(_, s)| matches!(s.class, Class::Program(_)))
        .map(|(i, _)| (i, aya_name(i)))
        .collect();

    // Section names.
    if !renamed.is_empty() {
        let strtab = scan
            .sections
            .get(scan.shstrndx)
            .filter(|s| !s.data.is_empty())
            .ok_or_else(|| broken("the section-name string table"))?;
        let mut table = strtab.data.to_vec();
        let mut offsets = Vec::with_capacity(renamed.len());
        for (_, name) in &renamed {
            offsets.push(u32::try_from(table.len()).map_err(|_| broken("section names"))?);
            table.extend_from_slice(name.as_bytes());
            table.push(0);
        }
        let at = append(&mut out, &table);
        let hdr = |field| header_field(scan, scan.shstrndx, field);
        put(
            &mut out,
            hdr(SH_OFFSET).ok_or_else(|| broken("a header"))?,
            &at.to_le_bytes(),
        )
        .ok_or_else(|| broken("a header"))?;
        put(
            &mut out,
            hdr(SH_SIZE).ok_or_else(|| broken("a header"))?,
            &(table.len() as u64).to_le_bytes(),
        )
        .ok_or_else(|| broken("a header"))?;
        for ((section, _), name_off) in renamed.iter().zip(offsets) {
            let at = header_field(scan, *section, SH_NAME).ok_or_else(|| broken("a header"))?;
            put(&mut out, at, &name_off.to_le_bytes()).ok_or_else(|| broken("a header"))?;
        }
    }

    let Some(ext_index) = scan.btf_ext else {
        return Ok(out);
    };
    let ext_at = header_field(scan, ext_index, SH_OFFSET)
        .and_then(|h| get_u64(bytes, h))
        .ok_or_else(|| broken(".BTF.ext"))?;
    // Func and line info: offsets and lengths zeroed.
    for field in [8u64, 12, 16, 20] {
        put(&mut out, ext_at.saturating_add(field), &0u32.to_le_bytes())
            .ok_or_else(|| broken(".BTF.ext"))?;
    }

    // CO-RE records naming renamed sections.
    let (Some(ext), Some(btf), Some(btf_index)) = (ext, btf, scan.btf) else {
        return Ok(out);
    };
    let mut patches: Vec<(usize, usize)> = Vec::new(); // (name_pos, renamed index)
    for sec in &ext.secs {
        let name = btf.name(sec.name_off);
        if let Some(k) = renamed.iter().position(|(i, _)| {
            scan.sections
                .get(*i)
                .is_some_and(|s| s.name.as_bytes() == name)
        }) {
            patches.push((sec.name_pos, k));
        }
    }
    if patches.is_empty() {
        return Ok(out);
    }
    let old = scan
        .sections
        .get(btf_index)
        .map(|s| s.data)
        .ok_or_else(|| broken(".BTF"))?;
    let word = |at: usize| -> u32 {
        old.get(at..at.saturating_add(4))
            .and_then(|w| <[u8; 4]>::try_from(w).ok())
            .map_or(0, u32::from_le_bytes)
    };
    let hdr_len = word(4) as usize;
    let (type_off, type_len) = (word(8) as usize, word(12) as usize);
    let (str_off, str_len) = (word(16) as usize, word(20) as usize);
    let header = old.get(..hdr_len).ok_or_else(|| broken(".BTF"))?;
    let types = hdr_len
        .checked_add(type_off)
        .and_then(|s| old.get(s..s.checked_add(type_len)?))
        .ok_or_else(|| broken(".BTF"))?;
    let strings = hdr_len
        .checked_add(str_off)
        .and_then(|s| old.get(s..s.checked_add(str_len)?))
        .ok_or_else(|| broken(".BTF"))?;
    let mut new_strings = strings.to_vec();
    let mut name_offs = Vec::with_capacity(renamed.len());
    for (_, name) in &renamed {
        name_offs.push(u32::try_from(new_strings.len()).map_err(|_| broken(".BTF"))?);
        new_strings.extend_from_slice(name.as_bytes());
        new_strings.push(0);
    }
    let mut blob = header.to_vec();
    let tl = u32::try_from(types.len()).map_err(|_| broken(".BTF"))?;
    let sl = u32::try_from(new_strings.len()).map_err(|_| broken(".BTF"))?;
    for (at, v) in [(8usize, 0u32), (12, tl), (16, tl), (20, sl)] {
        if let Some(dst) = blob.get_mut(at..at.saturating_add(4)) {
            dst.copy_from_slice(&v.to_le_bytes());
        }
    }
    blob.extend_from_slice(types);
    blob.extend_from_slice(&new_strings);
    if blob.len() > crate::btf::MAX_BTF_SIZE {
        return Err(E::Btf("too large once section names are added".into()));
    }
    let at = append(&mut out, &blob);
    let hdr = |field| header_field(scan, btf_index, field).ok_or_else(|| broken("a header"));
    put(&mut out, hdr(SH_OFFSET)?, &at.to_le_bytes()).ok_or_else(|| broken("a header"))?;
    put(&mut out, hdr(SH_SIZE)?, &(blob.len() as u64).to_le_bytes())
        .ok_or_else(|| broken("a header"))?;
    for (name_pos, k) in patches {
        let off = name_offs
            .get(k)
            .copied()
            .ok_or_else(|| broken(".BTF.ext"))?;
        put(
            &mut out,
            ext_at.saturating_add(name_pos as u64),
            &off.to_le_bytes(),
        )
        .ok_or_else(|| broken(".BTF.ext"))?;
    }
    Ok(out)
}
