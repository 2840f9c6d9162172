//! `--out prometheus=ADDR`: live metrics on loopback while a run lasts,
//! scraped here over a real socket as Prometheus would (tests/consumers.rs
//! has promtool check them and a real Prometheus read them back).

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{mcpstorm, scenario_file};

/// Three seconds at 100 calls a second against the target answering 2 ms
/// late.
const STEADY: &str = r#"
name = "steady"
[[phase]]
name = "load"
load = { kind = "rate", rate = 100, duration_s = 3 }
[[call]]
tool = "echo"
arguments = { message = "x" }
[acceptance]
"p99 <= 1000" = {}
"#;

fn get(address: &str, path: &str) -> (String, String) {
    common::http_get(address, path).expect("the endpoint answers")
}

/// A sample's value: `name{labels} value`, the labels given in full.
fn sample(exposition: &str, series: &str) -> Option<f64> {
    exposition
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

/// `mcpstorm run --headless --out prometheus=127.0.0.1:0 ARGS`: the run,
/// the address its metrics are served on, and its stderr drained.
fn run_serving_metrics(
    args: &[&str],
) -> (std::process::Child, String, std::thread::JoinHandle<String>) {
    let split = args.iter().position(|a| *a == "--").unwrap_or(args.len());
    let mut child = Command::new(mcpstorm())
        .args(["run", "--headless"])
        .args(&args[..split])
        .args(["--out", "prometheus=127.0.0.1:0"])
        .args(&args[split..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mcpstorm runs");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let address = loop {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "no address said");
        if let Some(rest) = line.trim().strip_prefix("mcpstorm: metrics at http://") {
            break rest
                .trim_end_matches("/metrics while the run lasts")
                .to_string();
        }
    };
    // Drain the rest of stderr so the run never blocks on it.
    let drain = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stderr.read_to_string(&mut rest);
        rest
    });
    (child, address, drain)
}

#[test]
fn a_segments_samples_each_carry_its_segment() {
    // One Prometheus scraping every segment tells them apart, and sums them.
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(dir.path(), "steady.toml", STEADY);
    let target = common::HttpTarget::start(&[]);
    let args = [
        scenario.to_str().unwrap(),
        "--url",
        &target.url,
        "--segment",
        "2/4",
    ];
    let (mut child, address, drain) = run_serving_metrics(&args);
    let deadline = Instant::now() + Duration::from_secs(30);
    let body = loop {
        let (_, body) = get(&address, "/metrics");
        if body.contains("mcpstorm_calls_total{") {
            break body;
        }
        assert!(Instant::now() < deadline, "no calls shown: {body}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let samples: Vec<&str> = body.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(!samples.is_empty());
    for sample in samples {
        assert!(sample.contains("{segment=\"2/4\""), "{sample}");
    }
    let exit = child.wait().expect("mcpstorm ends");
    let said = drain.join().unwrap();
    assert_eq!(exit.code(), Some(0), "{said}");
}

#[test]
fn metrics_follow_the_run_and_agree_with_its_report() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(dir.path(), "steady.toml", STEADY);
    let report = dir.path().join("report.json");
    let mut args = vec![
        scenario.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ];
    args.extend(["--", mcpstorm(), "serve", "--latency-ms", "2"]);
    let (mut child, address, drain) = run_serving_metrics(&args);
    let (status, _) = get(&address, "/");
    assert!(status.contains(" 404 "), "{status}");
    // Scrape every 300 ms until the endpoint is gone: once the run is over
    // it waits for one more scrape, which reads the final figures.
    let started = Instant::now();
    let calls = |text: &str| {
        sample(
            text,
            "mcpstorm_calls_total{scenario=\"steady\",label=\"echo\",outcome=\"ok\"}",
        )
    };
    let mut scrapes = Vec::new();
    while started.elapsed() < Duration::from_secs(30) {
        let Some((status, body)) = common::http_get(&address, "/metrics") else {
            break;
        };
        assert!(status.contains(" 200 "), "{status}");
        if calls(&body).is_some_and(|c| c > 0.0) {
            scrapes.push(body);
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(scrapes.len() >= 2, "the calls never showed");
    let exit = child.wait().expect("mcpstorm ends");
    let said = drain.join().unwrap();
    assert_eq!(exit.code(), Some(0), "{said}");
    // Every family is introduced, every sample well-formed, units in base
    // units (seconds, bytes).
    let last = scrapes.last().unwrap();
    for text in &scrapes {
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (series, value) = line.rsplit_once(' ').expect("name value");
            assert!(value.parse::<f64>().is_ok(), "{line}");
            let name = series.split('{').next().unwrap();
            let family = name.trim_end_matches("_sum").trim_end_matches("_count");
            assert!(
                text.contains(&format!("# TYPE {family} ")),
                "{name} has no TYPE"
            );
            assert!(name.starts_with("mcpstorm_"), "{name}");
        }
    }
    // Every metric the Grafana dashboard in assets/ queries is served.
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/assets/grafana-soak.json"
        ))
        .expect("the dashboard"),
    )
    .expect("the dashboard is JSON");
    let mut queried = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("an expression");
            for (at, _) in expr.match_indices("mcpstorm_") {
                let name: String = expr[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                queried.push(name);
            }
        }
    }
    assert!(queried.len() >= 10, "{queried:?}");
    for name in &queried {
        assert!(
            last.contains(&format!("# TYPE {name} ")),
            "the dashboard queries {name}, which is not served"
        );
    }
    // A counter never goes down.
    let counts: Vec<f64> = scrapes.iter().filter_map(|s| calls(s)).collect();
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
    // The server answers 2 ms late: the p99 in seconds is above 0.002, and
    // the count and sum agree with it.
    let p99 = sample(
        last,
        "mcpstorm_scenario_call_duration_seconds{scenario=\"steady\",quantile=\"0.99\"}",
    )
    .expect("a p99");
    assert!((0.002..1.0).contains(&p99), "{p99}");
    let count = sample(
        last,
        "mcpstorm_scenario_call_duration_seconds_count{scenario=\"steady\"}",
    )
    .unwrap();
    let sum = sample(
        last,
        "mcpstorm_scenario_call_duration_seconds_sum{scenario=\"steady\"}",
    )
    .unwrap();
    assert!(sum / count >= 0.002, "mean {} s", sum / count);
    // The report's figures, at the end, are at least what was scraped.
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let total = &report["scenarios"][0]["result"]["total"];
    assert_eq!(
        total["outcomes"]["ok"].as_f64().unwrap(),
        *counts.last().unwrap(),
        "the last scrape read the final figures"
    );
    assert_eq!(
        total["latency"]["p99_ms"].as_f64().unwrap() / 1000.0,
        p99,
        "the last scrape's p99 is the report's"
    );
    let rss = sample(
        last,
        "mcpstorm_server_resident_memory_bytes{scenario=\"steady\"}",
    )
    .expect("the server's RSS");
    let rss_max_mb = report["scenarios"][0]["result"]["resources"]["rss_max_mb"]
        .as_f64()
        .unwrap();
    assert!(rss > 1e6 && rss <= rss_max_mb * 1048576.0 + 1.0, "{rss}");
    assert!(
        last.contains("mcpstorm_criterion_passing{scenario=\"steady\",criterion=\"p99 <= 1000\""),
        "{last}"
    );
}

