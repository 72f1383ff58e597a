//! Object-level sections (`license`, `critical`, versions, record sizes) and
//! the `maps` / `progs` record arrays.

use super::elf::{Elf, Symbol};
use super::error::ParseErrorKind;
use super::names;
use super::{work, ParseError, MAX_DEF_SIZE};
use crate::spec::{
    Domain, IgnoreOn, Kver, MapDef, MapSpec, ProgDef, RawDomains, BPF_MAP_DEF_SIZE,
    BPF_PROG_DEF_SIZE, DEFAULT_BPFLOADER_MAX_VER, DEFAULT_MAX_KVER,
};
use std::collections::HashMap;

/// Length of the `selinux_context` / `pin_subdir` char arrays.
const DOMAIN_STR_LEN: usize = 32;

/// Reads the NUL-terminated string section `index`. `Ok(None)` if absent.
pub(super) fn string_section(
    elf: &Elf<'_>,
    index: Option<usize>,
) -> Result<Option<String>, ParseError> {
    let Some(index) = index else {
        return Ok(None);
    };
    let data = elf.section_data(index)?;
    let end = memchr::memchr(0, data)
        .ok_or_else(|| elf.error_in(index, ParseErrorKind::UnterminatedString))?;
    work::add(end);
    let bytes = data.get(..end).unwrap_or_default();
    let s =
        std::str::from_utf8(bytes).map_err(|_| elf.error_in(index, ParseErrorKind::InvalidUtf8))?;
    Ok(Some(s.to_string()))
}

/// Reads the first `N` bytes of section `index` as a little-endian integer.
/// `Ok(None)` if the section is absent.
fn int_section<const N: usize>(
    elf: &Elf<'_>,
    index: Option<usize>,
) -> Result<Option<[u8; N]>, ParseError> {
    let Some(index) = index else {
        return Ok(None);
    };
    let data = elf.section_data(index)?;
    data.get(..N)
        .and_then(|b| <[u8; N]>::try_from(b).ok())
        .map(Some)
        .ok_or_else(|| {
            elf.error_in(
                index,
                ParseErrorKind::SectionTooShort {
                    size: data.len() as u64,
                    need: N,
                },
            )
        })
}

/// Reads a `u32` section (`bpfloader_min_ver`, ...); `None` when absent.
pub(super) fn u32_section(elf: &Elf<'_>, index: Option<usize>) -> Result<Option<u32>, ParseError> {
    Ok(int_section::<4>(elf, index)?.map(u32::from_le_bytes))
}

/// Reads a `size_of_bpf_*_def` section (an 8-byte `size_t` on BPF), `default`
/// when absent, bounded to `[min, MAX_DEF_SIZE]`.
pub(super) fn def_size_section(
    elf: &Elf<'_>,
    index: Option<usize>,
    default: usize,
    min: usize,
) -> Result<usize, ParseError> {
    let (Some(index), Some(bytes)) = (index, int_section::<8>(elf, index)?) else {
        return Ok(default);
    };
    let size = u64::from_le_bytes(bytes);
    if size < min as u64 {
        return Err(elf.error_in(index, ParseErrorKind::DefSizeTooSmall { size, min }));
    }
    match usize::try_from(size) {
        Ok(s) if s <= MAX_DEF_SIZE => Ok(s),
        _ => Err(elf.error_in(
            index,
            ParseErrorKind::DefSizeTooLarge {
                size,
                max: MAX_DEF_SIZE,
            },
        )),
    }
}

/// A `maps`/`progs` section split into records of `stride` bytes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Layout<'a> {
    pub(super) index: usize,
    data: &'a [u8],
    stride: usize,
    pub(super) count: usize,
}

/// Checks that section `index` (if present) is a whole number of records,
/// at most `max` of them.
pub(super) fn layout<'a>(
    elf: &Elf<'a>,
    index: Option<usize>,
    stride: usize,
    max: usize,
    what: &'static str,
) -> Result<Option<Layout<'a>>, ParseError> {
    let Some(index) = index else {
        return Ok(None);
    };
    let err = |kind| elf.error_in(index, kind);
    let data = elf.section_data(index)?;
    // `stride` is at least MIN_BPF_PROG_DEF_SIZE (checked by the caller).
    let count = data.len().checked_div(stride).unwrap_or_default();
    if data.len().checked_rem(stride) != Some(0) {
        return Err(err(ParseErrorKind::RecordsNotMultiple {
            size: data.len() as u64,
            stride,
        }));
    }
    if count > max {
        return Err(err(ParseErrorKind::TooMany {
            what,
            count: count as u64,
            max,
        }));
    }
    Ok(Some(Layout {
        index,
        data,
        stride,
        count,
    }))
}

