//! Running one measured child process: wall time from the parent's side
//! (fork to reap, so exec and process start-up count, as they do at boot) and
//! the child's own peak resident set size.
//!
//! Peak RSS is not taken from `wait4`'s `ru_maxrss`: the kernel folds the
//! high-water mark of the pre-exec address space (a copy of this, much larger,
//! benchmark process) into it, so every child would appear as big as the
//! parent. Instead the child runs under `ptrace` with `PTRACE_O_TRACEEXIT`,
//! and `VmHWM` is read from `/proc/<pid>/status` at the exit stop, while the
//! child's own address space still exists. That costs two ptrace stops per
//! process (exec and exit), microseconds against loads of milliseconds.

use nix::sys::ptrace::{self, Options};
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use std::fs::File;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one child run cost.
#[derive(Debug, Clone, Copy)]
pub struct ChildRun {
    /// Fork to reap.
    pub wall: Duration,
    /// Peak RSS of the child (`VmHWM`), in KiB.
    pub max_rss_kib: u64,
    /// Exit code (`None` if killed by a signal).
    pub code: Option<i32>,
}

/// Runs `cmd` with stdout and stderr sent to the given files and waits for
/// it, measuring wall time and peak RSS.
pub fn run(mut cmd: Command, stdout: &Path, stderr: &Path) -> io::Result<ChildRun> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(File::create(stdout)?))
        .stderr(Stdio::from(File::create(stderr)?));
    // SAFETY: the closure runs in the forked child before exec and only makes
    // the async-signal-safe ptrace(PTRACE_TRACEME) syscall.
    unsafe {
        cmd.pre_exec(|| ptrace::traceme().map_err(io::Error::from));
    }
    let start = Instant::now();
    let child = cmd.spawn()?;
    let raw = libc::pid_t::try_from(child.id())
        .map_err(|_| io::Error::other("child pid out of range"))?;
    let pid = Pid::from_raw(raw);
    let mut hwm_kib = None;
    let mut first_stop = true;
    let status = loop {
        let status = wait(raw)?;
        if !libc::WIFSTOPPED(status) {
            break status;
        }
        let sig = libc::WSTOPSIG(status);
        let event = status >> 16;
        let deliver = if first_stop && sig == libc::SIGTRAP {
            // The SIGTRAP a PTRACE_TRACEME child gets at its exec.
            first_stop = false;
            ptrace::setoptions(
                pid,
                Options::PTRACE_O_TRACEEXIT
                    | Options::PTRACE_O_TRACEEXEC
                    | Options::PTRACE_O_EXITKILL,
            )
            .map_err(io::Error::from)?;
            None
        } else if sig == libc::SIGTRAP && event == libc::PTRACE_EVENT_EXIT {
            hwm_kib = vm_hwm_kib(raw);
            None
        } else if sig == libc::SIGTRAP && event != 0 {
            // Another event stop (a later exec): nothing to deliver.
            None
        } else {
            // A real signal: pass it on.
            Signal::try_from(sig).ok()
        };
        ptrace::cont(pid, deliver).map_err(io::Error::from)?;
    };
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
        max_rss_kib: hwm_kib.unwrap_or(0),
        code,
    })
}

fn wait(pid: libc::pid_t) -> io::Result<libc::c_int> {
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: `pid` is our own child; `status` is a valid out-parameter
        // and a null rusage pointer is allowed.
        let rc = unsafe { libc::wait4(pid, &mut status, libc::__WALL, std::ptr::null_mut()) };
        if rc == pid {
            return Ok(status);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// `VmHWM` of a live process, in KiB.
fn vm_hwm_kib(pid: libc::pid_t) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_hwm(&status)
}

fn parse_vm_hwm(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_hwm_is_parsed_from_proc_status() {
        let s = "Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t    3412 kB\nVmRSS:\t 3000 kB\n";
        assert_eq!(parse_vm_hwm(s), Some(3412));
        assert_eq!(parse_vm_hwm("VmRSS:\t1 kB\n"), None);
    }

    #[test]
    fn child_peak_rss_is_its_own_not_the_parents() {
        // Make this process large, then measure a tiny child: its peak must
        // not include our pages (as wait4's ru_maxrss would).
        let big = vec![1u8; 64 << 20];
        let dir = std::env::temp_dir();
        let run = run(
            Command::new("true"),
            &dir.join("bench-child-test.out"),
            &dir.join("bench-child-test.err"),
        )
        .unwrap();
        assert_eq!(run.code, Some(0));
        assert!(run.max_rss_kib > 0, "VmHWM not read");
        assert!(
            run.max_rss_kib < 32 << 10,
            "child RSS {} KiB includes the parent's",
            run.max_rss_kib
        );
        assert_eq!(big.iter().map(|&b| u64::from(b)).sum::<u64>(), 64 << 20);
    }
}
