//! The parsed form of one Android-format eBPF object.
//!
//! Everything here is plain data produced by [`crate::parse`] from the bytes of
//! an ELF file. Nothing in this module knows about the running kernel; the
//! decisions that depend on it live in [`crate::gate`] and [`crate::engine`].
//!
//! Field layouts follow `struct bpf_map_def` (120 bytes) and
//! `struct bpf_prog_def` (92 bytes) of Android's `bpf_map_def.h`; offsets in
//! `docs/object-format.md#map-record` and `docs/object-format.md#program-record`.

use serde::Serialize;

/// Default `bpfloader_min_ver` when the section (or the field) is absent.
pub const DEFAULT_BPFLOADER_MIN_VER: u32 = 0;
/// Default `bpfloader_max_ver` when the section (or the field) is absent.
pub const DEFAULT_BPFLOADER_MAX_VER: u32 = 0x1_0000;
/// Default `max_kver` of a map/program def whose record is too short to hold it.
pub const DEFAULT_MAX_KVER: u32 = 0xFFFF_FFFF;

/// Size of the current `struct bpf_map_def`.
pub const BPF_MAP_DEF_SIZE: usize = 120;
/// Size of the current `struct bpf_prog_def`.
pub const BPF_PROG_DEF_SIZE: usize = 92;
/// Smallest `size_of_bpf_map_def` ever shipped (v0.0); smaller is rejected.
pub const MIN_BPF_MAP_DEF_SIZE: usize = 32;
/// Smallest `size_of_bpf_prog_def` ever shipped (v0.0); smaller is rejected.
pub const MIN_BPF_PROG_DEF_SIZE: usize = 20;
/// `size_of_bpf_map_def` assumed when the section is absent (v0.0 objects).
pub const DEFAULT_MAP_DEF_SIZE: usize = 32;
/// `size_of_bpf_prog_def` assumed when the section is absent (v0.0 objects).
pub const DEFAULT_PROG_DEF_SIZE: usize = 20;

/// A kernel version encoded as Android's `KVER(a, b, c)`: `a<<24 | b<<16 | c`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Kver(pub u32);

impl RawDomains {
    /// Both fields name known domains (or nothing).
    pub fn is_empty(&self) -> bool {
        self.selinux_context.is_none() && self.pin_subdir.is_none()
    }
}

impl Kver {
    /// Encodes `major.minor.sub` (sub saturates at 0xFFFF).
    pub const fn new(major: u8, minor: u8, sub: u16) -> Self {
        Kver(((major as u32) << 24) | ((minor as u32) << 16) | sub as u32)
    }
    /// Major version.
    pub const fn major(self) -> u32 {
        self.0 >> 24
    }
    /// Minor version.
    pub const fn minor(self) -> u32 {
        (self.0 >> 16) & 0xFF
    }
    /// Sublevel.
    pub const fn sub(self) -> u32 {
        self.0 & 0xFFFF
    }
}

impl std::fmt::Display for Kver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0 == DEFAULT_MAX_KVER {
            write!(f, "inf")
        } else {
            write!(f, "{}.{}.{}", self.major(), self.minor(), self.sub())
        }
    }
}

/// The `ignore_on_*` bit field shared by map and program defs (one byte).
///
/// Bit 0 eng, 1 user, 2 userdebug, 3 arm32, 4 aarch64, 5 x86_32, 6 x86_64,
/// 7 riscv64.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct IgnoreOn {
    /// Skip on `ro.build.type=eng`.
    pub eng: bool,
    /// Skip on `ro.build.type=user`.
    pub user: bool,
    /// Skip on `ro.build.type=userdebug`.
    pub userdebug: bool,
    /// Skip on 32-bit Arm.
    pub arm32: bool,
    /// Skip on aarch64.
    pub aarch64: bool,
    /// Skip on 32-bit x86.
    pub x86_32: bool,
    /// Skip on x86_64.
    pub x86_64: bool,
    /// Skip on riscv64.
    pub riscv64: bool,
}

