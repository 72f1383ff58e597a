//! libbpf-style objects: BTF-defined maps in `.maps`, libbpf program
//! section names (`socket`, `tc`, `xdp`, `cgroup_skb/ingress`, `kprobe/…`,
//! `tracepoint/…`), subprogram calls, map relocations and CO-RE relocations
//! against the running kernel's BTF. Pure: the bytes of one object and the
//! kernel's BTF in, an [`ObjectSpec`] out, which the plan and the engine
//! load through the same path as Android objects (same pin names, reuse
//! rules, temporary pins, rollback).
//!
//! # What is parsed by whom
//!
//! aya-obj 0.3 (the workspace's version) parses the object, reads the
//! BTF-defined maps, applies the CO-RE relocations (`Object::relocate_btf`),
//! the map relocations (`relocate_maps`) and links subprograms
//! (`relocate_calls`), and fixes up the BTF for the kernel
//! (`fixup_and_sanitize_btf`). Our code decides what a section name means
//! ([`sections`], libbpf's names, which aya-obj 0.3 only partly knows: no
//! `tc`, no `xdp/<name>`), checks the object before aya sees it, and turns
//! aya's result into an [`ObjectSpec`]: maps get our pin rules, each
//! program is its function (`prog_<obj>_<function>`), map references become
//! [`crate::spec::MapRelocation`]s that the engine patches with the fds it
//! creates or reuses.
//!
//! # Hostile objects and aya-obj
//!
//! aya-obj 0.3 trusts its input. Reading its source, these inputs panic
//! it (or abort the process, or run without bound); each is refused here
//! before aya-obj sees the object, by the check named:
//!
//! | aya-obj 0.3 | input | refused by |
//! |---|---|---|
//! | `Object::parse`: `&section.data[start..end]` (programs, legacy `maps`) | a symbol past its section | [`elf`]: every function inside its section; no `maps*` section |
//! | `parse_program`: `symbol.address - section.address`, `address + size` | `sh_addr` ≠ 0, huge values | [`elf`]: `sh_addr` 0, checked bounds |
//! | `parse_data_map_section`: `vec![0; size]` for `.bss` | a 2⁴⁰-byte NOBITS `.bss` | [`elf`]: no global-data sections (not supported) |
//! | `Btf::string_at`: indexes the string table with an unchecked offset | a name offset past the strings | [`crate::btf`] validation: every name offset in range |
//! | `Btf::type_size`: `size * n_elems` in `u32` | an array of 2²⁰ × 2²⁰ bytes | [`btfview`]: every type's size fits |
//! | `BtfExt::parse`: unchecked `rec_size * num_info` slices, `chunks(0)`, `unwrap` on names | a short or lying `.BTF.ext` | [`btfext`]: exact walk of the CO-RE records |
//! | `FunctionLinker::relocate`: `todo!()`, `unwrap()`, `imm + 1` | a relocation to a data symbol, an extern, `imm = i32::MAX` | [`elf`]/[`calls`]: relocation forms checked |
//! | `link_func_and_line_info`: `insn_off - start` | unsorted line info | func/line info are not used: cleared in [`rewrite`] |
//! | `relocate_calls`: one copy of every callee per program, recursion per call | 500 programs × a large subprogram; a 100 000-deep call chain | [`calls`]: linked size and function count bounded |
//! | linker keyed by address only | callees at the same address in two sections | [`calls`]: refused (it would link the wrong function) |
//! | CO-RE `AccessSpec::new`: `index * size * 8` | huge access indices | [`btfext`]: at most 64 components, each bounded |
//! | CO-RE `types_are_compatible`: `unreachable!()` | a TYPE relocation on a FUNC/VAR named like a kernel one | [`btfext`]: root kinds checked |
//! | CO-RE `compute_field_relocation`: `size().unwrap()`, `/ byte_size` | a bitfield of a size-0 or unsized type | [`btfview`]: bitfield members sized |
//! | CO-RE `ComputedRelocation::apply`: `type_id.unwrap()` | a load/store relocated from a plain field to a kernel bitfield (or back) | [`target`]: refused |
//! | CO-RE `bit_off + bit_size` (`u32`) | an access whose kernel offset wraps | [`target`]: index budget from the kernel's largest type |
//! | CO-RE candidate search: every kernel type per local type | 10 000 relocated types, anonymous roots | [`btfext`]: bounded roots, named roots only |
//!
//! The kernel's BTF (`/sys/kernel/btf/vmlinux`, or the path the
//! configuration names) is read once per run and checked too ([`target`]):
//! the remaining CO-RE paths are safe only on a BTF the kernel itself would
//! accept, so a file that is not one is refused rather than trusted.
//!
//! Not supported (refused by name, never loaded half-way): global data
//! (`.data`, `.rodata`, `.bss`, including string literals), externs
//! (`__kconfig`, `__ksym`, kfuncs), map-in-map and `.values` initialisers,
//! `map_extra`, program types that need an attach BTF id (`fentry`,
//! `fexit`, `lsm`, `tp_btf`, `iter`, `struct_ops`, `freplace`), sleepable
//! and `xdp.frags` programs, and func/line info (programs are loaded
//! without BTF; maps are typed with it).
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod btfext;
mod btfview;
mod calls;
mod convert;
mod elf;
mod rewrite;
pub mod sections;
mod target;

