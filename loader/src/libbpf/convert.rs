//! The whole parse: checks, the rewritten copy, aya-obj's steps (CO-RE,
//! maps, calls, BTF fix-up), and the conversion into an [`ObjectSpec`].

use super::btfext;
use super::btfview::{self, View};
use super::elf::{self, Class, LD_IMM64};
use super::{calls, rewrite, target, LibbpfErrorKind as E, ParseEnv};
use crate::paths;
use crate::spec::{Domain, Kver as K};
use crate::spec::{
    IgnoreOn, Kver, LibbpfInfo, LibbpfMap, MapDef, MapRelocation, MapSpec, ObjectSpec, ProgDef,
    ProgramSpec, SectionsPresent, DEFAULT_BPFLOADER_MAX_VER, DEFAULT_BPFLOADER_MIN_VER,
    DEFAULT_MAX_KVER,
};
use aya_obj::btf::BtfFeatures;
use aya_obj::generated::BPF_PSEUDO_MAP_FD;
use aya_obj::Map;
use std::collections::HashSet;
use std::path::Path;

/// Mode of a new map pin: read-write for its owner only, which is what
/// the kernel gives a pin by default (`BPF_OBJ_PIN` creates it `0600`
/// less the umask) and what bpftool and libbpf loaders leave.
pub const MAP_PIN_MODE: u32 = 0o600;
/// Owner and group of new pins: root (the loader's), as bpftool and
/// libbpf loaders leave them.
pub const PIN_OWNER: u32 = 0;

/// The BTF kinds `kver` takes, as aya-obj's feature flags (by the kernel
/// version that added each; a backported kernel just gets a more
/// conservative BTF).
fn features(kver: Kver) -> BtfFeatures {
    let at = |a, b| kver >= K::new(a, b, 0);
    BtfFeatures::new(
        at(5, 0),  // FUNC, FUNC_PROTO
        at(5, 6),  // global FUNC linkage
        at(5, 2),  // VAR, DATASEC
        at(5, 12), // zero-sized DATASEC
        at(5, 13), // FLOAT
        at(5, 16), // DECL_TAG
        at(5, 17), // TYPE_TAG
        at(6, 0),  // ENUM64
    )
}

fn aya(stage: &'static str) -> impl Fn(&dyn std::error::Error) -> E {
    move |e| E::Aya {
        stage,
        message: super::chain(e),
    }
}

/// The default definition of a libbpf map (no gates, root, 0600).
fn map_def(m: &Map) -> MapDef {
    MapDef {
        map_type: m.map_type(),
        key_size: m.key_size(),
        value_size: m.value_size(),
        max_entries: m.max_entries(),
        map_flags: m.map_flags(),
        zero: 0,
        gid: PIN_OWNER,
        mode: MAP_PIN_MODE,
        bpfloader_min_ver: DEFAULT_BPFLOADER_MIN_VER,
        bpfloader_max_ver: DEFAULT_BPFLOADER_MAX_VER,
        min_kver: Kver(0),
        max_kver: Kver(DEFAULT_MAX_KVER),
        selinux_context: Domain::Unspecified,
        pin_subdir: Domain::Unspecified,
        raw_domains: Default::default(),
        shared: false,
        ignore_on: IgnoreOn::default(),
        uid: PIN_OWNER,
    }
}

/// The default definition of a libbpf program (no gates, mandatory, root).
fn prog_def() -> ProgDef {
    ProgDef {
        uid: PIN_OWNER,
        gid: PIN_OWNER,
        min_kver: Kver(0),
        max_kver: Kver(DEFAULT_MAX_KVER),
        optional: false,
        ignore_on: IgnoreOn::default(),
        bpfloader_min_ver: DEFAULT_BPFLOADER_MIN_VER,
        bpfloader_max_ver: DEFAULT_BPFLOADER_MAX_VER,
        selinux_context: Domain::Unspecified,
        pin_subdir: Domain::Unspecified,
        raw_domains: Default::default(),
    }
}

/// Instructions as the kernel takes them (8 bytes each, little-endian).
fn encode(insns: &[aya_obj::generated::bpf_insn]) -> Vec<u8> {
    let mut out = Vec::with_capacity(insns.len().saturating_mul(8));
    for i in insns {
        out.push(i.code);
        out.push((i.dst_reg() & 0x0f) | (i.src_reg() << 4));
        out.extend_from_slice(&i.off.to_le_bytes());
        out.extend_from_slice(&i.imm.to_le_bytes());
    }
    out
}

