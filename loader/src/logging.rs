//! Where log lines go.
//!
//! * The boot flow, started by init (Android, or a board's init without
//!   systemd): the kernel log (`/dev/kmsg`), like the reference's
//!   `KernelLogger`, and stderr too (a terminal, or a file someone
//!   redirected it to; on Android it is `/dev/null`).
//! * The boot flow started by systemd (`JOURNAL_STREAM` names the stream
//!   stderr is): stderr only, each line with its `<N>` priority prefix
//!   (sd-daemon(3)), so the journal records the priority and attributes the
//!   lines to the unit. Writing to `/dev/kmsg` as well would put every line
//!   in the journal twice (journald reads the kernel log) and under the
//!   kernel's name.
//! * Commands run by hand (`load`, `inspect`, `show`, `unload`): stderr,
//!   always (with `<N>` prefixes under systemd), and `--kmsg` if given.
//!
//! The kernel rate-limits `/dev/kmsg` writers (unless `printk.devkmsg=on`,
//! each open file may write 10 records per 5 s; the rest are dropped), so the
//! boot flow writes few records: one message is one record, its lines joined
//! by newlines (the kernel keeps them: `dmesg` and journald print one line
//! each), split only where a record would exceed what the kernel accepts,
//! and never more than [`MAX_RECORDS_PER_MESSAGE`]: the first record (where
//! every message puts its reason) and the end of the message (where a
//! verifier log says why), with a line saying what was left out between. A
//! failing object is one message; see `engine::log_outcome`.
//!
//! On Android, `android_logger` additionally sends every line to logcat.
//!
//! The logger is process-global infrastructure that must work before (and
//! independently of) any [`crate::sys::Sys`], so it uses `std` I/O directly.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Mutex;

/// The kernel log device.
pub const KMSG_PATH: &str = "/dev/kmsg";

/// Tag used on every line.
pub const TAG: &str = "netbpfload";

/// The kernel accepts at most this many bytes per `/dev/kmsg` write
/// (`LOG_LINE_MAX` is 1024 minus the record header); longer lines are cut.
const KMSG_LINE_MAX: usize = 976;

/// Most `/dev/kmsg` records one message becomes: the head and the tail of
/// a long message are kept (see the module doc).
pub const MAX_RECORDS_PER_MESSAGE: usize = 3;

/// Text made safe for one log line: control characters (a newline that
/// would start a fake `netbpfload:` record, escape sequences) are escaped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Bytes (a file name, which need not be UTF-8) made safe for a log line:
/// valid UTF-8 escaped as [`escape`], invalid bytes as `\xNN`.
pub fn escape_bytes(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        out.push_str(&escape(chunk.valid()));
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out
}

/// A path made safe for a log line ([`escape_bytes`]).
pub fn shown(p: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    escape_bytes(p.as_os_str().as_bytes())
}

/// Syslog priority of a `log` level, as `/dev/kmsg` expects it.
pub fn syslog_priority(level: log::Level) -> u8 {
    match level {
        log::Level::Error => 3,
        log::Level::Warn => 4,
        log::Level::Info => 6,
        log::Level::Debug | log::Level::Trace => 7,
    }
}

/// One line of a record: `tag: line`, cut at a char boundary to what one
/// record may hold.
fn tagged_line(tag: &str, line: &str, max: usize) -> String {
    let mut l = format!("{tag}: {line}");
    if l.len() > max {
        let mut cut = max;
        while !l.is_char_boundary(cut) {
            cut -= 1;
        }
        l.truncate(cut);
    }
    l
}

/// Packs lines into records of at most `max` bytes of text (lines joined by
/// `\n`), in order.
fn pack<'a>(lines: impl Iterator<Item = &'a String>, max: usize) -> Vec<Vec<&'a String>> {
    let mut recs: Vec<Vec<&String>> = Vec::new();
    let mut len = 0;
    for l in lines {
        match recs.last_mut() {
            Some(r) if len + 1 + l.len() <= max => {
                r.push(l);
                len += 1 + l.len();
            }
            _ => {
                recs.push(vec![l]);
                len = l.len();
            }
        }
    }
    recs
}

