//! Running one measured child process: wall time from the parent's side
//! (fork to reap, so exec and process start-up count, as they do at boot) and
//! the child's peak resident set size from `wait4`'s `rusage`.

use std::fs::File;
use std::io;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one child run cost.
#[derive(Debug, Clone, Copy)]
pub struct ChildRun {
    /// Fork to reap.
    pub wall: Duration,
    /// `ru_maxrss` of the child, in KiB.
    pub max_rss_kib: u64,
    /// Exit code (`None` if killed by a signal).
    pub code: Option<i32>,
}

/// Runs `cmd` with stdout and stderr sent to the given files and waits for
/// it with `wait4`, so the rusage is this child's alone.
pub fn run(mut cmd: Command, stdout: &Path, stderr: &Path) -> io::Result<ChildRun> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(File::create(stdout)?))
        .stderr(Stdio::from(File::create(stderr)?));
    let start = Instant::now();
    let child = cmd.spawn()?;
    let pid = libc::pid_t::try_from(child.id())
        .map_err(|_| io::Error::other("child pid out of range"))?;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our own unreaped child; `status` and `usage` are
        // valid, exclusively borrowed out-parameters for the whole call.
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if rc == pid {
            break;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    let wall = start.elapsed();
    // `child` was reaped above; dropping a std Child never waits or kills.
    drop(child);
    let code = if libc::WIFEXITED(status) {
        Some(libc::WEXITSTATUS(status))
    } else {
        None
    };
    Ok(ChildRun {
        wall,
        max_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
        code,
    })
}
