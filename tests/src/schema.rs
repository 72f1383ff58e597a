//! The JSON contract: documents the CLI prints must validate against
//! `docs/netbpfload.schema.json`.

use std::path::Path;
use std::sync::OnceLock;

fn validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/netbpfload.schema.json");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let schema: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        jsonschema::draft202012::new(&schema)
            .unwrap_or_else(|e| panic!("{}: not a valid schema: {e}", path.display()))
    })
}

/// Panics, naming every violation and where it is, unless `doc` is valid.
pub fn assert_valid(doc: &serde_json::Value) {
    let errors: Vec<String> = validator()
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "output does not follow docs/netbpfload.schema.json:\n{}\n{doc:#}",
        errors.join("\n")
    );
}

/// Parses one document printed by the CLI and validates it.
pub fn parse_valid(stdout: &[u8]) -> serde_json::Value {
    let text = String::from_utf8_lossy(stdout);
    let v: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    assert_valid(&v);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_refuses_what_it_must() {
        let ok = serde_json::json!({
            "schema_version": 2, "command": "show", "bpffs": "/sys/fs/bpf",
            "prefix": "", "pins": [], "problems": []
        });
        assert_valid(&ok);
        for bad in [
            // Wrong version, unknown field, decimal mode, numeric kernel max.
            serde_json::json!({"schema_version": 1, "command": "show", "bpffs": "/b", "prefix": "", "pins": [], "problems": []}),
            serde_json::json!({"schema_version": 2, "command": "show", "bpffs": "/b", "prefix": "", "pins": [], "problems": [], "zero": 0}),
            serde_json::json!({"schema_version": 2, "command": "show", "bpffs": "/b", "prefix": "", "problems": [],
                "pins": [{"pin": "p", "kind": "map", "mode": "384", "uid": 0, "gid": 0, "map": null, "prog": null, "error": null, "declared_by": []}]}),
        ] {
            assert!(!validator().is_valid(&bad), "{bad}");
        }
        // A kernel gate's max must be a version string, `inf` for none.
        let kernel = serde_json::json!({"gate": "kernel", "message": "m", "kernel": "6.1.0", "min": "0.0.0", "max": 4294967295u32});
        let s: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/netbpfload.schema.json"),
            )
            .expect("schema"),
        )
        .expect("json");
        let mut gate_schema = s["$defs"]["gate"].clone();
        gate_schema["$defs"] = s["$defs"].clone();
        let v = jsonschema::draft202012::new(&gate_schema).expect("gate schema");
        assert!(!v.is_valid(&kernel));
        assert!(v.is_valid(&serde_json::json!({"gate": "kernel", "message": "m", "kernel": "6.1.0", "min": "0.0.0", "max": "inf"})));
    }
}
