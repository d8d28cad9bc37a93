//! The offline CLI as a user runs it: golden `render` output for every example, and `validate`
//! naming the field of each mistake.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

const BIN: &str = env!("CARGO_BIN_EXE_function-event-driven-service");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every example claim or XR, with the flags it renders with.
fn examples() -> Vec<(PathBuf, Vec<String>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut found: Vec<_> = std::fs::read_dir(&dir)
        .expect("examples/ exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .filter(|p| {
            let body = std::fs::read_to_string(p).unwrap_or_default();
            body.contains("kind: EventDrivenService") || body.contains("kind: XEventDrivenService")
        })
        .collect();
    found.sort();
    found
        .into_iter()
        .map(|p| {
            let body = std::fs::read_to_string(&p).unwrap_or_default();
            // Examples say how they render in a `# render-flags:` line.
            let flags = body
                .lines()
                .find_map(|l| l.strip_prefix("# render-flags:"))
                .map(|f| f.split_whitespace().map(String::from).collect())
                .unwrap_or_default();
            (p, flags)
        })
        .collect()
}

#[test]
fn render_every_example_matches_its_golden_output() {
    let examples = examples();
    assert!(
        examples.len() >= 3,
        "expected at least the minimal, full and agent-executor claims"
    );
    for (path, flags) in examples {
        let rel = path
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap_or(&path);
        let mut args = vec!["render".to_string(), rel.display().to_string()];
        args.extend(flags);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            text(&out.stderr)
        );
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("example");
        insta::with_settings!({description => args.join(" "), omit_expression => true}, {
            insta::assert_snapshot!(format!("render__{name}"), text(&out.stdout));
        });
    }
}

#[test]
fn render_of_a_claim_prints_its_resources_after_the_xr() {
    // Four resources by default; the full claim adds a PodDisruptionBudget.
    for (claim, resources) in [
        ("examples/minimal-claim.yaml", 4),
        ("examples/full-claim.yaml", 5),
    ] {
        let out = run(&["render", claim]);
        let stdout = text(&out.stdout);
        assert_eq!(
            stdout.matches("\n---\n").count() + usize::from(stdout.starts_with("---\n")),
            resources + 1,
            "{claim}"
        );
        assert_eq!(
            stdout.matches("\nkind: Object\n").count(),
            resources,
            "{claim}"
        );
    }
}

