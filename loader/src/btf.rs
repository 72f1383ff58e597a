//! BTF for maps, as Android's 2025 NetBpfLoad (25Q2) does it. Pure: bytes
//! in, bytes out; the kernel steps live in the engine.
//!
//! What 25Q2 does on kernels ≥ 5.10 for an object with a `maps` section
//! (`bpf/loader/NetBpfLoad.cpp`, `createMaps` / `loadBtf` /
//! `getKeyValueTids`; `docs/object-format.md#btf`):
//!
//! 1. reads `.BTF` (missing: the object fails) and parses it (`btf__new`);
//! 2. for every DATASEC, in type-id order: its size becomes the size of the
//!    ELF section of the same name (missing section: the object fails), and
//!    every non-static VAR in it gets as offset the `st_value` of the symbol
//!    of the same name (missing: the object fails); clang leaves both 0 in
//!    an unlinked object, and Soong strips `.rel.BTF`;
//! 3. `BPF_BTF_LOAD`; on `EINVAL` it retries once with every FUNC's `info`
//!    reduced to its kind (older kernels refuse the linkage bits);
//! 4. for every map it creates, except DEVMAP_HASH and RINGBUF maps, it finds
//!    the first type named `____btf_map_<map>` (written by
//!    `BPF_ANNOTATE_KV_PAIR`), which must be a struct with at least two
//!    members; member 0 is the key and member 1 the value, their sizes
//!    (`btf__resolve_size`) must equal the definition's key/value sizes, and
//!    the map is created with `btf_fd` and the two member type ids.
//!
//! This module does steps 1, 2 and 4 without syscalls: [`prepare`] turns a
//! [`BtfSource`] into a [`PreparedBtf`] (the fixed-up blob for step 3, its
//! FUNC-downgraded variant, and the per-map lookups of step 4).
//!
//! # Why not aya-obj's BTF module
//!
//! aya-obj 0.3 (already a dependency) parses BTF, but does not fit: its
//! public API cannot list types, look one up by id, read struct members or
//! resolve sizes (`types`, `type_by_id`, `type_size` are crate-private); its
//! DATASEC fix-up is reachable only through `Object::fixup_and_sanitize_btf`
//! on an ELF parsed by aya's own `Object::parse` (other map and program
//! conventions), and it does more than Android (it fixes only zero-sized
//! DATASECs, renames `/` in section names, strips pointer names, names
//! prototype parameters, changes linkage of `memset`…). On hostile input its
//! `Btf::string_at` checks an offset against `hdr_len + str_off + str_len`
//! but indexes the `str_len`-byte string table with it, so
//! `Btf::id_by_type_name_kind` panics on a name offset past the strings
//! (and its `u32` addition overflows); `Btf::parse` does not check the
//! magic, and a kind-0 type is silently dropped when re-encoded.
//!
//! # Hostile input
//!
//! Every offset, count and id read from the blob is checked before use; a
//! bad blob is a [`BtfError`] naming the reason (and the map), never a
//! panic. Parsing is one pass over the type section plus one validation
//! pass; memory is one `u32` per type plus one hash entry per
//! `____btf_map_*` name; the output is one copy of the blob (two with the
//! downgraded variant). Names are compared over at most [`MAX_NAME_LEN`]
//! bytes, so no input makes a name scan repeat over the string section.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashMap};

/// `BTF_MAGIC`, little-endian.
pub const BTF_MAGIC: u16 = 0xeb9f;
/// Size of `struct btf_header`.
pub const HEADER_LEN: usize = 24;
/// The kernel's `BTF_MAX_SIZE`: larger blobs are refused by `BPF_BTF_LOAD`.
pub const MAX_BTF_SIZE: usize = 16 * 1024 * 1024;
/// The kernel's `BTF_MAX_TYPE`: more types are refused by `BPF_BTF_LOAD`.
pub const MAX_TYPES: usize = 0x000f_ffff;
/// Longest name compared, terminator excluded. Android builds
/// `____btf_map_<map>` in a 256-byte buffer; longer annotation names, and
/// section or symbol names longer than this, are never matched.
pub const MAX_NAME_LEN: usize = 255;
/// Prefix of the struct `BPF_ANNOTATE_KV_PAIR` writes for each map.
pub const MAP_STRUCT_PREFIX: &str = "____btf_map_";
/// libbpf's `MAX_RESOLVE_DEPTH` in `btf__resolve_size`.
const MAX_RESOLVE_DEPTH: usize = 32;
/// Size of a pointer on the BPF target (`btf__resolve_size` of a PTR).
const PTR_SIZE: u32 = 8;
/// Size of `struct btf_type` without its kind-specific tail.
const TYPE_LEN: usize = 12;

