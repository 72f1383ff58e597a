//! Manifests that bind, against the in-memory kernel: a location's objects
//! are exactly those its manifest lists, a signed manifest holds only for
//! its own location and from the minimum version on, criticality survives a
//! failure before parsing, and a bad manifest refuses the whole location.
//! The rules are those of `docs/manifest.md`.

use super::*;
use crate::manifest::{Manifest, BUILD_TIME_MIN_VERSION};
use crate::sys::fake::FakeSys;
use ed25519_dalek::{Signer, SigningKey};

const ROOT: &str = "/sys/fs/bpf";
const DIR: &str = "/loc";

fn corpus(name: &str) -> &'static [u8] {
    bpf_progs::object(name)
        .unwrap_or_else(|| panic!("corpus lacks {name}"))
        .bytes
}

/// A non-critical object.
fn pkt() -> &'static [u8] {
    corpus("pktCount.o")
}

/// An object whose own `critical` section says so.
fn crit() -> &'static [u8] {
    corpus("criticalReject.o")
}

const CRIT_REASON: &str = "boot test: a critical object the verifier rejects";

fn fake() -> FakeSys {
    let f = FakeSys::new();
    f.mount_bpffs(ROOT);
    f.add_dir(format!("{ROOT}/net_private"));
    f.add_dir(DIR);
    f
}

fn signer() -> (SigningKey, PublicKey) {
    let sk = SigningKey::from_bytes(&[9; 32]);
    let pk = PublicKey::from_bytes(sk.verifying_key().to_bytes()).expect("key");
    (sk, pk)
}

/// Android 15 mainline rules (failure fails the boot only for critical
/// objects), with `key` and a minimum version.
fn cfg(f: &FakeSys, key: Option<PublicKey>, min_version: u64) -> LoadConfig {
    let mut c = crate::test_support::load_config(f, ROOT);
    c.manifest_key = key.map(Ok);
    c.manifest_min_version = min_version;
    c
}

/// Writes `text` as `dir`'s manifest, signed by `sk` if given.
fn put_manifest(f: &FakeSys, dir: &str, text: &str, sk: Option<&SigningKey>) {
    f.add_file(format!("{dir}/bpf.manifest"), text);
    if let Some(sk) = sk {
        f.add_file(
            format!("{dir}/bpf.manifest.sig"),
            sk.sign(text.as_bytes()).to_bytes().to_vec(),
        );
    }
}

fn load_at(f: &FakeSys, c: &LoadConfig, dir: &str) -> LocationReport {
    load_location(f, c, &Location::new(dir, "net_private/"))
}

fn load(f: &FakeSys, c: &LoadConfig) -> LocationReport {
    load_at(f, c, DIR)
}

fn object<'r>(r: &'r LocationReport, name: &str) -> &'r ObjectReport {
    r.objects
        .iter()
        .find(|o| o.file.file_name() == Some(std::ffi::OsStr::new(name)))
        .unwrap_or_else(|| panic!("{name} not reported: {r:#?}"))
}

/// "loaded", or the failure's message.
fn outcome(r: &LocationReport, name: &str) -> String {
    match &object(r, name).outcome {
        ObjectOutcome::Loaded { .. } => "loaded".to_string(),
        ObjectOutcome::Skipped { reason } => format!("skipped {reason}"),
        ObjectOutcome::Failed { error } => error.to_string(),
    }
}

fn integrity(r: &LocationReport, name: &str) -> ManifestError {
    match object(r, name).error() {
        Some(ObjectError::Integrity { source, .. }) => source.clone(),
        other => panic!("{name}: expected an integrity failure, got {other:?}"),
    }
}

fn pins(f: &FakeSys) -> Vec<String> {
    f.pins()
        .into_iter()
        .map(|(p, ..)| p.display().to_string())
        .collect()
}