#[cfg(test)]
mod tests;

pub use target::{KernelBtf, KernelBtfError, TargetBtf, DEFAULT_KERNEL_BTF, MAX_KERNEL_BTF_SIZE};

use crate::spec::{Kver, ObjectSpec};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Largest libbpf-style object parsed (the engine reads up to
/// [`crate::engine::MAX_OBJECT_SIZE`] for any object). aya-obj's structures
/// take about 11 times the file (measured, `loader/tests/libbpf_bounds.rs`),
/// linking up to [`LINK_BUDGET_FACTOR`] times more: 4 MiB keeps a hostile
/// object's peak near 100 MiB; real objects are a few hundred KiB.
pub const MAX_OBJECT_SIZE: usize = 4 << 20;
/// Most section headers accepted.
pub const MAX_SECTIONS: usize = 1024;
/// Most symbols accepted.
pub const MAX_SYMBOLS: usize = 65_536;
/// Most `.text*` sections (aya-obj scans every symbol once per section).
pub const MAX_TEXT_SECTIONS: usize = 16;
/// Most programs (functions in program sections).
pub const MAX_PROGRAMS: usize = 256;
/// Most functions, programs and subprograms together (aya-obj links
/// subprograms recursively: this bounds the depth).
pub const MAX_FUNCTIONS: usize = 512;
/// Most maps.
pub const MAX_MAPS: usize = 256;
/// Longest program after subprograms are linked in: the kernel's
/// `BPF_COMPLEXITY_LIMIT_INSNS`, above which `BPF_PROG_LOAD` fails anyway.
pub const MAX_PROG_INSNS: usize = 1_000_000;
/// All programs together after linking may hold this many instructions
/// per instruction of the file, plus [`LINK_BUDGET_BASE`]: memory stays
/// linear in the file size however many programs share a subprogram.
pub const LINK_BUDGET_FACTOR: usize = 8;
/// See [`LINK_BUDGET_FACTOR`].
pub const LINK_BUDGET_BASE: usize = 1 << 20;
/// Most CO-RE relocations.
pub const MAX_CORE_RELOS: usize = 65_536;
/// Most distinct local types CO-RE relocations are made against: aya-obj
/// scans the whole kernel BTF once per type (about 2 ms each on a 5.5 MB
/// vmlinux BTF, measured), so this bounds an object's CO-RE time to a
/// fraction of a second whatever its size.
pub const MAX_CORE_ROOTS: usize = 64;
/// Most components of a CO-RE access string (libbpf's
/// `BPF_CORE_SPEC_MAX_LEN`).
pub const MAX_ACCESS_LEN: usize = 64;
/// Largest index in a CO-RE access string.
pub const MAX_ACCESS_INDEX: u64 = 1 << 20;
/// Longest program or map name (C identifiers; they end up in pin names).
pub const MAX_NAME_LEN: usize = 128;

/// Why a libbpf-style object cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {kind}", .file.display())]
pub struct LibbpfError {
    /// The object file.
    pub file: PathBuf,
    /// What is wrong.
    pub kind: LibbpfErrorKind,
}

/// What is wrong with a libbpf-style object. Every variant names the
/// section, symbol, map, program or relocation involved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LibbpfErrorKind {
    /// Not an ELF64 little-endian eBPF relocatable object.
    #[error("not an ELF64 little-endian eBPF relocatable object: {0}")]
    Elf(String),
    /// Neither flavour: no Android section, no libbpf section.
    #[error(
        "neither an Android object (no maps, progs or other Android section, no Android \
         program section) nor a libbpf-style object (no .maps section, no libbpf program \
         section): nothing to load"
    )]
    Unrecognized,
    /// More of something than this loader accepts.
    #[error("{count} {what}, more than the {max} this loader accepts")]
    TooMany {
        /// What.
        what: &'static str,
        /// How many.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A section header is unusable.
    #[error("section {index}: {reason}")]
    Section {
        /// Section header index.
        index: usize,
        /// Why.
        reason: String,
    },
    /// An executable section whose name is no libbpf program section.
    #[error("section {section:?}: not a libbpf program section name this loader knows")]
    UnknownProgramSection {
        /// The section name.
        section: String,
    },
    /// A feature this loader does not support.
    #[error("section {section:?}: {reason} (not supported)")]
    Unsupported {
        /// The section (or map, or symbol) involved.
        section: String,
        /// What it needs.
        reason: String,
    },
    /// No `license` section.
    #[error("no license section")]
    MissingLicense,
    /// The `license` section is not a NUL-terminated UTF-8 string.
    #[error("license section is not a NUL-terminated UTF-8 string")]
    BadLicense,
    /// A symbol is unusable.
    #[error("symbol {index} ({name:?}): {reason}")]
    Symbol {
        /// Symbol table index.
        index: usize,
        /// Its name (lossy).
        name: String,
        /// Why.
        reason: String,
    },
    /// A relocation in a code section is unusable.
    #[error("section {section:?}, relocation at offset {offset:#x}: {reason}")]
    Relocation {
        /// The code section.
        section: String,
        /// Byte offset of the relocated instruction.
        offset: u64,
        /// Why.
        reason: String,
    },
    /// The `.BTF` section is unusable.
    #[error(".BTF: {0}")]
    Btf(String),
    /// The `.BTF.ext` section is unusable.
    #[error(".BTF.ext: {0}")]
    BtfExt(String),
    /// A CO-RE relocation cannot be applied safely.
    #[error("CO-RE relocation {index} of section {section:?}: {reason}")]
    Core {
        /// The code section.
        section: String,
        /// The relocation's number in that section.
        index: usize,
        /// Why.
        reason: String,
    },
    /// A map is unusable.
    #[error("map {map}: {reason}")]
    Map {
        /// The map.
        map: String,
        /// Why.
        reason: String,
    },
    /// A program is unusable.
    #[error("program {program}: {reason}")]
    Program {
        /// The program (function) name.
        program: String,
        /// Why.
        reason: String,
    },
    /// The kernel's BTF, needed for CO-RE, is unusable.
    #[error("{0}")]
    KernelBtf(KernelBtfError),
    /// aya-obj refused the (checked) object.
    #[error("aya-obj ({stage}): {message}")]
    Aya {
        /// Which aya-obj step.
        stage: &'static str,
        /// Its error, with its sources.
        message: String,
    },
}

