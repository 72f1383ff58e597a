//! Human and JSON rendering of a parsed object: every map and program field,
//! the gates, and the pin paths the object would get under a location prefix.
//!
//! Pin paths are computed by [`crate::paths`] only, so what `inspect` shows is
//! what the engine pins.

use crate::paths;
use crate::section;
use crate::spec::{Domain, IgnoreOn, Kver, MapSpec, ObjectSpec, ProgramSpec};
use aya_obj::generated::bpf_map_type;
use serde::Serialize;
use std::fmt::Write as _;

/// Pin paths of one map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MapPins {
    /// Map name.
    pub name: String,
    /// Final pin path, relative to the bpffs root.
    pub pin: String,
    /// Temporary pin path of the pin-then-rename step, when a
    /// `selinux_context` is given.
    pub create_via: Option<String>,
}

/// Pin paths of one program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProgPins {
    /// Section name.
    pub section: String,
    /// Final pin path, relative to the bpffs root.
    pub pin: String,
    /// Temporary pin path of the pin-then-rename step, when a
    /// `selinux_context` is given.
    pub create_via: Option<String>,
}

/// Normalises a location prefix the way locations do (`tethering` → `tethering/`).
pub fn normalize_prefix(prefix: &str) -> String {
    paths::Location::new("", prefix).prefix
}

/// The pin paths of every map of `spec` under location prefix `prefix`.
pub fn map_pins(spec: &ObjectSpec, prefix: &str) -> Vec<MapPins> {
    let prefix = normalize_prefix(prefix);
    spec.maps
        .iter()
        .map(|m| MapPins {
            name: m.name.clone(),
            pin: paths::map_pin_rel(m.def.pin_subdir, &prefix, &spec.name, &m.name, m.def.shared),
            create_via: (m.def.selinux_context != Domain::Unspecified)
                .then(|| paths::tmp_map_pin_rel(m.def.selinux_context, &spec.name, &m.name)),
        })
        .collect()
}

/// The pin paths of every program of `spec` under location prefix `prefix`.
pub fn prog_pins(spec: &ObjectSpec, prefix: &str) -> Vec<ProgPins> {
    let prefix = normalize_prefix(prefix);
    spec.programs
        .iter()
        .map(|p| ProgPins {
            section: p.section.clone(),
            pin: paths::prog_pin_rel(p.def.pin_subdir, &prefix, &spec.name, &p.pin_name),
            create_via: (p.def.selinux_context != Domain::Unspecified)
                .then(|| paths::tmp_prog_pin_rel(p.def.selinux_context, &spec.name, &p.pin_name)),
        })
        .collect()
}

/// JSON form of one inspected file: the spec plus computed pin paths.
#[derive(Debug, Serialize)]
pub struct InspectJson<'a> {
    /// The file as given on the command line.
    pub file: String,
    /// Location prefix the pin paths were computed for.
    pub prefix: String,
    /// The parsed object.
    pub object: &'a ObjectSpec,
    /// Map pin paths, in map order.
    pub map_pins: Vec<MapPins>,
    /// Program pin paths, in program order.
    pub prog_pins: Vec<ProgPins>,
}

impl<'a> InspectJson<'a> {
    /// Builds the JSON view.
    pub fn new(file: &str, spec: &'a ObjectSpec, prefix: &str) -> Self {
        InspectJson {
            file: file.to_string(),
            prefix: normalize_prefix(prefix),
            object: spec,
            map_pins: map_pins(spec, prefix),
            prog_pins: prog_pins(spec, prefix),
        }
    }
}

