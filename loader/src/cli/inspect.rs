//! `netbpfload inspect [-j|-p] [--prefix P] FILE...`: print what the parser
//! sees and what loading each object would do under a release, loader
//! version, kernel and build type (by default: Android 15's rules as root on
//! the running kernel). A file that fails to read or parse is reported on
//! stderr as `FILE: error`; the others are still shown, and the exit status
//! is 1 if any failed.

use super::args::GlobalArgs;
use super::output::OutputArgs;
use netbpfload::engine::MAX_OBJECT_SIZE;
use netbpfload::gate::{Arch, BuildType, GateEnv};
use netbpfload::inspect::{render_text, InspectJson};
use netbpfload::paths::Location;
use netbpfload::plan::{plan_object, OnChange, PlanEnv};
use netbpfload::release::{Host, Release, Role, API_25Q2, API_V};
use netbpfload::report::SCHEMA_VERSION;
use netbpfload::spec::Kver;
use netbpfload::sys::linux::LinuxSys;
use netbpfload::sys::{Files, Process};
use std::io::Write as _;
use std::path::PathBuf;

/// The global options `inspect` honours.
pub const HONOURED: &[&str] = &[
    "release",
    "api_level",
    "build_type",
    "verbose",
    "map_memory_max_mib",
];

/// Arguments of `inspect`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    #[command(flatten)]
    out: OutputArgs,
    /// Location prefix the pin paths are computed for (e.g. `tethering/`).
    #[arg(long, default_value = "")]
    prefix: String,
    /// Plan with the rules of the mainline or the platform loader.
    #[arg(long, default_value = "mainline", value_parser = parse_role)]
    role: Role,
    /// Kernel version the gates see [default: the running kernel].
    #[arg(long, value_name = "X.Y.Z")]
    kernel: Option<String>,
    /// Loader version the gates see [default: the release's, as root].
    #[arg(long, value_name = "N")]
    loader_ver: Option<u32>,
    /// Architecture the `ignore_on_*` gates see [default: this machine's].
    #[arg(long, value_name = "MACHINE")]
    machine: Option<String>,
    /// The kernel's BTF, for CO-RE relocations of libbpf-style objects.
    #[arg(long, value_name = "FILE", default_value = netbpfload::libbpf::DEFAULT_KERNEL_BTF)]
    kernel_btf: PathBuf,
    /// Plan as `load --replace` would: a pinned program that differs from
    /// the object's is replaced.
    #[arg(long)]
    replace: bool,
    /// Object files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// Reads one object file as the loader does ([`Files::read_file`]: a
/// regular file, final symlink not followed, never blocking, at most
/// [`MAX_OBJECT_SIZE`] bytes), with the refusal said in words.
fn read_object(sys: &LinuxSys, file: &std::path::Path) -> Result<Vec<u8>, String> {
    let name = file.display();
    match sys.read_file(file, MAX_OBJECT_SIZE) {
        Ok((bytes, _)) => Ok(bytes),
        Err(e) if e.is(libc::ELOOP) => Err(format!("{name}: is a symbolic link (not followed)")),
        Err(e) if e.is(libc::EFBIG) => Err(format!(
            "{name}: larger than the {MAX_OBJECT_SIZE}-byte limit the loader reads"
        )),
        Err(e) if e.is(libc::EINVAL) => match sys.lstat(file) {
            Ok(st) if !st.is_file() => Err(format!(
                "{name}: is a {}, not a regular file",
                st.kind_name()
            )),
            _ => Err(e.to_string()),
        },
        Err(e) => Err(e.to_string()),
    }
}

fn parse_role(s: &str) -> Result<Role, String> {
    match s {
        "mainline" => Ok(Role::Mainline),
        "platform" => Ok(Role::Platform),
        _ => Err(format!("`{s}` is not one of mainline, platform")),
    }
}