/// Renders an error with its chain of sources (aya-obj's top-level
/// messages name only the stage).
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    for _ in 0..8 {
        let Some(src) = cur else {
            break;
        };
        s.push_str(": ");
        s.push_str(&src.to_string());
        cur = src.source();
    }
    s
}

/// Whether a map of `map_type` is created with its BTF key/value types:
/// not the fd-holding and queue-like types the kernel refuses BTF for
/// (libbpf clears their BTF ids the same way).
pub fn map_takes_btf(map_type: u32) -> bool {
    use aya_obj::generated::bpf_map_type as T;
    ![
        T::BPF_MAP_TYPE_PERF_EVENT_ARRAY,
        T::BPF_MAP_TYPE_CGROUP_ARRAY,
        T::BPF_MAP_TYPE_STACK_TRACE,
        T::BPF_MAP_TYPE_ARRAY_OF_MAPS,
        T::BPF_MAP_TYPE_HASH_OF_MAPS,
        T::BPF_MAP_TYPE_DEVMAP,
        T::BPF_MAP_TYPE_DEVMAP_HASH,
        T::BPF_MAP_TYPE_CPUMAP,
        T::BPF_MAP_TYPE_XSKMAP,
        T::BPF_MAP_TYPE_SOCKMAP,
        T::BPF_MAP_TYPE_SOCKHASH,
        T::BPF_MAP_TYPE_QUEUE,
        T::BPF_MAP_TYPE_STACK,
        T::BPF_MAP_TYPE_RINGBUF,
        T::BPF_MAP_TYPE_USER_RINGBUF,
        T::BPF_MAP_TYPE_ARENA,
    ]
    .iter()
    .any(|t| *t as u32 == map_type)
}