#[test]
fn listed_but_missing_objects_fail_by_name_with_the_manifest_s_criticality() {
    let f = fake();
    let (sk, pk) = signer();
    f.add_file(format!("{DIR}/a.o"), pkt());
    f.add_file(format!("{DIR}/extra.o"), pkt());
    f.add_dir(format!("{DIR}/sub.o"));
    let text = Manifest::generate_bound(
        DIR,
        1,
        [("a.o", pkt()), ("gone.o", pkt()), ("sub.o", pkt())],
        &["gone.o"],
    );
    put_manifest(&f, DIR, &text, Some(&sk));
    let r = load(&f, &cfg(&f, Some(pk), 0));
    assert!(r.error.is_none(), "{r:#?}");
    assert_eq!(outcome(&r, "a.o"), "loaded");
    // Present but unlisted.
    assert_eq!(
        outcome(&r, "extra.o"),
        "/loc/extra.o: not listed in bpf.manifest"
    );
    // Listed but missing: reported as that object, after those present.
    let names: Vec<String> = r
        .objects
        .iter()
        .map(|o| o.file.display().to_string())
        .collect();
    assert_eq!(names[names.len() - 2..], ["/loc/gone.o", "/loc/sub.o"]);
    assert_eq!(
        outcome(&r, "gone.o"),
        "/loc/gone.o: listed in bpf.manifest but not in the directory"
    );
    let gone = object(&r, "gone.o");
    assert_eq!(gone.critical.as_deref(), Some(MANIFEST_CRITICAL));
    assert!(gone.fatal);
    assert_eq!(gone.object, "gone");
    assert_eq!(
        outcome(&r, "sub.o"),
        "/loc/sub.o: listed in bpf.manifest but a directory, not a regular file"
    );
    let sub = object(&r, "sub.o");
    assert!(sub.critical.is_none() && !sub.fatal, "{sub:?}");
    assert!(r.fails_boot());
    // Only a.o pinned anything.
    let p = pins(&f);
    assert!(
        !p.is_empty() && p.iter().all(|p| p.contains("_a_")),
        "{p:?}"
    );

    // The same deletion of a non-critical object fails that object only
    // (on Android 15; 2025's policy fails the boot for any failure).
    let f = fake();
    f.add_file(format!("{DIR}/a.o"), pkt());
    let text = Manifest::generate_bound(DIR, 1, [("a.o", pkt()), ("gone.o", pkt())], &[]);
    put_manifest(&f, DIR, &text, Some(&sk));
    let r = load(&f, &cfg(&f, Some(pk), 0));
    assert_eq!(
        integrity(&r, "gone.o").to_string(),
        "listed in bpf.manifest but not in the directory"
    );
    assert!(!object(&r, "gone.o").fatal);
    assert!(!r.fails_boot(), "{r:#?}");
    let mut q = cfg(&f, Some(pk), 0);
    q.rules = crate::release::Release::R25Q2
        .rules()
        .role(crate::release::Role::Mainline);
    let r = load(&f, &q);
    assert!(object(&r, "gone.o").fatal && r.fails_boot());
}

#[test]
fn an_unsigned_manifest_is_exact_too() {
    // No key: a format-1 manifest (sha256sum output) still binds the set.
    let f = fake();
    f.add_file(format!("{DIR}/a.o"), pkt());
    put_manifest(
        &f,
        DIR,
        &Manifest::generate([("a.o", pkt()), ("b.o", pkt())]),
        None,
    );
    let r = load(&f, &cfg(&f, None, 0));
    assert_eq!(outcome(&r, "a.o"), "loaded");
    assert!(matches!(
        integrity(&r, "b.o"),
        ManifestError::Missing { .. }
    ));
    assert!(r.error.is_none());
}

#[test]
fn a_signed_set_replayed_into_another_location_is_refused() {
    let f = fake();
    let (sk, pk) = signer();
    let text = Manifest::generate_bound(DIR, 1, [("a.o", pkt())], &[]);
    for dir in [DIR, "/other"] {
        f.add_file(format!("{dir}/a.o"), pkt());
        put_manifest(&f, dir, &text, Some(&sk));
    }
    let c = cfg(&f, Some(pk), 0);
    assert_eq!(outcome(&load(&f, &c), "a.o"), "loaded");
    let before = pins(&f);
    let r = load_at(&f, &c, "/other");
    let want = ManifestError::WrongLocation {
        declared: PathBuf::from(DIR),
        actual: PathBuf::from("/other"),
    };
    match &r.error {
        Some(LocationError::Manifest { dir, source }) => {
            assert_eq!((dir.as_path(), source), (Path::new("/other"), &want));
        }
        other => panic!("expected the location refused, got {other:?}"),
    }
    assert_eq!(integrity(&r, "a.o"), want);
    assert!(r.fails_boot());
    assert_eq!(pins(&f), before, "nothing of /other pinned");
    // The JSON report names the reason.
    let json = serde_json::to_value(&r.error).expect("json");
    assert_eq!(json["reason"], "manifest");
    assert_eq!(
        json["message"],
        "/other: bpf.manifest is for /loc, not /other"
    );
}

