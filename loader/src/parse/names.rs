//! Which names are accepted.
//!
//! Map names, program pin names and the object name become path components
//! under bpffs (`map_<obj>_<map>`, `prog_<obj>_<prog>`), and every name ends
//! up in log lines (kmsg on a device). So they must be non-empty and contain
//! no `/` (it would leave the pin directory), no `.` (bpffs reserves dots for
//! its own files and answers a bare `EPERM`: `bpf_lookup()` in
//! `kernel/bpf/inode.c`), and no NUL or control character (a newline would
//! start a forged `netbpfload:` line in the log). Names that are not path
//! components (function and definition symbols, the rest of a section name)
//! only need to be printable and free of `/`.

use super::elf::{Elf, Name};
use super::error::{ParseError, ParseErrorKind};
use crate::paths;

/// Longest file name a filesystem takes (`NAME_MAX`); a pin name built from
/// an object and a map or program name must fit, or pinning fails with
/// `ENAMETOOLONG` after the kernel objects were made.
const NAME_MAX: usize = 255;

/// Whether the pin of map `map` of object `obj` has a file name of at most
/// `NAME_MAX` bytes (temporary pin names are short and fixed-size:
/// [`paths::tmp_pin_rel`]).
pub(super) fn map_pin_fits(obj: &str, map: &str) -> Result<(), &'static str> {
    if paths::map_pin_rel("", obj, map, false).len() > NAME_MAX {
        return Err("makes a pin file name longer than 255 bytes with the object name");
    }
    Ok(())
}

/// Same for a program's pin name.
pub(super) fn prog_pin_fits(obj: &str, pin_name: &str) -> Result<(), &'static str> {
    if paths::prog_pin_rel("", obj, pin_name).len() > NAME_MAX {
        return Err("makes a pin file name longer than 255 bytes with the object name");
    }
    Ok(())
}

/// Why `name` cannot be a pin-path component, if it cannot.
pub(super) fn component(name: &str) -> Result<(), &'static str> {
    if name.contains('.') {
        return Err("contains '.' (reserved by bpffs)");
    }
    label(name)
}

/// Why `name` cannot be shown or used as a symbol name, if it cannot.
pub(super) fn label(name: &str) -> Result<(), &'static str> {
    printable(name)?;
    if name.is_empty() {
        return Err("is empty");
    }
    if name.contains('/') {
        return Err("contains '/'");
    }
    Ok(())
}

/// Why `name` cannot go into a log line, if it cannot.
pub(super) fn printable(name: &str) -> Result<(), &'static str> {
    if name.chars().any(char::is_control) {
        return Err("contains a control character");
    }
    Ok(())
}

/// The name of symbol `index` as UTF-8, checked with `rule`.
pub(super) fn symbol<'a>(
    elf: &Elf<'a>,
    index: usize,
    rule: fn(&str) -> Result<(), &'static str>,
) -> Result<&'a str, ParseError> {
    let bad = |name: &[u8], reason| {
        elf.error(ParseErrorKind::BadSymbolName {
            index,
            name: String::from_utf8_lossy(name).into_owned(),
            reason,
        })
    };
    match elf.symbol_name(index) {
        Name::Ok(bytes) => {
            let s = std::str::from_utf8(bytes).map_err(|_| bad(bytes, "is not UTF-8"))?;
            rule(s).map_err(|reason| bad(bytes, reason))?;
            Ok(s)
        }
        Name::TooLong(_) => Err(elf.error(ParseErrorKind::NameTooLong {
            what: "symbol",
            index,
            max: super::MAX_NAME_LEN,
        })),
        Name::Bad => Err(bad(
            b"",
            "name offset is outside the string table, or the name is unterminated",
        )),
    }
}
