//! `netbpfload-bench`: the boot-path benchmark (not a test).
//!
//! For each corpus (the Android-format bpf-progs corpus and the generated
//! scale corpus at several sizes) and each loader, it mounts a fresh private
//! bpffs, loads everything cold, re-runs warm over the pins left behind, and
//! repeats; it then prints the medians as a markdown table with ratios and
//! whether each target of the issue is met.
//!
//! Loaders: the netbpfload engine sequential and parallel (a child running
//! the library over a timing [`timing::TimingSys`]), optionally the shipped
//! `netbpfload` binary, `bpftool prog loadall` once per object, and aya 0.14's
//! `EbpfLoader` (a child). bpftool and aya load the libbpf flavour of the same
//! programs. Everything happens in a private mount namespace (see
//! [`bpffs::enter_private_mount_ns`]).

mod bpffs;
mod child;
mod children;
mod heap;
mod parse_scaling;
mod report;
mod runner;
mod timing;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Boot-path benchmark of netbpfload against bpftool and aya.
#[derive(Debug, Parser)]
#[command(name = "netbpfload-bench")]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    #[command(flatten)]
    run: runner::RunArgs,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// (internal) one netbpfload engine run in this process.
    #[command(hide = true)]
    NblLoad(children::NblArgs),
    /// (internal) one aya run in this process.
    #[command(hide = true)]
    AyaLoad(children::AyaArgs),
    /// Parse time and peak heap of the parser on the worst-case generated
    /// objects at 1, 4 and 16 MiB (no root needed).
    ParseScaling(parse_scaling::ScalingArgs),
    /// (internal) one parse-scaling measurement in this process.
    #[command(hide = true)]
    ParseOne(parse_scaling::OneArgs),
}

#[global_allocator]
static ALLOC: heap::Counting = heap::Counting;

fn main() {
    let cli = Cli::parse();
    let code = match cli.cmd {
        Some(Cmd::NblLoad(a)) => children::nbl_load(&a),
        Some(Cmd::AyaLoad(a)) => children::aya_load(&a),
        Some(Cmd::ParseScaling(a)) => parse_scaling::run(&a),
        Some(Cmd::ParseOne(a)) => parse_scaling::parse_one(&a),
        None => match runner::run(&cli.run) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("netbpfload-bench: {e}");
                1
            }
        },
    };
    std::process::exit(code);
}

/// Directory for scratch files and mount points (no '.': bpftool refuses
/// program pin paths that contain one).
fn default_work_dir() -> PathBuf {
    std::env::temp_dir().join(format!("netbpfload-bench-{}", std::process::id()))
}
