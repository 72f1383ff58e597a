//! The documentation is self-contained and its citations hold:
//!
//! * no tracked text file points outside the repository (to the private
//!   reference notes the project started from, or to a path of the machine
//!   it was written on);
//! * every `docs/<file>.md` citation that names an anchor (in code, scripts
//!   or Markdown, and relative links between the files of `docs/`) resolves
//!   to a heading of that file, as GitHub renders anchors;
//! * every `android-release-rules.md §N` citation names a numbered section
//!   of that file.
//!
//! The files are those `git ls-files` lists; without git (a source tarball)
//! the tree is walked instead, leaving out `.git`, build output and fuzzing
//! state.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What a pointer outside the repository looks like. Built with `concat!`
/// so that this file does not match itself.
const OUTSIDE: &[&str] = &[
    concat!("/wo", "rk/"),
    concat!("android-bpf-loader", "-facts"),
    concat!("shared/", "reference/"),
    concat!("facts ", "§"),
    concat!("facts ", "file"),
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("loader/ has a parent")
        .to_path_buf()
}

/// Directories never scanned by the fallback walk.
fn skipped_dir(rel: &Path) -> bool {
    let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name == ".git"
        || name == "target"
        || rel == Path::new("fuzz/corpus")
        || rel == Path::new("fuzz/artifacts")
}

fn walk(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) {
    let dir = root.join(rel);
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry"))
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let child = rel.join(e.file_name());
        let ty = e.file_type().expect("file type");
        if e.file_name() == ".git" {
            // A worktree's `.git` is a file naming the main repository.
            continue;
        }
        if ty.is_dir() {
            if !skipped_dir(&child) {
                walk(root, &child, out);
            }
        } else if ty.is_file() {
            out.push(child);
        }
    }
}

/// The repository's files, relative to the root.
fn repo_files(root: &Path) -> Vec<PathBuf> {
    let git = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["ls-files", "-z"])
        .output();
    if let Ok(out) = git {
        if out.status.success() && !out.stdout.is_empty() {
            return out
                .stdout
                .split(|&b| b == 0)
                .filter(|p| !p.is_empty())
                .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
                // Listed but deleted in the working tree: nothing to read.
                .filter(|p| root.join(p).is_file())
                .collect();
        }
    }
    let mut out = Vec::new();
    walk(root, Path::new(""), &mut out);
    out
}

/// The text files of the repository with their contents (a file with a NUL
/// byte is binary and left out).
fn text_files() -> Vec<(PathBuf, String)> {
    let root = repo_root();
    let files: Vec<_> = repo_files(&root)
        .into_iter()
        .filter_map(|rel| {
            let bytes =
                std::fs::read(root.join(&rel)).unwrap_or_else(|e| panic!("{}: {e}", rel.display()));
            if bytes.contains(&0) {
                return None;
            }
            Some((rel, String::from_utf8_lossy(&bytes).into_owned()))
        })
        .collect();
    for must in [
        "README.md",
        "docs/android-release-rules.md",
        "loader/src/spec.rs",
    ] {
        assert!(
            files.iter().any(|(p, _)| p == Path::new(must)),
            "{must} is not among the {} files scanned",
            files.len()
        );
    }
    files
}

/// The lines of `text` that point outside the repository.
fn outside_pointers(text: &str) -> Vec<(usize, &str)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| OUTSIDE.iter().any(|n| l.contains(n)))
        .map(|(i, l)| (i + 1, l))
        .collect()
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces
/// turned into `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The headings of a Markdown file (outside code fences).
fn headings(text: &str) -> Vec<&str> {
    let mut fenced = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let hashes = line.bytes().take_while(|&b| b == b'#').count();
        if (1..=6).contains(&hashes) && line.as_bytes().get(hashes) == Some(&b' ') {
            out.push(line[hashes..].trim());
        }
    }
    out
}

/// Every anchor of a Markdown file, with GitHub's `-1`, `-2`, … for
/// repeated headings.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    for h in headings(text) {
        let base = slug(h);
        let n = seen.entry(base.clone()).or_insert(0);
        out.insert(if *n == 0 {
            base.clone()
        } else {
            format!("{base}-{n}")
        });
        *n += 1;
    }
    out
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

