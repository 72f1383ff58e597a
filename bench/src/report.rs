//! Medians, ratios and the markdown report, including the targets.

use crate::children::ChildReport;
use crate::runner::{Corpus, Kind, RunArgs};
use std::fmt::Write;

/// One measured run.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Wall time, seconds.
    pub wall: f64,
    /// Time inside bpf(), seconds, when the loader measured it.
    pub bpf: Option<f64>,
    /// Peak RSS, KiB.
    pub rss_kib: u64,
}

/// All runs of one loader on one corpus.
#[derive(Debug)]
pub struct LoaderResult {
    /// Which loader.
    pub kind: Kind,
    /// Cold runs.
    pub cold: Vec<Sample>,
    /// Warm runs.
    pub warm: Vec<Sample>,
    /// Entries of the bpffs after the first cold run.
    pub pins: Vec<String>,
    /// The first cold run's report.
    pub report: Option<ChildReport>,
    /// The first warm run's report.
    pub warm_report: Option<ChildReport>,
    /// bpf() time of one cold run under strace, seconds.
    pub strace_bpf: Option<f64>,
}

impl LoaderResult {
    /// Empty result for `kind`.
    pub fn new(kind: Kind) -> Self {
        LoaderResult {
            kind,
            cold: Vec::new(),
            warm: Vec::new(),
            pins: Vec::new(),
            report: None,
            warm_report: None,
            strace_bpf: None,
        }
    }
}

/// All loaders on one corpus.
#[derive(Debug)]
pub struct CorpusResult {
    /// The corpus.
    pub corpus: Corpus,
    /// One entry per loader.
    pub loaders: Vec<LoaderResult>,
    /// With `--btf`: the pure BTF step (parse, fix-up, per-map lookups)
    /// in seconds per object, and the number of objects it covers.
    pub btf_prepare: Option<(f64, usize)>,
}

/// Median of `v` (mean of the middle two for even lengths); `None` if empty.
pub fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let mid = n / 2;
    let hi = *v.get(mid)?;
    if n % 2 == 1 {
        Some(hi)
    } else {
        Some((*v.get(mid - 1)? + hi) / 2.0)
    }
}

/// Medians of one set of samples.
#[derive(Debug, Clone, Copy)]
struct Med {
    wall: f64,
    bpf: Option<f64>,
    rss_kib: f64,
}

fn med(s: &[Sample]) -> Option<Med> {
    Some(Med {
        wall: median(s.iter().map(|x| x.wall).collect())?,
        bpf: median(s.iter().filter_map(|x| x.bpf).collect()),
        rss_kib: median(s.iter().map(|x| x.rss_kib as f64).collect())?,
    })
}

const MIB: f64 = 1024.0 * 1024.0;

/// Target thresholds from the issue.
const OVERHEAD_MAX: f64 = 0.05;
const VS_BPFTOOL_MAX: f64 = 0.5;
const WARM_MAX: f64 = 0.10;
const PARALLEL_MAX: f64 = 0.65;
const RSS_MAX_MIB: f64 = 8.0;
const BINARY_MAX_MIB: f64 = 2.0;
/// Per-program cost at the largest scale may be at most this times the 1x cost.
const LINEAR_MAX: f64 = 1.3;

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

fn ms(s: f64) -> String {
    format!("{:.1}", s * 1e3)
}

fn find(c: &CorpusResult, k: Kind) -> Option<&LoaderResult> {
    c.loaders.iter().find(|l| l.kind == k)
}

/// Renders the whole report.
pub fn render(results: &[CorpusResult], binary: Option<u64>, args: &RunArgs) -> String {
    let mut o = String::new();
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let _ = writeln!(
        o,
        "# netbpfload boot-path benchmark\n\nKernel {}, {cpus} CPUs. Medians of {} runs ({} at 16x and above). \
         Cold: fresh private bpffs. Warm: re-run over the pins the cold run left.\n",
        release.trim(),
        args.reps,
        args.reps_large
    );
    let _ = writeln!(
        o,
        "`in bpf()`: time inside bpf(2) (verifier, JIT, map allocation, pin/get/info): \
         for netbpfload summed by a timing `Sys` decorator; for bpftool and aya (marked *) \
         from one separate run under `strace -f -T -e trace=bpf`, which inflates it somewhat. \
         Overhead = wall - in bpf(). Wall time is fork to reap of the loader process(es), \
         so exec and start-up count.\n"
    );
    for c in results {
        render_corpus(&mut o, c);
    }
    render_targets(&mut o, results, binary);
    o
}