// BTF kinds (`include/uapi/linux/btf.h`).
const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_FWD: u32 = 7;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_FLOAT: u32 = 16;
const KIND_DECL_TAG: u32 = 17;
const KIND_TYPE_TAG: u32 = 18;
const KIND_ENUM64: u32 = 19;
/// `BTF_VAR_STATIC`: such VARs keep their offset.
const VAR_STATIC: u32 = 0;

/// Name of a BTF kind, for messages.
fn kind_name(kind: u32) -> &'static str {
    match kind {
        0 => "void",
        KIND_INT => "INT",
        KIND_PTR => "PTR",
        KIND_ARRAY => "ARRAY",
        KIND_STRUCT => "STRUCT",
        KIND_UNION => "UNION",
        KIND_ENUM => "ENUM",
        KIND_FWD => "FWD",
        KIND_TYPEDEF => "TYPEDEF",
        KIND_VOLATILE => "VOLATILE",
        KIND_CONST => "CONST",
        KIND_RESTRICT => "RESTRICT",
        KIND_FUNC => "FUNC",
        KIND_FUNC_PROTO => "FUNC_PROTO",
        KIND_VAR => "VAR",
        KIND_DATASEC => "DATASEC",
        KIND_FLOAT => "FLOAT",
        KIND_DECL_TAG => "DECL_TAG",
        KIND_TYPE_TAG => "TYPE_TAG",
        KIND_ENUM64 => "ENUM64",
        _ => "unknown kind",
    }
}

/// What the parser takes from an object for its BTF: the `.BTF` section and
/// the ELF facts the DATASEC/VAR fix-up needs.
///
/// The maps are keyed by the BTF string offset of the name the fix-up looks
/// up (see [`fixup_names`]), so only names the BTF mentions are kept and no
/// name is copied: [`crate::parse`] fills them with bounded memory however
/// many sections and symbols the object has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BtfSource {
    /// The `.BTF` section, verbatim.
    pub data: Vec<u8>,
    /// For each DATASEC name: `sh_size` of the first ELF section so named.
    pub section_sizes: BTreeMap<u32, u64>,
    /// For each non-static VAR name: the lowest `st_value` among symbols so
    /// named (Android sorts the symbol table by value and takes the first
    /// match).
    pub symbol_values: BTreeMap<u32, u64>,
}

