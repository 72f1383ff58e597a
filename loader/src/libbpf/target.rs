//! The kernel's BTF (the CO-RE target) and the checks of each CO-RE
//! relocation that depend on it.
//!
//! aya-obj 0.3's CO-RE code is safe only against a BTF the kernel itself
//! would accept: it follows pointers, arrays and members of the target
//! without checking them. The file is read once per run ([`KernelBtf`]),
//! validated ([`crate::btf`]), and checked for what aya-obj relies on
//! ([`TargetBtf::parse`]); a file that fails is refused, and every object
//! needing CO-RE fails naming it.
//!
//! Some panics depend on the object *and* the target together: a load or
//! store relocated from a plain field to a kernel bitfield (aya-obj unwraps
//! a type id only plain fields have), a shift relocation on a kernel field
//! wider than 8 bytes, a bitfield offset past `u32`. [`check_core`] finds,
//! for each relocated field name, every kernel member of that name that
//! aya-obj could match (all members reachable by value from every kernel
//! type aya-obj takes as a candidate), and refuses those relocations.

use super::btfext::{self, CoreUse, Final, OFFSET_LIMIT};
use super::btfview::{self, Checked, View};
use super::LibbpfErrorKind as E;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Where the running kernel exposes its BTF.
pub const DEFAULT_KERNEL_BTF: &str = "/sys/kernel/btf/vmlinux";
/// Largest kernel BTF read ([`crate::btf::MAX_BTF_SIZE`]; vmlinux BTF is
/// a few MiB).
pub const MAX_KERNEL_BTF_SIZE: u64 = crate::btf::MAX_BTF_SIZE as u64;
/// Most work (candidate types × access components) CO-RE matching may do
/// for one object.
pub const MAX_CORE_WORK: usize = 1 << 22;
/// Most kernel types the per-object bitfield search may visit.
pub const MAX_REACH_WORK: usize = 1 << 22;

/// Why the kernel's BTF cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("kernel BTF {}: {reason}", .path.display())]
pub struct KernelBtfError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub reason: String,
}

/// A checked kernel BTF, with aya-obj's parse of it.
pub struct TargetBtf {
    path: PathBuf,
    data: Vec<u8>,
    types: Vec<u32>,
    str_start: usize,
    str_len: u32,
    checked: Checked,
    /// (hash of kind and flavorless name, type id) of every named type,
    /// sorted: candidate lookups without scanning every type.
    names: Vec<(u64, u32)>,
    pub(super) aya: aya_obj::btf::Btf,
}

impl std::fmt::Debug for TargetBtf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TargetBtf")
            .field("path", &self.path)
            .field("bytes", &self.data.len())
            .field("types", &self.types.len())
            .finish_non_exhaustive()
    }
}

/// Kinds no pointer, typedef, modifier, array, prototype or member of a
/// kernel BTF refers to (aya-obj's `types_are_compatible` and
/// `fields_are_compatible` reach `unreachable!()` on them).
fn never_referenced(kind: u32) -> bool {
    use btfview::*;
    matches!(kind, KIND_FUNC | KIND_VAR | KIND_DATASEC | KIND_DECL_TAG)
}

impl TargetBtf {
    /// Validates and checks the kernel BTF `bytes` read from `path`.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<TargetBtf, KernelBtfError> {
        let err = |reason: String| KernelBtfError {
            path: path.to_path_buf(),
            reason,
        };
        let view = View::parse(bytes).map_err(&err)?;
        let checked = btfview::check(&view).map_err(&err)?;
        references(&view).map_err(&err)?;
        let aya = aya_obj::btf::Btf::parse(bytes, object::Endianness::Little)
            .map_err(|e| err(format!("aya-obj: {}", super::chain(&e))))?;
        let mut names: Vec<(u64, u32)> = (1..view.count())
            .filter(|&id| view.name_off(id) != 0)
            .map(|id| {
                (
                    name_key(view.kind(id), &view.name_lossy(view.name_off(id))),
                    id,
                )
            })
            .collect();
        names.sort_unstable();
        let (types, str_start, str_len) = view.into_parts();
        Ok(TargetBtf {
            path: path.to_path_buf(),
            data: bytes.to_vec(),
            types,
            str_start,
            str_len,
            checked,
            names,
            aya,
        })
    }

    fn view(&self) -> View<'_> {
        View::from_parts(&self.data, &self.types, self.str_start, self.str_len)
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of types, void included.
    pub fn type_count(&self) -> usize {
        self.types.len().saturating_add(1)
    }
}