fn render_corpus(o: &mut String, c: &CorpusResult) {
    let progs = find(c, Kind::NblSeq)
        .and_then(|l| l.report.as_ref())
        .map(|r| format!(", {} programs and {} maps pinned", r.progs, r.maps))
        .unwrap_or_default();
    let _ = writeln!(
        o,
        "## {} ({} objects{progs})\n",
        c.corpus.name, c.corpus.objects
    );
    let _ = writeln!(
        o,
        "| loader | mode | wall ms | in bpf() ms | overhead ms | overhead % | peak RSS MiB | wall / bpftool cold | warm / cold |"
    );
    let _ = writeln!(o, "|---|---|---:|---:|---:|---:|---:|---:|---:|");
    let bpftool_cold = find(c, Kind::Bpftool)
        .and_then(|l| med(&l.cold))
        .map(|m| m.wall);
    for l in &c.loaders {
        let Some(cold) = med(&l.cold) else { continue };
        for (mode, m) in [("cold", Some(cold)), ("warm", med(&l.warm))] {
            let Some(m) = m else { continue };
            let (bpf, star) = match (m.bpf, mode, l.strace_bpf) {
                (Some(b), _, _) => (Some(b), ""),
                (None, "cold", Some(s)) => (Some(s), "*"),
                _ => (None, ""),
            };
            let bpf_s = bpf.map_or("n/a".into(), |b| format!("{}{star}", ms(b)));
            let (ov, ov_pct) = match bpf {
                Some(b) => (
                    ms(m.wall - b),
                    format!("{:.1}", 100.0 * (m.wall - b) / m.wall),
                ),
                None => ("n/a".into(), "n/a".into()),
            };
            let vs = bpftool_cold.map_or("n/a".into(), |b| format!("{:.2}", m.wall / b));
            let wc = if mode == "warm" {
                format!("{:.3}", m.wall / cold.wall)
            } else {
                String::new()
            };
            let _ = writeln!(
                o,
                "| {} | {mode} | {} | {bpf_s} | {ov} | {ov_pct} | {:.2} | {vs} | {wc} |",
                l.kind.label(),
                ms(m.wall),
                m.rss_kib / 1024.0,
            );
        }
        if l.kind == Kind::Bpftool {
            let _ = writeln!(
                o,
                "| {} | warm | n/a: `prog loadall` cannot reuse existing program pins (EEXIST) | | | | | | |",
                l.kind.label()
            );
        }
    }
    if let Some(seq) = find(c, Kind::NblSeq) {
        if let (Some(s), Some(r)) = (seq.strace_bpf, seq.report.as_ref()) {
            let _ = writeln!(
                o,
                "\nnetbpfload cold (first run), in bpf(): {} ms by the decorator ({} ms BPF_PROG_LOAD, {} ms BPF_MAP_CREATE, {} bpf() calls; {} ms in filesystem syscalls), {} ms under strace (cross-check).",
                ms(r.bpf_ns.unwrap_or(0) as f64 / 1e9),
                ms(r.prog_load_ns.unwrap_or(0) as f64 / 1e9),
                ms(r.map_create_ns.unwrap_or(0) as f64 / 1e9),
                r.bpf_calls.unwrap_or(0),
                ms(r.fs_ns.unwrap_or(0) as f64 / 1e9),
                ms(s),
            );
        }
        render_btf_cost(o, c, seq);
        if let Some(par) = find(c, Kind::NblPar) {
            let same = par.pins == seq.pins;
            let _ = writeln!(
                o,
                "\nParallel vs sequential pins: {} ({} entries).",
                if same { "identical" } else { "DIFFERENT" },
                seq.pins.len()
            );
        }
    }
    let _ = writeln!(o);
}

fn us(s: f64) -> String {
    format!("{:.0}", s * 1e6)
}

/// "BTF cost per object": the sequential engine with and without BTF on the
/// same objects, per object that loaded BTF.
fn render_btf_cost(o: &mut String, c: &CorpusResult, seq: &LoaderResult) {
    let Some(btf) = find(c, Kind::NblSeqBtf) else {
        return;
    };
    let loads = btf.report.as_ref().and_then(|r| r.btf_loads).unwrap_or(0);
    let same = btf.pins == seq.pins;
    let _ = writeln!(
        o,
        "\nBTF cost per object ({loads} objects loaded BTF; pins {} with and without BTF):\n",
        if same { "identical" } else { "DIFFERENT" }
    );
    let _ = writeln!(
        o,
        "| mode | wall ms without BTF | wall ms with BTF | added µs per BTF object | BPF_BTF_LOAD µs per object | BPF_MAP_CREATE ms without / with |"
    );
    let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|");
    let per = loads.max(1) as f64;
    for (mode, a, b, ra, rb) in [
        (
            "cold",
            med(&seq.cold),
            med(&btf.cold),
            seq.report.as_ref(),
            btf.report.as_ref(),
        ),
        (
            "warm",
            med(&seq.warm),
            med(&btf.warm),
            seq.warm_report.as_ref(),
            btf.warm_report.as_ref(),
        ),
    ] {
        let (Some(a), Some(b)) = (a, b) else { continue };
        let btf_load = rb.and_then(|r| r.btf_load_ns).unwrap_or(0) as f64 / 1e9;
        let create = |r: Option<&ChildReport>| {
            r.and_then(|r| r.map_create_ns)
                .map_or("n/a".into(), |ns| ms(ns as f64 / 1e9))
        };
        let _ = writeln!(
            o,
            "| {mode} | {} | {} | {} | {} | {} / {} |",
            ms(a.wall),
            ms(b.wall),
            us((b.wall - a.wall) / per),
            us(btf_load / per),
            create(ra),
            create(rb),
        );
    }
    if let Some((per_obj, n)) = c.btf_prepare {
        let _ = writeln!(
            o,
            "\nPure BTF step (parse + DATASEC/VAR fix-up + key/value lookups of every map, no syscalls): {:.1} µs per object ({n} objects with maps and .BTF, median of 51 passes).",
            per_obj * 1e6
        );
    }
}