/// Why a `.BTF` could not be used. Each variant names the DATASEC, VAR or
/// map involved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BtfError {
    /// The blob is malformed; nothing was sent to the kernel.
    #[error("malformed .BTF: {0}")]
    Malformed(#[from] Malformed),
    /// A DATASEC names no ELF section, so its size cannot be fixed.
    #[error(".BTF DATASEC {datasec:?}: no ELF section of that name")]
    NoSection {
        /// DATASEC name (lossy, at most [`MAX_NAME_LEN`] bytes).
        datasec: String,
    },
    /// A DATASEC entry is not a VAR.
    #[error(".BTF DATASEC {datasec:?}: entry {index} is type {type_id}, a {kind}, not a VAR")]
    NotVar {
        /// DATASEC name.
        datasec: String,
        /// Entry index.
        index: usize,
        /// Type id of the entry.
        type_id: u32,
        /// Its kind.
        kind: &'static str,
    },
    /// A non-static VAR has no symbol, so its offset cannot be fixed.
    #[error(".BTF DATASEC {datasec:?}: VAR {var:?} has no symbol")]
    NoSymbol {
        /// DATASEC name.
        datasec: String,
        /// VAR name.
        var: String,
    },
    /// A section size or symbol value does not fit the 32-bit BTF field.
    #[error(".BTF DATASEC {datasec:?}: {what} {value:#x} does not fit in 32 bits")]
    TooLarge {
        /// DATASEC name.
        datasec: String,
        /// `section size` or `offset of <var>`.
        what: String,
        /// The value.
        value: u64,
    },
    /// `____btf_map_<map>` would be longer than [`MAX_NAME_LEN`].
    #[error("map {map}: name too long for a BTF key/value annotation")]
    MapNameTooLong {
        /// Map name.
        map: String,
    },
    /// No type is named `____btf_map_<map>`.
    #[error("map {map}: no BTF type {type_name} (no BPF_ANNOTATE_KV_PAIR for it)")]
    NoAnnotation {
        /// Map name.
        map: String,
        /// The type name looked for.
        type_name: String,
    },
    /// The first type named `____btf_map_<map>` is not a struct with two
    /// members.
    #[error("map {map}: BTF type {type_name} (id {type_id}) is a {kind} with {vlen} members, not a struct with key and value")]
    BadAnnotation {
        /// Map name.
        map: String,
        /// The type name.
        type_name: String,
        /// Its id.
        type_id: u32,
        /// Its kind.
        kind: &'static str,
        /// Its member count.
        vlen: u32,
    },
    /// The key or value type has no size (`btf__resolve_size` fails).
    #[error("map {map}: BTF {member} type {type_id} has no size: {reason}")]
    Unsized {
        /// Map name.
        map: String,
        /// `key` or `value`.
        member: &'static str,
        /// The member's type id.
        type_id: u32,
        /// Why.
        reason: &'static str,
    },
    /// The annotation's key/value sizes differ from the map definition's.
    #[error("map {map}: BTF key/value sizes {btf_key}/{btf_value} ({type_name}) differ from the definition's {def_key}/{def_value}")]
    SizeMismatch {
        /// Map name.
        map: String,
        /// The annotation type name.
        type_name: String,
        /// Key size per BTF.
        btf_key: u64,
        /// Value size per BTF.
        btf_value: u64,
        /// Key size per the `maps` record.
        def_key: u32,
        /// Value size per the `maps` record.
        def_value: u32,
    },
}

/// How a `.BTF` blob is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Malformed {
    /// Shorter than a header.
    #[error("{len} bytes, shorter than the {HEADER_LEN}-byte header")]
    TooShort {
        /// Blob size.
        len: usize,
    },
    /// Larger than the kernel accepts.
    #[error("{len} bytes, larger than the kernel's limit of {MAX_BTF_SIZE}")]
    TooLarge {
        /// Blob size.
        len: usize,
    },
    /// Not `0xeb9f` (a big-endian blob reads `0x9feb`).
    #[error("magic {magic:#06x} is not {BTF_MAGIC:#06x}")]
    BadMagic {
        /// The magic found.
        magic: u16,
    },
    /// `hdr_len` is below the header size or past the end.
    #[error("hdr_len {hdr_len} is outside [{HEADER_LEN}, {len}]")]
    HeaderLen {
        /// `hdr_len`.
        hdr_len: u32,
        /// Blob size.
        len: usize,
    },
    /// The type or string section lies outside the blob.
    #[error("{section} section ({len} bytes at {offset} after the header) runs past the end of the {total}-byte blob")]
    SectionBounds {
        /// `type` or `string`.
        section: &'static str,
        /// `*_off`.
        offset: u32,
        /// `*_len`.
        len: u32,
        /// Blob size.
        total: usize,
    },
    /// The type and string sections share bytes (the kernel refuses it:
    /// "Section overlap found"; a DATASEC fix-up would write into names).
    #[error(
        "type section [{type_off}, +{type_len}) and string section [{str_off}, +{str_len}) overlap"
    )]
    SectionsOverlap {
        /// `type_off`.
        type_off: u32,
        /// `type_len`.
        type_len: u32,
        /// `str_off`.
        str_off: u32,
        /// `str_len`.
        str_len: u32,
    },
    /// `type_off` is not a multiple of 4.
    #[error("type section offset {offset} is not 4-byte aligned")]
    TypeSectionUnaligned {
        /// `type_off`.
        offset: u32,
    },
    /// The string section is empty or does not start and end with NUL.
    #[error("string section is empty or does not start and end with a NUL byte")]
    StringSection,
    /// A type record runs past the end of the type section.
    #[error("type {type_id} at offset {offset} runs past the end of the type section")]
    TypeTruncated {
        /// Its id.
        type_id: usize,
        /// Its offset in the blob.
        offset: usize,
    },
    /// Unknown (or zero) kind.
    #[error("type {type_id}: unknown kind {kind}")]
    UnknownKind {
        /// Its id.
        type_id: usize,
        /// The kind bits.
        kind: u32,
    },
    /// More types than the kernel accepts.
    #[error("more than {MAX_TYPES} types")]
    TooManyTypes,
    /// A name offset lies outside the string section.
    #[error("type {type_id}: name offset {offset} is outside the {str_len}-byte string section")]
    NameOffset {
        /// The type (whose name, or member/parameter/enumerator name).
        type_id: u32,
        /// The offset.
        offset: u32,
        /// `str_len`.
        str_len: u32,
    },
    /// A type reference points past the last type.
    #[error("type {type_id}: refers to type {target}, but there are {count} types")]
    TypeRef {
        /// The referring type.
        type_id: u32,
        /// The id referred to.
        target: u32,
        /// Number of types, void included.
        count: usize,
    },
}

