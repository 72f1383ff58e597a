//! `.BTF.ext`: the CO-RE relocation records, walked exactly as aya-obj
//! 0.3's `BtfExt::parse` walks them (same termination, same slicing), with
//! every bound it does not check checked; and the local side of each CO-RE
//! relocation (its root type, access string, final member), checked for
//! the inputs on which aya-obj's CO-RE code panics.
//!
//! Func and line info are not used (programs load without BTF): the
//! rewrite for aya-obj clears them ([`super::rewrite`]), which also keeps
//! their unchecked parsing out of reach.

use super::btfview::{self, View};
use super::elf::{Class, Scan};
use super::MAX_CORE_ROOTS;
use super::{LibbpfErrorKind as E, MAX_ACCESS_INDEX, MAX_ACCESS_LEN, MAX_CORE_RELOS};
use std::collections::BTreeSet;

/// `BTF_MAGIC`.
const MAGIC: u16 = 0xeb9f;
/// `struct btf_ext_header` with the CO-RE fields.
pub(super) const HEADER_LEN: usize = 32;
/// Largest header accepted (the kernel's is 32 bytes).
const MAX_HEADER_LEN: usize = 256;
/// `struct bpf_core_relo`.
const RELO_LEN: usize = 16;
/// Largest record size accepted (newer records are longer; aya-obj reads
/// the first 16 bytes).
const MAX_RELO_LEN: usize = 256;

// `enum bpf_core_relo_kind`.
pub(super) const FIELD_BYTE_OFFSET: u32 = 0;
pub(super) const FIELD_LSHIFT_U64: u32 = 4;
pub(super) const FIELD_RSHIFT_U64: u32 = 5;
pub(super) const TYPE_ID_LOCAL: u32 = 6;
const TYPE_SIZE: u32 = 9;
const ENUMVAL_VALUE: u32 = 11;

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    let w = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes(<[u8; 4]>::try_from(w).ok()?))
}

/// One CO-RE record.
#[derive(Debug, Clone, Copy)]
pub(super) struct CoreRelo {
    pub(super) insn_off: u32,
    pub(super) type_id: u32,
    pub(super) access_off: u32,
    pub(super) kind: u32,
}

/// The records of one section.
#[derive(Debug)]
pub(super) struct ExtSec {
    /// BTF string offset of the section's name.
    pub(super) name_off: u32,
    /// Where that offset is stored, from the start of `.BTF.ext`.
    pub(super) name_pos: usize,
    pub(super) relos: Vec<CoreRelo>,
}

/// The parsed `.BTF.ext`.
#[derive(Debug)]
pub(super) struct Ext {
    pub(super) secs: Vec<ExtSec>,
}

impl Ext {
    /// Number of CO-RE records.
    pub(super) fn count(&self) -> usize {
        self.secs.iter().map(|s| s.relos.len()).sum()
    }
}

/// The `.BTF.ext` header fields this loader reads.
struct Header {
    hdr_len: usize,
    core_off: u32,
    core_len: u32,
}

fn header(data: &[u8]) -> Result<Header, String> {
    let magic = data.get(..2).map(|m| {
        u16::from_le_bytes([
            m.first().copied().unwrap_or(0),
            m.get(1).copied().unwrap_or(0),
        ])
    });
    if magic != Some(MAGIC) {
        return Err("bad magic (not a little-endian .BTF.ext)".into());
    }
    let hdr_len = u32_at(data, 4).ok_or("shorter than its header")? as usize;
    if !(HEADER_LEN..=MAX_HEADER_LEN).contains(&hdr_len)
        || !hdr_len.is_multiple_of(4)
        || hdr_len > data.len()
    {
        return Err(format!(
            "header length {hdr_len} is not a multiple of 4 in [{HEADER_LEN}, {MAX_HEADER_LEN}] \
             within the {}-byte section",
            data.len()
        ));
    }
    Ok(Header {
        hdr_len,
        core_off: u32_at(data, 24).unwrap_or(0),
        core_len: u32_at(data, 28).unwrap_or(0),
    })
}

