//! Shared harness for the root tier (real kernel, private bpffs) and the QEMU
//! tier (boots Debian's kernel with our initramfs).

pub mod bpffs;
pub mod cfg;
pub mod cli;
pub mod expected;
pub mod gen;
pub mod qemu;
pub mod record;
pub mod schema;
pub mod selinux;
pub mod stage;
