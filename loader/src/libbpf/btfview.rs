//! A read-only view of a BTF blob that [`crate::btf`] has validated
//! (header, type records, every name offset and type reference in range),
//! with the few lookups the checks before aya-obj need, and aya-obj 0.3's
//! own semantics for resolving and sizing types, so that the checks see
//! what aya-obj will compute.

use std::borrow::Cow;

pub(super) const KIND_INT: u32 = 1;
pub(super) const KIND_PTR: u32 = 2;
pub(super) const KIND_ARRAY: u32 = 3;
pub(super) const KIND_STRUCT: u32 = 4;
pub(super) const KIND_UNION: u32 = 5;
pub(super) const KIND_ENUM: u32 = 6;
pub(super) const KIND_TYPEDEF: u32 = 8;
pub(super) const KIND_VOLATILE: u32 = 9;
pub(super) const KIND_CONST: u32 = 10;
pub(super) const KIND_RESTRICT: u32 = 11;
pub(super) const KIND_FUNC: u32 = 12;
pub(super) const KIND_FUNC_PROTO: u32 = 13;
pub(super) const KIND_VAR: u32 = 14;
pub(super) const KIND_DATASEC: u32 = 15;
pub(super) const KIND_FLOAT: u32 = 16;
pub(super) const KIND_DECL_TAG: u32 = 17;
pub(super) const KIND_TYPE_TAG: u32 = 18;
pub(super) const KIND_ENUM64: u32 = 19;

/// aya-obj's `MAX_RESOLVE_DEPTH`.
pub(super) const AYA_RESOLVE_DEPTH: usize = 32;

/// Size of a type record without its tail.
const TYPE_LEN: usize = 12;

fn u32_at(b: &[u8], off: usize) -> u32 {
    off.checked_add(4)
        .and_then(|end| b.get(off..end))
        .and_then(|w| <[u8; 4]>::try_from(w).ok())
        .map_or(0, u32::from_le_bytes)
}

fn tail_len(kind: u32, vlen: usize) -> usize {
    match kind {
        KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
        KIND_ARRAY => 12,
        KIND_STRUCT | KIND_UNION | KIND_DATASEC | KIND_ENUM64 => vlen.saturating_mul(12),
        KIND_ENUM | KIND_FUNC_PROTO => vlen.saturating_mul(8),
        _ => 0,
    }
}

/// The validated view.
#[derive(Debug)]
pub(super) struct View<'a> {
    data: &'a [u8],
    /// Offset of each record; id `i` at index `i - 1`.
    types: Cow<'a, [u32]>,
    str_start: usize,
    str_len: u32,
}

impl<'a> View<'a> {
    /// Validates `data` ([`crate::btf::summary`]) and indexes its types.
    pub(super) fn parse(data: &'a [u8]) -> Result<Self, String> {
        crate::btf::summary(data).map_err(|e| e.to_string())?;
        let hdr_len = u32_at(data, 4) as usize;
        let type_start = hdr_len.saturating_add(u32_at(data, 8) as usize);
        let type_end = type_start.saturating_add(u32_at(data, 12) as usize);
        let str_start = hdr_len.saturating_add(u32_at(data, 16) as usize);
        let str_len = u32_at(data, 20);
        let mut types = Vec::new();
        let mut pos = type_start;
        while pos < type_end {
            let info = u32_at(data, pos.saturating_add(4));
            let kind = (info >> 24) & 0x1f;
            let vlen = (info & 0xffff) as usize;
            types.push(u32::try_from(pos).map_err(|_| "BTF offset past 4 GiB".to_string())?);
            pos = pos
                .saturating_add(TYPE_LEN)
                .saturating_add(tail_len(kind, vlen));
        }
        Ok(View {
            data,
            types: Cow::Owned(types),
            str_start,
            str_len,
        })
    }

    /// The index, to keep next to an owned copy of the data
    /// ([`View::from_parts`]).
    pub(super) fn into_parts(self) -> (Vec<u32>, usize, u32) {
        (self.types.into_owned(), self.str_start, self.str_len)
    }

    /// A view of `data` with the index [`View::into_parts`] returned for
    /// the same bytes.
    pub(super) fn from_parts(
        data: &'a [u8],
        types: &'a [u32],
        str_start: usize,
        str_len: u32,
    ) -> Self {
        View {
            data,
            types: Cow::Borrowed(types),
            str_start,
            str_len,
        }
    }

