//! `mcpstorm compare`: real runs of the built-in target, compared. A server
//! made slower (`--latency-ms`) or leakier (`--leak-kb`) crosses the
//! thresholds and exits 1; twelve pairs of runs of one healthy server cross
//! none (the false alarms counted are printed for the CI log); a broken
//! report or threshold is a clear error; report text stays text.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{mcpstorm, run, said, scenario_file};
use serde_json::Value;

/// Sequential calls whose latency the server's sleep sets (10 ms or more):
/// a busy machine adds far less than the thresholds below.
const STEADY: &str = r#"
name = "steady"
probe_interval_ms = 20
regressions = ["success_rate -0.01"]
[[phase]]
name = "warmup"
warmup = true
load = { kind = "sequential", calls = 20 }
[[phase]]
name = "load"
load = { kind = "sequential", calls = 300 }
[[call]]
tool = "echo"
arguments = { message = "hi {seq}" }
[[call]]
tool = "add"
arguments = { a = 1, b = 2 }
"#;

/// The thresholds a CI job would set: tripled latency and a leak must cross
/// them; a healthy pair must not.
const FAIL_ON: [&str; 3] = ["p95 +50%", "p50 +50%", "rss_trend_kb_per_call +0.5"];

/// Run STEADY against `mcpstorm serve KNOBS`; the report's path.
fn steady_run(dir: &Path, name: &str, knobs: &[&str]) -> PathBuf {
    let scenario = scenario_file(dir, &format!("{name}.toml"), STEADY);
    let mut args = vec![
        scenario.to_string_lossy().into_owned(),
        "--".into(),
        mcpstorm().into(),
        "serve".into(),
    ];
    args.extend(knobs.iter().map(|k| k.to_string()));
    let done = run(&args);
    assert_eq!(done.code, 0, "{}", done.explain());
    let kept = dir.join(format!("{name}.json"));
    std::fs::copy(done.dir.path().join("report.json"), &kept).expect("report kept");
    kept
}

struct Compared {
    code: i32,
    markdown: String,
    json: Value,
    stderr: String,
}

/// `--base-also` and `--new-also` for the further runs of each side.
fn also(base: &[PathBuf], new: &[PathBuf]) -> Vec<String> {
    let mut args = Vec::new();
    for (flag, runs) in [("--base-also", base), ("--new-also", new)] {
        for run in runs {
            args.push(flag.to_string());
            args.push(run.to_string_lossy().into_owned());
        }
    }
    args
}

