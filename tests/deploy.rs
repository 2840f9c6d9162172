//! The container image definition and the Kubernetes manifests
//! (`Dockerfile`, `deploy/kubernetes/`), checked by the tools users check
//! them with, installed by `bash tests/consumers/install.sh` (not part of
//! `cargo test`: run `cargo test --test deploy` after it; .ci/run does):
//! `kubernetes-validate --strict` against Kubernetes' own schemas, and
//! `hadolint`. Each check is shown to fail on a broken copy.
//!
//! No cluster runs here (no registry of images is reachable), so the Jobs'
//! scripts are rehearsed as they are written: each segment's script run
//! with the environment its pod gets, against the built-in target on
//! loopback, then the merge's, whose output must be the whole test.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

use common::{HttpTarget, f64_at, scenario_file};
use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A program of the consumers' virtual environment, or a panic that says
/// how to install it.
fn tool(name: &str) -> PathBuf {
    let path = root().join(".consumers/py/bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: run `bash tests/consumers/install.sh` first",
        path.display()
    );
    path
}

fn said(output: &Output) -> String {
    common::said(output)
}

fn manifests() -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = std::fs::read_dir(root().join("deploy/kubernetes"))
        .expect("deploy/kubernetes")
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    all.sort();
    all
}

fn validate(files: &[PathBuf]) -> Output {
    Command::new(tool("kubernetes-validate"))
        .arg("--strict")
        .args(files)
        .output()
        .expect("kubernetes-validate runs")
}

#[test]
fn the_manifests_are_valid_kubernetes_and_a_broken_one_is_caught() {
    let files = manifests();
    assert!(files.len() >= 5, "{files:?}");
    let output = validate(&files);
    assert!(output.status.success(), "{}", said(&output));
    // The same check fails on a key misspelt and on a value of the wrong
    // type.
    let dir = tempfile::tempdir().unwrap();
    let job = std::fs::read_to_string(root().join("deploy/kubernetes/segments-job.yaml")).unwrap();
    for (from, to) in [
        ("  backoffLimit: 0", "  backofLimit: 0"),
        ("  completions: 4", "  completions: four"),
    ] {
        assert!(job.contains(from), "{from}");
        let broken = dir.path().join("job.yaml");
        std::fs::write(&broken, job.replace(from, to)).unwrap();
        let output = validate(&[broken]);
        assert!(!output.status.success(), "{to}: {}", said(&output));
    }
}

#[test]
fn the_dockerfile_passes_hadolint_and_a_careless_one_does_not() {
    let lint = |file: &Path| {
        Command::new(tool("hadolint"))
            .arg(file)
            .output()
            .expect("hadolint runs")
    };
    let output = lint(&root().join("Dockerfile"));
    assert!(output.status.success(), "{}", said(&output));
    let dir = tempfile::tempdir().unwrap();
    let careless = dir.path().join("Dockerfile");
    std::fs::write(
        &careless,
        "FROM debian:latest\nRUN apt-get update && apt-get install -y curl\n",
    )
    .unwrap();
    assert!(!lint(&careless).status.success());
    // Non-root, as the manifests' securityContext requires.
    let text = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    assert!(text.contains("USER 10001"), "{text}");
}