/// Pairs record `i` with the `i`-th symbol of the section by address
/// (`docs/object-format.md#record-names`). `symbols` holds at most `layout.count` of the section's
/// `total` symbols (see `index::symbols`). Returns each record's name.
fn named_records<'a>(
    elf: &Elf<'a>,
    layout: &Layout<'a>,
    symbols: &mut [Symbol],
    total: usize,
    rule: fn(&str) -> Result<(), &'static str>,
) -> Result<Vec<&'a str>, ParseError> {
    let err = |kind| elf.error_in(layout.index, kind);
    if total != layout.count {
        return Err(err(ParseErrorKind::SymbolCountMismatch {
            symbols: total,
            records: layout.count,
        }));
    }
    symbols.sort_by_key(|s| s.value);
    let mut names = Vec::with_capacity(symbols.len());
    for (i, sym) in symbols.iter().enumerate() {
        let name = names::symbol(elf, sym.index, rule)?;
        let end = sym.value.checked_add(sym.size);
        if end.is_none_or(|end| end > layout.data.len() as u64) {
            return Err(err(ParseErrorKind::SymbolOutOfSection {
                symbol: name.to_string(),
                value: sym.value,
                size: sym.size,
            }));
        }
        let expected = (i as u64).saturating_mul(layout.stride as u64);
        if sym.value != expected {
            return Err(err(ParseErrorKind::SymbolMisplaced {
                symbol: name.to_string(),
                value: sym.value,
                expected,
            }));
        }
        names.push(name);
    }
    Ok(names)
}

impl Layout<'_> {
    /// Record `i` laid over `defaults`: at most `N` bytes are copied, so an
    /// older, shorter record keeps the defaults of the fields it lacks and a
    /// newer, longer one is truncated.
    fn record<const N: usize>(&self, i: usize, defaults: [u8; N]) -> [u8; N] {
        let mut rec = defaults;
        let len = self.stride.min(N);
        let src = i
            .checked_mul(self.stride)
            .and_then(|start| self.data.get(start..)?.get(..len));
        if let (Some(src), Some(dst)) = (src, rec.get_mut(..len)) {
            dst.copy_from_slice(src);
        }
        work::add(len);
        rec
    }
}

fn le_u32(rec: &[u8], off: usize) -> u32 {
    rec.get(off..off.saturating_add(4))
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(0, u32::from_le_bytes)
}

fn byte(rec: &[u8], off: usize) -> u8 {
    rec.get(off).copied().unwrap_or(0)
}

/// A `char[32]` domain string, compared like the reference's
/// `strncmp(field, s, 32)`: up to the first NUL, or all 32 bytes. A string
/// no release knows is [`Domain::Unknown`] with its text (escaped): what it
/// means is the release's rule, decided by the plan.
fn domain(rec: &[u8], off: usize, lookup: fn(&str) -> Option<Domain>) -> (Domain, Option<String>) {
    let raw = rec
        .get(off..off.saturating_add(DOMAIN_STR_LEN))
        .unwrap_or_default();
    let raw = raw.split(|&b| b == 0).next().unwrap_or_default();
    match std::str::from_utf8(raw).ok().and_then(lookup) {
        Some(d) => (d, None),
        None => (Domain::Unknown, Some(crate::logging::escape_bytes(raw))),
    }
}

fn map_defaults() -> [u8; BPF_MAP_DEF_SIZE] {
    let mut rec = [0u8; BPF_MAP_DEF_SIZE];
    put_u32(&mut rec, 36, DEFAULT_BPFLOADER_MAX_VER);
    put_u32(&mut rec, 44, DEFAULT_MAX_KVER);
    rec
}

fn prog_defaults() -> [u8; BPF_PROG_DEF_SIZE] {
    let mut rec = [0u8; BPF_PROG_DEF_SIZE];
    put_u32(&mut rec, 12, DEFAULT_MAX_KVER);
    put_u32(&mut rec, 24, DEFAULT_BPFLOADER_MAX_VER);
    rec
}

fn put_u32(rec: &mut [u8], off: usize, v: u32) {
    if let Some(dst) = rec.get_mut(off..off.saturating_add(4)) {
        dst.copy_from_slice(&v.to_le_bytes());
    }
}

/// Map index by name (raw bytes of the file).
pub(super) type MapIndex<'a> = HashMap<&'a [u8], usize>;