const MAP_TYPES: &[bpf_map_type] = {
    use bpf_map_type::*;
    &[
        BPF_MAP_TYPE_UNSPEC,
        BPF_MAP_TYPE_HASH,
        BPF_MAP_TYPE_ARRAY,
        BPF_MAP_TYPE_PROG_ARRAY,
        BPF_MAP_TYPE_PERF_EVENT_ARRAY,
        BPF_MAP_TYPE_PERCPU_HASH,
        BPF_MAP_TYPE_PERCPU_ARRAY,
        BPF_MAP_TYPE_STACK_TRACE,
        BPF_MAP_TYPE_CGROUP_ARRAY,
        BPF_MAP_TYPE_LRU_HASH,
        BPF_MAP_TYPE_LRU_PERCPU_HASH,
        BPF_MAP_TYPE_LPM_TRIE,
        BPF_MAP_TYPE_ARRAY_OF_MAPS,
        BPF_MAP_TYPE_HASH_OF_MAPS,
        BPF_MAP_TYPE_DEVMAP,
        BPF_MAP_TYPE_SOCKMAP,
        BPF_MAP_TYPE_CPUMAP,
        BPF_MAP_TYPE_XSKMAP,
        BPF_MAP_TYPE_SOCKHASH,
        BPF_MAP_TYPE_CGROUP_STORAGE_DEPRECATED,
        BPF_MAP_TYPE_REUSEPORT_SOCKARRAY,
        BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE_DEPRECATED,
        BPF_MAP_TYPE_QUEUE,
        BPF_MAP_TYPE_STACK,
        BPF_MAP_TYPE_SK_STORAGE,
        BPF_MAP_TYPE_DEVMAP_HASH,
        BPF_MAP_TYPE_STRUCT_OPS,
        BPF_MAP_TYPE_RINGBUF,
        BPF_MAP_TYPE_INODE_STORAGE,
        BPF_MAP_TYPE_TASK_STORAGE,
        BPF_MAP_TYPE_BLOOM_FILTER,
        BPF_MAP_TYPE_USER_RINGBUF,
        BPF_MAP_TYPE_CGRP_STORAGE,
        BPF_MAP_TYPE_ARENA,
    ]
};

/// Name of a map type (without `BPF_MAP_TYPE_`), `?` if unknown.
pub fn map_type_name(map_type: u32) -> String {
    MAP_TYPES
        .iter()
        .find(|t| **t as u32 == map_type)
        .map(|t| {
            let n = format!("{t:?}");
            n.strip_prefix("BPF_MAP_TYPE_").unwrap_or(&n).to_string()
        })
        .unwrap_or_else(|| "?".to_string())
}

fn ver_range(min: u32, max: u32) -> String {
    format!("[{min}, {max:#x})")
}

fn kver_range(min: Kver, max: Kver) -> String {
    format!("[{min}, {max})")
}

fn ignore_on(i: IgnoreOn) -> String {
    let names = [
        (i.eng, "eng"),
        (i.user, "user"),
        (i.userdebug, "userdebug"),
        (i.arm32, "arm32"),
        (i.aarch64, "aarch64"),
        (i.x86_32, "x86_32"),
        (i.x86_64, "x86_64"),
        (i.riscv64, "riscv64"),
    ];
    let set: Vec<&str> = names.iter().filter(|(b, _)| *b).map(|(_, n)| *n).collect();
    if set.is_empty() {
        "-".to_string()
    } else {
        set.join(",")
    }
}

fn domain(d: Domain) -> &'static str {
    match d {
        Domain::Unspecified => "-",
        d => d.selinux_context(),
    }
}

fn subdir(d: Domain) -> &'static str {
    match d {
        Domain::Unspecified => "-",
        d => d.pin_subdir(),
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// Renders `spec` for humans. `file` is shown in the header line; pin paths
/// are relative to the bpffs root and computed for location prefix `prefix`.
pub fn render_text(file: &str, spec: &ObjectSpec, prefix: &str) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_text(&mut out, file, spec, prefix);
    out
}

fn write_text(out: &mut String, file: &str, spec: &ObjectSpec, prefix: &str) -> std::fmt::Result {
    let prefix = normalize_prefix(prefix);
    writeln!(out, "{file}: object {}", spec.name)?;
    writeln!(out, "  license:        {}", spec.license)?;
    match &spec.critical {
        Some(reason) => writeln!(out, "  critical:       yes ({reason})")?,
        None => writeln!(out, "  critical:       no")?,
    }
    writeln!(
        out,
        "  loader version: {}",
        ver_range(spec.bpfloader_min_ver, spec.bpfloader_max_ver)
    )?;
    writeln!(
        out,
        "  record sizes:   bpf_map_def {}, bpf_prog_def {}",
        spec.size_of_bpf_map_def, spec.size_of_bpf_prog_def
    )?;
    writeln!(out, "  prefix:         {:?}", prefix)?;

    writeln!(out, "  maps ({}):", spec.maps.len())?;
    for (m, pins) in spec.maps.iter().zip(map_pins(spec, &prefix)) {
        write_map(out, m, &pins)?;
    }
    writeln!(out, "  programs ({}):", spec.programs.len())?;
    for (p, pins) in spec.programs.iter().zip(prog_pins(spec, &prefix)) {
        write_prog(out, spec, p, &pins)?;
    }
    if !spec.warnings.is_empty() {
        writeln!(out, "  warnings ({}):", spec.warnings.len())?;
        for w in &spec.warnings {
            writeln!(out, "    {w}")?;
        }
    }
    Ok(())
}