fn compare<S: AsRef<std::ffi::OsStr>>(base: &Path, new: &Path, extra: &[S]) -> Compared {
    let mut command = Command::new(mcpstorm());
    command.arg("compare").arg(base).arg(new);
    for threshold in FAIL_ON {
        command.args(["--fail-on", threshold]);
    }
    let json_file = base.with_extension("compare.json");
    command.arg("--json").arg(&json_file).args(extra);
    let output = command.output().expect("mcpstorm compare runs");
    let json = std::fs::read_to_string(&json_file)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(Value::Null);
    Compared {
        code: output.status.code().unwrap_or(-1),
        markdown: String::from_utf8_lossy(&output.stdout).into_owned(),
        json,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `mcpstorm compare BASE NEW EXTRA…`: its exit code, what it wrote to
/// stdout, and all it printed (stdout, then stderr).
fn compare_plain(base: &Path, new: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(mcpstorm())
        .arg("compare")
        .arg(base)
        .arg(new)
        .args(extra)
        .output()
        .expect("mcpstorm compare runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        said(&output),
    )
}

/// (part, metric) of each difference that crossed a threshold.
fn crossed(compared: &Compared) -> Vec<(String, String)> {
    compared.json["crossed"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|c| {
                    (
                        c["part"].as_str().unwrap_or("").to_string(),
                        c["figure"]["metric"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Runs the closures on up to four threads at once.
fn in_parallel<T: Send>(jobs: Vec<Box<dyn FnOnce() -> T + Send + '_>>) -> Vec<T> {
    let mut results = Vec::new();
    let mut jobs = jobs.into_iter().peekable();
    while jobs.peek().is_some() {
        let batch: Vec<_> = jobs.by_ref().take(4).collect();
        results.extend(std::thread::scope(|scope| {
            let handles: Vec<_> = batch.into_iter().map(|job| scope.spawn(job)).collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a run"))
                .collect::<Vec<_>>()
        }));
    }
    results
}

#[test]
fn a_slower_or_leakier_server_is_caught_and_healthy_pairs_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    const HEALTHY_RUNS: usize = 13;
    let mut jobs: Vec<Box<dyn FnOnce() -> PathBuf + Send + '_>> = (0..HEALTHY_RUNS)
        .map(|i| {
            Box::new(move || steady_run(path, &format!("healthy{i}"), &["--latency-ms", "10"]))
                as Box<dyn FnOnce() -> PathBuf + Send>
        })
        .collect();
    jobs.push(Box::new(|| {
        steady_run(path, "slower", &["--latency-ms", "30"])
    }));
    jobs.push(Box::new(|| {
        steady_run(path, "leakier", &["--latency-ms", "10", "--leak-kb", "64"])
    }));
    let reports = in_parallel(jobs);
    let (healthy, changed) = reports.split_at(HEALTHY_RUNS);

    // Tripled latency: every judged part's p50 and p95 crossed, and only
    // latency (the memory kept the same).
    let slower = compare::<&str>(&healthy[0], &changed[0], &[]);
    assert_eq!(slower.code, 1, "{}\n{}", slower.markdown, slower.stderr);
    let found = crossed(&slower);
    for part in ["whole run", "phase load", "tool echo", "tool add"] {
        for metric in ["p50", "p95"] {
            assert!(
                found.contains(&(part.to_string(), metric.to_string())),
                "{part} {metric} not caught: {found:?}\n{}",
                slower.markdown
            );
        }
    }
    assert!(
        found.iter().all(|(_, metric)| metric.starts_with('p')),
        "{found:?}"
    );
    assert!(
        !found.iter().any(|(part, _)| part.contains("warm-up")),
        "a warm-up is not judged: {found:?}"
    );
    assert!(slower.markdown.contains("**FAIL**"), "{}", slower.markdown);

    // A 64 KB-a-call leak: the memory kept per call crossed, over the run and
    // the load phase; the latency did not.
    let leakier = compare::<&str>(&healthy[1], &changed[1], &[]);
    assert_eq!(leakier.code, 1, "{}\n{}", leakier.markdown, leakier.stderr);
    let found = crossed(&leakier);
    for part in ["whole run", "phase load"] {
        assert!(
            found.contains(&(part.to_string(), "rss_trend_kb_per_call".to_string())),
            "{part} leak not caught: {found:?}\n{}",
            leakier.markdown
        );
    }
    assert!(
        found.iter().all(|(_, m)| m == "rss_trend_kb_per_call"),
        "{found:?}"
    );
    let trend = leakier.json["comparison"]["scenarios"][0]["parts"][0]["figures"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["metric"] == "rss_trend_kb_per_call"))
        .cloned()
        .unwrap_or(Value::Null);
    let kept = trend["new"].as_f64().unwrap_or(0.0);
    assert!((kept - 64.0).abs() < 8.0, "{trend}");
    assert_eq!(trend["noise"], "beyond", "{trend}");

    // Twelve healthy pairs: no threshold crossed. The figures called beyond
    // noise all the same are counted, for the log (docs/COMPARE.md).
    let mut beyond = 0;
    let mut tested = 0;
    for pair in healthy.windows(2) {
        let same = compare::<&str>(&pair[0], &pair[1], &[]);
        assert_eq!(
            same.code,
            0,
            "a healthy pair failed: {:?}\n{}\n{}",
            crossed(&same),
            same.markdown,
            same.stderr
        );
        assert!(same.markdown.contains("**PASS**"), "{}", same.markdown);
        for part in same.json["comparison"]["scenarios"][0]["parts"]
            .as_array()
            .into_iter()
            .flatten()
        {
            for figure in part["figures"].as_array().into_iter().flatten() {
                match figure["noise"].as_str() {
                    Some("beyond") => beyond += 1,
                    Some("within") => {}
                    _ => continue,
                }
                tested += 1;
            }
        }
    }
    assert!(tested > 100, "{tested} figures tested");

    // Three runs a side: the runs' spread is the noise. Healthy against
    // healthy crosses nothing; one slower run against three healthy ones
    // crosses p95.
    let three = compare(
        &healthy[0],
        &healthy[3],
        &also(&healthy[1..3], &healthy[4..6]),
    );
    assert_eq!(three.code, 0, "{:?}\n{}", crossed(&three), three.markdown);
    assert!(three.markdown.contains("| base 3 |"), "{}", three.markdown);
    let against_three = compare(&healthy[6], &changed[0], &also(&healthy[7..9], &[]));
    assert_eq!(against_three.code, 1, "{}", against_three.markdown);
    assert!(
        crossed(&against_three).contains(&("whole run".to_string(), "p95".to_string())),
        "{:?}",
        crossed(&against_three)
    );
    eprintln!(
        "healthy pairs: {beyond} of {tested} tested figures beyond noise ({:.1} %)",
        100.0 * beyond as f64 / tested as f64
    );
}

#[test]
fn a_scenario_threshold_judges_without_a_flag_and_a_broken_input_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let base = steady_run(dir.path(), "base", &["--latency-ms", "2"]);
    let failing = steady_run(
        dir.path(),
        "failing",
        &["--latency-ms", "2", "--fail-rate", "0.2"],
    );
    // The scenario's own `regressions` (success_rate -0.01) is carried in the
    // new report and judges it: 20 % of calls failing crosses it.
    let (code, _, text) = compare_plain(&base, &failing, &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("`success_rate -0.01`"), "{text}");
    assert!(text.contains("| success_rate |"), "{text}");

    // A report cut short: its file and line are named, exit 2.
    let broken = dir.path().join("broken.json");
    let whole = std::fs::read_to_string(&base).unwrap();
    std::fs::write(&broken, &whole[..whole.len() / 2]).unwrap();
    let (code, _, text) = compare_plain(&base, &broken, &[]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("broken.json: line "), "{text}");

    // A threshold with no direction says how to write one.
    let (code, _, text) = compare_plain(&base, &base, &["--fail-on", "p95 10%"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("+ for a rise or - for a fall"), "{text}");

    // A scenario file with a bad threshold is refused at its line and key.
    let bad = scenario_file(
        dir.path(),
        "bad.toml",
        &STEADY.replace("success_rate -0.01", "p95 +lots"),
    );
    let output = Command::new(mcpstorm())
        .arg("check")
        .arg(&bad)
        .output()
        .unwrap();
    let text = said(&output);
    assert_ne!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains("bad.toml:4:") && text.contains("regressions[0]"),
        "{text}"
    );
}

#[test]
fn names_from_a_report_stay_text_in_the_markdown() {
    let dir = tempfile::tempdir().unwrap();
    let base = steady_run(dir.path(), "base", &["--latency-ms", "2"]);
    let mut report: Value = serde_json::from_str(&std::fs::read_to_string(&base).unwrap()).unwrap();
    let hostile = "x | <img src=x onerror=alert(1)> [a](http://e.example) `y`\n# heading";
    report["scenarios"][0]["name"] = Value::from(hostile);
    let forged = dir.path().join("forged.json");
    std::fs::write(&forged, serde_json::to_vec(&report).unwrap()).unwrap();
    let (code, markdown, _) = compare_plain(&forged, &forged, &[]);
    assert_eq!(code, Some(0), "{markdown}");
    let heading = markdown
        .lines()
        .find(|l| l.starts_with("### Scenario "))
        .unwrap_or_else(|| panic!("no heading:\n{markdown}"));
    // Every character Markdown reads as markup is escaped, and the line
    // break is not one.
    let mut previous = ' ';
    for c in heading["### Scenario ".len()..].chars() {
        if "|<>[]`".contains(c) {
            assert_eq!(previous, '\\', "{c:?} left as markup: {heading}");
        }
        previous = if previous == '\\' { ' ' } else { c };
    }
    assert!(!markdown.contains("\n# heading"), "{markdown}");
}

#[test]
fn hostile_figures_in_a_report_are_compared_or_refused_never_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let base = steady_run(dir.path(), "base", &["--latency-ms", "2"]);
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&base).unwrap()).unwrap();
    let result = "/scenarios/0/result";
    let forgeries: Vec<(&str, Value)> = vec![
        (
            "/total/latency_histogram_us",
            serde_json::json!([[9, 1], [3, 1]]),
        ),
        (
            "/total/latency_histogram_us",
            serde_json::json!([[1, u64::MAX], [2, u64::MAX]]),
        ),
        (
            "/total/latency_histogram_us",
            serde_json::json!([[u64::MAX, 1]]),
        ),
        ("/total/latency_histogram_us", serde_json::json!([])),
        ("/total/latency/stddev_ms", serde_json::json!(-1e308)),
        ("/total/latency/mean_ms", serde_json::json!(1e308)),
        ("/total/calls", serde_json::json!(0)),
        ("/total/outcomes/ok", serde_json::json!(u64::MAX)),
        (
            "/resources/rss_trend",
            serde_json::json!({"kb_per_call": 1e308, "kb_per_call_low": 1e308, "kb_per_call_high": -1e308}),
        ),
        ("/phases", serde_json::json!([])),
        (
            "/per_label",
            serde_json::json!([{"label": ""}, {"label": ""}]),
        ),
    ];
    for (pointer, forged) in forgeries {
        let mut hostile = report.clone();
        match hostile.pointer_mut(&format!("{result}{pointer}")) {
            Some(slot) => *slot = forged.clone(),
            None => panic!("no {pointer} in the report"),
        }
        let file = dir.path().join("hostile.json");
        std::fs::write(&file, serde_json::to_vec(&hostile).unwrap()).unwrap();
        for (a, b) in [(&base, &file), (&file, &base)] {
            let again = a.to_string_lossy();
            let (code, _, text) =
                compare_plain(a, b, &["--fail-on", "p95 +10%", "--base-also", &again]);
            assert!(
                matches!(code, Some(0..=2)),
                "{pointer} = {forged}: {code:?}\n{text}"
            );
        }
    }
    // A field of the wrong type is refused with its place.
    let mut wrong = report.clone();
    if let Some(slot) = wrong.pointer_mut(&format!("{result}/total/latency_histogram_us")) {
        *slot = serde_json::json!([[-1, 1]]);
    }
    let file = dir.path().join("wrong.json");
    std::fs::write(&file, serde_json::to_vec(&wrong).unwrap()).unwrap();
    let (code, _, text) = compare_plain(&base, &file, &[]);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("wrong.json: line 1") && text.contains("latency_histogram_us"),
        "{text}"
    );
}
