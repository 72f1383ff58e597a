//! `netbpfload-bench parse-scaling`: parse time and peak heap of the parser
//! on the worst-case generated objects (the `hostile` crate) at growing
//! sizes, and the 16 MiB / 1 MiB ratios. Linear parsing shows ratios near 16.
//!
//! Each (class, size) is parsed in a child process (`parse-one`) with an
//! address-space limit and a wall-clock timeout, so a quadratic or
//! amplifying parser (the one before issue 11) shows up as "timeout" or
//! "out of memory" instead of taking the machine down.

use crate::heap;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Options of `parse-scaling`.
#[derive(Debug, clap::Args)]
pub struct ScalingArgs {
    /// Target file sizes (K/M suffixes, powers of 1024).
    #[arg(long, value_delimiter = ',', default_value = "1M,4M,16M")]
    sizes: Vec<String>,
    /// Classes to run (default: every worst-case class; `hostile-gen list`).
    #[arg(long, value_delimiter = ',')]
    classes: Vec<String>,
    /// Parses per (class, size); the median and the fastest are reported
    /// (on a shared machine the fastest is the better estimate of the cost).
    #[arg(long, default_value_t = 11)]
    reps: usize,
    /// Wall-clock limit of one (class, size) child, in seconds.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Address-space limit of one child, in MiB.
    #[arg(long, default_value_t = 4096)]
    mem_limit_mb: u64,
}

/// Options of the internal `parse-one`.
#[derive(Debug, clap::Args)]
pub struct OneArgs {
    #[arg(long)]
    class: String,
    #[arg(long)]
    bytes: usize,
    #[arg(long)]
    reps: usize,
    #[arg(long)]
    mem_limit_mb: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct OneResult {
    file_len: usize,
    outcome: String,
    median_ns: u128,
    min_ns: u128,
    peak_heap: usize,
}

fn parse_size(s: &str) -> Option<usize> {
    let (num, mul) = match s.as_bytes().last()? {
        b'K' | b'k' => (s.get(..s.len() - 1)?, 1024),
        b'M' | b'm' => (s.get(..s.len() - 1)?, 1024 * 1024),
        _ => (s, 1),
    };
    num.parse::<usize>().ok()?.checked_mul(mul)
}

fn human(n: usize) -> String {
    if n >= 1 << 20 {
        format!("{:.2} MiB", n as f64 / f64::from(1 << 20))
    } else {
        format!("{:.1} KiB", n as f64 / 1024.0)
    }
}

/// The child: generate, then parse `reps` times, print one JSON line.
pub fn parse_one(a: &OneArgs) -> i32 {
    let limit = a.mem_limit_mb.saturating_mul(1 << 20);
    if let Err(e) =
        nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_AS, limit, limit)
    {
        eprintln!("parse-one: setrlimit: {e}");
        return 1;
    }
    let Some(class) = hostile::find(&a.class) else {
        eprintln!("parse-one: unknown class {}", a.class);
        return 1;
    };
    let bytes = class.generate(a.bytes);
    let file = Path::new("/bench").join(class.file_name);
    let mut times = Vec::with_capacity(a.reps);
    let mut peak = 0;
    let mut outcome = String::new();
    for _ in 0..a.reps.max(1) {
        let start = Instant::now();
        let (res, p) = heap::peak_during(|| netbpfload::parse::parse_object(&file, &bytes));
        times.push(start.elapsed().as_nanos());
        peak = peak.max(p);
        outcome = match res {
            Ok(spec) => format!("ok ({} programs)", spec.programs.len()),
            Err(e) => {
                let k = format!("{:?}", e.kind());
                k.chars().take_while(|c| c.is_alphanumeric()).collect()
            }
        };
    }
    times.sort_unstable();
    let r = OneResult {
        file_len: bytes.len(),
        outcome,
        median_ns: times.get(times.len() / 2).copied().unwrap_or_default(),
        min_ns: times.first().copied().unwrap_or_default(),
        peak_heap: peak,
    };
    match serde_json::to_string(&r) {
        Ok(s) => {
            println!("{s}");
            0
        }
        Err(e) => {
            eprintln!("parse-one: {e}");
            1
        }
    }
}

enum Run {
    Done(OneResult),
    Timeout,
    Failed(String),
}

