//! Loading an object's BTF (25Q2): the fixed-up blob first, and on `EINVAL`
//! once more with FUNC linkage dropped (kernels before 5.6 refuse global
//! functions), as Android's 2025 loader does. A final `EINVAL` is loaded once
//! more with a log buffer, only to report the kernel's reason.
//!
//! The BTF is loaded when the first map that needs it is created, so an
//! object whose maps are all reused asks the kernel for nothing.

use super::error::LoadError;
use crate::plan::BtfPlan;
use crate::sys::Sys;
use std::os::fd::OwnedFd;

/// Size of the log buffer of the diagnostic retry.
pub const BTF_LOG_SIZE: usize = 256 * 1024;

/// Loads `btf` into the kernel.
pub(crate) fn load(sys: &dyn Sys, btf: &BtfPlan) -> Result<OwnedFd, LoadError> {
    let (blob, downgraded, err) = match sys.btf_load(&btf.data, &mut []) {
        Ok(fd) => return Ok(fd),
        Err(e) if e.is(libc::EINVAL) => match &btf.downgraded {
            Some(down) => match sys.btf_load(down, &mut []) {
                Ok(fd) => {
                    log::info!("BTF loaded with FUNC linkage dropped (the kernel refused it)");
                    return Ok(fd);
                }
                Err(e) => (down.as_slice(), true, e),
            },
            None => (btf.data.as_slice(), false, e),
        },
        Err(e) => (btf.data.as_slice(), false, e),
    };
    let log = err.is(libc::EINVAL).then(|| {
        let mut buf = vec![0u8; BTF_LOG_SIZE];
        // Only the log matters; a (surprising) success is dropped.
        let _ = sys.btf_load(blob, &mut buf);
        super::verify::log_tail(&buf)
    });
    Err(LoadError::Btf {
        reason: if downgraded {
            "load (retried with FUNC linkage dropped)"
        } else {
            "load"
        }
        .to_string(),
        source: Some(err),
        log: log.filter(|l| !l.trim().is_empty()),
    })
}