impl IgnoreOn {
    /// Decodes the bit-field byte.
    pub const fn from_bits(b: u8) -> Self {
        IgnoreOn {
            eng: b & 0x01 != 0,
            user: b & 0x02 != 0,
            userdebug: b & 0x04 != 0,
            arm32: b & 0x08 != 0,
            aarch64: b & 0x10 != 0,
            x86_32: b & 0x20 != 0,
            x86_64: b & 0x40 != 0,
            riscv64: b & 0x80 != 0,
        }
    }
    /// Encodes back to the bit-field byte.
    pub const fn bits(self) -> u8 {
        (self.eng as u8)
            | (self.user as u8) << 1
            | (self.userdebug as u8) << 2
            | (self.arm32 as u8) << 3
            | (self.aarch64 as u8) << 4
            | (self.x86_32 as u8) << 5
            | (self.x86_64 as u8) << 6
            | (self.riscv64 as u8) << 7
    }
}

/// The SELinux / pin-directory domains an object may name.
///
/// `selinux_context` selects the directory a pin is *created* in (so that the
/// directory's genfscon label sticks to it), `pin_subdir` the directory it
/// ends up in. See [`crate::paths`] for the strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Domain {
    /// Not specified: the location prefix is used.
    #[default]
    Unspecified,
    /// `fs_bpf_tethering` / `tethering/`.
    Tethering,
    /// `fs_bpf_net_private` / `net_private/`.
    NetPrivate,
    /// `fs_bpf_net_shared` / `net_shared/`.
    NetShared,
    /// `fs_bpf_netd_readonly` / `netd_readonly/`.
    NetdReadonly,
    /// `fs_bpf_netd_shared` / `netd_shared/`.
    NetdShared,
    /// `fs_bpf_loader` / `loader/`.
    Loader,
    /// A string that names no domain any release knows (its text is in the
    /// definition's [`RawDomains`]). Whether it is ignored or fails the
    /// object is a rule of the release ([`crate::release`]); it never names
    /// a directory.
    Unknown,
}

/// The text of a `selinux_context` / `pin_subdir` field that names no
/// known domain ([`Domain::Unknown`]), escaped for logs; `None` otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RawDomains {
    /// `selinux_context`, when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selinux_context: Option<String>,
    /// `pin_subdir`, when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pin_subdir: Option<String>,
}

/// One record of the `maps` section (`struct bpf_map_def`), every field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MapDef {
    /// `enum bpf_map_type` as declared.
    pub map_type: u32,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Declared max entries.
    pub max_entries: u32,
    /// `map_flags`, verbatim.
    pub map_flags: u32,
    /// Offset 20, formerly `uid`; must be zero.
    pub zero: u32,
    /// Owner group of the pin.
    pub gid: u32,
    /// chmod bits of the pin.
    pub mode: u32,
    /// Minimum loader version (inclusive).
    pub bpfloader_min_ver: u32,
    /// Maximum loader version (exclusive).
    pub bpfloader_max_ver: u32,
    /// Minimum kernel version (inclusive).
    pub min_kver: Kver,
    /// Maximum kernel version (exclusive).
    pub max_kver: Kver,
    /// Domain named by `selinux_context`.
    pub selinux_context: Domain,
    /// Domain named by `pin_subdir`.
    pub pin_subdir: Domain,
    /// The text of an unknown `selinux_context` / `pin_subdir`.
    #[serde(skip_serializing_if = "RawDomains::is_empty")]
    pub raw_domains: RawDomains,
    /// Shared maps are pinned as `map__<name>` (no object name).
    pub shared: bool,
    /// `ignore_on_*` bits.
    pub ignore_on: IgnoreOn,
    /// Owner user of the pin (offset 116).
    pub uid: u32,
}

