//! `-j`/`--json` and `-p`/`--pretty`, as bpftool spells them: one JSON
//! document on stdout (see `docs/json-schema.md`), on one line or
//! pretty-printed.

use serde::Serialize;
use std::io::{self, Write};

/// How a command prints its result.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct OutputArgs {
    /// Print the result as JSON, on one line (docs/json-schema.md).
    #[arg(short = 'j', long = "json")]
    pub json: bool,
    /// Print the result as pretty-printed JSON (implies --json).
    #[arg(short = 'p', long = "pretty")]
    pub pretty: bool,
}

impl OutputArgs {
    /// Whether JSON is asked for.
    pub fn is_json(&self) -> bool {
        self.json || self.pretty
    }

    /// Writes `doc` as JSON and a newline.
    pub fn write_json(&self, out: &mut impl Write, doc: &impl Serialize) -> io::Result<()> {
        // Serialized whole before any byte is written: a document is
        // printed complete or not at all.
        let text = if self.pretty {
            serde_json::to_vec_pretty(doc)
        } else {
            serde_json::to_vec(doc)
        };
        out.write_all(&text.map_err(io::Error::from)?)?;
        writeln!(out)
    }
}
