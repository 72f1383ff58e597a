//! Generators of hostile Android-format eBPF objects.
//!
//! [`elf`] is a deliberately permissive ELF64 writer (aliased ranges, shared
//! and unterminated names, extended section numbering); [`android`] adds the
//! `maps`/`progs` records and instructions; [`classes`] has one generator per
//! attack class, each parameterised by the target file size, with what the
//! loader must answer. Used by the loader's tests, the parse-scaling
//! benchmark, the fuzz seeds and `hostile-gen`.

pub mod android;
pub mod classes;
pub mod elf;

pub use classes::{find, Class, Expect, CLASSES};
