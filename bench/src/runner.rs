//! The measurement loop: corpora × repetitions × loaders, each loader in a
//! fresh private bpffs, cold then warm.

use crate::bpffs::{enter_private_mount_ns, BpfMount};
use crate::child::{self, ChildRun};
use crate::children::{file_stem, object_files, split_location, ChildReport};
use crate::report::{self, CorpusResult, LoaderResult, Sample};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Options of a benchmark run.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Output directory of `bpf-progs/scale/gen.sh` (holds `scale-<M>x/`).
    #[arg(long)]
    pub scale_dir: Option<PathBuf>,
    /// Scale multipliers to run, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
    pub scales: Vec<u32>,
    /// Measure the bpf-progs corpus: every object of its default layout that
    /// is expected to load or be skipped (the deliberately broken ones are
    /// left out: a benchmark measures successful loads).
    #[arg(long)]
    pub bpf_progs: bool,
    /// An Android-only corpus: `NAME=DIR:PREFIX[,DIR:PREFIX...]` (repeatable).
    #[arg(long = "corpus")]
    pub corpora: Vec<String>,
    /// Repetitions per measurement (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub reps: usize,
    /// Repetitions for scale multipliers of 16 and more.
    #[arg(long, default_value_t = 3)]
    pub reps_large: usize,
    /// Also measure the engine's parallel mode (`LoadConfig.parallel`).
    #[arg(long)]
    pub parallel: bool,
    /// Also measure the engine with maps typed by the objects' BTF
    /// (`LoadConfig.btf`), and report what BTF adds per object.
    #[arg(long)]
    pub btf: bool,
    /// The shipped `netbpfload` binary: also measure `netbpfload load`.
    #[arg(long)]
    pub netbpfload_bin: Option<PathBuf>,
    /// A static `netbpfload` build: report the size of a stripped copy.
    #[arg(long)]
    pub static_binary: Option<PathBuf>,
    /// Skip the bpftool baseline.
    #[arg(long)]
    pub no_bpftool: bool,
    /// Skip the aya baseline.
    #[arg(long)]
    pub no_aya: bool,
    /// Skip the extra strace pass that measures bpftool's and aya's bpf() time.
    #[arg(long)]
    pub no_strace: bool,
    /// Loader version the gates see.
    #[arg(long, default_value_t = 45)]
    pub loader_ver: u32,
    /// Scratch directory (mount points, child output).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
}

/// One corpus: Android locations and, if there is one, the libbpf flavour.
#[derive(Debug, Clone)]
pub struct Corpus {
    /// Label in the table.
    pub name: String,
    /// `(dir, prefix)` of the Android-format objects.
    pub locations: Vec<(PathBuf, String)>,
    /// libbpf flavour of the same programs.
    pub libbpf: Option<PathBuf>,
    /// Scale multiplier, for generated corpora.
    pub scale: Option<u32>,
    /// Number of Android objects.
    pub objects: usize,
}

/// The loaders under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The engine, sequential.
    NblSeq,
    /// The engine, parallel.
    NblPar,
    /// The engine, sequential, maps typed with BTF.
    NblSeqBtf,
    /// The shipped binary (`netbpfload load`) in its default mode (parallel).
    NblBin,
    /// `bpftool prog loadall` per object.
    Bpftool,
    /// aya `EbpfLoader`.
    Aya,
}

impl Kind {
    /// Label in the table.
    pub fn label(self) -> &'static str {
        match self {
            Kind::NblSeq => "netbpfload (sequential)",
            Kind::NblPar => "netbpfload (parallel)",
            Kind::NblSeqBtf => "netbpfload (sequential, BTF)",
            Kind::NblBin => "netbpfload binary (default: parallel)",
            Kind::Bpftool => "bpftool prog loadall",
            Kind::Aya => "aya 0.14 EbpfLoader",
        }
    }
    /// Whether a warm re-run over existing pins is meaningful.
    pub fn has_warm(self) -> bool {
        // `bpftool prog loadall` fails with EEXIST on existing program pins
        // and has no way to reuse them.
        self != Kind::Bpftool
    }
}

struct Ctx<'a> {
    args: &'a RunArgs,
    exe: PathBuf,
    work: PathBuf,
}