/// The reference checks of [`never_referenced`], plus: members and array
/// elements resolve to sized kinds (not void, not a prototype).
fn references(v: &View<'_>) -> Result<(), String> {
    use btfview::*;
    let bad = |id: u32, what: &str, to: u32| {
        Err(format!(
            "type {id}: {what} refers to type {to}, a kind no kernel BTF refers to there"
        ))
    };
    for id in 1..v.count() {
        match v.kind(id) {
            KIND_PTR | KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT
            | KIND_TYPE_TAG => {
                let to = v.size_or_type(id);
                if never_referenced(v.kind(to)) {
                    return bad(id, "its target", to);
                }
            }
            KIND_FUNC_PROTO => {
                let ret = v.size_or_type(id);
                if never_referenced(v.kind(ret)) {
                    return bad(id, "its return type", ret);
                }
                for i in 0..v.vlen(id) {
                    let p = v.tail(id, i.saturating_mul(2).saturating_add(1));
                    if never_referenced(v.kind(p)) {
                        return bad(id, "a parameter", p);
                    }
                }
            }
            KIND_ARRAY | KIND_STRUCT | KIND_UNION => {
                let targets: Vec<u32> = if v.kind(id) == KIND_ARRAY {
                    vec![v.tail(id, 0)]
                } else {
                    (0..v.vlen(id)).map(|i| v.member(id, i).1).collect()
                };
                for to in targets {
                    if never_referenced(v.kind(to)) {
                        return bad(id, "an element or member", to);
                    }
                    let r = v.aya_resolve(to);
                    if r.is_none_or(|r| r == 0 || v.kind(r) == KIND_FUNC_PROTO) {
                        return bad(id, "an element or member (resolved)", to);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Caches the kernel BTF of one run: read and checked at most once, on the
/// first object that needs it; shared by clones of the configuration.
#[derive(Debug, Clone)]
pub struct KernelBtf {
    path: PathBuf,
    cell: Arc<OnceLock<Result<Arc<TargetBtf>, KernelBtfError>>>,
}

impl KernelBtf {
    /// The BTF at `path` (not read yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        KernelBtf {
            path: path.into(),
            cell: Arc::new(OnceLock::new()),
        }
    }

    /// The path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The checked BTF, reading it with `read` (at most
    /// [`MAX_KERNEL_BTF_SIZE`] bytes) the first time.
    pub fn get(
        &self,
        read: impl FnOnce(&Path) -> Result<Vec<u8>, String>,
    ) -> Result<Arc<TargetBtf>, KernelBtfError> {
        self.cell
            .get_or_init(|| {
                let bytes = read(&self.path).map_err(|reason| KernelBtfError {
                    path: self.path.clone(),
                    reason,
                })?;
                TargetBtf::parse(&self.path, &bytes).map(Arc::new)
            })
            .clone()
    }
}

/// flavorless name (`task_struct___old` → `task_struct`), as aya-obj
/// compares candidates.
fn flavorless(name: &str) -> &str {
    name.split_once("___").map_or(name, |x| x.0)
}

/// What kernel members of one name look like, over every candidate.
#[derive(Debug, Clone, Copy, Default)]
struct MemberFacts {
    bitfield: bool,
    /// Largest size of a plain (non-bitfield) one.
    max_plain: u64,
}

/// FNV-1a of a kind and a flavorless name: the key of [`TargetBtf`]'s
/// name index (collisions are filtered by comparing the names).
fn name_key(kind: u32, name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in kind.to_le_bytes().iter().chain(flavorless(name).as_bytes()) {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Kernel types aya-obj takes as candidates for local type `root` (same
/// kind, same flavorless name, compared as aya-obj does: lossy UTF-8).
fn candidates(target: &TargetBtf, local: &View<'_>, root: u32) -> Vec<u32> {
    let tv = target.view();
    let kind = local.kind(root);
    let name = local.name_lossy(local.name_off(root));
    let want = flavorless(&name);
    let key = name_key(kind, &name);
    let start = target.names.partition_point(|&(k, _)| k < key);
    target
        .names
        .get(start..)
        .unwrap_or_default()
        .iter()
        .take_while(|&&(k, _)| k == key)
        .map(|&(_, id)| id)
        .filter(|&id| tv.kind(id) == kind)
        .filter(|&id| flavorless(&tv.name_lossy(tv.name_off(id))) == want)
        .collect()
}

/// Every member reachable by value from `root` in `target`, by name.
fn reach(
    target: &View<'_>,
    root: u32,
    work: &mut usize,
) -> Result<HashMap<String, MemberFacts>, ()> {
    use btfview::*;
    let mut out: HashMap<String, MemberFacts> = HashMap::new();
    let mut seen = HashSet::new();
    let mut stack: Vec<u32> = target.aya_resolve(root).into_iter().collect();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        *work = work.saturating_add(1);
        if *work > MAX_REACH_WORK {
            return Err(());
        }
        match target.kind(id) {
            KIND_ARRAY => stack.extend(target.aya_resolve(target.tail(id, 0))),
            KIND_STRUCT | KIND_UNION => {
                for i in 0..target.vlen(id) {
                    let (name_off, ty, _) = target.member(id, i);
                    let resolved = target.aya_resolve(ty);
                    let facts = out
                        .entry(target.name_lossy(name_off).into_owned())
                        .or_default();
                    if target.member_bitfield(id, i) > 0 {
                        facts.bitfield = true;
                    } else if let Some(size) =
                        resolved.and_then(|r| target.aya_type_size(r).ok().flatten())
                    {
                        facts.max_plain = facts.max_plain.max(size);
                    }
                    stack.extend(resolved);
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Opcode classes of loads and stores (`BPF_LDX`, `BPF_ST`, `BPF_STX`).
fn is_memory(class: u8) -> bool {
    matches!(class, 1..=3)
}

/// Checks the CO-RE relocations `uses` of an object whose BTF is `local`
/// (checked: `local_checked`) against `target` (see the module doc).
pub(super) fn check_core(
    target: &TargetBtf,
    local: &View<'_>,
    local_checked: &Checked,
    uses: &[CoreUse],
    section_name: impl Fn(usize) -> String,
) -> Result<(), E> {
    let tv = target.view();
    let mut cands: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut facts: HashMap<u32, HashMap<String, MemberFacts>> = HashMap::new();
    let mut work = 0usize;
    let mut reach_work = 0usize;
    for u in uses {
        let err = |reason: String| E::Core {
            section: section_name(u.section),
            index: u.index,
            reason,
        };
        if u.kind == btfext::TYPE_ID_LOCAL {
            continue;
        }
        let c = cands
            .entry(u.root)
            .or_insert_with(|| candidates(target, local, u.root));
        work = work.saturating_add(c.len().saturating_mul(u.parts.len().saturating_add(1)));
        if work > super::target::MAX_CORE_WORK {
            return Err(E::TooMany {
                what: "units of CO-RE matching work",
                count: work,
                max: MAX_CORE_WORK,
            });
        }
        let Some(Final::Member {
            name,
            bitfield,
            size: _,
        }) = &u.last
        else {
            continue;
        };
        let name = String::from_utf8_lossy(name).into_owned();
        let mut kernel = MemberFacts::default();
        for &cand in c.iter() {
            if let std::collections::hash_map::Entry::Vacant(slot) = facts.entry(cand) {
                let f = reach(&tv, cand, &mut reach_work).map_err(|()| E::TooMany {
                    what: "kernel types visited for CO-RE checks",
                    count: reach_work,
                    max: MAX_REACH_WORK,
                })?;
                slot.insert(f);
            }
            if let Some(f) = facts.get(&cand).and_then(|m| m.get(&name)) {
                kernel.bitfield |= f.bitfield;
                kernel.max_plain = kernel.max_plain.max(f.max_plain);
            }
        }
        if btfext::is_byte_offset(u.kind)
            && is_memory(u.insn_class)
            && (*bitfield || kernel.bitfield)
        {
            return Err(err(format!(
                "a load or store of {name:?}, a bitfield {} (aya-obj 0.3 cannot patch it)",
                if *bitfield { "here" } else { "in the kernel" }
            )));
        }
        if matches!(u.kind, btfext::FIELD_LSHIFT_U64 | btfext::FIELD_RSHIFT_U64)
            && kernel.max_plain > 8
        {
            return Err(err(format!(
                "a shift relocation on {name:?}, wider than 8 bytes in the kernel"
            )));
        }
        let local_over = *bitfield
            && btfext::offset_bound(&u.parts, local_checked.max_size, local_checked.max_struct)
                >= OFFSET_LIMIT;
        let kernel_over = kernel.bitfield
            && btfext::offset_bound(&u.parts, target.checked.max_size, target.checked.max_struct)
                >= OFFSET_LIMIT;
        if local_over || kernel_over {
            return Err(err(format!(
                "the bit offset of bitfield {name:?} could pass 2^31 (access {:?})",
                u.parts
            )));
        }
    }
    Ok(())
}