#[test]
fn an_older_signed_set_is_refused_below_the_minimum() {
    let (sk, pk) = signer();
    for (min, refused) in [(4, true), (3, false), (0, false)] {
        let f = fake();
        f.add_file(format!("{DIR}/a.o"), pkt());
        let text = Manifest::generate_bound(DIR, 3, [("a.o", pkt())], &[]);
        put_manifest(&f, DIR, &text, Some(&sk));
        let r = load(&f, &cfg(&f, Some(pk), min));
        assert_eq!(r.error.is_some(), refused, "min {min}: {r:#?}");
        if refused {
            assert_eq!(
                outcome(&r, "a.o"),
                "/loc/a.o: bpf.manifest version 3 is older than the minimum accepted, 4"
            );
            assert!(pins(&f).is_empty());
        } else {
            assert_eq!(outcome(&r, "a.o"), "loaded", "min {min}");
        }
    }
    // The engine's default is the compiled-in minimum.
    let f = fake();
    assert_eq!(
        crate::test_support::load_config(&f, ROOT).manifest_min_version,
        BUILD_TIME_MIN_VERSION
    );
}

#[test]
fn a_critical_object_failing_before_it_is_parsed_is_still_critical() {
    let (sk, pk) = signer();
    // Its own `critical` section, read from the bytes although the object
    // is refused: untrusted owner, group-writable, unlisted, tampered.
    let f = fake();
    f.add_file_with(format!("{DIR}/owner.o"), crit(), 0o644, 1000, 1000);
    f.add_file_with(format!("{DIR}/mode.o"), crit(), 0o664, 0, 0);
    let r = load(&f, &cfg(&f, None, 0));
    for name in ["owner.o", "mode.o"] {
        let o = object(&r, name);
        assert_eq!(o.critical.as_deref(), Some(CRIT_REASON), "{name}");
        assert!(o.fatal, "{name}");
        assert!(matches!(o.error(), Some(ObjectError::Read(_))), "{o:?}");
    }
    assert!(r.fails_boot());

    let f = fake();
    f.add_file(format!("{DIR}/unlisted.o"), crit());
    f.add_file(format!("{DIR}/tampered.o"), crit());
    f.add_file(format!("{DIR}/a.o"), pkt());
    let text = Manifest::generate_bound(DIR, 1, [("a.o", pkt()), ("tampered.o", pkt())], &[]);
    put_manifest(&f, DIR, &text, Some(&sk));
    let r = load(&f, &cfg(&f, Some(pk), 0));
    assert_eq!(integrity(&r, "unlisted.o"), ManifestError::Unlisted);
    assert!(matches!(
        integrity(&r, "tampered.o"),
        ManifestError::Mismatch { .. }
    ));
    for name in ["unlisted.o", "tampered.o"] {
        let o = object(&r, name);
        assert_eq!(o.critical.as_deref(), Some(CRIT_REASON), "{name}");
        assert!(o.fatal, "{name}");
    }
    assert_eq!(outcome(&r, "a.o"), "loaded");

    // What cannot be read or parsed declares nothing: without a manifest a
    // symlink or a corrupt file is not known to be critical; the manifest's
    // mark makes it so.
    for marked in [false, true] {
        let f = fake();
        f.add_file("/elsewhere/crit.o", crit());
        f.add_symlink(format!("{DIR}/link.o"), "/elsewhere/crit.o", 0);
        f.add_file(format!("{DIR}/corrupt.o"), &crit()[..crit().len() / 2]);
        f.add_file(format!("{DIR}/garbage.o"), vec![0u8; 4096]);
        if marked {
            let text = Manifest::generate_bound(
                DIR,
                1,
                [
                    ("link.o", crit()),
                    ("corrupt.o", &crit()[..crit().len() / 2]),
                    ("garbage.o", &[0u8; 4096][..]),
                ],
                &["link.o", "corrupt.o", "garbage.o"],
            );
            put_manifest(&f, DIR, &text, None);
        }
        let r = load(&f, &cfg(&f, None, 0));
        assert!(r.error.is_none(), "{r:#?}");
        for name in ["link.o", "corrupt.o", "garbage.o"] {
            let o = object(&r, name);
            assert!(o.error().is_some(), "{o:?}");
            let want = marked.then_some(MANIFEST_CRITICAL);
            assert_eq!(o.critical.as_deref(), want, "{name}");
            assert_eq!(o.fatal, marked, "{name}");
        }
        assert_eq!(r.fails_boot(), marked);
    }
}