/// Formats one message as `/dev/kmsg` records (see the module doc): each
/// record `<N>` + its lines, each line `tag: line`, joined by `\n`, ending
/// with `\n`; at most [`MAX_RECORDS_PER_MESSAGE`] records, keeping the
/// first and the end of the message.
pub fn kmsg_records(tag: &str, level: log::Level, msg: &str) -> Vec<String> {
    let prio = format!("<{}>", syslog_priority(level));
    // Room for the text of one record: the priority and the final newline
    // are not part of it.
    let max = KMSG_LINE_MAX - prio.len() - 1;
    let lines: Vec<String> = msg
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| tagged_line(tag, l, max))
        .collect();
    let mut recs = pack(lines.iter(), max);
    let marker;
    if recs.len() > MAX_RECORDS_PER_MESSAGE {
        let head = recs.swap_remove(0);
        // The tail: whole records packed backwards from the last line, with
        // room left in the first of them for the marker line.
        let marker_room = tag.len() + 64;
        let mut tail: Vec<&String> = Vec::new();
        let mut used_recs = 1;
        let mut len = marker_room;
        for l in lines.iter().skip(head.len()).rev() {
            if len + 1 + l.len() > max {
                if used_recs == MAX_RECORDS_PER_MESSAGE - 1 {
                    break;
                }
                used_recs += 1;
                len = 0;
            }
            len += 1 + l.len();
            tail.push(l);
        }
        tail.reverse();
        let omitted = lines.len() - head.len() - tail.len();
        marker = format!("{tag}: [... {omitted} lines omitted ...]");
        let mut rest = vec![&marker];
        rest.extend(tail);
        recs = std::iter::once(head)
            .chain(pack(rest.into_iter(), max))
            .collect();
    }
    recs.into_iter()
        .map(|r| {
            let mut rec = prio.clone();
            for (i, l) in r.iter().enumerate() {
                if i > 0 {
                    rec.push('\n');
                }
                rec.push_str(l);
            }
            rec.push('\n');
            rec
        })
        .collect()
}

/// How lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stderr {
    /// Not at all.
    Off,
    /// `netbpfload: LEVEL: line`, one per line.
    Plain,
    /// `<N>line`, one per line: the sd-daemon(3) priority prefix journald
    /// reads from a service's stderr.
    Journal,
}

struct Logger {
    kmsg: Option<Mutex<std::fs::File>>,
    stderr: Stderr,
    max: log::LevelFilter,
}

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= self.max
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let msg = record.args().to_string();
        if let Some(kmsg) = &self.kmsg {
            if let Ok(mut f) = kmsg.lock() {
                for rec in kmsg_records(TAG, record.level(), &msg) {
                    // A lost kernel-log line must not stop the boot.
                    let _ = f.write_all(rec.as_bytes());
                }
            }
        }
        let prio = syslog_priority(record.level());
        let mut err = std::io::stderr().lock();
        for line in msg.lines() {
            let _ = match self.stderr {
                Stderr::Off => Ok(()),
                Stderr::Plain => writeln!(err, "{TAG}: {}: {line}", record.level()),
                Stderr::Journal => writeln!(err, "<{prio}>{line}"),
            };
        }
        #[cfg(target_os = "android")]
        android::log(record);
    }

    fn flush(&self) {}
}

/// Opens the kernel log (or the file standing in for it) for writing.
///
/// O_APPEND: /dev/kmsg ignores the offset, but a regular file given as
/// `--kmsg` is shared by every process of the loader chain, and each must add
/// to it rather than overwrite what the previous one wrote.
fn open_log_target(path: &Path) -> Option<std::fs::File> {
    std::fs::OpenOptions::new().append(true).open(path).ok()
}