/// Runs the whole benchmark and prints the report.
pub fn run(args: &RunArgs) -> Result<(), String> {
    enter_private_mount_ns().map_err(|e| e.to_string())?;
    let work = args
        .work_dir
        .clone()
        .unwrap_or_else(crate::default_work_dir);
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let ctx = Ctx { args, exe, work };

    let corpora = corpora(args, &ctx.work)?;
    if corpora.is_empty() {
        return Err("nothing to measure: give --scale-dir and/or --corpus".into());
    }
    let mut results = Vec::new();
    for c in &corpora {
        eprintln!("bench: {} ({} objects)", c.name, c.objects);
        results.push(measure_corpus(&ctx, c)?);
    }
    let binary = match &args.static_binary {
        Some(p) => Some(stripped_size(p, &ctx.work)?),
        None => None,
    };
    print!("{}", report::render(&results, binary, args));
    let _ = std::fs::remove_dir_all(&ctx.work);
    Ok(())
}

fn corpora(args: &RunArgs, work: &Path) -> Result<Vec<Corpus>, String> {
    let mut out = Vec::new();
    if args.bpf_progs {
        out.push(install_bpf_progs(&work.join("bpf-progs"))?);
    }
    for spec in &args.corpora {
        let (name, locs) = spec
            .split_once('=')
            .ok_or_else(|| format!("--corpus {spec}: expected NAME=DIR:PREFIX[,...]"))?;
        let locations: Vec<(PathBuf, String)> = locs.split(',').map(split_location).collect();
        let mut objects = 0;
        for (dir, _) in &locations {
            objects += object_files(dir)
                .map_err(|e| format!("{}: {e}", dir.display()))?
                .len();
        }
        out.push(Corpus {
            name: name.to_string(),
            locations,
            libbpf: None,
            scale: None,
            objects,
        });
    }
    if let Some(dir) = &args.scale_dir {
        for &m in &args.scales {
            let base = dir.join(format!("scale-{m}x"));
            let android = base.join("android");
            let objects = object_files(&android)
                .map_err(|e| format!("{}: {e} (run bpf-progs/scale/gen.sh)", android.display()))?
                .len();
            out.push(Corpus {
                name: format!("scale {m}x"),
                locations: vec![(android, "scale/".to_string())],
                libbpf: Some(base.join("libbpf")),
                scale: Some(m),
                objects,
            });
        }
    }
    Ok(out)
}

/// Writes the loadable objects of the bpf-progs corpus to `root/<location
/// dir>/` (files 0644, directories 0755, as on a device) and describes them.
fn install_bpf_progs(root: &Path) -> Result<Corpus, String> {
    use bpf_progs::{Kind as Expect, OBJECTS};
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let mut locations: Vec<(PathBuf, String)> = Vec::new();
    let mut objects = 0;
    for obj in OBJECTS {
        let Some(loc) = obj.location else { continue };
        if !matches!(obj.kind, Expect::Good | Expect::LoaderVersionSkipped) {
            continue;
        }
        let dir = root.join(loc.dir());
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        let file = dir.join(obj.file_name);
        std::fs::write(&file, obj.bytes).map_err(|e| format!("{}: {e}", file.display()))?;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644))
            .map_err(|e| format!("{}: {e}", file.display()))?;
        if !locations.iter().any(|(d, _)| *d == dir) {
            locations.push((dir, loc.bpffs_prefix().to_string()));
        }
        objects += 1;
    }
    Ok(Corpus {
        name: "bpf-progs corpus".into(),
        locations,
        libbpf: None,
        scale: None,
        objects,
    })
}