/// Runs `inspect`; returns the exit status.
pub fn run(a: InspectArgs, g: &GlobalArgs) -> i32 {
    netbpfload::logging::init_stderr(None, g.verbose);
    let sys = LinuxSys::new();
    let (release, machine) = sys
        .uname()
        .unwrap_or_else(|_| ("0.0.0".to_string(), String::new()));
    let kver_text = a.kernel.clone().unwrap_or(release);
    let Some(kver) = Kver::parse_release(&kver_text) else {
        eprintln!("netbpfload inspect: cannot parse kernel version {kver_text:?}");
        return super::EXIT_USAGE;
    };
    let rel = g.release.unwrap_or(Release::V);
    let api = g.api_level.unwrap_or(match rel {
        Release::V => API_V,
        Release::R25Q2 => API_25Q2,
    });
    let gate = GateEnv {
        loader_ver: a
            .loader_ver
            .unwrap_or_else(|| rel.loader_version(api, true)),
        kver,
        build_type: g.build_type.unwrap_or(BuildType::Userdebug),
        arch: Arch::from_uname_machine(a.machine.as_deref().unwrap_or(&machine)),
    };
    let location = Location::new("", &a.prefix);
    let env = PlanEnv {
        rules: rel.rules().role_on(a.role, Host::current()),
        gate,
        location: &location,
        page_size: sys.page_size().unwrap_or(4096),
        map_bytes: super::args::map_bytes(g, sys.machine().ok()),
        tmp_tag: "PID_N",
        on_change: if a.replace {
            OnChange::Replace
        } else {
            OnChange::Keep
        },
    };
    let mut errors = Vec::new();
    let mut objects = Vec::new();
    let kernel_btf = netbpfload::libbpf::KernelBtf::new(&a.kernel_btf);
    let target = || {
        kernel_btf.get(|path| {
            sys.read_file(path, netbpfload::libbpf::MAX_KERNEL_BTF_SIZE)
                .map(|(bytes, _)| bytes)
                .map_err(|e| e.to_string())
        })
    };
    let parse_env = netbpfload::object::ParseEnv {
        kver,
        records: env.rules.record_sizes.records(),
        kernel_btf: &target,
        libbpf: env.rules.libbpf,
    };
    for file in &a.files {
        let parsed = read_object(&sys, file).and_then(|bytes| {
            netbpfload::object::parse(file, &bytes, &parse_env).map_err(|e| e.to_string())
        });
        match parsed {
            Ok(spec) => {
                let plan = plan_object(&spec, &env);
                objects.push((file.display().to_string(), spec, plan));
            }
            Err(e) => {
                eprintln!("{e}");
                errors.push(FileError {
                    file: netbpfload::report::path(file),
                    message: e,
                });
            }
        }
    }

    let mut stdout = std::io::stdout().lock();
    let written = if a.out.is_json() {
        let doc = Doc {
            schema_version: SCHEMA_VERSION,
            command: "inspect",
            release: rel,
            role: a.role,
            loader_version: gate.loader_ver,
            kernel: netbpfload::report::kver(kver),
            build_type: gate.build_type,
            arch: gate.arch,
            prefix: &location.prefix,
            objects: objects
                .iter()
                .map(|(file, spec, plan)| InspectJson::new(file, spec, plan))
                .collect(),
            errors: &errors,
        };
        a.out.write_json(&mut stdout, &doc)
    } else {
        objects
            .iter()
            .enumerate()
            .try_for_each(|(i, (file, spec, plan))| {
                if i > 0 {
                    writeln!(stdout)?;
                }
                write!(stdout, "{}", render_text(file, spec, &env, plan))
            })
    };
    if let Err(e) = written {
        eprintln!("inspect: writing output: {e}");
        return 1;
    }
    i32::from(!errors.is_empty())
}

/// A file that could not be read or parsed.
#[derive(Debug, serde::Serialize)]
struct FileError {
    file: String,
    message: String,
}

/// `inspect --json`.
#[derive(serde::Serialize)]
struct Doc<'a> {
    schema_version: u32,
    command: &'static str,
    release: Release,
    role: Role,
    loader_version: u32,
    kernel: String,
    build_type: netbpfload::gate::BuildType,
    arch: netbpfload::gate::Arch,
    prefix: &'a str,
    objects: Vec<InspectJson<'a>>,
    errors: &'a [FileError],
}