#[test]
fn validate_accepts_every_example() {
    let mut args = vec!["validate".to_string()];
    args.extend(examples().into_iter().map(|(p, _)| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&args);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// A claim with one change to the minimal example.
fn claim(spec_lines: &str, name: &str) -> String {
    format!(
        "apiVersion: platform.bizmatters.io/v1alpha1\nkind: EventDrivenService\nmetadata:\n  name: {name}\n  namespace: workers\nspec:\n{spec_lines}"
    )
}

const IMAGE: &str = "  image: ghcr.io/org/worker:v1\n";
const NATS: &str = "  nats:\n    stream: JOBS\n    consumer: workers\n";

#[test]
fn validate_names_the_field_of_every_mistake() {
    let dir = std::env::temp_dir().join(format!("validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let cases: Vec<(&str, String, &str)> = vec![
        ("wrong size", claim(&format!("{IMAGE}{NATS}  size: xlarge\n"), "w"),
         ":11: spec.size: must be one of small, medium, large (got \"xlarge\")"),
        ("typo in a field name", claim(&format!("{IMAGE}{NATS}  sise: small\n"), "w"),
         ":11: spec.sise: unknown field"),
        ("missing stream", claim(&format!("{IMAGE}  nats:\n    consumer: workers\n"), "w"),
         ":8: spec.nats.stream: required"),
        ("bad secret name", claim(&format!("{IMAGE}{NATS}  secret2Name: Db_Conn\n"), "w"),
         ":11: spec.secret2Name: must be a DNS-1123 subdomain"),
        ("bad env name", claim(&format!("{IMAGE}{NATS}  secretRefs:\n    - name: db\n      env:\n        - secretKey: host\n          envName: DB-HOST\n"), "w"),
         ":15: spec.secretRefs[0].env[0].envName: must be a C identifier"),
        ("name too long", claim(&format!("{IMAGE}{NATS}"), &"w".repeat(48)),
         ":4: metadata.name: must be at most 47 characters"),
        ("min above max", claim(&format!("{IMAGE}{NATS}  scaling:\n    minReplicas: 4\n    maxReplicas: 3\n"), "w"),
         ":12: spec.scaling.minReplicas: must not exceed spec.scaling.maxReplicas (4 > 3)"),
        ("untagged image", claim(&format!("  image: ghcr.io/org/worker\n{NATS}"), "w"),
         ":7: spec.image: must be an image reference with a tag or digest"),
    ];
    for (i, (reason, body, want)) in cases.iter().enumerate() {
        let file = dir.join(format!("case-{i}.yaml"));
        std::fs::write(&file, body).expect("write case");
        let file = file.display().to_string();
        let validate = run(&["validate", &file]);
        let stdout = text(&validate.stdout);
        assert_eq!(validate.status.code(), Some(1), "{reason}: {stdout}");
        assert!(
            stdout.contains(&format!("{file}{want}")),
            "{reason}: want {want:?} in\n{stdout}"
        );
        // render refuses exactly what validate refuses.
        let render = run(&["render", &file]);
        assert_eq!(
            render.status.code(),
            Some(1),
            "{reason}: render accepted it"
        );
        let field = want.split(": ").nth(1).unwrap_or_default();
        assert!(
            text(&render.stderr).contains(field),
            "{reason}: render did not name {field}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unreadable_and_non_yaml_files_fail_with_a_message() {
    let out = run(&["validate", "does/not/exist.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("does/not/exist.yaml"));
    let out = run(&["render", "Cargo.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("Cargo.toml"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn validate_reports_five_mistakes_of_five_kinds_in_line_order() {
    let file = "tests/claims/five-mistakes.yaml";
    let out = run(&["validate", file]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    insta::with_settings!({description => format!("validate {file}"), omit_expression => true}, {
        insta::assert_snapshot!("validate__five_mistakes", text(&out.stdout));
    });
}

/// A loopback port nothing listens on: bound, then released.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local address").port()
}

#[test]
fn doctor_without_a_monitoring_port_names_the_url_and_exits_1() {
    let endpoint = format!("127.0.0.1:{}", closed_port());
    let out = run(&[
        "doctor",
        "examples/minimal-claim.yaml",
        "--monitoring",
        &endpoint,
        "--timeout",
        "2",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "PROBLEM EndpointUnreadable: http://{endpoint}/jsz?acc=$G&consumers=true&config=true: \
             connection refused"
        )),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("not ok: KEDA will not read the right numbers\n"),
        "{stdout}"
    );
}

#[test]
fn doctor_json_reports_an_unreachable_endpoint_with_no_lag() {
    let endpoint = format!("127.0.0.1:{}", closed_port());
    let out = run(&[
        "doctor",
        "examples/scaling-claim.yaml",
        "--monitoring",
        &endpoint,
        "--output",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(report["ok"], false);
    assert_eq!(report["keda"]["lag"], serde_json::Value::Null);
    assert_eq!(report["problems"][0]["code"], "EndpointUnreadable");
    assert_eq!(report["nodes"], serde_json::json!([]));
}

#[test]
fn doctor_cannot_check_an_invalid_claim_and_exits_2() {
    let dir = std::env::temp_dir().join(format!("doctor-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("bad.yaml");
    std::fs::write(&file, claim(&format!("{IMAGE}{NATS}  size: huge\n"), "bad"))
        .expect("write claim");
    let out = run(&["doctor", file.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cannot render:") && stderr.contains("spec.size"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn doctor_refuses_a_scheme_that_disagrees_with_use_https() {
    let out = run(&[
        "doctor",
        "examples/minimal-claim.yaml",
        "--monitoring",
        "https://127.0.0.1:8222",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "error: --monitoring https://127.0.0.1:8222: KEDA asks over http (useHttps is false); give host:port\n"
    );
}