fn measure_corpus(ctx: &Ctx<'_>, c: &Corpus) -> Result<CorpusResult, String> {
    let args = ctx.args;
    let mut kinds = vec![Kind::NblSeq];
    if args.parallel {
        kinds.push(Kind::NblPar);
    }
    if args.btf {
        kinds.push(Kind::NblSeqBtf);
    }
    if args.netbpfload_bin.is_some() {
        kinds.push(Kind::NblBin);
    }
    if c.libbpf.is_some() && !args.no_bpftool {
        kinds.push(Kind::Bpftool);
    }
    if c.libbpf.is_some() && !args.no_aya {
        kinds.push(Kind::Aya);
    }
    let reps = if c.scale.unwrap_or(0) >= 16 {
        args.reps_large
    } else {
        args.reps
    }
    .max(1);

    let mut results: Vec<LoaderResult> = kinds.iter().map(|&k| LoaderResult::new(k)).collect();
    let mnt_path = ctx.work.join("bpffs");
    for rep in 0..reps {
        // Loaders interleaved within a repetition, so drift in machine load
        // hits them alike.
        for r in results.iter_mut() {
            let mnt = BpfMount::new(&mnt_path).map_err(|e| e.to_string())?;
            let cold = run_once(ctx, r.kind, c, &mnt, false)?;
            if rep == 0 {
                r.pins = mnt.list().map_err(|e| e.to_string())?;
                r.report = cold.1;
            }
            r.cold.push(cold.0);
            if r.kind.has_warm() {
                let warm = run_once(ctx, r.kind, c, &mnt, true)?;
                if rep == 0 {
                    let after = mnt.list().map_err(|e| e.to_string())?;
                    if after != r.pins {
                        return Err(format!(
                            "{} on {}: the warm re-run changed the pins",
                            r.kind.label(),
                            c.name
                        ));
                    }
                    r.warm_report = warm.1;
                }
                r.warm.push(warm.0);
            }
            drop(mnt);
        }
        eprintln!("bench:   {} repetition {}/{reps} done", c.name, rep + 1);
    }
    if !args.no_strace {
        for r in results
            .iter_mut()
            .filter(|r| matches!(r.kind, Kind::Bpftool | Kind::Aya | Kind::NblSeq))
        {
            let mnt = BpfMount::new(&mnt_path).map_err(|e| e.to_string())?;
            r.strace_bpf = Some(strace_bpf_time(ctx, r.kind, c, &mnt)?);
        }
    }
    let btf_prepare = if args.btf {
        Some(btf_prepare_time(c)?)
    } else {
        None
    };
    Ok(CorpusResult {
        corpus: c.clone(),
        loaders: results,
        btf_prepare,
    })
}

/// In-process cost of the pure BTF step for the corpus's objects: parse the
/// `.BTF` and fix it up (`netbpfload::btf::prepare`) and look up every map's
/// key/value types, without syscalls. Median of 51 passes over the objects
/// carrying `.BTF`; `(seconds per object, objects)`.
fn btf_prepare_time(c: &Corpus) -> Result<(f64, usize), String> {
    let mut specs = Vec::new();
    for (dir, _) in &c.locations {
        for f in object_files(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
            let bytes = std::fs::read(&f).map_err(|e| format!("{}: {e}", f.display()))?;
            let spec = netbpfload::parse::parse_object(&f, &bytes).map_err(|e| e.to_string())?;
            if spec.btf.is_some() && !spec.maps.is_empty() {
                specs.push(spec);
            }
        }
    }
    if specs.is_empty() {
        return Ok((0.0, 0));
    }
    let mut passes = Vec::new();
    for _ in 0..51 {
        let start = Instant::now();
        for spec in &specs {
            let Some(src) = &spec.btf else { continue };
            if let Ok(p) = netbpfload::btf::prepare(src) {
                for m in &spec.maps {
                    let _ = std::hint::black_box(p.map_types(
                        &m.name,
                        m.def.key_size,
                        m.def.value_size,
                    ));
                }
                std::hint::black_box(p.bytes());
            }
        }
        passes.push(start.elapsed().as_secs_f64() / specs.len() as f64);
    }
    let per_object = report::median(passes).unwrap_or(0.0);
    Ok((per_object, specs.len()))
}

/// One cold or warm run of one loader into `mnt`.
fn run_once(
    ctx: &Ctx<'_>,
    kind: Kind,
    c: &Corpus,
    mnt: &BpfMount,
    warm: bool,
) -> Result<(Sample, Option<ChildReport>), String> {
    let what = format!(
        "{} {} on {}",
        kind.label(),
        if warm { "warm" } else { "cold" },
        c.name
    );
    match kind {
        Kind::NblSeq | Kind::NblPar | Kind::NblSeqBtf | Kind::Aya => {
            let cmd = loader_command(ctx, kind, c, mnt.path())?;
            let run = run_child(ctx, cmd, &what)?;
            let rep = Some(read_report(ctx, &what)?);
            let sample = Sample {
                wall: run.wall.as_secs_f64(),
                bpf: rep
                    .as_ref()
                    .and_then(|r| r.bpf_ns)
                    .map(|ns| ns as f64 / 1e9),
                rss_kib: run.max_rss_kib,
            };
            Ok((sample, rep))
        }
        Kind::Bpftool | Kind::NblBin => {
            let cmds = if kind == Kind::Bpftool {
                bpftool_commands(c, mnt.path())?
            } else {
                make_pin_dirs(c, mnt.path())?;
                binary_commands(ctx, c, mnt.path())?
            };
            let start = Instant::now();
            let mut rss = 0;
            for cmd in cmds {
                let run = run_child(ctx, cmd, &what)?;
                rss = rss.max(run.max_rss_kib);
            }
            let sample = Sample {
                wall: start.elapsed().as_secs_f64(),
                bpf: None,
                rss_kib: rss,
            };
            Ok((sample, None))
        }
    }
}

