//! `netbpfload`: boot-time loader for Android-format eBPF objects.
//!
//! With no subcommand it runs the boot flow (see [`netbpfload::boot`]). Invoked
//! as `bpfloader` (argv[0]) or `netbpfload bpfloader` it runs the platform
//! (follow-up) loader role. `netbpfload done` sets `bpf.progs_loaded=1`.

mod cli;

fn main() {
    std::process::exit(cli::main());
}
