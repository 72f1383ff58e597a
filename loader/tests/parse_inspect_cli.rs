//! `netbpfload inspect` end to end: good files are rendered, a bad file is
//! reported as `FILE: error` on stderr, the rest still shown, exit code 1.

use std::process::Command;

#[test]
fn inspect_reports_bad_files_and_continues() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("pktCount.o");
    std::fs::write(&good, bpf_progs::object("pktCount.o").unwrap().bytes).unwrap();
    let bad = dir.path().join("zero.o");
    std::fs::write(&bad, [0u8; 256]).unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_netbpfload"))
        .args(["inspect", "--prefix", "net_private"])
        .arg(&bad)
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr, format!("{}: not an ELF file\n", bad.display()));
    assert!(
        stdout.contains("pin:            net_private/prog_pktCount_skfilter_count"),
        "{stdout}"
    );
    assert!(
        stdout.contains("relocations:    packet_count_map@"),
        "{stdout}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_netbpfload"))
        .args(["inspect", "--json"])
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let o = &v["objects"][0];
    assert_eq!(o["object"]["name"], "pktCount", "{v:#}");
    assert_eq!(
        o["plan"]["programs"][0]["pin"], "prog_pktCount_skfilter_count",
        "{v:#}"
    );
    assert_eq!(o["object"]["maps"][1]["gid"], 1000, "{v:#}");
}

fn inspect(file: &std::path::Path) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_netbpfload"))
        .arg("inspect")
        .arg(file)
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8(out.stderr).unwrap())
}

/// `inspect` reads what the loader would: regular files up to the loader's
/// cap, without blocking on a FIFO or streaming a device forever.
#[test]
fn inspect_refuses_what_the_loader_would_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.o");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let (code, err) = inspect(&fifo);
    assert_eq!(code, Some(1));
    assert_eq!(
        err,
        format!("{}: is a FIFO, not a regular file\n", fifo.display())
    );

    let (code, err) = inspect(std::path::Path::new("/dev/zero"));
    assert_eq!(code, Some(1));
    assert_eq!(
        err,
        "/dev/zero: is a character device, not a regular file\n"
    );

    let big = dir.path().join("big.o");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(netbpfload::engine::MAX_OBJECT_SIZE + 1).unwrap(); // sparse
    let (code, err) = inspect(&big);
    assert_eq!(code, Some(1));
    assert!(err.contains("larger than the 16777216-byte limit"), "{err}");

    let good = dir.path().join("pktCount.o");
    std::fs::write(&good, bpf_progs::object("pktCount.o").unwrap().bytes).unwrap();
    let link = dir.path().join("link.o");
    std::os::unix::fs::symlink(&good, &link).unwrap();
    let (code, err) = inspect(&link);
    assert_eq!(code, Some(1));
    assert!(err.contains("is a symbolic link (not followed)"), "{err}");
    assert_eq!(inspect(&good).0, Some(0));
}