/// Whether the object's `.BTF.ext` announces CO-RE records (cheap; for
/// deciding whether the kernel's BTF is needed at all).
pub(super) fn has_core_relos(bytes: &[u8]) -> bool {
    use object::read::elf::ElfFile64;
    use object::{Object as _, ObjectSection as _};
    let Ok(elf) = ElfFile64::<object::LittleEndian>::parse(bytes) else {
        return false;
    };
    let Some(data) = elf.section_by_name(".BTF.ext").and_then(|s| s.data().ok()) else {
        return false;
    };
    header(data).is_ok_and(|h| h.core_len > 0)
}

/// Parses the CO-RE records of `data` (a `.BTF.ext`) against the object's
/// BTF `btf`.
pub(super) fn parse(data: &[u8], btf: &View<'_>) -> Result<Ext, String> {
    let h = header(data)?;
    let mut ext = Ext { secs: Vec::new() };
    if h.core_len == 0 {
        return Ok(ext);
    }
    // aya-obj: offset = hdr_len + core_relo_off; the sub-section must fit;
    // its first word is the record size, then sections follow.
    let start = h.hdr_len.saturating_add(h.core_off as usize);
    let end = start.saturating_add(h.core_len as usize);
    if (h.core_len as usize) < 4 || end > data.len() {
        return Err(format!(
            "CO-RE sub-section ({} bytes at {}) is outside the {}-byte section",
            h.core_len,
            start,
            data.len()
        ));
    }
    let rec_size = u32_at(data, start).unwrap_or(0) as usize;
    if !(RELO_LEN..=MAX_RELO_LEN).contains(&rec_size) || !rec_size.is_multiple_of(4) {
        return Err(format!(
            "CO-RE record size {rec_size} is not a multiple of 4 in [{RELO_LEN}, {MAX_RELO_LEN}]"
        ));
    }
    let body_start = start.saturating_add(4);
    let body = data.get(body_start..end).unwrap_or_default();
    let mut off = 0usize;
    let mut total = 0usize;
    // aya-obj's SecInfoIter stops when fewer than 9 bytes are left.
    while off.saturating_add(8) < body.len() {
        let name_off = u32_at(body, off).unwrap_or(0);
        let num = u32_at(body, off.saturating_add(4)).unwrap_or(0) as usize;
        let records = off.saturating_add(8);
        let need = num
            .checked_mul(rec_size)
            .filter(|n| records.saturating_add(*n) <= body.len())
            .ok_or_else(|| {
                format!("section info at {off}: {num} records of {rec_size} bytes run past the end")
            })?;
        if name_off >= btf.str_len() {
            return Err(format!(
                "section info at {off}: name offset {name_off} is outside the .BTF strings"
            ));
        }
        total = total.saturating_add(num);
        if total > MAX_CORE_RELOS {
            return Err(format!("more than {MAX_CORE_RELOS} CO-RE relocations"));
        }
        let mut relos = Vec::with_capacity(num);
        for i in 0..num {
            let r = records.saturating_add(i.saturating_mul(rec_size));
            let w = |n: usize| u32_at(body, r.saturating_add(n)).unwrap_or(0);
            relos.push(CoreRelo {
                insn_off: w(0),
                type_id: w(4),
                access_off: w(8),
                kind: w(12),
            });
        }
        ext.secs.push(ExtSec {
            name_off,
            name_pos: body_start.saturating_add(off),
            relos,
        });
        off = records.saturating_add(need);
    }
    Ok(ext)
}

/// The last accessor of a field relocation's local access spec, as aya-obj
/// builds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Final {
    /// An array element (or the root): aya-obj sizes it as a whole.
    Element,
    /// A named member.
    Member {
        /// Its name.
        name: Vec<u8>,
        /// It is a bitfield.
        bitfield: bool,
        /// aya-obj's size of its (resolved) type.
        size: Option<u64>,
    },
}