/// Little-endian `u32` at `off`, if in bounds.
fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    let end = off.checked_add(4)?;
    let bytes: [u8; 4] = b.get(off..end)?.try_into().ok()?;
    Some(u32::from_le_bytes(bytes))
}

fn put_u32(b: &mut [u8], off: usize, v: u32) {
    if let Some(dst) = off.checked_add(4).and_then(|end| b.get_mut(off..end)) {
        dst.copy_from_slice(&v.to_le_bytes());
    }
}

/// Bytes of the kind-specific tail of a type with `kind` and `vlen`.
fn tail_len(kind: u32, vlen: usize) -> Option<usize> {
    Some(match kind {
        KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
        KIND_ARRAY => 12,
        KIND_STRUCT | KIND_UNION | KIND_DATASEC | KIND_ENUM64 => vlen.checked_mul(12)?,
        KIND_ENUM | KIND_FUNC_PROTO => vlen.checked_mul(8)?,
        KIND_PTR | KIND_FWD | KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT
        | KIND_FUNC | KIND_FLOAT | KIND_TYPE_TAG => 0,
        _ => return None,
    })
}

/// One type record: where it is and its decoded header.
#[derive(Debug, Clone, Copy)]
struct Type {
    /// Offset of the record in the blob.
    off: usize,
    name_off: u32,
    info: u32,
    /// `size` or `type`, depending on the kind.
    size_or_type: u32,
}

impl Type {
    fn kind(self) -> u32 {
        (self.info >> 24) & 0x1f
    }
    fn vlen(self) -> usize {
        (self.info & 0xffff) as usize
    }
    /// Offset of the kind-specific tail.
    fn tail(self) -> usize {
        self.off.saturating_add(TYPE_LEN)
    }
}

/// A validated, read-only view of a `.BTF` blob.
#[derive(Debug)]
struct Btf<'a> {
    data: &'a [u8],
    /// Offset of each type record; type id `i` is at index `i - 1`.
    types: Vec<u32>,
    str_start: usize,
    str_len: u32,
}

