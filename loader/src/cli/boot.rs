//! The boot-flow entry points: `netbpfload` (mainline role), `bpfloader` /
//! `netbpfload bpfloader` (platform role), `netbpfload done`.
//!
//! On a device none of the options is given. They exist for Linux dev
//! boards and tests; every option given is passed on to the loaders the
//! chain executes ([`super::args::forward`]), so all three stages see the
//! same configuration.

use super::args::{forward, GlobalArgs};
use clap::ArgMatches;
use netbpfload::boot::{self, BootConfig};
use netbpfload::platform::{PropertySink, PropertySource};
use netbpfload::sys::linux::LinuxSys;
use std::path::PathBuf;
use std::time::Duration;

/// The boot configuration the options describe.
pub fn config(g: &GlobalArgs, m: &ArgMatches) -> BootConfig {
    let root = g.root.clone().unwrap_or_else(|| PathBuf::from("/"));
    let mut c = BootConfig::with_root(root);
    if let Some(b) = &g.bpffs {
        c.bpffs_root = b.clone();
    }
    if let Some(p) = &g.proc_sys {
        c.proc_sys = p.clone();
    }
    if let Some(f) = &g.property_file {
        c.properties = PropertySource::File(f.clone());
    }
    if let Some(d) = &g.runtime_prop_dir {
        c.sink = PropertySink::Dir(d.clone());
    }
    c.overrides.api_level = g.api_level;
    c.overrides.build_type = g.build_type.map(|b| b.to_string());
    c.overrides.release = g.release;
    if let Some(s) = g.critical_delay_secs {
        c.critical_delay = Duration::from_secs(s);
    }
    c.followup_loader = g.followup_loader.clone();
    if let Some(p) = &g.done_loader {
        c.done_loader = p.clone();
    }
    c.insecure = g.insecure;
    c.sequential = g.sequential;
    c.manifest_key_file = g.manifest_key.clone();
    c.manifest_min_version = g.manifest_min_version;
    if let Some(lock) = g.run_lock() {
        c.run_lock = lock;
    }
    if let Some(s) = g.verify_budget_secs {
        c.verify_budget = Duration::from_secs(s);
    }
    if let Some(s) = g.verify_total_secs {
        c.verify_total = Duration::from_secs(s);
    }
    c.map_memory_max = g.map_memory_max();
    c.forward_args = forward(m);
    c
}

/// `netbpfload`: the mainline role.
pub fn run_boot(g: &GlobalArgs, m: &ArgMatches) -> i32 {
    g.init_boot_logging();
    boot::run_mainline(&LinuxSys::new(), &config(g, m))
}

/// `bpfloader`: the platform (follow-up) role.
pub fn run_platform(g: &GlobalArgs, m: &ArgMatches) -> i32 {
    g.init_boot_logging();
    boot::run_platform(&LinuxSys::new(), &config(g, m))
}

/// `netbpfload done`.
pub fn run_done(g: &GlobalArgs, m: &ArgMatches) -> i32 {
    g.init_boot_logging();
    boot::run_done(&LinuxSys::new(), &config(g, m))
}