/// One checked CO-RE relocation, with what the kernel-side checks need.
#[derive(Debug, Clone)]
pub(super) struct CoreUse {
    /// Code section.
    pub(super) section: usize,
    /// Number of the relocation within it.
    pub(super) index: usize,
    pub(super) kind: u32,
    /// Local root type id.
    pub(super) root: u32,
    /// The access string's components.
    pub(super) parts: Vec<u64>,
    /// For field relocations: the last accessor.
    pub(super) last: Option<Final>,
    /// Opcode class of the relocated instruction.
    pub(super) insn_class: u8,
}

/// Walks a field access spec over the local BTF as aya-obj's
/// `AccessSpec::new` does; `None` where aya-obj would return an error.
pub(super) fn local_final(btf: &View<'_>, root: u32, parts: &[u64]) -> Option<Final> {
    use btfview::*;
    let mut type_id = btf.aya_resolve(root)?;
    let mut last = Final::Element;
    // The accessor list's last type, for aya-obj's flexible-array test.
    let mut last_type = type_id;
    for &index in parts.get(1..)? {
        type_id = btf.aya_resolve(type_id)?;
        match btf.kind(type_id) {
            KIND_STRUCT | KIND_UNION => {
                let i = usize::try_from(index).ok()?;
                if i >= btf.vlen(type_id) {
                    return None;
                }
                let (name_off, member_type, _) = btf.member(type_id, i);
                if name_off != 0 {
                    last = Final::Member {
                        name: btf.name(name_off).to_vec(),
                        bitfield: btf.member_bitfield(type_id, i) > 0,
                        size: btf
                            .aya_resolve(member_type)
                            .and_then(|r| btf.aya_type_size(r).ok().flatten()),
                    };
                    last_type = type_id;
                }
                type_id = member_type;
            }
            KIND_ARRAY => {
                let elem = btf.aya_resolve(btf.tail(type_id, 0))?;
                let len = u64::from(btf.tail(type_id, 2));
                let var_len = len == 0
                    && btf.kind(last_type) == KIND_STRUCT
                    && usize::try_from(index).ok() == btf.vlen(last_type).checked_sub(1);
                if !var_len && index >= len {
                    return None;
                }
                type_id = elem;
                last = Final::Element;
                last_type = elem;
            }
            _ => return None,
        }
    }
    Some(last)
}