/// Whether `journal_stream` (the value of `JOURNAL_STREAM`, `<dev>:<ino>`)
/// names the file stderr is, as systemd.exec(5) says to check (a child
/// whose stderr was redirected inherits the variable but not the stream).
fn is_journal_stream(journal_stream: Option<&str>, stderr_dev_ino: Option<(u64, u64)>) -> bool {
    let (Some(v), Some((dev, ino))) = (journal_stream, stderr_dev_ino) else {
        return false;
    };
    let Some((d, i)) = v.split_once(':') else {
        return false;
    };
    d.parse() == Ok(dev) && i.parse() == Ok(ino)
}

/// Device and inode of stderr.
fn stderr_dev_ino() -> Option<(u64, u64)> {
    use std::os::fd::AsFd;
    let st = nix::sys::stat::fstat(std::io::stderr().as_fd()).ok()?;
    #[allow(
        clippy::useless_conversion,
        reason = "dev_t and ino_t are 32-bit on some targets"
    )]
    Some((u64::from(st.st_dev), u64::from(st.st_ino)))
}

/// Whether stderr is connected to the journal (the process runs under
/// systemd with `StandardError=journal`).
pub fn stderr_is_journal() -> bool {
    let v = std::env::var("JOURNAL_STREAM").ok();
    is_journal_stream(v.as_deref(), stderr_dev_ino())
}

/// Installs the logger of a command run by hand (`load`, `inspect`, ...):
/// every line to stderr, and to `kmsg` too if one is given.
pub fn init_stderr(kmsg: Option<&Path>, verbose: bool) {
    let kmsg = kmsg.and_then(open_log_target).map(Mutex::new);
    let style = if stderr_is_journal() {
        Stderr::Journal
    } else {
        Stderr::Plain
    };
    install(kmsg, style, verbose);
}

/// Installs the logger of the boot flow (see the module doc). `kmsg` is
/// normally [`KMSG_PATH`]; `explicit_kmsg` says it was given on the command
/// line, in which case it is written even under systemd. A second call is a
/// no-op. `verbose` lowers the threshold from info to debug.
pub fn init(kmsg: &Path, explicit_kmsg: bool, verbose: bool) {
    let journal = stderr_is_journal();
    let kmsg = if journal && !explicit_kmsg {
        None
    } else {
        open_log_target(kmsg).map(Mutex::new)
    };
    let style = if journal {
        Stderr::Journal
    } else if kmsg.is_none() || std::io::stderr().is_terminal() || !stderr_is_null() {
        Stderr::Plain
    } else {
        Stderr::Off
    };
    install(kmsg, style, verbose);
}

/// Whether stderr is `/dev/null` (Android's init gives services that):
/// nothing is formatted for it then.
fn stderr_is_null() -> bool {
    let Ok(null) = std::fs::metadata("/dev/null") else {
        return false;
    };
    use std::os::unix::fs::MetadataExt;
    stderr_dev_ino().is_some_and(|(dev, ino)| (dev, ino) == (null.dev(), null.ino()))
}

fn install(kmsg: Option<Mutex<std::fs::File>>, stderr: Stderr, verbose: bool) {
    let max = if verbose {
        log::LevelFilter::Debug
    } else {
        log::LevelFilter::Info
    };
    #[cfg(target_os = "android")]
    android::init(max);
    let logger = Logger { kmsg, stderr, max };
    if log::set_boxed_logger(Box::new(logger)).is_ok() {
        log::set_max_level(max);
    }
}

#[cfg(target_os = "android")]
mod android {
    //! logcat, through `android_logger` (it is not a global logger here:
    //! ours is, and forwards records to it).
    use std::sync::OnceLock;

    static LOGGER: OnceLock<android_logger::AndroidLogger> = OnceLock::new();

    pub(super) fn init(max: log::LevelFilter) {
        let _ = LOGGER.set(android_logger::AndroidLogger::new(
            android_logger::Config::default()
                .with_max_level(max)
                .with_tag(super::TAG),
        ));
    }