/// Finds the map references aya-obj patched (`src_reg` 1, `imm` = the map's
/// index, see [`parse`]) and clears them: the engine patches the real fds.
fn map_relocations(insns: &mut [u8], maps: usize) -> Result<Vec<MapRelocation>, String> {
    let mut out = Vec::new();
    let n = insns.len() / 8;
    let mut i = 0;
    while i < n {
        let at = i.saturating_mul(8);
        let Some(insn) = insns.get_mut(at..at.saturating_add(8)) else {
            break;
        };
        if insn.first() == Some(&LD_IMM64) {
            let src = insn.get(1).map_or(0, |r| r >> 4);
            if src == BPF_PSEUDO_MAP_FD as u8 {
                let imm = insn
                    .get(4..8)
                    .and_then(|w| <[u8; 4]>::try_from(w).ok())
                    .map_or(-1, i32::from_le_bytes);
                let map_index = usize::try_from(imm)
                    .ok()
                    .filter(|&m| m < maps)
                    .ok_or_else(|| format!("instruction {i}: map reference {imm} is no map"))?;
                if let Some(r) = insn.get_mut(1) {
                    *r &= 0x0f;
                }
                if let Some(w) = insn.get_mut(4..8) {
                    w.copy_from_slice(&[0; 4]);
                }
                out.push(MapRelocation {
                    insn_index: i,
                    map_index,
                });
            }
            i = i.saturating_add(2);
        } else {
            i = i.saturating_add(1);
        }
    }
    Ok(out)
}

