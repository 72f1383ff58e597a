//! Loading an object's BTF (25Q2): the fixed-up blob first, and on `EINVAL`
//! once more with FUNC linkage dropped (kernels before 5.6 refuse global
//! functions), as Android's 2025 loader does.

use super::error::LoadError;
use crate::plan::BtfPlan;
use crate::sys::Sys;
use std::os::fd::OwnedFd;

/// Loads `btf` into the kernel.
pub(crate) fn load(sys: &dyn Sys, btf: &BtfPlan) -> Result<OwnedFd, LoadError> {
    let fail = |reason: &str, e| LoadError::Btf {
        reason: reason.to_string(),
        source: Some(e),
    };
    match sys.btf_load(&btf.data, &mut []) {
        Ok(fd) => Ok(fd),
        Err(e) if e.is(libc::EINVAL) => sys
            .btf_load(&btf.downgraded, &mut [])
            .map_err(|e| fail("BPF_BTF_LOAD refused it, also with FUNC linkage dropped", e)),
        Err(e) => Err(fail("BPF_BTF_LOAD refused it", e)),
    }
}
