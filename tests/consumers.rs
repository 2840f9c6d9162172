//! mcpstorm's output files read by the programs users read them with,
//! installed by `bash tests/consumers/install.sh` (not part of `cargo test`:
//! run `cargo test --test consumers` after it; .ci/run does).
//!
//! JUnit: validated against tests/consumers/junit.xsd by Python's
//! `xmlschema`, and read back by `junitparser`, whose counts and cases must
//! be the JSON report's criteria.
//!
//! HTML: opened by headless Chromium in a network namespace of its own (no
//! network at all: `unshare -n`), which renders its charts, logs no console
//! message, and requests nothing from the network (its net log says so).
//!
//! Prometheus: the live metrics pass `promtool check metrics`, and a real
//! Prometheus (Debian's), started here on loopback, scrapes them and
//! answers a query with the run's p99.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{free_port, mcpstorm, run, scenario_file};
use serde_json::Value;

/// The consumers' Python, or a panic that says how to install it.
fn python() -> PathBuf {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".consumers/py/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `bash tests/consumers/install.sh` first",
        python.display()
    );
    python
}

/// Validate `junit` against the schema and read it with junitparser: what
/// it read, as JSON; or the validator's complaint.
fn read_by_consumers(junit: &Path) -> Result<Value, String> {
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/consumers/junit.xsd");
    let script = r#"
import json, sys
import junitparser, xmlschema
schema, path = sys.argv[1], sys.argv[2]
try:
    xmlschema.XMLSchema(schema).validate(path)
except Exception as error:
    print("INVALID: " + str(error).splitlines()[0]); sys.exit(3)
suites = []
for suite in junitparser.JUnitXml.fromfile(path):
    cases = []
    for case in suite:
        results = [(type(r).__name__, r.message or "") for r in case.result]
        cases.append({"name": case.name, "classname": case.classname,
                      "result": results[0][0] if results else "passed",
                      "message": results[0][1] if results else ""})
    suites.append({"name": suite.name, "tests": suite.tests, "failures": suite.failures,
                   "errors": suite.errors, "skipped": suite.skipped,
                   "properties": {p.name: p.value for p in suite.properties()},
                   "cases": cases})
print(json.dumps(suites))
"#;
    let output = Command::new(python())
        .args(["-c", script])
        .arg(schema)
        .arg(junit)
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(format!(
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    serde_json::from_str(&stdout).map_err(|e| format!("{e}: {stdout}"))
}

#[test]
fn junit_files_are_valid_and_read_back_as_the_report_says() {
    // Two scenarios: one whose latency criterion fails and whose memory
    // criterion cannot be measured over HTTP without the server's process,
    // one that passes.
    let dir = tempfile::tempdir().unwrap();
    let slow = scenario_file(
        dir.path(),
        "slow.toml",
        r#"
name = "slow"
[[phase]]
name = "load"
load = { kind = "sequential", calls = 30 }
[[call]]
tool = "echo"
arguments = { message = "x" }
[acceptance]
"p95 <= 2" = { about = "answers within 2 ms" }
"success_rate == 1" = {}
"rss_growth_mb <= 50" = {}
"#,
    );
    let target = common::HttpTarget::start(&["--latency-ms", "5"]);
    let junit = dir.path().join("junit.xml");
    let out = format!("junit={}", junit.display());
    let run = run(&[
        slow.to_str().unwrap(),
        "sequential",
        "--url",
        &target.url,
        "--out",
        &out,
    ]);
    assert_eq!(run.code, 1, "{}", run.explain());
    let read = read_by_consumers(&junit).unwrap_or_else(|e| panic!("{e}"));
    let suites = read.as_array().expect("suites");
    assert_eq!(suites.len(), 2, "{read}");
    for (suite, scenario) in suites
        .iter()
        .zip(run.report()["scenarios"].as_array().unwrap())
    {
        assert_eq!(suite["name"], scenario["name"]);
        let criteria = scenario["result"]["criteria"].as_array().unwrap();
        let cases = suite["cases"].as_array().unwrap();
        assert_eq!(cases.len(), criteria.len() + 1, "{suite}");
        assert_eq!(cases[0]["name"], "the run completes");
        for (case, criterion) in cases[1..].iter().zip(criteria) {
            assert_eq!(case["name"], criterion["expression"]);
            let expected = match criterion["state"].as_str() {
                Some("PASS") => "passed",
                Some("NOT_MEASURED") => "Skipped",
                _ => "Failure",
            };
            assert_eq!(case["result"], expected, "{case} vs {criterion}");
        }
        let count = |state: &str| criteria.iter().filter(|c| c["state"] == state).count();
        assert_eq!(suite["failures"], count("FAIL"), "{suite}");
        assert_eq!(suite["skipped"], count("NOT_MEASURED"), "{suite}");
        assert_eq!(suite["properties"]["transport"], "http");
    }
    let slow_cases = suites[0]["cases"].as_array().unwrap();
    assert_eq!(slow_cases[1]["result"], "Failure", "{read}");
    assert!(
        slow_cases[1]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("p95 <= 2: ") && m.ends_with(" against 2")),
        "{read}"
    );
    assert_eq!(slow_cases[3]["result"], "Skipped", "{read}");
    assert_eq!(suites[1]["failures"], 0, "{read}");

    // The validator can fail: a case without its classname is refused.
    let text = std::fs::read_to_string(&junit).unwrap();
    let broken = dir.path().join("broken.xml");
    std::fs::write(&broken, text.replacen("classname=", "class=", 1)).unwrap();
    let refused = read_by_consumers(&broken).expect_err("refused");
    assert!(refused.contains("INVALID"), "{refused}");
}

#[test]
fn a_run_that_could_not_start_is_an_error_case_consumers_read() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let out = format!("junit={}", junit.display());
    let run = run(&[
        "sequential",
        "--out",
        &out,
        "--",
        "sh",
        "-c",
        "printf '<oops> & \\001 ]]>\\n' >&2; exit 3",
    ]);
    assert_eq!(run.code, 2, "{}", run.explain());
    let read = read_by_consumers(&junit).unwrap_or_else(|e| panic!("{e}"));
    let suite = &read[0];
    assert_eq!(
        (&suite["errors"], &suite["tests"]),
        (&1.into(), &1.into()),
        "{read}"
    );
    assert_eq!(suite["cases"][0]["result"], "Error", "{read}");
    let message = suite["cases"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("<oops> & "), "{message}");
    // Rendered again later from the saved report, it reads the same.
    let again = dir.path().join("again.xml");
    let rendered = Command::new(mcpstorm())
        .arg("report")
        .arg(run.dir.path().join("report.json"))
        .arg("--out")
        .arg(format!("junit={}", again.display()))
        .output()
        .expect("runs");
    assert!(rendered.status.success(), "{}", common::said(&rendered));
    assert_eq!(read_by_consumers(&again), Ok(read));
}

