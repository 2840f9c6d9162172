//! `--out junit=FILE` and `mcpstorm report REPORT.json --out junit=FILE`:
//! JUnit XML a CI shows, read back here with a real XML parser. Runs the
//! built-in target over real pipes.

mod common;

use common::{mcpstorm, run, scenario_file};

/// One scenario against the target answering 5 ms late: `p95 <= 2` fails
/// (with its value), `success_rate == 1` passes, `rss_growth_mb <= 50`
/// passes, and the criterion's `about` holds markup and a control
/// character, as any text from outside may.
const TWO_CRITERIA: &str = r#"
name = "latency <check>"
[[phase]]
name = "load"
load = { kind = "sequential", calls = 40 }
[[call]]
tool = "echo"
arguments = { message = "x" }
[acceptance]
"p95 <= 2" = { about = "fast & <b>small</b> ]]> \u0001 \"quoted\"" }
"success_rate == 1" = {}
"#;

/// The JUnit XML at `path`, parsed: it must be well-formed XML.
fn parsed(text: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("not XML ({e}):\n{text}"))
}

fn attribute<'a>(node: roxmltree::Node<'a, 'a>, name: &str) -> &'a str {
    node.attribute(name)
        .unwrap_or_else(|| panic!("no {name} on {node:?}"))
}

#[test]
fn each_criterion_is_a_test_case_and_a_failed_one_says_its_value_and_limit() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(dir.path(), "s.toml", TWO_CRITERIA);
    let junit = dir.path().join("junit.xml");
    let out = format!("junit={}", junit.display());
    let server = format!("{} serve --http 127.0.0.1:0 --latency-ms 5", mcpstorm());
    let run = run(&[
        scenario.to_str().unwrap(),
        "--out",
        &out,
        "--server-cmd",
        &server,
    ]);
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(
        run.stderr.contains("JUnit report written to"),
        "{}",
        run.explain()
    );
    let text = std::fs::read_to_string(&junit).expect("the JUnit file");
    let document = parsed(&text);
    let suites = document.root_element();
    assert_eq!(suites.tag_name().name(), "testsuites");
    assert_eq!(
        (
            attribute(suites, "tests"),
            attribute(suites, "failures"),
            attribute(suites, "errors")
        ),
        ("3", "1", "0")
    );
    let suite = suites
        .children()
        .find(|n| n.has_tag_name("testsuite"))
        .expect("a testsuite");
    assert_eq!(attribute(suite, "name"), "latency <check>");
    let property = |name: &str| {
        suite
            .descendants()
            .find(|n| n.has_tag_name("property") && n.attribute("name") == Some(name))
            .map(|n| attribute(n, "value").to_string())
    };
    assert_eq!(property("transport").as_deref(), Some("http"));
    assert!(property("protocol_version").is_some(), "{text}");
    assert!(property("endpoint").is_some_and(|e| e.starts_with("http://127.0.0.1:")));
    let cases: Vec<_> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    let names: Vec<&str> = cases.iter().map(|c| attribute(*c, "name")).collect();
    assert_eq!(
        names,
        ["the run completes", "p95 <= 2", "success_rate == 1"]
    );
    let failure = cases[1]
        .children()
        .find(|n| n.has_tag_name("failure"))
        .expect("p95 failed");
    // The value the report holds, and the limit.
    let value = run.criterion_value("latency <check>", "p95 <= 2")["value"]
        .as_f64()
        .unwrap();
    assert!(value > 2.0, "{value}");
    let message = attribute(failure, "message");
    assert!(
        message.starts_with("p95 <= 2: ") && message.ends_with(" against 2"),
        "{message}"
    );
    let shown: f64 = message["p95 <= 2: ".len()..message.len() - " against 2".len()]
        .parse()
        .unwrap();
    assert!((shown - value).abs() < 0.001, "{shown} vs {value}");
    // The scenario's words, made safe: the control character replaced.
    let text_of_failure = failure.text().unwrap_or_default();
    assert!(
        text_of_failure.contains("fast & <b>small</b> ]]> \u{FFFD} \"quoted\""),
        "{text_of_failure}"
    );
    assert!(cases[2].first_element_child().is_none(), "success passed");
    let out = suite
        .children()
        .find(|n| n.has_tag_name("system-out"))
        .and_then(|n| n.text())
        .unwrap_or_default();
    assert!(
        out.contains("load (sequential, 40 calls): 40 calls"),
        "{out}"
    );
}