/// Decodes the `maps` section (if any) in record order; also returns the
/// index of each map name (first map of a name wins, as the reference's
/// name lookup does).
pub(super) fn maps<'a>(
    elf: &Elf<'a>,
    obj: &str,
    layout: Option<&Layout<'a>>,
    symbols: &mut [Symbol],
    total: usize,
) -> Result<(Vec<MapSpec>, MapIndex<'a>), ParseError> {
    let Some(layout) = layout else {
        return Ok((Vec::new(), HashMap::new()));
    };
    let index = layout.index;
    let names = named_records(elf, layout, symbols, total, names::component)?;
    let mut out = Vec::with_capacity(names.len());
    let mut by_name = HashMap::with_capacity(names.len());
    for (i, name) in names.into_iter().enumerate() {
        names::map_pin_fits(obj, name).map_err(|reason| {
            elf.error(ParseErrorKind::BadSymbolName {
                index: symbols.get(i).map_or(0, |s| s.index),
                name: name.to_string(),
                reason,
            })
        })?;
        by_name.entry(name.as_bytes()).or_insert(i);
        let rec = layout.record(i, map_defaults());
        let zero = le_u32(&rec, 20);
        if zero != 0 {
            return Err(elf.error_in(
                index,
                ParseErrorKind::NonZeroField {
                    map: name.to_string(),
                    value: zero,
                },
            ));
        }
        let ctx = domain(&rec, 48, Domain::from_selinux_context);
        let sub = domain(&rec, 80, Domain::from_pin_subdir);
        let def = MapDef {
            map_type: le_u32(&rec, 0),
            key_size: le_u32(&rec, 4),
            value_size: le_u32(&rec, 8),
            max_entries: le_u32(&rec, 12),
            map_flags: le_u32(&rec, 16),
            zero,
            gid: le_u32(&rec, 24),
            mode: le_u32(&rec, 28),
            bpfloader_min_ver: le_u32(&rec, 32),
            bpfloader_max_ver: le_u32(&rec, 36),
            min_kver: Kver(le_u32(&rec, 40)),
            max_kver: Kver(le_u32(&rec, 44)),
            selinux_context: ctx.0,
            pin_subdir: sub.0,
            raw_domains: RawDomains {
                selinux_context: ctx.1,
                pin_subdir: sub.1,
            },
            shared: byte(&rec, 112) != 0,
            ignore_on: IgnoreOn::from_bits(byte(&rec, 113)),
            uid: le_u32(&rec, 116),
        };
        out.push(MapSpec {
            name: name.to_string(),
            def,
        });
    }
    Ok((out, by_name))
}

/// Decodes the `progs` section (if any) into `(symbol name, def)` pairs.
pub(super) fn prog_defs<'a>(
    elf: &Elf<'a>,
    layout: Option<&Layout<'a>>,
    symbols: &mut [Symbol],
    total: usize,
) -> Result<Vec<(&'a str, ProgDef)>, ParseError> {
    let Some(layout) = layout else {
        return Ok(Vec::new());
    };
    let names = named_records(elf, layout, symbols, total, names::label)?;
    let mut out = Vec::with_capacity(names.len());
    for (i, name) in names.into_iter().enumerate() {
        let rec = layout.record(i, prog_defaults());
        let ctx = domain(&rec, 28, Domain::from_selinux_context);
        let sub = domain(&rec, 60, Domain::from_pin_subdir);
        let def = ProgDef {
            uid: le_u32(&rec, 0),
            gid: le_u32(&rec, 4),
            min_kver: Kver(le_u32(&rec, 8)),
            max_kver: Kver(le_u32(&rec, 12)),
            optional: byte(&rec, 16) != 0,
            ignore_on: IgnoreOn::from_bits(byte(&rec, 17)),
            bpfloader_min_ver: le_u32(&rec, 20),
            bpfloader_max_ver: le_u32(&rec, 24),
            selinux_context: ctx.0,
            pin_subdir: sub.0,
            raw_domains: RawDomains {
                selinux_context: ctx.1,
                pin_subdir: sub.1,
            },
        };
        out.push((name, def));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_reference() {
        let m = map_defaults();
        assert_eq!(le_u32(&m, 36), 0x1_0000);
        assert_eq!(le_u32(&m, 44), 0xFFFF_FFFF);
        assert_eq!(m.iter().filter(|&&b| b != 0).count(), 1 + 4);
        let p = prog_defaults();
        assert_eq!(le_u32(&p, 24), 0x1_0000);
        assert_eq!(le_u32(&p, 12), 0xFFFF_FFFF);
    }
}
