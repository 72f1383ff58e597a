//! A kernel call log for root-tier tests: every call the engine makes
//! through the one `sys` layer ([`netbpfload::sys::Interposed`]), with an
//! optional refusal of one operation on some paths, as SELinux would give it.

use netbpfload::sys::{Hook, Op, SysError, SysResult};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// `(op, which paths, errno)`: a refusal, as SELinux would give it.
pub type Refusal = (Op, fn(&Path) -> bool, i32);

/// Records every call; optionally refuses one op on some paths.
#[derive(Debug, Default)]
pub struct Recorder {
    calls: Mutex<Vec<(Op, Option<PathBuf>)>>,
    /// Refuse this op on these paths with this errno.
    refuse: Option<Refusal>,
}

impl Hook for Recorder {
    fn before(&self, op: Op, path: Option<&Path>) -> SysResult<()> {
        self.calls
            .lock()
            .expect("calls")
            .push((op, path.map(Path::to_path_buf)));
        match (self.refuse, path) {
            (Some((o, hit, errno)), Some(p)) if o == op && hit(p) => {
                Err(SysError::from_errno(op, Some(p), errno))
            }
            _ => Ok(()),
        }
    }
}

impl Recorder {
    /// A recorder that refuses `refusal`'s op on its paths.
    pub fn refusing(refusal: Refusal) -> Self {
        Recorder {
            refuse: Some(refusal),
            ..Recorder::default()
        }
    }

    /// The paths of every call of `op`, in order.
    pub fn ops(&self, op: Op) -> Vec<Option<PathBuf>> {
        self.calls
            .lock()
            .expect("calls")
            .iter()
            .filter(|(o, _)| *o == op)
            .map(|(_, p)| p.clone())
            .collect()
    }
}
