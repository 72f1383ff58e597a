//! QEMU boot harness (being written).