fn run_child(class: &str, bytes: usize, a: &ScalingArgs) -> Run {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => return Run::Failed(e.to_string()),
    };
    let child = Command::new(exe)
        .args(["parse-one", "--class", class])
        .args(["--bytes", &bytes.to_string()])
        .args(["--reps", &a.reps.to_string()])
        .args(["--mem-limit-mb", &a.mem_limit_mb.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return Run::Failed(e.to_string()),
    };
    let deadline = Instant::now() + Duration::from_secs(a.timeout);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Run::Timeout;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Run::Failed(e.to_string()),
        }
    }
    let out = match child.wait_with_output() {
        Ok(o) => o,
        Err(e) => return Run::Failed(e.to_string()),
    };
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or("").to_string();
        let why = if err.contains("memory allocation") {
            format!("out of memory at the {} MiB limit", a.mem_limit_mb)
        } else {
            format!("{}: {last}", out.status)
        };
        return Run::Failed(why);
    }
    match serde_json::from_slice(&out.stdout) {
        Ok(r) => Run::Done(r),
        Err(e) => Run::Failed(format!("bad child output: {e}")),
    }
}

/// Runs the measurement and prints a markdown table.
pub fn run(a: &ScalingArgs) -> i32 {
    let mut sizes = Vec::new();
    for s in &a.sizes {
        match parse_size(s) {
            Some(n) => sizes.push(n),
            None => {
                eprintln!("parse-scaling: bad size {s:?}");
                return 2;
            }
        }
    }
    let classes: Vec<&hostile::Class> = if a.classes.is_empty() {
        hostile::CLASSES.iter().filter(|c| c.worst_case).collect()
    } else {
        let mut v = Vec::new();
        for n in &a.classes {
            match hostile::find(n) {
                Some(c) => v.push(c),
                None => {
                    eprintln!("parse-scaling: unknown class {n:?}");
                    return 2;
                }
            }
        }
        v
    };
    println!(
        "parse of generated worst-case objects: median and fastest of {} parses, peak heap \
         during the parse (input excluded); child limits {} s, {} MiB address space\n",
        a.reps, a.timeout, a.mem_limit_mb
    );
    println!(
        "| class | target | file | outcome | parse time (median) | fastest | ns per byte (fastest) | peak heap | heap / file |"
    );
    println!("|---|---|---|---|---:|---:|---:|---:|---:|");
    let mut ratios = Vec::new();
    for c in &classes {
        let mut first: Option<(usize, u128, usize)> = None;
        let mut last = None;
        for &size in &sizes {
            match run_child(c.name, size, a) {
                Run::Done(r) => {
                    println!(
                        "| {} | {} | {} | {} | {:.2} ms | {:.2} ms | {:.2} | {} | {:.2} |",
                        c.name,
                        human(size),
                        human(r.file_len),
                        r.outcome,
                        r.median_ns as f64 / 1e6,
                        r.min_ns as f64 / 1e6,
                        r.min_ns as f64 / r.file_len.max(1) as f64,
                        human(r.peak_heap),
                        r.peak_heap as f64 / r.file_len.max(1) as f64
                    );
                    let point = (r.file_len, r.min_ns, r.peak_heap);
                    first.get_or_insert(point);
                    last = Some(point);
                }
                Run::Timeout => println!(
                    "| {} | {} | - | **timeout** (> {} s) | - | - | - | - | - |",
                    c.name,
                    human(size),
                    a.timeout
                ),
                Run::Failed(why) => {
                    println!(
                        "| {} | {} | - | **{why}** | - | - | - |",
                        c.name,
                        human(size)
                    )
                }
            }
        }
        if let (Some(f), Some(l)) = (first, last) {
            if l.0 > f.0 {
                ratios.push((
                    c.name,
                    l.0 as f64 / f.0 as f64,
                    l.1 as f64 / f.1.max(1) as f64,
                    l.2 as f64 / f.2.max(1) as f64,
                ));
            }
        }
    }
    if !ratios.is_empty() {
        println!(
            "\n| class | file ratio (largest / smallest) | time ratio (fastest) | peak heap ratio |"
        );
        println!("|---|---|---|---|");
        for (name, file, time, heap) in ratios {
            println!("| {name} | {file:.1} | {time:.1} | {heap:.1} |");
        }
    }
    0
}
