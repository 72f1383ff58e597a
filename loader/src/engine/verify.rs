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
//! Each object also has two budgets of time ([`VerifyBudget`]):
//! - one for verifications that fail ([`DEFAULT_VERIFY_BUDGET`]): a hostile
//!   object made of programs that each take the verifier seconds to reject
//!   stops being verified once it is spent, instead of holding the boot for
//!   minutes;
//! - one for all its verifications together ([`DEFAULT_VERIFY_TOTAL`]): an
//!   object of thousands of programs that each pass, but only after the
//!   verifier walked close to its million instructions (about 0.1 s each on
//!   a fast x86_64 host, several times that on a phone), would otherwise
//!   hold the boot for as long as it likes (4096 such programs fit in 1 MiB:
//!   7 minutes here). A real object is nowhere near it: Android's largest
//!   verifies in milliseconds, and the 500 programs of the benchmark's 1x
//!   corpus take 0.3 s in all.
//!
//! Either budget, once spent, fails the object (nothing of it is pinned)
//! naming the first program not attempted. Android's loaders have neither:
//! a deliberate deviation.

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

/// Default time budget of all the verifications of one object.
pub const DEFAULT_VERIFY_TOTAL: Duration = Duration::from_secs(30);

/// Errnos after which a second attempt with a log cannot help.
const NO_RETRY: [i32; 6] = [
    libc::E2BIG,
    libc::ENOMEM,
    libc::EPERM,
    libc::EMFILE,
    libc::ENFILE,
    libc::EINTR,
];

/// The verification budgets of one object.
#[derive(Debug, Clone)]
pub(crate) struct VerifyBudget {
    /// For failed verifications.
    limit: Duration,
    spent: Duration,
    failed: usize,
    /// For all verifications.
    total_limit: Duration,
    total_spent: Duration,
    verified: usize,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl VerifyBudget {
    /// Budgets of `limit` for failed verifications and `total_limit` for
    /// all of them.
    pub(crate) fn new(limit: Duration, total_limit: Duration) -> Self {
        VerifyBudget {
            limit,
            spent: Duration::ZERO,
            failed: 0,
            total_limit,
            total_spent: Duration::ZERO,
            verified: 0,
        }
    }

    /// Why no further verification may start, if one of the budgets is
    /// spent: failures took the whole failed budget (after at least one
    /// failure), or verifications took the whole total budget (after at
    /// least one verification).
    fn refusal(&self, prog: &str) -> Option<LoadError> {
        if self.failed > 0 && self.spent >= self.limit {
            return Some(LoadError::VerifyBudget {
                prog: prog.to_string(),
                failed: self.failed,
                spent_ms: ms(self.spent),
                budget_ms: ms(self.limit),
            });
        }
        if self.verified > 0 && self.total_spent >= self.total_limit {
            return Some(LoadError::VerifyTime {
                prog: prog.to_string(),
                verified: self.verified,
                spent_ms: ms(self.total_spent),
                budget_ms: ms(self.total_limit),
            });
        }
        None
    }

    /// Counts one verification of `d`.
    fn charge(&mut self, d: Duration, failed: bool) {
        self.verified += 1;
        if failed {
            self.failed += 1;
        }
        self.add_time(d, failed);
    }

    /// Adds `d` to the budgets without counting a verification (the second
    /// attempt at a program already counted).
    fn add_time(&mut self, d: Duration, failed: bool) {
        self.total_spent = self.total_spent.saturating_add(d);
        if failed {
            self.spent = self.spent.saturating_add(d);
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
    if let Some(refused) = budget.refusal(prog) {
        return Err(refused);
    }
    let t = Instant::now();
    let first = sys.prog_load(attr, &mut []);
    budget.charge(t.elapsed(), first.is_err());
    let first = match first {
        Ok(fd) => return Ok(fd),
        Err(e) => e,
    };
    let fail = |source: SysError, log: Option<String>| LoadError::ProgLoad {
        prog: prog.to_string(),
        source,
        log,
    };
    if first.errno().is_some_and(|e| NO_RETRY.contains(&e)) || budget.refusal(prog).is_some() {
        return Err(fail(first, None));
    }
    let mut buf = vec![0u8; LOG_SIZE];
    let t = Instant::now();
    let second = sys.prog_load(attr, &mut buf);
    budget.add_time(t.elapsed(), second.is_err());
    match second {
        Ok(fd) => {
            log::warn!("program {prog}: loaded on the second attempt, after {first}");
            Ok(fd)
        }
        Err(e) => {
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
