//! Where log lines go.
//!
//! At boot the loader runs before logd, so like the reference's
//! `KernelLogger` every line is written to the kernel log (`/dev/kmsg`, one
//! record per line with a `<N>netbpfload: ` priority prefix, N being the
//! syslog level). When stderr is a terminal (someone ran the tool by hand)
//! lines also go there; when neither `/dev/kmsg` can be opened nor stderr is
//! a terminal, stderr is used anyway so nothing is lost. On Android,
//! `android_logger` additionally sends them to logcat.
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

/// Formats one message as `/dev/kmsg` records: one per line of `msg`, each
/// `<N>tag: line`, cut to what the kernel accepts at a char boundary.
pub fn kmsg_records(tag: &str, level: log::Level, msg: &str) -> Vec<String> {
    let prio = syslog_priority(level);
    msg.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut rec = format!("<{prio}>{tag}: {line}");
            if rec.len() > KMSG_LINE_MAX {
                let mut cut = KMSG_LINE_MAX;
                while !rec.is_char_boundary(cut) {
                    cut -= 1;
                }
                rec.truncate(cut);
            }
            rec.push('\n');
            rec
        })
        .collect()
}

struct Logger {
    kmsg: Option<Mutex<std::fs::File>>,
    stderr: bool,
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
        if self.stderr {
            let mut err = std::io::stderr().lock();
            for line in msg.lines() {
                let _ = writeln!(err, "{TAG}: {}: {line}", record.level());
            }
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

/// Installs the logger of a command run by hand (`load`, `inspect`, ...):
/// every line to stderr, and to `kmsg` too if one is given.
pub fn init_stderr(kmsg: Option<&Path>, verbose: bool) {
    let kmsg = kmsg.and_then(open_log_target).map(Mutex::new);
    install(kmsg, true, verbose);
}

/// Installs the process logger. `kmsg` is normally [`KMSG_PATH`]; a second
/// call is a no-op. `verbose` lowers the threshold from info to debug.
pub fn init(kmsg: &Path, verbose: bool) {
    let kmsg = open_log_target(kmsg).map(Mutex::new);
    let stderr = std::io::stderr().is_terminal() || kmsg.is_none();
    install(kmsg, stderr, verbose);
}

fn install(kmsg: Option<Mutex<std::fs::File>>, stderr: bool, verbose: bool) {
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
    fn one_record_per_line_with_prefix() {
        let r = kmsg_records("netbpfload", log::Level::Error, "a\n\nb c\n");
        assert_eq!(r, vec!["<3>netbpfload: a\n", "<3>netbpfload: b c\n"]);
    }

    #[test]
    fn long_lines_are_cut_on_char_boundary() {
        let long = "é".repeat(2000);
        let r = kmsg_records("t", log::Level::Info, &long);
        assert_eq!(r.len(), 1);
        let rec = &r[0];
        assert!(rec.len() <= KMSG_LINE_MAX + 1, "{}", rec.len());
        assert!(rec.starts_with("<6>t: é"));
        assert!(rec.ends_with('\n'));
    }
}