/// What the manifests say, read with PyYAML (installed with
/// kubernetes-validate): each Job's script, the segments Job's counts and
/// environment, the target Service's name and port.
fn read_manifests() -> Value {
    let script = r#"
import json, sys, yaml
docs = {}
for path in sys.argv[1:]:
    for doc in yaml.safe_load_all(open(path)):
        docs[doc["kind"] + "/" + doc["metadata"]["name"]] = doc
print(json.dumps(docs))
"#;
    let output = Command::new(tool("python"))
        .args(["-c", script])
        .args(manifests())
        .output()
        .expect("python runs");
    assert!(output.status.success(), "{}", said(&output));
    serde_json::from_slice(&output.stdout).expect("JSON")
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[test]
fn the_jobs_scripts_run_a_split_test_and_merge_it_whole() {
    let docs = read_manifests();
    let segments = &docs["Job/mcpstorm-segments"];
    let spec = &segments["spec"];
    let container = &spec["template"]["spec"]["containers"][0];
    let env: Vec<(String, Value)> = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_string(), e.clone()))
        .collect();
    let value = |name: &str| {
        env.iter()
            .find(|(n, _)| n == name)
            .map(|(_, e)| e["value"].clone())
            .unwrap_or(Value::Null)
    };
    // One number three times: the segments the Job runs are the test's.
    let count = f64_at(spec, "/completions") as u32;
    assert_eq!(spec["completionMode"], "Indexed");
    assert_eq!(f64_at(spec, "/parallelism") as u32, count);
    assert_eq!(value("SEGMENTS"), count.to_string());
    // The segments reach the target the manifests define.
    let service = &docs["Service/mcpstorm-target"];
    let port = f64_at(&service["spec"]["ports"][0], "/port");
    assert_eq!(
        value("TARGET_URL"),
        format!(
            "http://{}:{port}/mcp",
            service["metadata"]["name"].as_str().unwrap()
        )
    );
    // The scenario the ConfigMap holds is one mcpstorm reads and can split.
    let dir = tempfile::tempdir().unwrap();
    let shipped = docs["ConfigMap/mcpstorm-scenario"]["data"]["scenario.toml"]
        .as_str()
        .unwrap();
    let shipped = scenario_file(dir.path(), "shipped.toml", shipped);
    let check = Command::new(common::mcpstorm())
        .arg("check")
        .arg(&shipped)
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", said(&check));

    // Rehearsal: the scripts as written, a small scenario in place of the
    // shipped one (a minute at 1,000 calls/s), loopback in place of the
    // pods' addresses, folders in place of the volumes.
    let scenario_dir = dir.path().join("scenario");
    let reports = dir.path().join("reports");
    std::fs::create_dir_all(&reports).unwrap();
    std::fs::create_dir_all(&scenario_dir).unwrap();
    scenario_file(
        &scenario_dir,
        "scenario.toml",
        r#"
name = "rehearsal"
[[phase]]
name = "load"
load = { kind = "rate", rate = 400, calls = 402 }
[[call]]
tool = "echo"
arguments = { message = "x" }
[acceptance]
"calls >= 402" = {}
"#,
    );
    let local = |script: &str| {
        script
            .replace("/scenario/", &format!("{}/", scenario_dir.display()))
            .replace("/reports/", &format!("{}/", reports.display()))
            .replace("prometheus=0.0.0.0:9464", "prometheus=127.0.0.1:0")
    };
    let segment_script = local(container["args"][0].as_str().unwrap());
    let bin = Path::new(common::mcpstorm()).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let target = HttpTarget::start(&[]);
    let start_at = format!("{:.3}", unix_now() + 2.0);
    let outputs: Vec<Output> = std::thread::scope(|threads| {
        let running: Vec<_> = (0..count)
            .map(|index| {
                let (script, path, url, start_at) =
                    (&segment_script, &path, &target.url, &start_at);
                threads.spawn(move || {
                    Command::new("sh")
                        .args(["-c", script])
                        .env("PATH", path)
                        .env("JOB_COMPLETION_INDEX", index.to_string())
                        .env("SEGMENTS", count.to_string())
                        .env("TARGET_URL", url)
                        .env("START_AT", start_at)
                        .output()
                        .expect("sh runs")
                })
            })
            .collect();
        running.into_iter().map(|r| r.join().unwrap()).collect()
    });
    // Each segment fails its own share of `calls >= 402` (exit 1), and its
    // pod is done all the same: the merge judges the whole test.
    for (index, output) in outputs.iter().enumerate() {
        assert!(output.status.success(), "{}", said(output));
        let own = reports.join(format!("segment-{}.json", index + 1));
        let own: Value = serde_json::from_str(&std::fs::read_to_string(own).unwrap()).unwrap();
        assert_eq!(own["verdict"], "FAIL", "{}", said(output));
    }
    let merge = &docs["Job/mcpstorm-merge"]["spec"]["template"]["spec"]["containers"][0];
    let merge_script = local(merge["args"][0].as_str().unwrap());
    let merged = Command::new("sh")
        .args(["-c", &merge_script])
        .env("PATH", &path)
        .output()
        .expect("sh runs");
    // The pod's log is the merged report alone.
    assert!(merged.status.success(), "{}", said(&merged));
    let report: Value = serde_json::from_slice(&merged.stdout).expect("the log is the JSON report");
    assert_eq!(report["verdict"], "PASS");
    assert_eq!(report["segment"]["count"], count);
    let result = &report["scenarios"][0]["result"];
    assert_eq!(f64_at(result, "/total/calls"), 402.0);
    assert_eq!(result["phases"][0]["load"], "400 calls/s, 402 calls");
    // An error (exit 2: a flag out of range) fails the pod.
    let failing = segment_script.replace("--segment", "--timeout-ms 0 --segment");
    let broken = Command::new("sh")
        .args(["-c", &failing])
        .env("PATH", &path)
        .env("JOB_COMPLETION_INDEX", "0")
        .env("SEGMENTS", count.to_string())
        .env("TARGET_URL", &target.url)
        .env("START_AT", "0")
        .output()
        .unwrap();
    assert_eq!(broken.status.code(), Some(2), "{}", said(&broken));
}