fn write_map(out: &mut String, m: &MapSpec, pins: &MapPins) -> std::fmt::Result {
    let d = &m.def;
    writeln!(out, "    {}", m.name)?;
    writeln!(out, "      pin:            {}", pins.pin)?;
    if let Some(tmp) = &pins.create_via {
        writeln!(out, "      created as:     {tmp}")?;
    }
    writeln!(
        out,
        "      type:           {} ({})  key {}  value {}  max_entries {}  flags {:#x}",
        d.map_type,
        map_type_name(d.map_type),
        d.key_size,
        d.value_size,
        d.max_entries,
        d.map_flags
    )?;
    writeln!(
        out,
        "      owner:          uid {} gid {} mode {:04o}",
        d.uid, d.gid, d.mode
    )?;
    writeln!(
        out,
        "      selinux/subdir: {} / {}  shared: {}",
        domain(d.selinux_context),
        subdir(d.pin_subdir),
        yes_no(d.shared)
    )?;
    writeln!(
        out,
        "      gates:          loader {}  kernel {}  ignore_on {}",
        ver_range(d.bpfloader_min_ver, d.bpfloader_max_ver),
        kver_range(d.min_kver, d.max_kver),
        ignore_on(d.ignore_on)
    )
}

fn write_prog(
    out: &mut String,
    spec: &ObjectSpec,
    p: &ProgramSpec,
    pins: &ProgPins,
) -> std::fmt::Result {
    let d = &p.def;
    writeln!(out, "    {}", p.section)?;
    writeln!(out, "      pin:            {}", pins.pin)?;
    if let Some(tmp) = &pins.create_via {
        writeln!(out, "      created as:     {tmp}")?;
    }
    writeln!(
        out,
        "      type:           {} ({})  expected_attach_type {} ({})",
        p.kind.prog_type,
        section::prog_type_name(p.kind.prog_type).unwrap_or_else(|| "?".to_string()),
        p.kind.expected_attach_type,
        section::attach_type_name(p.kind.expected_attach_type).unwrap_or_else(|| "?".to_string()),
    )?;
    writeln!(
        out,
        "      names:          kernel {}  function {}  ({} insns)",
        p.kernel_name,
        p.func_name,
        p.insn_count()
    )?;
    writeln!(
        out,
        "      owner:          uid {} gid {} mode {:04o}",
        d.uid,
        d.gid,
        paths::PROG_PIN_MODE
    )?;
    writeln!(
        out,
        "      selinux/subdir: {} / {}  optional: {}",
        domain(d.selinux_context),
        subdir(d.pin_subdir),
        yes_no(d.optional)
    )?;
    writeln!(
        out,
        "      gates:          loader {}  kernel {}  ignore_on {}",
        ver_range(d.bpfloader_min_ver, d.bpfloader_max_ver),
        kver_range(d.min_kver, d.max_kver),
        ignore_on(d.ignore_on)
    )?;
    let relocs: Vec<String> = p
        .relocations
        .iter()
        .map(|r| {
            let map = spec.maps.get(r.map_index).map_or("?", |m| m.name.as_str());
            format!("{map}@{}", r.insn_index)
        })
        .collect();
    if relocs.is_empty() {
        writeln!(out, "      relocations:    -")
    } else {
        writeln!(out, "      relocations:    {}", relocs.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{MapDef, MapRelocation, ProgDef, ProgKind};

    fn spec() -> ObjectSpec {
        let map_def = MapDef {
            map_type: 1,
            key_size: 4,
            value_size: 8,
            max_entries: 16,
            map_flags: 0,
            zero: 0,
            gid: 3003,
            mode: 0o660,
            bpfloader_min_ver: 0,
            bpfloader_max_ver: 0x10000,
            min_kver: Kver(0),
            max_kver: Kver(0xFFFF_FFFF),
            selinux_context: Domain::Unspecified,
            pin_subdir: Domain::Unspecified,
            shared: false,
            ignore_on: IgnoreOn::default(),
            uid: 1000,
        };
        let prog_def = ProgDef {
            uid: 0,
            gid: 3003,
            min_kver: Kver::new(4, 14, 0),
            max_kver: Kver(0xFFFF_FFFF),
            optional: true,
            ignore_on: IgnoreOn::from_bits(0x01),
            bpfloader_min_ver: 0,
            bpfloader_max_ver: 0x10000,
            selinux_context: Domain::Loader,
            pin_subdir: Domain::NetdReadonly,
        };
        ObjectSpec {
            name: "offload".into(),
            license: "Apache 2.0".into(),
            critical: None,
            bpfloader_min_ver: 42,
            bpfloader_max_ver: 0x10000,
            size_of_bpf_map_def: 120,
            size_of_bpf_prog_def: 92,
            maps: vec![
                MapSpec {
                    name: "a_map".into(),
                    def: map_def.clone(),
                },
                MapSpec {
                    name: "s_map".into(),
                    def: MapDef {
                        shared: true,
                        pin_subdir: Domain::NetShared,
                        selinux_context: Domain::Tethering,
                        ..map_def
                    },
                },
            ],
            programs: vec![ProgramSpec {
                section: "schedcls/x$4_14".into(),
                kind: ProgKind {
                    prog_type: 3,
                    expected_attach_type: 0,
                },
                kernel_name: "schedcls_x_4_14".into(),
                pin_name: "schedcls_x".into(),
                func_name: "sched_cls_x".into(),
                def: prog_def,
                insns: vec![0; 16],
                relocations: vec![MapRelocation {
                    insn_index: 0,
                    map_index: 1,
                }],
            }],
            warnings: vec![],
            netbpfload_min_ver: None,
            bpfloader_min_required_ver: None,
            present: Default::default(),
        }
    }

    #[test]
    fn pins_follow_prefix_subdir_and_shared() {
        let s = spec();
        let maps = map_pins(&s, "tethering");
        assert_eq!(maps[0].pin, "tethering/map_offload_a_map");
        assert_eq!(maps[0].create_via, None);
        assert_eq!(maps[1].pin, "net_shared/map__s_map");
        assert_eq!(
            maps[1].create_via.as_deref(),
            Some("tethering/tmp_map_offload_s_map")
        );
        let progs = prog_pins(&s, "");
        assert_eq!(progs[0].pin, "netd_readonly/prog_offload_schedcls_x");
        assert_eq!(
            progs[0].create_via.as_deref(),
            Some("loader/tmp_prog_offload_schedcls_x")
        );
        assert_eq!(map_pins(&s, "")[0].pin, "map_offload_a_map");
    }

    #[test]
    fn text_shows_every_gate() {
        let text = render_text("x/offload.o", &spec(), "tethering/");
        for needle in [
            "x/offload.o: object offload",
            "loader version: [42, 0x10000)",
            "critical:       no",
            "pin:            tethering/map_offload_a_map",
            "1 (HASH)  key 4  value 8  max_entries 16  flags 0x0",
            "uid 1000 gid 3003 mode 0660",
            "kernel [4.14.0, inf)  ignore_on eng",
            "3 (SCHED_CLS)  expected_attach_type 0 (UNSPEC)",
            "optional: yes",
            "relocations:    s_map@0",
            "fs_bpf_loader / netd_readonly/",
        ] {
            assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
        }
    }

    #[test]
    fn json_has_spec_and_pins() {
        let s = spec();
        let v = serde_json::to_value(InspectJson::new("offload.o", &s, "tethering")).unwrap();
        assert_eq!(v["prefix"], "tethering/");
        assert_eq!(v["object"]["maps"][1]["def"]["shared"], true);
        assert_eq!(v["map_pins"][1]["pin"], "net_shared/map__s_map");
        assert_eq!(
            v["prog_pins"][0]["pin"],
            "netd_readonly/prog_offload_schedcls_x"
        );
        assert_eq!(v["object"]["programs"][0]["kind"]["prog_type"], 3);
    }

    #[test]
    fn map_type_names() {
        assert_eq!(map_type_name(25), "DEVMAP_HASH");
        assert_eq!(map_type_name(27), "RINGBUF");
        assert_eq!(map_type_name(1000), "?");
    }
}