impl<'a> Btf<'a> {
    /// Checks the header, walks the type section once and validates every
    /// name offset and type reference.
    fn parse(data: &'a [u8]) -> Result<Self, Malformed> {
        let len = data.len();
        if len < HEADER_LEN {
            return Err(Malformed::TooShort { len });
        }
        if len > MAX_BTF_SIZE {
            return Err(Malformed::TooLarge { len });
        }
        let word = |off| u32_at(data, off).unwrap_or_default();
        let magic = (word(0) & 0xffff) as u16;
        if magic != BTF_MAGIC {
            return Err(Malformed::BadMagic { magic });
        }
        let hdr_len = word(4);
        let (type_off, type_len, str_off, str_len) = (word(8), word(12), word(16), word(20));
        // All offsets below are < MAX_BTF_SIZE + 2^33, no u64 overflow.
        let hdr = u64::from(hdr_len);
        if hdr < HEADER_LEN as u64 || hdr > len as u64 {
            return Err(Malformed::HeaderLen { hdr_len, len });
        }
        let bounds = |section, off: u32, n: u32| {
            let start = hdr.saturating_add(off.into());
            let end = start.saturating_add(n.into());
            if end > len as u64 {
                Err(Malformed::SectionBounds {
                    section,
                    offset: off,
                    len: n,
                    total: len,
                })
            } else {
                // Both fit in usize: end <= len.
                Ok((start as usize, end as usize))
            }
        };
        let (type_start, type_end) = bounds("type", type_off, type_len)?;
        let (str_start, str_end) = bounds("string", str_off, str_len)?;
        if type_off % 4 != 0 {
            return Err(Malformed::TypeSectionUnaligned { offset: type_off });
        }
        if type_start < str_end && str_start < type_end {
            return Err(Malformed::SectionsOverlap {
                type_off,
                type_len,
                str_off,
                str_len,
            });
        }
        // libbpf and the kernel require this; it makes every in-range name
        // offset NUL-terminated within the section.
        let strings = data.get(str_start..str_end).unwrap_or_default();
        if strings.first() != Some(&0) || strings.last() != Some(&0) {
            return Err(Malformed::StringSection);
        }

        let mut types = Vec::new();
        let mut pos = type_start;
        while pos < type_end {
            let type_id = types.len().saturating_add(1);
            if type_id > MAX_TYPES {
                return Err(Malformed::TooManyTypes);
            }
            let truncated = Malformed::TypeTruncated {
                type_id,
                offset: pos,
            };
            let head_end = pos.checked_add(TYPE_LEN).ok_or(truncated.clone())?;
            if head_end > type_end {
                return Err(truncated);
            }
            let info = u32_at(data, pos.saturating_add(4)).unwrap_or_default();
            let kind = (info >> 24) & 0x1f;
            let tail = tail_len(kind, (info & 0xffff) as usize)
                .ok_or(Malformed::UnknownKind { type_id, kind })?;
            let end = head_end.checked_add(tail).ok_or(truncated.clone())?;
            if end > type_end {
                return Err(truncated);
            }
            // pos < len <= MAX_BTF_SIZE < 2^32.
            types.push(pos as u32);
            pos = end;
        }
        let btf = Btf {
            data,
            types,
            str_start,
            str_len,
        };
        btf.validate()?;
        Ok(btf)
    }

    /// Number of types, void (id 0) included.
    fn count(&self) -> usize {
        self.types.len().saturating_add(1)
    }

    /// Type `id` (not void).
    fn get(&self, id: u32) -> Option<Type> {
        let idx = (id as usize).checked_sub(1)?;
        let off = *self.types.get(idx)? as usize;
        Some(Type {
            off,
            name_off: u32_at(self.data, off)?,
            info: u32_at(self.data, off.saturating_add(4))?,
            size_or_type: u32_at(self.data, off.saturating_add(8))?,
        })
    }