/// One record of the `progs` section (`struct bpf_prog_def`), every field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProgDef {
    /// Owner user of the pin.
    pub uid: u32,
    /// Owner group of the pin.
    pub gid: u32,
    /// Minimum kernel version (inclusive).
    pub min_kver: Kver,
    /// Maximum kernel version (exclusive).
    pub max_kver: Kver,
    /// A failure to load an optional program does not fail the object.
    pub optional: bool,
    /// `ignore_on_*` bits.
    pub ignore_on: IgnoreOn,
    /// Minimum loader version (inclusive).
    pub bpfloader_min_ver: u32,
    /// Maximum loader version (exclusive).
    pub bpfloader_max_ver: u32,
    /// Domain named by `selinux_context`.
    pub selinux_context: Domain,
    /// Domain named by `pin_subdir`.
    pub pin_subdir: Domain,
    /// The text of an unknown `selinux_context` / `pin_subdir`.
    #[serde(skip_serializing_if = "RawDomains::is_empty")]
    pub raw_domains: RawDomains,
}

/// A map: its symbol name and definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MapSpec {
    /// Symbol name in the `maps` section.
    pub name: String,
    /// The definition record.
    pub def: MapDef,
}

/// The kernel program type and expected attach type implied by a section name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ProgKind {
    /// `enum bpf_prog_type`.
    pub prog_type: u32,
    /// `enum bpf_attach_type` passed as `expected_attach_type`.
    pub expected_attach_type: u32,
}

/// A map reference to patch into an `LD_IMM64` instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MapRelocation {
    /// Index of the first half of the `LD_IMM64` instruction.
    pub insn_index: usize,
    /// Index into [`ObjectSpec::maps`].
    pub map_index: usize,
}

/// One program: one code section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProgramSpec {
    /// Raw section name, e.g. `schedcls/ingress6_clat$4_14`.
    pub section: String,
    /// Program and expected attach type from the section prefix.
    pub kind: ProgKind,
    /// Name for the kernel (`/` replaced by `_`, at most 15 bytes).
    pub kernel_name: String,
    /// Name used in the pin path: section with `/` to `_`, cut at the last `$`.
    pub pin_name: String,
    /// Name of the FUNC symbol whose `<name>_def` gave [`Self::def`].
    pub func_name: String,
    /// The definition record.
    pub def: ProgDef,
    /// Instructions, 8 bytes each, little-endian, as in the file.
    #[serde(skip)]
    pub insns: Vec<u8>,
    /// Map references to patch before loading.
    pub relocations: Vec<MapRelocation>,
}

impl ProgramSpec {
    /// Number of 8-byte instructions.
    pub fn insn_count(&self) -> usize {
        self.insns.len() / 8
    }
}

/// Everything the loader needs from one object file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectSpec {
    /// Object name used in pin paths: basename cut at the last `.`, then at
    /// the last `@` (`offload@mainline.o` → `offload`).
    pub name: String,
    /// Contents of the `license` section.
    pub license: String,
    /// Reason string of the `critical` section; `Some` makes a failure fatal.
    pub critical: Option<String>,
    /// `bpfloader_min_ver` section (inclusive), default 0.
    pub bpfloader_min_ver: u32,
    /// `bpfloader_max_ver` section (exclusive), default 0x10000.
    pub bpfloader_max_ver: u32,
    /// Declared record size of the `maps` section.
    pub size_of_bpf_map_def: usize,
    /// Declared record size of the `progs` section.
    pub size_of_bpf_prog_def: usize,
    /// Maps in `maps`-section order.
    pub maps: Vec<MapSpec>,
    /// Programs in section-header order.
    pub programs: Vec<ProgramSpec>,
    /// Oddities the reference loader tolerates (logged, not fatal), at most
    /// [`crate::parse::MAX_WARNINGS`] and a last line counting the rest.
    pub warnings: Vec<String>,
    /// Section `netbpfload_min_ver`: Android 15 skips the object on an
    /// older loader.
    pub netbpfload_min_ver: Option<u32>,
    /// Section `bpfloader_min_required_ver`: Android 15 fails the object on
    /// an older loader.
    pub bpfloader_min_required_ver: Option<u32>,
    /// Which optional sections the file has (releases differ on which are
    /// required).
    pub present: SectionsPresent,
    /// The `.BTF` section and what its fix-ups need, if the object has one.
    #[serde(skip)]
    pub btf: Option<crate::btf::BtfSource>,
    /// `Some` for a libbpf-style object ([`crate::libbpf`]): what it needs
    /// besides the common fields (which then hold their defaults: no
    /// `critical`, loader versions `[0, 0x10000)`, no Android sections).
    pub libbpf: Option<Box<LibbpfInfo>>,
}

