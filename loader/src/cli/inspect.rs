//! `netbpfload inspect [--json] [--prefix P] FILE...`: print what the parser
//! sees. A file that fails to parse is reported on stderr as `FILE: error`;
//! the others are still shown, and the exit code is 1 if any failed.

use netbpfload::inspect::{render_text, InspectJson};
use netbpfload::parse::parse_object;
use std::io::Write as _;
use std::path::PathBuf;

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
        let parsed = std::fs::read(file)
            .map_err(|e| format!("{}: {e}", file.display()))
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