fn is_anchor_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-')
}

/// A cited Markdown file and anchor.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Citation {
    /// The file, relative to the repository root.
    file: PathBuf,
    anchor: String,
}

/// `docs/<name>.md#<anchor>` anywhere in `text`.
fn doc_citations(text: &str) -> Vec<Citation> {
    let mut out = Vec::new();
    for (at, _) in text.match_indices("docs/") {
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            continue;
        }
        let rest = &text[at + "docs/".len()..];
        let name: String = rest.chars().take_while(|&c| is_name_char(c)).collect();
        let Some(stem) = name.strip_suffix(".md") else {
            continue;
        };
        if stem.is_empty() {
            continue;
        }
        let Some(after) = rest[name.len()..].strip_prefix('#') else {
            continue;
        };
        let anchor: String = after.chars().take_while(|&c| is_anchor_char(c)).collect();
        if !anchor.is_empty() {
            out.push(Citation {
                file: Path::new("docs").join(&name),
                anchor,
            });
        }
    }
    out
}

/// Markdown links `](<name>.md#<anchor>)` and `](#<anchor>)` in a file of
/// `dir`, resolved relative to it (`self_file` for the second form).
fn relative_links(text: &str, dir: &Path, self_file: &Path) -> Vec<Citation> {
    let mut out = Vec::new();
    for (at, _) in text.match_indices("](") {
        let rest = &text[at + 2..];
        let Some(end) = rest.find(')') else {
            continue;
        };
        let target = &rest[..end];
        let Some((file, anchor)) = target.split_once('#') else {
            continue;
        };
        if file.contains('/') || file.contains(':') {
            continue;
        }
        let file = if file.is_empty() {
            self_file.to_path_buf()
        } else {
            dir.join(file)
        };
        out.push(Citation {
            file,
            anchor: anchor.to_string(),
        });
    }
    out
}

#[test]
fn the_matchers_find_what_they_look_for() {
    let pointer = format!("see {}sh/x.md", OUTSIDE[0]);
    assert_eq!(
        outside_pointers(&format!("a\n{pointer}\n")),
        vec![(2, pointer.as_str())]
    );
    assert!(outside_pointers("a map of the facts it needs\n").is_empty());

    assert_eq!(
        slug("15. Corrections to the earlier reference notes"),
        "15-corrections-to-the-earlier-reference-notes"
    );
    assert_eq!(
        slug("0.1 Which stored NetBpfLoad.cpp is Android 15"),
        "01-which-stored-netbpfloadcpp-is-android-15"
    );
    assert_eq!(slug("Map record"), "map-record");
    let a = anchors("# T\n## Notes\n```\n## not a heading\n```\n### Notes\n");
    assert_eq!(
        a,
        ["t", "notes", "notes-1"]
            .map(String::from)
            .into_iter()
            .collect()
    );

    // Built at run time: the scan of this file must not see these citations.
    let d = ["do", "cs/"].concat();
    let text = format!(
        "x (`{d}object-format.md#map-record`), [y]({d}a.md#b-c) my{d}z.md#q \
         {d}<file>.md#anchor {d}plain.md"
    );
    assert_eq!(
        doc_citations(&text),
        vec![
            Citation {
                file: "docs/object-format.md".into(),
                anchor: "map-record".into()
            },
            Citation {
                file: "docs/a.md".into(),
                anchor: "b-c".into()
            },
        ]
    );
    let links = relative_links(
        "[a](other.md#x) [b](#y) [c](https://e.org/p#z) [d](other.md)",
        Path::new("docs"),
        Path::new("docs/self.md"),
    );
    assert_eq!(
        links,
        vec![
            Citation {
                file: "docs/other.md".into(),
                anchor: "x".into()
            },
            Citation {
                file: "docs/self.md".into(),
                anchor: "y".into()
            },
        ]
    );
}

#[test]
fn no_file_points_outside_the_repository() {
    let files = text_files();
    let mut found = Vec::new();
    for (path, text) in &files {
        for (line, l) in outside_pointers(text) {
            found.push(format!("{}:{line}: {}", path.display(), l.trim()));
        }
    }
    assert!(
        found.is_empty(),
        "pointers outside the repository (describe what is needed in docs/ and cite \
         docs/<file>.md with an anchor instead):\n{}",
        found.join("\n")
    );
}

