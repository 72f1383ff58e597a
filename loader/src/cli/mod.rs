//! Command-line front end: argument parsing and dispatch only. Each
//! subcommand lives in its own file and calls into the library.
//!
//! Exit statuses: 0 success; 1 a failure (a refused platform, a failed
//! object for `load`); 2 a boot-failing object failure; 64 a usage error
//! (unknown or misplaced option, missing argument); 120 a critical failure
//! of the platform loader; 125 `done` could not set the property.

mod args;
mod boot;
mod inspect;
mod load;
mod output;
mod show;
mod unload;

use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};

/// Exit status of a usage error (`EX_USAGE` of sysexits.h).
pub const EXIT_USAGE: i32 = 64;

/// Boot-time loader for Android-format eBPF ELF objects.
#[derive(Debug, Parser)]
#[command(name = "netbpfload", version, about)]
struct Cli {
    #[command(flatten)]
    global: args::GlobalArgs,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Print what the parser sees in objects, and what loading them would do.
    Inspect(inspect::InspectArgs),
    /// Load one location directory into a bpffs (manual use on a dev board).
    Load(load::LoadArgs),
    /// List the pins under the bpffs: what they hold, and which object declares them.
    Show(show::ShowArgs),
    /// Remove the pins the objects of one location declare, and nothing else.
    Unload(unload::UnloadArgs),
    /// Set `bpf.progs_loaded=1` (run by the platform loader at the end of boot).
    Done,
    /// Run the platform (follow-up) loader role.
    Bpfloader,
}

/// A usage error: print it and exit 64.
fn usage(msg: &str) -> i32 {
    eprintln!("netbpfload: {msg}");
    eprintln!("Try 'netbpfload --help' for more information.");
    EXIT_USAGE
}

/// Parses the command line, runs, and returns the process exit status.
pub fn main() -> i32 {
    let argv0_is_bpfloader = std::env::args_os()
        .next()
        .map(|a| std::path::Path::new(&a).file_name() == Some(std::ffi::OsStr::new("bpfloader")))
        .unwrap_or(false);
    let matches = match Cli::command().try_get_matches() {
        Ok(m) => m,
        Err(e) => {
            use clap::error::ErrorKind;
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = e.print();
                    0
                }
                _ => {
                    let _ = e.print();
                    EXIT_USAGE
                }
            };
        }
    };
    // Options written after a subcommand land in its matches (with the
    // ones written before it): read them there.
    let sub: ArgMatches = matches
        .subcommand()
        .map(|(_, s)| s.clone())
        .unwrap_or_else(|| matches.clone());
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => return usage(&e.to_string()),
    };
    let global = match args::GlobalArgs::from_arg_matches(&sub) {
        Ok(g) => g,
        Err(e) => return usage(&e.to_string()),
    };
    let check = |command: &str, honoured: &[&str]| args::refuse_unused(&sub, command, honoured);
    let result = match cli.cmd {
        Some(Cmd::Inspect(a)) => {
            check("inspect", inspect::HONOURED).map(|()| inspect::run(a, &global))
        }
        Some(Cmd::Load(a)) => check("load", load::HONOURED).map(|()| load::run(a, &global)),
        Some(Cmd::Show(a)) => check("show", show::HONOURED).map(|()| show::run(a, &global)),
        Some(Cmd::Unload(a)) => check("unload", unload::HONOURED).map(|()| unload::run(a, &global)),
        Some(Cmd::Done) => Ok(boot::run_done(&global, &sub)),
        Some(Cmd::Bpfloader) => Ok(boot::run_platform(&global, &sub)),
        None if argv0_is_bpfloader => Ok(boot::run_platform(&global, &sub)),
        None => Ok(boot::run_boot(&global, &sub)),
    };
    result.unwrap_or_else(|msg| usage(&msg))
}