    fn types(&self) -> impl Iterator<Item = (u32, Type)> + '_ {
        // Ids fit in u32: at most MAX_TYPES.
        (1..self.count() as u32).filter_map(|id| Some((id, self.get(id)?)))
    }

    /// Checks every name offset and type reference (what `btf__new` and
    /// the kernel check), so later lookups cannot go out of range.
    fn validate(&self) -> Result<(), Malformed> {
        let count = self.count();
        for (id, t) in self.types() {
            let name = |offset: u32| {
                if offset < self.str_len {
                    Ok(())
                } else {
                    Err(Malformed::NameOffset {
                        type_id: id,
                        offset,
                        str_len: self.str_len,
                    })
                }
            };
            let target = |target: u32| {
                if (target as usize) < count {
                    Ok(())
                } else {
                    Err(Malformed::TypeRef {
                        type_id: id,
                        target,
                        count,
                    })
                }
            };
            let word = |off: usize| u32_at(self.data, off).unwrap_or_default();
            let tail = t.tail();
            name(t.name_off)?;
            match t.kind() {
                KIND_PTR | KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT
                | KIND_FUNC | KIND_VAR | KIND_DECL_TAG | KIND_TYPE_TAG => target(t.size_or_type)?,
                KIND_FUNC_PROTO => {
                    target(t.size_or_type)?;
                    for i in 0..t.vlen() {
                        let p = tail.saturating_add(i.saturating_mul(8));
                        name(word(p))?;
                        target(word(p.saturating_add(4)))?;
                    }
                }
                KIND_ARRAY => {
                    target(word(tail))?;
                    target(word(tail.saturating_add(4)))?;
                }
                KIND_STRUCT | KIND_UNION => {
                    for i in 0..t.vlen() {
                        let m = tail.saturating_add(i.saturating_mul(12));
                        name(word(m))?;
                        target(word(m.saturating_add(4)))?;
                    }
                }
                KIND_ENUM | KIND_ENUM64 => {
                    let stride = if t.kind() == KIND_ENUM { 8 } else { 12 };
                    for i in 0..t.vlen() {
                        name(word(tail.saturating_add(i.saturating_mul(stride))))?;
                    }
                }
                KIND_DATASEC => {
                    for i in 0..t.vlen() {
                        target(word(tail.saturating_add(i.saturating_mul(12))))?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The name at `offset`, if it is at most [`MAX_NAME_LEN`] bytes.
    fn name(&self, offset: u32) -> Option<&'a [u8]> {
        let start = self.str_start.checked_add(offset as usize)?;
        let window = self.data.get(start..)?;
        let window = window.get(..window.len().min(MAX_NAME_LEN.saturating_add(1)))?;
        let end = window.iter().position(|&b| b == 0)?;
        window.get(..end)
    }

    /// The name at `offset` for messages (lossy; `<long name>` if longer
    /// than [`MAX_NAME_LEN`]).
    fn name_lossy(&self, offset: u32) -> String {
        match self.name(offset) {
            Some(n) => String::from_utf8_lossy(n).into_owned(),
            None => "<long name>".to_string(),
        }
    }
}

/// A name the DATASEC/VAR fix-up looks up: its BTF string offset and bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixupName<'a> {
    /// Offset in the BTF string section (the key of [`BtfSource`]'s maps).
    pub offset: u32,
    /// The name, at most [`MAX_NAME_LEN`] bytes.
    pub name: &'a [u8],
}

/// The names [`prepare`] will look up, for the parser to resolve against
/// the ELF.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FixupNames<'a> {
    /// DATASEC names (ELF section names).
    pub sections: Vec<FixupName<'a>>,
    /// Names of the non-static VARs in DATASECs (symbol names).
    pub symbols: Vec<FixupName<'a>>,
}

/// Lists the names the fix-up of `data` needs. Names longer than
/// [`MAX_NAME_LEN`] are left out (they are then reported as missing). At
/// most one entry per DATASEC and per DATASEC entry.
pub fn fixup_names(data: &[u8]) -> Result<FixupNames<'_>, BtfError> {
    let btf = Btf::parse(data)?;
    let mut out = FixupNames::default();
    for (_, t) in btf.types().filter(|(_, t)| t.kind() == KIND_DATASEC) {
        if let Some(name) = btf.name(t.name_off) {
            out.sections.push(FixupName {
                offset: t.name_off,
                name,
            });
        }
        for i in 0..t.vlen() {
            let entry = t.tail().saturating_add(i.saturating_mul(12));
            let Some(var) = u32_at(data, entry).and_then(|id| btf.get(id)) else {
                continue;
            };
            let linkage = u32_at(data, var.tail()).unwrap_or(VAR_STATIC);
            if var.kind() != KIND_VAR || linkage == VAR_STATIC {
                continue;
            }
            if let Some(name) = btf.name(var.name_off) {
                out.symbols.push(FixupName {
                    offset: var.name_off,
                    name,
                });
            }
        }
    }
    Ok(out)
}

/// Counts over a well-formed blob, for diagnostics and for the fake kernel
/// (`sys::fake::FakeSys`, test builds only), which refuses what a kernel
/// refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Types, void excluded.
    pub types: usize,
    /// FUNC types whose `info` carries more than the kind (linkage).
    pub funcs_with_linkage: usize,
    /// DATASECs with entries but size 0 (not fixed up: the kernel refuses
    /// them, every offset being outside the section).
    pub unsized_datasecs: usize,
}