/// What a libbpf-style object needs besides the common spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LibbpfInfo {
    /// The object's `.BTF` as `BPF_BTF_LOAD` takes it: DATASEC sizes and
    /// VAR offsets fixed up, kinds the running kernel lacks replaced
    /// (aya-obj's `fixup_and_sanitize_btf`). `None` without `.BTF`.
    #[serde(skip)]
    pub btf: Option<Vec<u8>>,
    /// Size of [`Self::btf`] (0 without).
    pub btf_size: usize,
    /// One entry per map, in [`ObjectSpec::maps`] order.
    pub maps: Vec<LibbpfMap>,
    /// CO-RE relocations applied against the kernel's BTF.
    pub core_relocations: usize,
}

/// The BTF types of one libbpf map (`__type(key, …)`, `__type(value, …)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LibbpfMap {
    /// Type id of the key in [`LibbpfInfo::btf`]; 0 if declared by size only.
    pub btf_key_type_id: u32,
    /// Type id of the value; 0 if declared by size only.
    pub btf_value_type_id: u32,
}

/// Which of the sections some releases require the object has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SectionsPresent {
    /// `bpfloader_min_ver`.
    pub bpfloader_min_ver: bool,
    /// `bpfloader_max_ver`.
    pub bpfloader_max_ver: bool,
    /// `size_of_bpf_map_def`.
    pub size_of_bpf_map_def: bool,
    /// `size_of_bpf_prog_def`.
    pub size_of_bpf_prog_def: bool,
    /// `maps`.
    pub maps: bool,
    /// `progs`.
    pub progs: bool,
    /// `.BTF`.
    pub btf: bool,
}

impl Kver {
    /// Parses a `uname -r` release such as `6.1.0-56-amd64` or `5.10.199-android13`
    /// the way the reference does (`%u.%u.%u`, missing parts are 0).
    pub fn parse_release(release: &str) -> Option<Kver> {
        let mut parts = [0u32; 3];
        let mut rest = release;
        for (i, slot) in parts.iter_mut().enumerate() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                if i == 0 {
                    return None;
                }
                break;
            }
            *slot = rest.get(..digits)?.parse().ok()?;
            rest = rest.get(digits..)?;
            match rest.strip_prefix('.') {
                Some(r) => rest = r,
                None => break,
            }
        }
        let [a, b, c] = parts;
        Some(Kver::new(
            u8::try_from(a).ok()?,
            u8::try_from(b).ok()?,
            u16::try_from(c.min(0xFFFF)).ok()?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kver_parse() {
        assert_eq!(
            Kver::parse_release("6.1.0-56-amd64"),
            Some(Kver::new(6, 1, 0))
        );
        assert_eq!(
            Kver::parse_release("5.10.199-android13"),
            Some(Kver::new(5, 10, 199))
        );
        assert_eq!(Kver::parse_release("6.18"), Some(Kver::new(6, 18, 0)));
        assert_eq!(
            Kver::parse_release("4.19.236+"),
            Some(Kver::new(4, 19, 236))
        );
        assert_eq!(Kver::parse_release("x"), None);
        assert_eq!(Kver::new(4, 14, 0).to_string(), "4.14.0");
        assert!(Kver::new(4, 14, 0) < Kver::new(4, 19, 0));
    }

    #[test]
    fn ignore_bits_round_trip() {
        for b in 0..=255u8 {
            assert_eq!(IgnoreOn::from_bits(b).bits(), b);
        }
    }
}