fn loader_command(ctx: &Ctx<'_>, kind: Kind, c: &Corpus, mnt: &Path) -> Result<Command, String> {
    let mut cmd;
    match kind {
        Kind::NblSeq | Kind::NblPar | Kind::NblSeqBtf => {
            cmd = Command::new(&ctx.exe);
            cmd.arg("nbl-load")
                .arg("--bpffs")
                .arg(mnt)
                .arg("--loader-ver")
                .arg(ctx.args.loader_ver.to_string());
            for (dir, prefix) in &c.locations {
                cmd.arg("--location")
                    .arg(format!("{}:{prefix}", dir.display()));
            }
            if kind == Kind::NblPar {
                cmd.arg("--parallel");
            }
            if kind == Kind::NblSeqBtf {
                cmd.arg("--btf");
            }
        }
        Kind::NblBin | Kind::Bpftool => {
            return Err("this loader runs one command per location or object".into())
        }
        Kind::Aya => {
            let dir = c.libbpf.as_ref().ok_or("no libbpf flavour")?;
            cmd = Command::new(&ctx.exe);
            cmd.arg("aya-load")
                .arg("--pin-root")
                .arg(mnt.join("aya"))
                .arg("--dir")
                .arg(dir);
        }
    }
    Ok(cmd)
}