    pub(super) fn log(record: &log::Record<'_>) {
        if let Some(l) = LOGGER.get() {
            log::Log::log(l, record);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_process_of_the_chain_appends_to_a_file_target() {
        use std::io::Write;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kmsg");
        std::fs::write(&path, "").expect("create");
        for line in ["netbpfload\n", "bpfloader\n", "done\n"] {
            let mut f = open_log_target(&path).expect("open");
            f.write_all(line.as_bytes()).expect("write");
        }
        let got = std::fs::read_to_string(&path).expect("read");
        assert_eq!(got, "netbpfload\nbpfloader\ndone\n");
        assert!(open_log_target(&dir.path().join("missing")).is_none());
    }

    #[test]
    fn priorities_match_syslog() {
        // <linux/kern_levels.h>: KERN_ERR 3, KERN_WARNING 4, KERN_INFO 6, KERN_DEBUG 7.
        assert_eq!(syslog_priority(log::Level::Error), 3);
        assert_eq!(syslog_priority(log::Level::Warn), 4);
        assert_eq!(syslog_priority(log::Level::Info), 6);
        assert_eq!(syslog_priority(log::Level::Debug), 7);
        assert_eq!(syslog_priority(log::Level::Trace), 7);
    }

    #[test]
    fn one_record_per_message_lines_tagged() {
        let r = kmsg_records("netbpfload", log::Level::Error, "a\n\nb c\n");
        assert_eq!(r, vec!["<3>netbpfload: a\nnetbpfload: b c\n"]);
    }

    #[test]
    fn a_long_message_keeps_its_head_and_tail_in_three_records() {
        let mut msg = String::from("x.o: failed: program p: Permission denied");
        msg.push_str("\nverifier log (tail):");
        for i in 0..500 {
            msg.push_str(&format!("\n{i}: (b7) r0 = 0 ; a verifier line"));
        }
        msg.push_str("\nR0 !read_ok");
        let r = kmsg_records("netbpfload", log::Level::Error, &msg);
        assert_eq!(r.len(), MAX_RECORDS_PER_MESSAGE, "{r:#?}");
        for rec in &r {
            assert!(rec.len() <= KMSG_LINE_MAX, "{}", rec.len());
            assert!(rec.starts_with("<3>netbpfload: "), "{rec}");
            assert!(rec.ends_with('\n'));
            assert!(
                rec.trim_end()
                    .split('\n')
                    .all(|l| l.trim_start_matches("<3>").starts_with("netbpfload: ")),
                "{rec}"
            );
        }
        assert!(r[0].starts_with("<3>netbpfload: x.o: failed: program p: Permission denied\n"));
        assert!(r[1].contains("lines omitted ...]"), "{}", r[1]);
        assert!(r[2].ends_with("netbpfload: R0 !read_ok\n"), "{}", r[2]);
        // The omitted count is right: every kept line plus the omitted ones
        // make the message.
        let kept: usize = r.iter().map(|rec| rec.trim_end().split('\n').count()).sum();
        let omitted: usize = r[1]
            .split("[... ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|n| n.parse().ok())
            .expect("count");
        assert_eq!(kept - 1 + omitted, 503, "503 lines in the message");
    }

    #[test]
    fn journal_stream_must_name_stderr() {
        assert!(is_journal_stream(Some("8:1234"), Some((8, 1234))));
        assert!(!is_journal_stream(Some("8:1234"), Some((8, 99))));
        assert!(!is_journal_stream(Some("junk"), Some((8, 1234))));
        assert!(!is_journal_stream(None, Some((8, 1234))));
        assert!(!is_journal_stream(Some("8:1234"), None));
    }

    #[test]
    fn long_lines_are_cut_on_char_boundary() {
        let long = "é".repeat(2000);
        let r = kmsg_records("t", log::Level::Info, &long);
        assert_eq!(r.len(), 1);
        let rec = &r[0];
        assert!(rec.len() <= KMSG_LINE_MAX, "{}", rec.len());
        assert!(rec.starts_with("<6>t: é"));
        assert!(rec.ends_with('\n'));
    }
}
