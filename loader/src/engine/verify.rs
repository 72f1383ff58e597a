//! How often and how long the kernel is asked to verify a program.
//!
//! A program is verified at most twice: once without a log (the fast path
//! of the boot), and, if that fails with an error a log can explain, once
//! more with a log buffer of [`LOG_SIZE`] bytes (Android uses one fixed
//! 1 MiB buffer and one attempt). There is no growing retry: a log that does
//! not fit is cut (the kernel keeps its head before 6.4, its tail after),
//! and the first errno is reported. `E2BIG` (the program is too large or too
//! complex: the verifier already walked a million instructions) and the
//! resource errors are not retried at all.
//!
//! Each object also has a budget of time for verifications that fail
//! ([`VerifyBudget`]): a hostile object made of programs that each take the
//! verifier seconds to reject stops being verified once the budget is
//! spent, instead of holding the boot for minutes. Programs that load are
//! never charged, so no good object is affected.

use super::error::LoadError;
use crate::sys::{ProgLoadAttr, Sys, SysError};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

/// Size of the verifier log buffer of the second attempt.
pub const LOG_SIZE: usize = 1 << 20;

/// Most bytes of a verifier log kept in a report or written to the log
/// (the end of the log, where the verifier says why).
pub const LOG_TAIL_MAX: usize = 8 * 1024;

/// Default failed-verification time budget of one object.
pub const DEFAULT_VERIFY_BUDGET: Duration = Duration::from_secs(10);

/// Errnos after which a second attempt with a log cannot help.
const NO_RETRY: [i32; 6] = [
    libc::E2BIG,
    libc::ENOMEM,
    libc::EPERM,
    libc::EMFILE,
    libc::ENFILE,
    libc::EINTR,
];

/// The failed-verification budget of one object.
#[derive(Debug, Clone)]
pub(crate) struct VerifyBudget {
    limit: Duration,
    spent: Duration,
    failed: usize,
}

impl VerifyBudget {
    pub(crate) fn new(limit: Duration) -> Self {
        VerifyBudget {
            limit,
            spent: Duration::ZERO,
            failed: 0,
        }
    }

    /// Spent: at least one verification failed and the failures took the
    /// whole budget.
    fn exhausted(&self) -> bool {
        self.failed > 0 && self.spent >= self.limit
    }

    fn charge(&mut self, d: Duration) {
        self.spent = self.spent.saturating_add(d);
    }

    fn refusal(&self, prog: &str) -> LoadError {
        LoadError::VerifyBudget {
            prog: prog.to_string(),
            failed: self.failed,
            spent_ms: u64::try_from(self.spent.as_millis()).unwrap_or(u64::MAX),
            budget_ms: u64::try_from(self.limit.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// Turns a NUL-terminated log buffer into text (lossy: the kernel writes
/// ASCII, a cut log may end mid-way), keeping at most [`LOG_TAIL_MAX`] bytes
/// of its end, from a line start.
pub fn log_tail(buf: &[u8]) -> String {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let text = String::from_utf8_lossy(buf.get(..end).unwrap_or_default());
    let text = text.trim_end();
    if text.len() <= LOG_TAIL_MAX {
        return text.to_string();
    }
    let mut start = text.len() - LOG_TAIL_MAX;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let cut = &text[start..];
    let cut = cut.split_once('\n').map_or(cut, |(_, rest)| rest);
    format!("... ({} earlier bytes of the log omitted)\n{cut}", start)
}

/// Loads one program under the policy above. `prog` names it in errors.
pub(crate) fn load(
    sys: &dyn Sys,
    attr: &ProgLoadAttr<'_>,
    prog: &str,
    budget: &mut VerifyBudget,
) -> Result<OwnedFd, LoadError> {
    if budget.exhausted() {
        return Err(budget.refusal(prog));
    }
    let t = Instant::now();
    let first = match sys.prog_load(attr, &mut []) {
        Ok(fd) => return Ok(fd),
        Err(e) => e,
    };
    budget.charge(t.elapsed());
    budget.failed += 1;
    let fail = |source: SysError, log: Option<String>| LoadError::ProgLoad {
        prog: prog.to_string(),
        source,
        log,
    };
    if first.errno().is_some_and(|e| NO_RETRY.contains(&e)) || budget.exhausted() {
        return Err(fail(first, None));
    }
    let mut buf = vec![0u8; LOG_SIZE];
    let t = Instant::now();
    match sys.prog_load(attr, &mut buf) {
        Ok(fd) => {
            log::warn!("program {prog}: loaded on the second attempt, after {first}");
            Ok(fd)
        }
        Err(e) => {
            budget.charge(t.elapsed());
            let mut text = log_tail(&buf);
            if e.is(libc::ENOSPC) {
                text.push_str("\n... (verifier log cut at 1 MiB)");
            }
            Err(fail(first, Some(text).filter(|t| !t.is_empty())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_end_from_a_line_start() {
        let log: String = (0..5000).map(|i| format!("line {i}\n")).collect();
        let t = log_tail(log.as_bytes());
        assert!(t.len() <= LOG_TAIL_MAX + 64, "{}", t.len());
        assert!(t.ends_with("line 4999"), "{t}");
        let first_kept = t.lines().nth(1).expect("kept lines");
        assert!(first_kept.starts_with("line "), "{first_kept}");
        assert!(t.starts_with("... ("));
        assert_eq!(log_tail(b"short\n\0garbage"), "short");
    }
}