pub(super) fn parse(file: &Path, bytes: &[u8], env: &ParseEnv<'_>) -> Result<ObjectSpec, E> {
    if bytes.len() > super::MAX_OBJECT_SIZE {
        return Err(E::TooMany {
            what: "bytes in a libbpf-style object",
            count: bytes.len(),
            max: super::MAX_OBJECT_SIZE,
        });
    }
    let scan = elf::scan(bytes)?;

    let license_data = scan
        .license
        .and_then(|i| scan.sections.get(i))
        .ok_or(E::MissingLicense)?
        .data;
    let license = std::ffi::CStr::from_bytes_with_nul(license_data)
        .ok()
        .and_then(|c| c.to_str().ok())
        .filter(|l| !l.is_empty())
        .ok_or(E::BadLicense)?
        .to_string();

    // The object's BTF and CO-RE records, checked.
    let btf_data = scan.btf.and_then(|i| scan.sections.get(i)).map(|s| s.data);
    let local = btf_data.map(View::parse).transpose().map_err(E::Btf)?;
    let local_checked = local
        .as_ref()
        .map(btfview::check)
        .transpose()
        .map_err(E::Btf)?;
    if local.is_none() && (scan.maps.is_some() || scan.btf_ext.is_some()) {
        return Err(E::Btf(
            "missing: BTF-defined maps and .BTF.ext need the object's .BTF".into(),
        ));
    }
    let ext = match (scan.btf_ext.and_then(|i| scan.sections.get(i)), &local) {
        (Some(s), Some(v)) => Some(btfext::parse(s.data, v).map_err(E::BtfExt)?),
        _ => None,
    };
    let uses = match (&ext, &local) {
        (Some(e), Some(v)) if e.count() > 0 => btfext::check_local(e, v, &scan)?,
        _ => Vec::new(),
    };
    let target = if uses.is_empty() {
        None
    } else {
        let t = env.target.ok_or_else(|| {
            E::KernelBtf(target::KernelBtfError {
                path: target::DEFAULT_KERNEL_BTF.into(),
                reason: "needed for CO-RE relocations, and not available".into(),
            })
        })?;
        if let (Some(v), Some(c)) = (&local, &local_checked) {
            target::check_core(t, v, c, &uses, |s| scan.section_name(s).to_string())?;
        }
        Some(t)
    };
    calls::check(&scan)?;

    // aya-obj.
    let copy = rewrite::rewrite(bytes, &scan, local.as_ref(), ext.as_ref())?;
    let mut obj = aya_obj::Object::parse(&copy).map_err(|e| aya("parse")(&e))?;
    if let Some(t) = target {
        obj.relocate_btf(&t.aya).map_err(|e| aya("CO-RE")(&e))?;
    }

    // Maps, in `.maps` order.
    let mut aya_maps: std::collections::HashMap<String, Map> = obj.maps.drain().collect();
    let mut maps = Vec::with_capacity(scan.map_symbols.len());
    let mut libbpf_maps = Vec::with_capacity(scan.map_symbols.len());
    let mut ordered: Vec<(String, Map)> = Vec::with_capacity(scan.map_symbols.len());
    for &sym in &scan.map_symbols {
        let name = scan.symbol_name(sym).to_string();
        let err = |reason: &str| E::Map {
            map: name.clone(),
            reason: reason.to_string(),
        };
        let m = aya_maps
            .remove(&name)
            .ok_or_else(|| err("a .maps symbol without a BTF map definition"))?;
        let Map::Btf(b) = &m else {
            return Err(err("not a BTF-defined map"));
        };
        if m.symbol_index() != Some(sym) {
            return Err(err("its BTF definition names another symbol"));
        }
        if m.inner().is_some() {
            return Err(err("map-in-map (`values`) is not supported"));
        }
        if m.map_extra() != 0 {
            return Err(err("map_extra is not supported"));
        }
        maps.push(MapSpec {
            name: name.clone(),
            def: map_def(&m),
        });
        libbpf_maps.push(LibbpfMap {
            btf_key_type_id: b.def.btf_key_type_id,
            btf_value_type_id: b.def.btf_value_type_id,
        });
        ordered.push((name, m));
    }
    if let Some(name) = aya_maps.keys().next() {
        return Err(E::Map {
            map: name.clone(),
            reason: "defined in BTF but without a symbol in .maps".into(),
        });
    }

    // Map references (each map's index stands for its fd), then calls.
    let text_sections: HashSet<usize> = obj.functions.keys().map(|(s, _)| *s).collect();
    let fake_fds: Vec<i32> = (0..ordered.len())
        .map(|i| i32::try_from(i).unwrap_or(i32::MAX))
        .collect();
    obj.relocate_maps(
        ordered
            .iter()
            .zip(&fake_fds)
            .map(|((name, m), fd)| (name.as_str(), *fd, m)),
        &text_sections,
    )
    .map_err(|e| aya("map relocation")(&e))?;
    obj.relocate_calls(&text_sections)
        .map_err(|e| aya("call linking")(&e))?;

    // The BTF the kernel gets.
    let btf = obj
        .fixup_and_sanitize_btf(&features(env.kver))
        .map_err(|e| aya("BTF fix-up")(&e))?
        .map(|b| b.to_bytes());
    if btf
        .as_ref()
        .is_some_and(|b| b.len() > crate::btf::MAX_BTF_SIZE)
    {
        return Err(E::Btf("too large after the fix-up".into()));
    }

    // Programs, in section and address order.
    let mut programs = Vec::new();
    for f in scan.functions.iter().filter(|f| f.program) {
        let name = scan.symbol_name(f.symbol).to_string();
        let section = scan.sections.get(f.section);
        let (Some(sec), Some(Class::Program(kind))) = (section, section.map(|s| s.class)) else {
            continue;
        };
        let func = obj
            .functions
            .get(&(f.section, f.address))
            .ok_or_else(|| E::Program {
                program: name.clone(),
                reason: "aya-obj did not read it".into(),
            })?;
        let mut insns = encode(&func.instructions);
        let relocations = map_relocations(&mut insns, maps.len()).map_err(|reason| E::Program {
            program: name.clone(),
            reason,
        })?;
        programs.push(ProgramSpec {
            // Several programs may share a section: both name it.
            section: format!("{}:{name}", sec.name),
            kind,
            kernel_name: paths::kernel_object_name(&name),
            pin_name: name.clone(),
            func_name: name,
            def: prog_def(),
            insns,
            relocations,
        });
    }

    Ok(ObjectSpec {
        name: paths::object_name(file),
        license,
        critical: None,
        bpfloader_min_ver: DEFAULT_BPFLOADER_MIN_VER,
        bpfloader_max_ver: DEFAULT_BPFLOADER_MAX_VER,
        size_of_bpf_map_def: 0,
        size_of_bpf_prog_def: 0,
        maps,
        programs,
        warnings: Vec::new(),
        netbpfload_min_ver: None,
        bpfloader_min_required_ver: None,
        present: SectionsPresent {
            btf: scan.btf.is_some(),
            ..SectionsPresent::default()
        },
        btf: None,
        libbpf: Some(Box::new(LibbpfInfo {
            btf_size: btf.as_ref().map_or(0, Vec::len),
            btf,
            maps: libbpf_maps,
            core_relocations: uses.len(),
        })),
    })
}
