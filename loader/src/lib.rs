//! netbpfload: a boot-time loader for Android-format eBPF ELF objects.
//!
//! The crate is layered so that each layer can be tested on its own:
//!
//! * [`spec`], [`parse`], [`section`]: pure parsing. Bytes in, an
//!   [`spec::ObjectSpec`] out. No syscalls, no knowledge of the running kernel.
//! * [`paths`]: the single home of every path, mode and naming rule.
//! * [`gate`], [`reloc`]: pure decisions (which map/program is skipped on this
//!   kernel/build/arch, and how map fds are patched into instructions).
//! * [`sys`]: the only module that performs syscalls (`bpf(2)`, pinning,
//!   chmod/chown, rename, statfs, mkdir). Everything above it talks to the
//!   [`sys::Sys`] trait, so unit tests run against a fake kernel.
//! * [`engine`]: turns one `ObjectSpec` into live, pinned kernel objects, with
//!   rollback on failure, and loads whole locations.
//! * [`trust`], [`manifest`]: which files and directories may be trusted
//!   (ownership, modes, symlinks) and optional SHA-256 manifests.
//! * [`inspect`]: human and JSON rendering of a parsed object.
//! * [`boot`], [`platform`], [`logging`]: the boot flow (gates, sysctls,
//!   directories, locations, sanity check, follow-up loader).
#![deny(missing_docs)]

pub mod boot;
pub mod bpffs;
pub mod btf;
pub mod engine;
pub mod error;
pub mod gate;
pub mod inspect;
pub mod inventory;
pub mod logging;
pub mod manifest;
pub mod names;
pub mod parse;
pub mod paths;
pub mod plan;
pub mod platform;
pub mod progtag;
pub mod release;
pub mod reloc;
pub mod report;
pub mod section;
pub mod spec;
pub mod sys;
#[cfg(test)]
mod test_support;
pub mod trust;