/// Headless Chromium with no network at all (a namespace of its own: the
/// browser's own background requests, and any the page made, go nowhere),
/// killed after 60 s.
fn chromium_offline(args: &[&str]) -> std::process::Output {
    Command::new("timeout")
        .args(["-k", "5", "60", "unshare", "-n", "chromium"])
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-extensions",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .args(args)
        .output()
        .expect("chromium runs (bash tests/consumers/install.sh)")
}

/// Open `page` offline: its DOM once loaded, the console messages it
/// logged, and the network requests it made (from the browser's net log:
/// those of the page's own origin, `file://`, not the browser's).
fn opened(page: &Path, dir: &Path) -> (String, Vec<String>, Vec<String>) {
    let net_log = dir.join("net.json");
    let url = format!("file://{}", page.display());
    let output = chromium_offline(&[
        &format!("--log-net-log={}", net_log.display()),
        "--dump-dom",
        &url,
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "chromium: {stderr}");
    let console: Vec<String> = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(String::from)
        .collect();
    let log: Value = serde_json::from_slice(&std::fs::read(&net_log).expect("the net log"))
        .expect("the net log is JSON");
    let start_job = &log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"];
    let requests = log["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| &e["type"] == start_job)
        .filter(|e| {
            e["params"]["network_isolation_key"]
                .as_str()
                .is_some_and(|k| k.starts_with("file://"))
        })
        .filter_map(|e| e["params"]["url"].as_str())
        .filter(|url| !url.starts_with("file:"))
        .map(String::from)
        .collect();
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        console,
        requests,
    )
}

#[test]
fn the_html_report_renders_its_charts_offline_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let out = format!("html={}", page.display());
    let run = run(&[
        "memory-leak",
        "--out",
        &out,
        "--probe-interval-ms",
        "20",
        "--",
        mcpstorm(),
        "serve",
        "--leak-kb",
        "100",
        "--latency-ms",
        "1",
    ]);
    assert_eq!(run.code, 1, "{}", run.explain());
    let (dom, console, requests) = opened(&page, dir.path());
    assert!(console.is_empty(), "console: {console:?}");
    assert!(requests.is_empty(), "the page fetched {requests:?}");
    // The browser built four charts, each with drawn lines (its DOM is
    // HTML as it serialises it: counted in the text).
    assert_eq!(dom.matches("<svg class=\"chart\"").count(), 4, "{dom}");
    let drawn = dom
        .split("<path class=\"line")
        .skip(1)
        .filter(|rest| {
            rest.split('>')
                .next()
                .is_some_and(|tag| tag.contains(" d=\"M"))
        })
        .count();
    assert!(drawn >= 8, "{drawn} lines drawn");
    assert!(dom.contains("FAIL"), "the verdict shown");
    // A screenshot of the whole page: a PNG as wide as the window asked.
    let shot = dir.path().join("page.png");
    let output = chromium_offline(&[
        &format!("--screenshot={}", shot.display()),
        "--window-size=1000,2400",
        &format!("file://{}", page.display()),
    ]);
    assert!(output.status.success(), "{}", common::said(&output));
    let png = std::fs::read(&shot).expect("the screenshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let width = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
    assert_eq!(width, 1000);
    // A blank page compresses to a few KB; charts and tables do not.
    assert!(png.len() > 40_000, "{} bytes", png.len());

    // The checks can fail: a page that fetches an image and logs an error.
    let bad = scenario_file(
        dir.path(),
        "bad.html",
        "<!DOCTYPE html><html><body><img src=\"http://127.0.0.1:9/x.png\"/>\
         <script>console.error('boom')</script></body></html>",
    );
    let (_, console, requests) = opened(&bad, dir.path());
    assert_eq!(console.len(), 1, "{console:?}");
    assert_eq!(requests, ["http://127.0.0.1:9/x.png"]);
}

/// The body of a `200` answer to `GET path` on 127.0.0.1:`port`.
fn http_get_ok(port: u16, path: &str) -> Option<String> {
    let (status, body) = common::http_get(&format!("127.0.0.1:{port}"), path)?;
    status.starts_with("HTTP/1.1 200").then_some(body)
}

/// Prometheus on loopback, scraping `target` every second; killed on drop.
struct Prometheus {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(target: &str) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n\
                 scrape_configs:\n  - job_name: mcpstorm\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("prometheus starts (bash tests/consumers/install.sh)");
        let prometheus = Prometheus {
            child,
            port,
            _dir: dir,
        };
        let ready = std::time::Instant::now();
        while http_get_ok(port, "/-/ready").is_none() {
            assert!(
                ready.elapsed() < std::time::Duration::from_secs(30),
                "prometheus never got ready"
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        prometheus
    }

    /// An instant query's first value.
    fn query(&self, expression: &str) -> Option<f64> {
        let encoded: String = expression
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' => (b as char).to_string(),
                b => format!("%{b:02X}"),
            })
            .collect();
        let body = http_get_ok(self.port, &format!("/api/v1/query?query={encoded}"))?;
        let answer: Value = serde_json::from_str(&body).ok()?;
        answer["data"]["result"][0]["value"][1]
            .as_str()?
            .parse()
            .ok()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `promtool check metrics` of `text`.
fn promtool_check(text: &str) -> std::process::Output {
    Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(text.as_bytes())?;
            child.wait_with_output()
        })
        .expect("promtool runs (bash tests/consumers/install.sh)")
}