fn render_targets(o: &mut String, results: &[CorpusResult], binary: Option<u64>) {
    let _ = writeln!(o, "## Targets\n");
    let _ = writeln!(o, "| target | corpus | value | limit | verdict |");
    let _ = writeln!(o, "|---|---|---:|---:|---|");
    let scale: Vec<&CorpusResult> = results
        .iter()
        .filter(|c| c.corpus.scale.is_some())
        .collect();
    for c in &scale {
        let name = &c.corpus.name;
        let Some(seq) = find(c, Kind::NblSeq).and_then(|l| med(&l.cold)) else {
            continue;
        };
        if let Some(b) = seq.bpf {
            let v = (seq.wall - b) / seq.wall;
            let _ = writeln!(
                o,
                "| loader overhead (cold) / wall | {name} | {:.1}% | {:.0}% | {} |",
                v * 100.0,
                OVERHEAD_MAX * 100.0,
                verdict(v <= OVERHEAD_MAX)
            );
        }
        if let Some(bt) = find(c, Kind::Bpftool).and_then(|l| med(&l.cold)) {
            // Sequential, and the shipped binary in its default (parallel)
            // mode, both against bpftool (which loads one object at a time).
            for kind in [Kind::NblSeq, Kind::NblBin] {
                let Some(l) = find(c, kind).and_then(|l| med(&l.cold)) else {
                    continue;
                };
                let v = l.wall / bt.wall;
                let _ = writeln!(
                    o,
                    "| cold wall / bpftool cold wall ({}) | {name} | {v:.2} | {VS_BPFTOOL_MAX} | {} |",
                    kind.label(),
                    verdict(v <= VS_BPFTOOL_MAX)
                );
            }
        }
        if let Some(w) = find(c, Kind::NblSeq).and_then(|l| med(&l.warm)) {
            let v = w.wall / seq.wall;
            let _ = writeln!(
                o,
                "| warm wall / cold wall | {name} | {v:.3} | {WARM_MAX} | {} |",
                verdict(v <= WARM_MAX)
            );
        }
        if let Some(par_l) = find(c, Kind::NblPar) {
            if let Some(par) = med(&par_l.cold) {
                let v = par.wall / seq.wall;
                let same = find(c, Kind::NblSeq).is_some_and(|s| s.pins == par_l.pins);
                let _ = writeln!(
                    o,
                    "| parallel / sequential cold wall, identical pins | {name} | {v:.2}, pins {} | {PARALLEL_MAX} | {} |",
                    if same { "identical" } else { "DIFFERENT" },
                    verdict(v <= PARALLEL_MAX && same)
                );
            }
        }
        // Peak RSS of the shipped binary if measured, else of the engine child.
        let rss = find(c, Kind::NblBin)
            .or_else(|| find(c, Kind::NblSeq))
            .and_then(|l| {
                let mut v: Vec<f64> = l
                    .cold
                    .iter()
                    .chain(&l.warm)
                    .map(|s| s.rss_kib as f64)
                    .collect();
                v.sort_by(f64::total_cmp);
                v.last().copied().map(|x| (l.kind, x))
            });
        if let Some((k, kib)) = rss {
            let mib = kib / 1024.0;
            let _ = writeln!(
                o,
                "| peak RSS ({}) | {name} | {mib:.2} MiB | {RSS_MAX_MIB} MiB | {} |",
                k.label(),
                verdict(mib <= RSS_MAX_MIB)
            );
        }
    }
    // Linearity: per-object cold cost of the largest scale against 1x.
    let per_obj = |c: &CorpusResult| {
        find(c, Kind::NblSeq)
            .and_then(|l| med(&l.cold))
            .map(|m| m.wall / c.corpus.objects.max(1) as f64)
    };
    if let Some(base) = scale.iter().find(|c| c.corpus.scale == Some(1)) {
        if let Some(b) = per_obj(base) {
            for c in scale.iter().filter(|c| c.corpus.scale.unwrap_or(1) > 1) {
                if let Some(x) = per_obj(c) {
                    let v = x / b;
                    let _ = writeln!(
                        o,
                        "| linear growth: cold ms per object vs 1x ({} vs {}) | {} | {v:.2} | {LINEAR_MAX} | {} |",
                        ms(x),
                        ms(b),
                        c.corpus.name,
                        verdict(v <= LINEAR_MAX)
                    );
                }
            }
        }
    }
    if let Some(bytes) = binary {
        let mib = bytes as f64 / MIB;
        let _ = writeln!(
            o,
            "| stripped static binary | - | {mib:.2} MiB ({bytes} B) | {BINARY_MAX_MIB} MiB | {} |",
            verdict(mib <= BINARY_MAX_MIB)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_odd_and_even_lengths() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }
}
