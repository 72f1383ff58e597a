//! Private bpffs mounts for root-tier tests (being written).