/// Parses `data` and counts what [`Summary`] lists.
pub fn summary(data: &[u8]) -> Result<Summary, BtfError> {
    let btf = Btf::parse(data)?;
    let mut s = Summary {
        types: btf.types.len(),
        funcs_with_linkage: 0,
        unsized_datasecs: 0,
    };
    for (_, t) in btf.types() {
        match t.kind() {
            KIND_FUNC if t.info != KIND_FUNC << 24 => {
                s.funcs_with_linkage = s.funcs_with_linkage.saturating_add(1);
            }
            KIND_DATASEC if t.vlen() > 0 && t.size_or_type == 0 => {
                s.unsized_datasecs = s.unsized_datasecs.saturating_add(1);
            }
            _ => {}
        }
    }
    Ok(s)
}

/// BTF type ids of a map's key and value, for `BPF_MAP_CREATE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapTypes {
    /// `btf_key_type_id`: the type of member 0 of `____btf_map_<map>`.
    pub key_type_id: u32,
    /// `btf_value_type_id`: the type of member 1.
    pub value_type_id: u32,
}

/// A `.BTF` ready for `BPF_BTF_LOAD`, with the lookups maps need.
#[derive(Debug)]
pub struct PreparedBtf<'a> {
    btf: Btf<'a>,
    /// The blob with DATASEC sizes and VAR offsets fixed; same layout.
    fixed: Vec<u8>,
    /// First type id for each `____btf_map_*` name (any kind, as
    /// `btf__find_by_name`).
    annotations: HashMap<&'a [u8], u32>,
}

/// Parses `src.data` and fixes DATASEC sizes and VAR offsets as 25Q2 does.
pub fn prepare(src: &BtfSource) -> Result<PreparedBtf<'_>, BtfError> {
    let btf = Btf::parse(&src.data)?;
    let mut fixed = src.data.clone();
    let mut annotations = HashMap::new();
    for (id, t) in btf.types() {
        if let Some(name) = btf.name(t.name_off) {
            if name.starts_with(MAP_STRUCT_PREFIX.as_bytes()) {
                annotations.entry(name).or_insert(id);
            }
        }
        if t.kind() != KIND_DATASEC {
            continue;
        }
        let datasec = || btf.name_lossy(t.name_off);
        let size = src
            .section_sizes
            .get(&t.name_off)
            .copied()
            .ok_or_else(|| BtfError::NoSection { datasec: datasec() })?;
        let size = u32::try_from(size).map_err(|_| BtfError::TooLarge {
            datasec: datasec(),
            what: "section size".into(),
            value: size,
        })?;
        put_u32(&mut fixed, t.off.saturating_add(8), size);
        for index in 0..t.vlen() {
            let entry = t.tail().saturating_add(index.saturating_mul(12));
            let type_id = u32_at(&src.data, entry).unwrap_or_default();
            let var = btf.get(type_id).filter(|v| v.kind() == KIND_VAR);
            let Some(var) = var else {
                return Err(BtfError::NotVar {
                    datasec: datasec(),
                    index,
                    type_id,
                    kind: kind_name(btf.get(type_id).map_or(0, Type::kind)),
                });
            };
            if u32_at(&src.data, var.tail()) == Some(VAR_STATIC) {
                continue;
            }
            let value = src
                .symbol_values
                .get(&var.name_off)
                .copied()
                .ok_or_else(|| BtfError::NoSymbol {
                    datasec: datasec(),
                    var: btf.name_lossy(var.name_off),
                })?;
            let offset = u32::try_from(value).map_err(|_| BtfError::TooLarge {
                datasec: datasec(),
                what: format!("offset of {}", btf.name_lossy(var.name_off)),
                value,
            })?;
            put_u32(&mut fixed, entry.saturating_add(4), offset);
        }
    }
    Ok(PreparedBtf {
        btf,
        fixed,
        annotations,
    })
}