#[test]
fn the_manifest_s_critical_mark_covers_load_failures_and_keeps_an_object_s_own_reason() {
    let f = fake();
    let (sk, pk) = signer();
    f.add_file(format!("{DIR}/a.o"), pkt());
    let reject = corpus("verifierReject.o");
    f.add_file(format!("{DIR}/b.o"), reject);
    f.add_file(format!("{DIR}/c.o"), crit());
    let text = Manifest::generate_bound(
        DIR,
        1,
        [("a.o", pkt()), ("b.o", reject), ("c.o", crit())],
        &["a.o", "b.o", "c.o"],
    );
    put_manifest(&f, DIR, &text, Some(&sk));
    // b's program is refused by the verifier; a loads; c's own reason wins.
    f.fail_prog_load("skfilter_reject", libc::EACCES, "R0 !read_ok");
    let r = load(&f, &cfg(&f, Some(pk), 0));
    let a = object(&r, "a.o");
    assert_eq!(outcome(&r, "a.o"), "loaded");
    assert_eq!(a.critical.as_deref(), Some(MANIFEST_CRITICAL));
    let b = object(&r, "b.o");
    assert!(matches!(b.error(), Some(ObjectError::Load(_))), "{b:?}");
    assert!(b.fatal && b.critical.as_deref() == Some(MANIFEST_CRITICAL));
    assert_eq!(object(&r, "c.o").critical.as_deref(), Some(CRIT_REASON));
    assert_eq!(
        r.fatal_failures()
            .map(|o| o.object.as_str())
            .collect::<Vec<_>>(),
        ["b"]
    );
}

#[test]
fn a_bad_manifest_refuses_the_whole_location() {
    let (sk, pk) = signer();
    let (other, _) = {
        let sk = SigningKey::from_bytes(&[3; 32]);
        (sk, ())
    };
    let good = Manifest::generate_bound(DIR, 1, [("a.o", pkt())], &[]);
    type Setup = Box<dyn Fn(&FakeSys)>;
    let cases: Vec<(&str, Option<PublicKey>, Setup, String)> = vec![
        (
            "bad signature",
            Some(pk),
            Box::new({
                let good = good.clone();
                move |f: &FakeSys| put_manifest(f, DIR, &good, Some(&other))
            }),
            "bpf.manifest.sig does not verify bpf.manifest with the configured key".into(),
        ),
        (
            "no manifest with a key",
            Some(pk),
            Box::new(|_: &FakeSys| {}),
            "bpf.manifest is missing but a manifest signing key is configured".into(),
        ),
        (
            "signed format 1",
            Some(pk),
            Box::new({
                let sk = sk.clone();
                move |f: &FakeSys| {
                    put_manifest(f, DIR, &Manifest::generate([("a.o", pkt())]), Some(&sk))
                }
            }),
            ManifestError::Unbound.to_string(),
        ),
        (
            "malformed, unsigned",
            None,
            Box::new(|f: &FakeSys| put_manifest(f, DIR, "not a manifest\n", None)),
            "bpf.manifest line 1: shorter than a SHA-256 digest".into(),
        ),
        (
            "writable by others",
            None,
            Box::new({
                let good = good.clone();
                move |f: &FakeSys| {
                    f.add_file_with(format!("{DIR}/bpf.manifest"), good.clone(), 0o666, 0, 0)
                }
            }),
            "reading bpf.manifest: /loc/bpf.manifest: mode 0666 is writable by others".into(),
        ),
    ];
    for (what, key, setup, why) in cases {
        for with_object in [true, false] {
            let f = fake();
            if with_object {
                f.add_file(format!("{DIR}/a.o"), pkt());
            }
            setup(&f);
            let r = load(&f, &cfg(&f, key, 0));
            let e = r
                .error
                .as_ref()
                .unwrap_or_else(|| panic!("{what}: not refused: {r:#?}"));
            assert_eq!(e.to_string(), format!("/loc: {why}"), "{what}");
            assert!(r.fails_boot(), "{what}");
            assert!(pins(&f).is_empty(), "{what}");
            if with_object {
                assert_eq!(outcome(&r, "a.o"), format!("/loc/a.o: {why}"), "{what}");
            } else {
                assert!(r.objects.is_empty(), "{what}: {r:#?}");
            }
        }
    }
    // A key that cannot be read refuses the location too.
    let f = fake();
    f.add_file(format!("{DIR}/a.o"), pkt());
    let mut c = cfg(&f, None, 0);
    c.manifest_key = Some(PublicKey::from_hex("00"));
    let r = load(&f, &c);
    assert!(
        matches!(
            &r.error,
            Some(LocationError::Manifest {
                source: ManifestError::BadKey { .. },
                ..
            })
        ),
        "{r:#?}"
    );
    // Without a key, an empty location without a manifest is fine.
    let f = fake();
    let r = load(&f, &cfg(&f, None, 0));
    assert!(r.error.is_none() && r.objects.is_empty() && !r.fails_boot());
}