/// Which loader an object is for, decided from its section names alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// Android's `maps`/`progs` format ([`crate::parse`]).
    Android,
    /// libbpf-style ([`parse`]).
    Libbpf,
    /// Neither: nothing any loader would load.
    Unrecognized,
}

/// Sections only Android objects have.
const ANDROID_SECTIONS: &[&str] = &[
    "maps",
    "progs",
    "bpfloader_min_ver",
    "bpfloader_max_ver",
    "size_of_bpf_map_def",
    "size_of_bpf_prog_def",
    "critical",
    "netbpfload_min_ver",
    "bpfloader_min_required_ver",
];

/// Decides the flavour of an object:
///
/// 1. bytes that are no ELF64 LE file, or that carry any Android section
///    (`maps`, `progs`, the version and record-size sections, `critical`):
///    Android (its parser reports what is wrong with junk, as before);
/// 2. a `.maps` section, or an executable section with a libbpf program
///    name: libbpf;
/// 3. an executable section named like an Android program (any release's
///    table): Android;
/// 4. otherwise: unrecognised, refused (an object of neither kind would
///    otherwise "load" as nothing).
pub fn flavor(bytes: &[u8]) -> Flavor {
    use object::read::elf::ElfFile64;
    use object::{Object as _, ObjectSection as _, SectionKind};
    let Ok(elf) = ElfFile64::<object::LittleEndian>::parse(bytes) else {
        return Flavor::Android;
    };
    let mut libbpf = false;
    let mut android_code = false;
    for s in elf.sections().take(MAX_SECTIONS.saturating_add(1)) {
        let Ok(name) = s.name() else {
            continue;
        };
        if ANDROID_SECTIONS.contains(&name) {
            return Flavor::Android;
        }
        if name == ".maps" {
            libbpf = true;
        } else if s.kind() == SectionKind::Text && !name.starts_with(".text") {
            if sections::lookup(name).is_some() {
                libbpf = true;
            } else if crate::section::ALL
                .iter()
                .any(|row| name.starts_with(row.prefix))
            {
                android_code = true;
            }
        }
    }
    if libbpf {
        Flavor::Libbpf
    } else if android_code {
        Flavor::Android
    } else {
        Flavor::Unrecognized
    }
}

/// Whether the object has CO-RE relocations, so that [`parse`] needs the
/// kernel's BTF. Cheap (reads the `.BTF.ext` header); `false` when in
/// doubt (then [`parse`] reports what is wrong).
pub fn needs_kernel_btf(bytes: &[u8]) -> bool {
    btfext::has_core_relos(bytes)
}

/// What parsing depends on besides the bytes.
#[derive(Debug, Clone, Copy)]
pub struct ParseEnv<'a> {
    /// The running kernel's version (which BTF kinds it takes).
    pub kver: Kver,
    /// The kernel's BTF, for CO-RE relocations; `None` fails an object
    /// that has some.
    pub target: Option<&'a TargetBtf>,
}

/// Parses one libbpf-style object. `file` names it (object name, errors).
pub fn parse(file: &Path, bytes: &[u8], env: &ParseEnv<'_>) -> Result<ObjectSpec, LibbpfError> {
    convert::parse(file, bytes, env).map_err(|kind| LibbpfError {
        file: file.to_path_buf(),
        kind,
    })
}

/// Reads and checks the kernel's BTF at `path` through `read` (a file
/// read bounded by [`MAX_KERNEL_BTF_SIZE`]).
pub fn load_target(path: &Path, bytes: &[u8]) -> Result<Arc<TargetBtf>, KernelBtfError> {
    TargetBtf::parse(path, bytes).map(Arc::new)
}