#[test]
fn cited_doc_anchors_exist() {
    let root = repo_root();
    let files = text_files();
    let mut cited: BTreeMap<Citation, Vec<String>> = BTreeMap::new();
    for (path, text) in &files {
        let mut all = doc_citations(text);
        if path.starts_with("docs") && path.extension().is_some_and(|e| e == "md") {
            all.extend(relative_links(text, Path::new("docs"), path));
        }
        for c in all {
            cited.entry(c).or_default().push(path.display().to_string());
        }
    }
    // The format document is cited from the parser, the spec and the corpus.
    for needed in ["map-record", "program-record", "pin-paths", "btf"] {
        assert!(
            cited
                .keys()
                .any(|c| c.file == Path::new("docs/object-format.md") && c.anchor == needed),
            "no citation of docs/object-format.md#{needed} found; citations: {:?}",
            cited.keys().collect::<Vec<_>>()
        );
    }
    let mut bad = Vec::new();
    let mut cache: BTreeMap<PathBuf, Option<BTreeSet<String>>> = BTreeMap::new();
    for (c, from) in &cited {
        let known = cache.entry(c.file.clone()).or_insert_with(|| {
            std::fs::read_to_string(root.join(&c.file))
                .ok()
                .map(|t| anchors(&t))
        });
        let problem = match known {
            None => Some("the file does not exist"),
            Some(a) if !a.contains(&c.anchor) => Some("no heading has this anchor"),
            Some(_) => None,
        };
        if let Some(problem) = problem {
            bad.push(format!(
                "{}#{} ({problem}), cited from {}",
                c.file.display(),
                c.anchor,
                from.join(", ")
            ));
        }
    }
    assert!(bad.is_empty(), "broken citations:\n{}", bad.join("\n"));
}

/// Section numbers (`5`, `11.3`) of a Markdown file's numbered headings.
fn section_numbers(text: &str) -> BTreeSet<String> {
    headings(text)
        .into_iter()
        .filter_map(|h| {
            let first = h.split_whitespace().next()?;
            let n = first.trim_end_matches('.');
            n.chars()
                .all(|c| c.is_ascii_digit() || c == '.')
                .then(|| n.to_string())
                .filter(|n| !n.is_empty())
        })
        .collect()
}

/// The section numbers cited right after `file` in `text`
/// (`file §7`, `` file` §10–§11 ``).
fn section_citations(text: &str, file: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (at, _) in text.match_indices(file) {
        let mut rest = text[at + file.len()..].trim_start_matches(['`', ')', ' ']);
        while let Some(r) = rest.strip_prefix('§') {
            let n: String = r
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let n = n.trim_end_matches('.').to_string();
            if n.is_empty() {
                break;
            }
            rest = &r[n.len()..];
            out.push(n);
            rest = rest
                .strip_prefix('–')
                .or_else(|| rest.strip_prefix('-'))
                .unwrap_or("");
        }
    }
    out
}

#[test]
fn cited_release_rule_sections_exist() {
    const RULES: &str = "android-release-rules.md";
    let root = repo_root();
    let rules = std::fs::read_to_string(root.join("docs").join(RULES)).expect("rules doc");
    let numbers = section_numbers(&rules);
    for n in ["0.1", "5", "7", "11", "11.3", "15"] {
        assert!(numbers.contains(n), "§{n} missing from {numbers:?}");
    }
    assert_eq!(
        section_citations("see `docs/x.md` §7–§9 and x.md §11.3.", "x.md"),
        vec!["7", "9", "11.3"]
    );
    let mut count = 0;
    let mut bad = Vec::new();
    for (path, text) in text_files() {
        for n in section_citations(&text, RULES) {
            count += 1;
            if !numbers.contains(&n) {
                bad.push(format!("{}: {RULES} §{n}", path.display()));
            }
        }
    }
    assert!(
        count >= 5,
        "only {count} section citations of {RULES} found"
    );
    assert!(
        bad.is_empty(),
        "cited sections that do not exist:\n{}",
        bad.join("\n")
    );
}
