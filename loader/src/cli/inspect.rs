//! `netbpfload inspect [--json] [--prefix P] FILE...`: print what the parser
//! sees. A file that fails to parse is reported on stderr as `FILE: error`;
//! the others are still shown, and the exit code is 1 if any failed.
//!
//! Files are read the way the loader reads them: regular files only (a FIFO
//! would block, `/dev/zero` never ends), symbolic links not followed, at
//! most [`MAX_OBJECT_SIZE`] bytes.

use netbpfload::engine::MAX_OBJECT_SIZE;
use netbpfload::inspect::{render_text, InspectJson};
use netbpfload::parse::parse_object;
use std::fs::OpenOptions;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

/// Reads one object file: a regular file of at most [`MAX_OBJECT_SIZE`]
/// bytes. The open never blocks (`O_NONBLOCK`: a FIFO without a writer
/// opens at once and is then refused by its type) and does not follow a
/// final symbolic link (`O_NOFOLLOW`).
fn read_object(file: &Path) -> Result<Vec<u8>, String> {
    let name = file.display();
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(file)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => format!("{name}: is a symbolic link (not followed)"),
            _ => format!("{name}: {e}"),
        })?;
    let meta = f.metadata().map_err(|e| format!("{name}: {e}"))?;
    let t = meta.file_type();
    if !t.is_file() {
        let kind = if t.is_dir() {
            "a directory"
        } else if t.is_fifo() {
            "a FIFO"
        } else if t.is_char_device() {
            "a character device"
        } else if t.is_block_device() {
            "a block device"
        } else if t.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
        return Err(format!("{name}: is {kind}, not a regular file"));
    }
    let too_big = |len: u64| {
        format!(
            "{name}: {len} bytes, larger than the {MAX_OBJECT_SIZE}-byte limit the loader reads"
        )
    };
    if meta.len() > MAX_OBJECT_SIZE {
        return Err(too_big(meta.len()));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    f.take(MAX_OBJECT_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{name}: {e}"))?;
    // It may have grown since the fstat.
    if bytes.len() as u64 > MAX_OBJECT_SIZE {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Arguments of `inspect`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Print one JSON array (spec and computed pin paths per object).
    #[arg(long)]
    json: bool,
    /// Location prefix the pin paths are computed for (e.g. `tethering/`).
    #[arg(long, default_value = "")]
    prefix: String,
    /// Object files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// Runs `inspect`; returns the exit code.
pub fn run(a: InspectArgs) -> i32 {
    let mut failed = false;
    let mut specs = Vec::new();
    for file in &a.files {
        let parsed = read_object(file)
            .and_then(|bytes| parse_object(file, &bytes).map_err(|e| e.to_string()));
        match parsed {
            Ok(spec) => specs.push((file.display().to_string(), spec)),
            Err(e) => {
                // The parse error already starts with the file name.
                eprintln!("{e}");
                failed = true;
            }
        }
    }

    let mut stdout = std::io::stdout().lock();
    let written = if a.json {
        let views: Vec<InspectJson<'_>> = specs
            .iter()
            .map(|(file, spec)| InspectJson::new(file, spec, &a.prefix))
            .collect();
        serde_json::to_writer_pretty(&mut stdout, &views)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(stdout))
    } else {
        specs.iter().enumerate().try_for_each(|(i, (file, spec))| {
            if i > 0 {
                writeln!(stdout)?;
            }
            write!(stdout, "{}", render_text(file, spec, &a.prefix))
        })
    };
    if let Err(e) = written {
        eprintln!("inspect: writing output: {e}");
        return 1;
    }
    i32::from(failed)
}
