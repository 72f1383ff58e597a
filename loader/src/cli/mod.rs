//! Command-line front end: argument parsing and dispatch only. Each
//! subcommand lives in its own file and calls into the library.

mod boot;
mod inspect;
mod load;

use clap::{Parser, Subcommand};

/// Boot-time loader for Android-format eBPF ELF objects.
#[derive(Debug, Parser)]
#[command(name = "netbpfload", version, about)]
struct Cli {
    #[command(flatten)]
    boot: boot::BootArgs,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Print what the parser sees in one or more objects.
    Inspect(inspect::InspectArgs),
    /// Load one location directory into a bpffs (manual use on a dev board).
    Load(load::LoadArgs),
    /// Set `bpf.progs_loaded=1` (run by the follow-up loader at the end of boot).
    Done,
    /// Run the platform (follow-up) loader role.
    Bpfloader,
}

/// Parses the command line, runs, and returns the process exit code.
pub fn main() -> i32 {
    let argv0_is_bpfloader = std::env::args_os()
        .next()
        .map(|a| std::path::Path::new(&a).file_name() == Some(std::ffi::OsStr::new("bpfloader")))
        .unwrap_or(false);
    let cli = Cli::parse();
    match cli.cmd {
        Some(Cmd::Inspect(a)) => inspect::run(a),
        Some(Cmd::Load(a)) => load::run(a),
        Some(Cmd::Done) => boot::run_done(cli.boot),
        Some(Cmd::Bpfloader) => boot::run_platform(cli.boot),
        None if argv0_is_bpfloader => boot::run_platform(cli.boot),
        None => boot::run_boot(cli.boot),
    }
}
