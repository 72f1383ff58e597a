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