#[test]
fn a_saved_report_renders_the_same_junit_later() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(dir.path(), "s.toml", TWO_CRITERIA);
    let junit = dir.path().join("junit.xml");
    let out = format!("junit={}", junit.display());
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
    assert_eq!(run.code, 1, "{}", run.explain());
    let saved = run.dir.path().join("report.json");
    assert!(saved.exists(), "{}", run.explain());
    let later = std::process::Command::new(mcpstorm())
        .arg("report")
        .arg(&saved)
        .args(["--out", "junit=-"])
        .output()
        .expect("mcpstorm report runs");
    assert_eq!(later.status.code(), Some(0), "{}", common::said(&later));
    let written = std::fs::read(&junit).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&later.stdout),
        String::from_utf8_lossy(&written)
    );
}

#[test]
fn a_scenario_that_cannot_run_is_an_error_case_whatever_its_server_printed() {
    // A server that prints markup and control characters and exits: the
    // scenario cannot run, and the JUnit file is still well-formed (the
    // server's output is quoted, its control characters spelt out).
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
        "printf '<oops> & \\001\\033[31m ]]>\\n' >&2; exit 3",
    ]);
    assert_eq!(run.code, 2, "{}", run.explain());
    let text = std::fs::read_to_string(&junit).expect("written although nothing ran");
    let document = parsed(&text);
    let error = document
        .descendants()
        .find(|n| n.has_tag_name("error"))
        .expect("an error case");
    let message = attribute(error, "message");
    assert!(message.contains("<oops> & "), "{message}");
    assert!(message.contains("[31m ]]>"), "{message}");
}

#[test]
fn a_destination_that_cannot_be_written_is_refused_before_the_run() {
    let run = run(&["sequential", "--out", "junit=/nonexistent-dir/junit.xml"]);
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(
        run.stderr
            .contains("--out junit=/nonexistent-dir/junit.xml: directory"),
        "{}",
        run.explain()
    );
    let clash = run_twice_to_one_file();
    assert!(clash.contains("write to the same place"), "{clash}");
    let unknown = std::process::Command::new(mcpstorm())
        .args(["run", "sequential", "--out", "pdf=x.pdf"])
        .output()
        .expect("runs");
    assert_eq!(unknown.status.code(), Some(2));
    assert!(common::said(&unknown).contains("KIND is one of json, junit"));
}

/// `--report F --out junit=F`: what mcpstorm says.
fn run_twice_to_one_file() -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("same");
    let output = std::process::Command::new(mcpstorm())
        .args(["run", "sequential", "--report"])
        .arg(&file)
        .arg("--out")
        .arg(format!("junit={}", file.display()))
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    common::said(&output)
}

#[test]
fn a_broken_saved_report_is_named_by_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let broken = scenario_file(
        dir.path(),
        "report.json",
        "{\n  \"scenarios\": [\n    {\"name\": \"x\", \"verdict\": 7}\n  ]\n}\n",
    );
    let output = std::process::Command::new(mcpstorm())
        .arg("report")
        .arg(&broken)
        .args(["--out", "junit=-"])
        .output()
        .expect("runs");
    let said = common::said(&output);
    assert_eq!(output.status.code(), Some(2), "{said}");
    assert!(
        said.contains("report.json: line 3, column") && said.contains("at scenarios[0].verdict"),
        "{said}"
    );
    assert!(output.stdout.is_empty(), "{said}");
}
