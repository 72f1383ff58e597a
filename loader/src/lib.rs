//! netbpfload: a boot-time loader for Android-format eBPF ELF objects.
//!
//! The crate is layered so that each layer can be tested on its own:
//!
//! * [`spec`], [`parse`], [`section`], [`btf`]: pure parsing. Bytes in, an
//!   [`spec::ObjectSpec`] out. No syscalls, no knowledge of the running kernel.
//!   The format is described in `docs/object-format.md`.
//! * [`release`]: one table of rules per Android release and loader role.
//! * [`libbpf`]: the same for libbpf-style objects (BTF-defined maps, CO-RE
//!   against the kernel's BTF, passed in); [`object`] picks the parser.
//! * [`paths`]: the single home of every path, mode and naming rule.
//! * [`plan`], [`gate`], [`reloc`]: pure decisions. [`plan::plan_object`] is
//!   the one place deciding what loading an object does (gating, pin paths,
//!   modes, owners, kernel attributes); [`reloc`] patches map fds into
//!   instructions.
//! * [`sys`]: the only module that performs syscalls (`bpf(2)`, pinning,
//!   chmod/chown, rename, statfs, mkdir). Everything above it talks to the
//!   [`sys::Sys`] traits, so unit tests run against a fake kernel.
//! * [`engine`]: executes plans and loads whole locations; each object is
//!   all-or-nothing (its new pins appear only once all of them exist).
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
pub mod libbpf;
pub mod logging;
pub mod manifest;
pub mod names;
pub mod object;
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