    /// Number of types, void (id 0) included.
    pub(super) fn count(&self) -> u32 {
        // At most crate::btf::MAX_TYPES.
        u32::try_from(self.types.len().saturating_add(1)).unwrap_or(u32::MAX)
    }

    /// `str_len` of the header.
    pub(super) fn str_len(&self) -> u32 {
        self.str_len
    }

    fn off(&self, id: u32) -> Option<usize> {
        let i = (id as usize).checked_sub(1)?;
        self.types.get(i).map(|&o| o as usize)
    }

    fn word(&self, id: u32, n: usize) -> u32 {
        self.off(id).map_or(0, |o| {
            u32_at(self.data, o.saturating_add(n.saturating_mul(4)))
        })
    }

    /// Kind of `id` (0 for void or an unknown id).
    pub(super) fn kind(&self, id: u32) -> u32 {
        (self.word(id, 1) >> 24) & 0x1f
    }

    /// `vlen` of `id`.
    pub(super) fn vlen(&self, id: u32) -> usize {
        (self.word(id, 1) & 0xffff) as usize
    }

    /// The kind flag of `id`.
    pub(super) fn kflag(&self, id: u32) -> bool {
        self.word(id, 1) >> 31 == 1
    }

    /// Name offset of `id`.
    pub(super) fn name_off(&self, id: u32) -> u32 {
        self.word(id, 0)
    }

    /// The `size`/`type` word of `id`.
    pub(super) fn size_or_type(&self, id: u32) -> u32 {
        self.word(id, 2)
    }

    /// Word `n` of the tail of `id`.
    pub(super) fn tail(&self, id: u32, n: usize) -> u32 {
        self.word(id, 3usize.saturating_add(n))
    }

    /// Member `i` of a STRUCT/UNION: `(name_off, type, offset)`.
    pub(super) fn member(&self, id: u32, i: usize) -> (u32, u32, u32) {
        let b = i.saturating_mul(3);
        (
            self.tail(id, b),
            self.tail(id, b.saturating_add(1)),
            self.tail(id, b.saturating_add(2)),
        )
    }

    /// Bitfield size of member `i` (0 if not a bitfield).
    pub(super) fn member_bitfield(&self, id: u32, i: usize) -> u32 {
        if self.kflag(id) {
            self.member(id, i).2 >> 24
        } else {
            0
        }
    }

    /// The bytes of the name at `off` (the strings are validated to end
    /// with NUL, and `off` to be inside them).
    pub(super) fn name(&self, off: u32) -> &'a [u8] {
        let strings = self
            .data
            .get(self.str_start..)
            .and_then(|s| s.get(..self.str_len as usize))
            .unwrap_or_default();
        let rest = strings.get(off as usize..).unwrap_or_default();
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        rest.get(..end).unwrap_or_default()
    }

    /// The name as aya-obj compares it (lossy UTF-8).
    pub(super) fn name_lossy(&self, off: u32) -> Cow<'a, str> {
        String::from_utf8_lossy(self.name(off))
    }

    /// aya-obj's `resolve_type`: skips VOLATILE/CONST/RESTRICT/TYPEDEF/
    /// TYPE_TAG, at most 32 times (`None` past that, or on a bad id).
    pub(super) fn aya_resolve(&self, mut id: u32) -> Option<u32> {
        for _ in 0..AYA_RESOLVE_DEPTH {
            if id >= self.count() {
                return None;
            }
            match self.kind(id) {
                KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPEDEF | KIND_TYPE_TAG => {
                    id = self.size_or_type(id);
                }
                _ => return Some(id),
            }
        }
        None
    }

    /// aya-obj's `BtfType::size()`.
    pub(super) fn aya_size(&self, id: u32) -> Option<u64> {
        match self.kind(id) {
            KIND_INT | KIND_FLOAT | KIND_ENUM | KIND_ENUM64 | KIND_STRUCT | KIND_UNION
            | KIND_DATASEC
                if id != 0 =>
            {
                Some(u64::from(self.size_or_type(id)))
            }
            KIND_PTR => Some(8),
            _ => None,
        }
    }

    /// aya-obj's `BtfType::btf_type()`.
    fn aya_next(&self, id: u32) -> Option<u32> {
        match self.kind(id) {
            KIND_CONST | KIND_VOLATILE | KIND_RESTRICT | KIND_PTR | KIND_TYPEDEF
            | KIND_FUNC_PROTO | KIND_VAR | KIND_DECL_TAG | KIND_TYPE_TAG
                if id != 0 =>
            {
                Some(self.size_or_type(id))
            }
            _ => None,
        }
    }

    /// aya-obj's `Btf::type_size`, in `u64`: `Ok(None)` where aya-obj
    /// returns an error, `Err(product)` where its `u32` product
    /// `size * n_elems` would overflow (a panic in aya-obj's debug builds).
    pub(super) fn aya_type_size(&self, root: u32) -> Result<Option<u64>, u64> {
        let mut id = root;
        let mut n_elems: u64 = 1;
        for _ in 0..AYA_RESOLVE_DEPTH {
            if id >= self.count() {
                return Ok(None);
            }
            if self.kind(id) == KIND_ARRAY {
                n_elems = u64::from(self.tail(id, 2));
                id = self.tail(id, 0);
                continue;
            }
            if let Some(size) = self.aya_size(id) {
                let total = size.saturating_mul(n_elems);
                return if total > u64::from(u32::MAX) {
                    Err(total)
                } else {
                    Ok(Some(total))
                };
            }
            match self.aya_next(id) {
                Some(next) => id = next,
                None => return Ok(None),
            }
        }
        Ok(None)
    }
}