/// The pin directories the boot flow creates before loading (`netbpfload
/// load` expects them), untimed.
fn make_pin_dirs(c: &Corpus, mnt: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let dirs = netbpfload::paths::created_subdirs(netbpfload::release::Release::V.rules())
        .into_iter()
        .map(str::to_string)
        .chain(
            c.locations
                .iter()
                .map(|(_, p)| p.trim_end_matches('/').to_string()),
        );
    for d in dirs.filter(|d| !d.is_empty()) {
        let path = mnt.join(d);
        if path.is_dir() {
            continue;
        }
        std::fs::create_dir(&path)
            .and_then(|()| {
                std::fs::set_permissions(
                    &path,
                    std::fs::Permissions::from_mode(netbpfload::paths::PIN_DIR_MODE),
                )
            })
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// `netbpfload load --location DIR --prefix P ...` once per location, the
/// shipped binary as a device would run it (its boot flow loads the
/// locations one after the other the same way).
fn binary_commands(ctx: &Ctx<'_>, c: &Corpus, mnt: &Path) -> Result<Vec<Command>, String> {
    let bin = ctx
        .args
        .netbpfload_bin
        .as_ref()
        .ok_or("no --netbpfload-bin")?;
    let mut out = Vec::new();
    for (dir, prefix) in &c.locations {
        let mut cmd = Command::new(bin);
        cmd.arg("load")
            .arg("--bpffs")
            .arg(mnt)
            .arg("--prefix")
            .arg(prefix)
            .arg("--location")
            .arg(dir)
            .arg("--loader-ver")
            .arg(ctx.args.loader_ver.to_string())
            // Keep the host's kernel log clean.
            .arg("--kmsg")
            .arg("/dev/null");
        out.push(cmd);
    }
    Ok(out)
}

/// `bpftool -n prog loadall OBJ <mnt>/bpftool/<obj>/prog pinmaps <mnt>/bpftool/<obj>/map`
/// for every object (`-n`: never mount anything).
fn bpftool_commands(c: &Corpus, mnt: &Path) -> Result<Vec<Command>, String> {
    let dir = c.libbpf.as_ref().ok_or("no libbpf flavour")?;
    let files = object_files(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        let base = mnt.join("bpftool").join(file_stem(&f));
        // libbpf creates neither directory's parent chain.
        for d in ["prog", "map"] {
            std::fs::create_dir_all(base.join(d))
                .map_err(|e| format!("{}: {e}", base.display()))?;
        }
        let mut cmd = Command::new("bpftool");
        cmd.args(["-n", "prog", "loadall"])
            .arg(&f)
            .arg(base.join("prog"))
            .arg("pinmaps")
            .arg(base.join("map"));
        out.push(cmd);
    }
    Ok(out)
}

fn run_child(ctx: &Ctx<'_>, cmd: Command, what: &str) -> Result<ChildRun, String> {
    let out = ctx.work.join("child.out");
    let err = ctx.work.join("child.err");
    let run = child::run(cmd, &out, &err).map_err(|e| format!("{what}: {e}"))?;
    if run.code != Some(0) {
        let stderr = std::fs::read_to_string(&err).unwrap_or_default();
        let stdout = std::fs::read_to_string(&out).unwrap_or_default();
        return Err(format!(
            "{what}: exit {:?}\n{}\n{}",
            run.code,
            tail(&stdout, 2000),
            tail(&stderr, 2000)
        ));
    }
    Ok(run)
}

fn read_report(ctx: &Ctx<'_>, what: &str) -> Result<ChildReport, String> {
    let out = std::fs::read_to_string(ctx.work.join("child.out")).map_err(|e| e.to_string())?;
    serde_json::from_str(out.trim()).map_err(|e| format!("{what}: bad child report: {e}"))
}

fn tail(s: &str, n: usize) -> &str {
    let start = s.len().saturating_sub(n);
    let start = (start..s.len())
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(s.len());
    s.get(start..).unwrap_or("")
}

/// One cold run under `strace -f -T -e trace=bpf`; the summed `<seconds>`
/// of every bpf() call. Separate from the timed runs: tracing slows the
/// tracee, so only the in-syscall sum is used from it.
fn strace_bpf_time(ctx: &Ctx<'_>, kind: Kind, c: &Corpus, mnt: &BpfMount) -> Result<f64, String> {
    let log = ctx.work.join("strace.log");
    let _ = std::fs::remove_file(&log);
    let what = format!("strace pass of {} on {}", kind.label(), c.name);
    let cmds: Vec<Command> = match kind {
        Kind::Bpftool => bpftool_commands(c, mnt.path())?,
        Kind::NblBin => binary_commands(ctx, c, mnt.path())?,
        _ => vec![loader_command(ctx, kind, c, mnt.path())?],
    };
    for inner in cmds {
        let mut cmd = Command::new("strace");
        cmd.args(["-f", "-A", "-T", "-qq", "-e", "trace=bpf", "-o"])
            .arg(&log)
            .arg(inner.get_program())
            .args(inner.get_args());
        run_child(ctx, cmd, &what)?;
    }
    let text = std::fs::read_to_string(&log).map_err(|e| format!("{what}: {e}"))?;
    Ok(sum_strace_times(&text))
}

/// Sums the trailing `<0.000123>` of every line of an `strace -T` log.
pub fn sum_strace_times(text: &str) -> f64 {
    text.lines()
        .filter_map(|l| {
            let l = l.trim_end();
            let open = l.rfind('<')?;
            l.strip_suffix('>')?.get(open + 1..)?.parse::<f64>().ok()
        })
        .sum()
}

/// Size of a stripped copy of `bin`, in bytes.
fn stripped_size(bin: &Path, work: &Path) -> Result<u64, String> {
    let copy = work.join("netbpfload.stripped");
    std::fs::copy(bin, &copy).map_err(|e| format!("{}: {e}", bin.display()))?;
    let status = Command::new("strip")
        .arg(&copy)
        .status()
        .map_err(|e| format!("strip: {e}"))?;
    if !status.success() {
        return Err(format!("strip {}: {status}", copy.display()));
    }
    let len = std::fs::metadata(&copy).map_err(|e| e.to_string())?.len();
    let _ = std::fs::remove_file(&copy);
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::sum_strace_times;

    #[test]
    fn strace_times_are_summed_and_noise_ignored() {
        let log =
            "123 bpf(BPF_MAP_CREATE, {map_type=BPF_MAP_TYPE_ARRAY, ...}, 72) = 3 <0.000250>\n\
                   123 bpf(BPF_PROG_LOAD, {...}, 148 <unfinished ...>\n\
                   124 +++ exited with 0 +++\n\
                   123 <... bpf resumed>) = 4 <0.001750>\n";
        assert!((sum_strace_times(log) - 0.002).abs() < 1e-9);
    }
}