impl PreparedBtf<'_> {
    /// The blob for `BPF_BTF_LOAD`.
    pub fn bytes(&self) -> &[u8] {
        &self.fixed
    }

    /// The blob for the retry after `EINVAL`: every FUNC's `info` reduced
    /// to its kind (linkage and kind flag cleared), as 25Q2 does. `None` if
    /// no FUNC carries other bits (the retry would send the same bytes).
    pub fn downgraded(&self) -> Option<Vec<u8>> {
        let kind_only = KIND_FUNC << 24;
        let funcs: Vec<usize> = self
            .btf
            .types()
            .filter(|(_, t)| t.kind() == KIND_FUNC && t.info != kind_only)
            .map(|(_, t)| t.off.saturating_add(4))
            .collect();
        if funcs.is_empty() {
            return None;
        }
        let mut out = self.fixed.clone();
        for off in funcs {
            put_u32(&mut out, off, kind_only);
        }
        Some(out)
    }

    /// The key and value type ids of map `map`, checked against the
    /// definition's `key_size` and `value_size` (25Q2's `getKeyValueTids`).
    pub fn map_types(
        &self,
        map: &str,
        key_size: u32,
        value_size: u32,
    ) -> Result<MapTypes, BtfError> {
        let type_name = format!("{MAP_STRUCT_PREFIX}{map}");
        if type_name.len() > MAX_NAME_LEN {
            return Err(BtfError::MapNameTooLong { map: map.into() });
        }
        let type_id =
            *self
                .annotations
                .get(type_name.as_bytes())
                .ok_or_else(|| BtfError::NoAnnotation {
                    map: map.into(),
                    type_name: type_name.clone(),
                })?;
        let t = self
            .btf
            .get(type_id)
            .ok_or_else(|| BtfError::NoAnnotation {
                map: map.into(),
                type_name: type_name.clone(),
            })?;
        if t.kind() != KIND_STRUCT || t.vlen() < 2 {
            return Err(BtfError::BadAnnotation {
                map: map.into(),
                type_name,
                type_id,
                kind: kind_name(t.kind()),
                vlen: t.vlen() as u32,
            });
        }
        let member_type = |i: usize| {
            let member = t.tail().saturating_add(i.saturating_mul(12));
            u32_at(self.btf.data, member.saturating_add(4)).unwrap_or_default()
        };
        let (key_type_id, value_type_id) = (member_type(0), member_type(1));
        let size = |member, id| {
            self.resolve_size(id).map_err(|reason| BtfError::Unsized {
                map: map.into(),
                member,
                type_id: id,
                reason,
            })
        };
        let btf_key = size("key", key_type_id)?;
        let btf_value = size("value", value_type_id)?;
        if btf_key != u64::from(key_size) || btf_value != u64::from(value_size) {
            return Err(BtfError::SizeMismatch {
                map: map.into(),
                type_name,
                btf_key,
                btf_value,
                def_key: key_size,
                def_value: value_size,
            });
        }
        Ok(MapTypes {
            key_type_id,
            value_type_id,
        })
    }

    /// libbpf's `btf__resolve_size`, on the fixed blob (a DATASEC sizes as
    /// its section).
    fn resolve_size(&self, mut id: u32) -> Result<u64, &'static str> {
        let mut nelems: u32 = 1;
        let mut size = None;
        for _ in 0..MAX_RESOLVE_DEPTH {
            let Some(t) = self.btf.get(id) else {
                break; // void
            };
            let fixed_word = |off: usize| u32_at(&self.fixed, off).unwrap_or_default();
            match t.kind() {
                KIND_INT | KIND_STRUCT | KIND_UNION | KIND_ENUM | KIND_ENUM64 | KIND_DATASEC
                | KIND_FLOAT => {
                    size = Some(fixed_word(t.off.saturating_add(8)));
                    break;
                }
                KIND_PTR => {
                    size = Some(PTR_SIZE);
                    break;
                }
                KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_VAR
                | KIND_DECL_TAG | KIND_TYPE_TAG => id = t.size_or_type,
                KIND_ARRAY => {
                    let n = fixed_word(t.tail().saturating_add(8));
                    nelems = nelems.checked_mul(n).ok_or("array is larger than 4 GiB")?;
                    id = fixed_word(t.tail());
                }
                _ => return Err("not a sized type (FUNC, FUNC_PROTO or FWD)"),
            }
        }
        let size = size.ok_or("void, or more than 32 levels of typedefs and arrays")?;
        nelems
            .checked_mul(size)
            .map(u64::from)
            .ok_or("larger than 4 GiB")
    }
}

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests read trusted, self-built input and fail by panicking"
)]
mod tests;