/// What the whole-BTF checks found.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Checked {
    /// The largest size aya-obj computes for any type.
    pub(super) max_size: u64,
    /// The largest STRUCT or UNION.
    pub(super) max_struct: u64,
}

/// Members at least this large make aya-obj's `byte_size * 8` (in `u32`)
/// overflow.
const MAX_MEMBER_SIZE: u64 = 1 << 29;

/// Checks every type for what aya-obj computes on it unchecked:
///
/// * its size (`Btf::type_size`) fits `u32`;
/// * a member's type is smaller than 2²⁹ bytes (CO-RE multiplies its
///   size by 8 in `u32`);
/// * a bitfield member's type resolves to an INT, ENUM or ENUM64 of 1 to
///   16 bytes (CO-RE unwraps its size, divides by it and doubles it);
/// * every member lies inside its struct (CO-RE offsets stay below the
///   largest struct, see [`super::btfext::offset_bound`]);
/// * DATASEC entry offsets stay below 2²⁸ (aya-obj multiplies them by 8 in
///   `u32` when it turns DATASECs into STRUCTs for kernels before 5.2).
pub(super) fn check(view: &View<'_>) -> Result<Checked, String> {
    let mut out = Checked::default();
    for id in 1..view.count() {
        match view.aya_type_size(id) {
            Ok(Some(s)) => out.max_size = out.max_size.max(s),
            Ok(None) => {}
            Err(total) => {
                return Err(format!(
                    "type {id}: size {total} does not fit in 32 bits (aya-obj computes it in u32)"
                ))
            }
        }
        match view.kind(id) {
            KIND_STRUCT | KIND_UNION => {
                let size = u64::from(view.size_or_type(id));
                out.max_struct = out.max_struct.max(size);
                for i in 0..view.vlen(id) {
                    let (_, ty, offset) = view.member(id, i);
                    let bits = if view.kflag(id) {
                        offset & 0x00ff_ffff
                    } else {
                        offset
                    };
                    if u64::from(bits) > size.saturating_mul(8) {
                        return Err(format!(
                            "type {id}: member {i} at bit {bits} is outside the {size}-byte struct"
                        ));
                    }
                    let resolved = view.aya_resolve(ty);
                    let member_size = resolved.and_then(|r| view.aya_type_size(r).ok().flatten());
                    if member_size.is_some_and(|m| m >= MAX_MEMBER_SIZE) {
                        return Err(format!("type {id}: member {i} is 2^29 bytes or more"));
                    }
                    if view.member_bitfield(id, i) == 0 {
                        continue;
                    }
                    let base = resolved.filter(|&r| {
                        matches!(view.kind(r), KIND_INT | KIND_ENUM | KIND_ENUM64)
                            && (1..=16).contains(&view.size_or_type(r))
                    });
                    if base.is_none() {
                        return Err(format!(
                            "type {id}: bitfield member {i} has type {ty}, not an integer or \
                             enum of 1 to 16 bytes"
                        ));
                    }
                }
            }
            KIND_DATASEC => {
                for i in 0..view.vlen(id) {
                    let offset = view.tail(id, i.saturating_mul(3).saturating_add(1));
                    if offset >= 1 << 28 {
                        return Err(format!(
                            "DATASEC {id}: entry {i} at offset {offset:#x}, past 2^28"
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(out)
}