#[test]
fn clients_that_connect_and_say_nothing_do_not_keep_scrapes_out() {
    // 40 silent connections, more than the 32 served at once, held open:
    // each is dropped 5 s after it said nothing, and a scrape then gets in.
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(
        dir.path(),
        "long.toml",
        &STEADY.replace("duration_s = 3", "duration_s = 20"),
    );
    let mut child = Command::new(mcpstorm())
        .arg("run")
        .arg(&scenario)
        .arg("--headless")
        .args(["--out", "prometheus=127.0.0.1:0", "--"])
        .args([mcpstorm(), "serve"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mcpstorm runs");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let address = loop {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "no address said");
        if let Some(rest) = line.trim().strip_prefix("mcpstorm: metrics at http://") {
            break rest
                .trim_end_matches("/metrics while the run lasts")
                .to_string();
        }
    };
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stderr.read_to_string(&mut rest);
    });
    let silent: Vec<TcpStream> = (0..40)
        .map(|_| TcpStream::connect(&address).expect("connects"))
        .collect();
    let asked = Instant::now();
    let scraped = common::http_get(&address, "/metrics");
    let waited = asked.elapsed();
    drop(silent);
    // Stopped as a person would stop it: the server goes with it.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let (status, _) = scraped.expect("the scrape got in");
    assert!(status.contains(" 200 "), "{status}");
    assert!(waited < Duration::from_secs(15), "waited {waited:?}");
}

#[test]
fn a_taken_address_is_refused_before_the_run() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap();
    let output = Command::new(mcpstorm())
        .args(["run", "sequential", "--headless", "--out"])
        .arg(format!("prometheus={address}"))
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    let said = common::said(&output);
    assert_eq!(output.status.code(), Some(2), "{said}");
    assert!(
        said.contains(&format!("--out prometheus={address}: cannot listen there")),
        "{said}"
    );
    assert!(!said.contains("━━ sequential"), "nothing ran: {said}");
}