/// Checks every CO-RE relocation's local side (see the module doc and the
/// table in [`super`]). Relocations of sections aya-obj will not find are
/// refused here, by name.
pub(super) fn check_local(ext: &Ext, btf: &View<'_>, scan: &Scan<'_>) -> Result<Vec<CoreUse>, E> {
    use btfview::*;
    let mut uses = Vec::with_capacity(ext.count());
    let mut roots = BTreeSet::new();
    for sec in &ext.secs {
        let sec_name = btf.name_lossy(sec.name_off).into_owned();
        let Some(section) = scan
            .sections
            .iter()
            .position(|s| s.name == sec_name && matches!(s.class, Class::Text | Class::Program(_)))
        else {
            return Err(E::BtfExt(format!(
                "CO-RE relocations for {sec_name:?}, which is no code section"
            )));
        };
        for (index, r) in sec.relos.iter().enumerate() {
            let err = |reason: String| E::Core {
                section: sec_name.clone(),
                index,
                reason,
            };
            if r.kind > ENUMVAL_VALUE {
                return Err(err(format!("unknown kind {}", r.kind)));
            }
            let offset = u64::from(r.insn_off);
            if offset % 8 != 0 || scan.function_containing(section, offset).is_none() {
                return Err(err(format!(
                    "instruction offset {offset:#x} is not an instruction of a function"
                )));
            }
            let insn_class = scan
                .insn(section, offset)
                .map_or(0, |i| i.first().copied().unwrap_or(0) & 7);
            if r.type_id == 0 || r.type_id >= btf.count() {
                return Err(err(format!("type id {} does not exist", r.type_id)));
            }
            let root_kind = btf.kind(r.type_id);
            if matches!(
                root_kind,
                KIND_FUNC | KIND_VAR | KIND_DATASEC | KIND_DECL_TAG
            ) {
                return Err(err(format!(
                    "relocated type {} is a FUNC, VAR, DATASEC or DECL_TAG",
                    r.type_id
                )));
            }
            if r.kind != TYPE_ID_LOCAL {
                if btf.name(btf.name_off(r.type_id)).is_empty() {
                    return Err(err(format!(
                        "relocated type {} has no name to look up in the kernel",
                        r.type_id
                    )));
                }
                roots.insert(r.type_id);
                if roots.len() > MAX_CORE_ROOTS {
                    return Err(E::TooMany {
                        what: "types relocated with CO-RE",
                        count: roots.len(),
                        max: MAX_CORE_ROOTS,
                    });
                }
            }
            if r.access_off >= btf.str_len() {
                return Err(err(format!(
                    "access string offset {} is outside the .BTF strings",
                    r.access_off
                )));
            }
            let access = btf.name(r.access_off);
            let parts = parse_access(access).ok_or_else(|| {
                err(format!(
                    "access string {:?} is not at most {MAX_ACCESS_LEN} indices, each at most \
                     {MAX_ACCESS_INDEX}",
                    String::from_utf8_lossy(access)
                ))
            })?;
            let last = if r.kind <= FIELD_RSHIFT_U64 {
                let last = local_final(btf, r.type_id, &parts)
                    .ok_or_else(|| err("access string does not fit the type".into()))?;
                if matches!(r.kind, FIELD_LSHIFT_U64 | FIELD_RSHIFT_U64) {
                    if let Final::Member {
                        bitfield: false,
                        size,
                        ..
                    } = &last
                    {
                        if size.is_none_or(|s| s > 8) {
                            return Err(err(
                                "a shift relocation on a field wider than 8 bytes".into()
                            ));
                        }
                    }
                }
                Some(last)
            } else {
                if (TYPE_ID_LOCAL..=TYPE_SIZE).contains(&r.kind) && parts != [0] {
                    return Err(err("a type relocation's access string must be \"0\"".into()));
                }
                None
            };
            uses.push(CoreUse {
                section,
                index,
                kind: r.kind,
                root: r.type_id,
                parts,
                last,
                insn_class,
            });
        }
    }
    Ok(uses)
}

/// `"0:1:2"` → `[0, 1, 2]`, bounded.
pub(super) fn parse_access(s: &[u8]) -> Option<Vec<u64>> {
    let mut parts = Vec::new();
    for p in s.split(|&b| b == b':') {
        if parts.len() >= MAX_ACCESS_LEN || p.is_empty() || p.len() > 8 {
            return None;
        }
        let mut v: u64 = 0;
        for &b in p {
            if !b.is_ascii_digit() {
                return None;
            }
            v = v
                .checked_mul(10)?
                .checked_add(u64::from(b.wrapping_sub(b'0')))?;
        }
        if v > MAX_ACCESS_INDEX {
            return None;
        }
        parts.push(v);
    }
    Some(parts)
}

/// Bits of offset aya-obj may compute for an access with `parts` on a BTF
/// whose largest type is `max_size` bytes and largest struct or union
/// `max_struct` bytes: each member step adds less than its struct's size,
/// each index `i` adds `i` times a type's size.
pub(super) fn offset_bound(parts: &[u64], max_size: u64, max_struct: u64) -> u128 {
    let indices = parts
        .iter()
        .fold(0u128, |a, &p| a.saturating_add(u128::from(p)));
    let members = parts.len() as u128;
    u128::from(max_struct)
        .saturating_mul(members)
        .saturating_add(u128::from(max_size).saturating_mul(indices))
        .saturating_mul(8)
}

/// Largest offset, in bits, that keeps aya-obj's `u32` bitfield arithmetic
/// (`bit_off + bit_size`) from overflowing, with margin.
pub(super) const OFFSET_LIMIT: u128 = 1 << 31;

/// The FIELD_BYTE_OFFSET kind, for the kernel-side checks.
pub(super) const fn is_byte_offset(kind: u32) -> bool {
    kind == FIELD_BYTE_OFFSET
}