#[test]
fn live_metrics_pass_promtool_and_a_real_prometheus_reads_the_p99_back() {
    let dir = tempfile::tempdir().unwrap();
    // Six seconds at 100 calls a second against a target answering 5 ms
    // late: the p99 settles, so the last scrape's is the report's.
    let scenario = scenario_file(
        dir.path(),
        "steady.toml",
        "name = \"steady\"\n[[phase]]\nname = \"load\"\n\
         load = { kind = \"rate\", rate = 100, duration_s = 6 }\n\
         [[call]]\ntool = \"echo\"\narguments = { message = \"x\" }\n",
    );
    let metrics_port = free_port();
    let prometheus = Prometheus::start(&format!("127.0.0.1:{metrics_port}"));
    let out = format!("prometheus=127.0.0.1:{metrics_port}");
    let metrics = std::thread::spawn(move || {
        // A scrape in the middle of the run, for promtool.
        let started = std::time::Instant::now();
        loop {
            std::thread::sleep(std::time::Duration::from_millis(300));
            if let Some(text) = http_get_ok(metrics_port, "/metrics")
                && text.contains("mcpstorm_calls_total")
            {
                return Some(text);
            }
            if started.elapsed() > std::time::Duration::from_secs(20) {
                return None;
            }
        }
    });
    let run = run(&[
        scenario.to_str().unwrap(),
        "--out",
        &out,
        "--",
        mcpstorm(),
        "serve",
        "--latency-ms",
        "5",
    ]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let text = metrics.join().unwrap().expect("a scrape during the run");
    let checked = promtool_check(&text);
    assert!(
        checked.status.success(),
        "promtool: {}\n{text}",
        common::said(&checked)
    );
    // promtool can fail: a counter without its _total.
    let renamed = text.replace("mcpstorm_calls_total", "mcpstorm_calls");
    let refused = promtool_check(&renamed);
    assert!(!refused.status.success());
    // What Prometheus stored last: the endpoint waited, once the run was
    // over, for its scrape of the final figures, which are the report's.
    let p99_s = prometheus
        .query("last_over_time(mcpstorm_scenario_call_duration_seconds{quantile=\"0.99\"}[5m])")
        .expect("prometheus holds the p99");
    let total = &run.scenario("steady")["result"]["total"];
    let report_p99_ms = total["latency"]["p99_ms"].as_f64().unwrap();
    assert!(
        (p99_s * 1000.0 - report_p99_ms).abs() <= 1e-6,
        "Prometheus {} ms, report {report_p99_ms} ms",
        p99_s * 1000.0
    );
    let calls = prometheus
        .query("last_over_time(mcpstorm_calls_total{outcome=\"ok\"}[5m])")
        .expect("prometheus holds the calls");
    assert_eq!(calls, total["outcomes"]["ok"].as_f64().unwrap());
}
