//! Shared harness for the root and QEMU tiers (being written).
