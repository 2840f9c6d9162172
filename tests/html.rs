//! `--out html=FILE` and `mcpstorm report REPORT.json --out html=FILE`: one
//! self-contained page, read back here as XML (the page is written
//! well-formed): its criteria, its charts drawn from the run's figures, and
//! nothing it would fetch. Runs the built-in target over real pipes.
//! (tests/consumers.rs opens it in a real browser.)

mod common;

use common::{mcpstorm, run, scenario_file};

/// A leaking target answering 3 ms late, judged by a latency limit it
/// fails and a leak limit it fails; the description holds markup.
const LEAKY: &str = r#"
name = "leaky"
description = "Has <script>alert('x')</script> & friends"
[[phase]]
name = "warmup"
warmup = true
load = { kind = "sequential", calls = 50 }
[[phase]]
name = "load"
load = { kind = "concurrent", workers = 4, calls = 800 }
[[call]]
tool = "echo"
arguments = { message = "x" }
[acceptance]
"p95 <= 1" = { about = "answers within 1 ms" }
"rss_growth_mb <= 1" = {}
"success_rate == 1" = {}
"#;

/// The page read as XML (it is written well-formed, its doctype
/// included), or a panic saying why not.
fn well_formed(text: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse_with_options(
        text,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..roxmltree::ParsingOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("not well-formed ({e})"))
}

#[test]
fn the_page_holds_the_criteria_and_charts_of_the_run_and_fetches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(dir.path(), "leaky.toml", LEAKY);
    let page = dir.path().join("report.html");
    let out = format!("html={}", page.display());
    let run = run(&[
        scenario.to_str().unwrap(),
        "--out",
        &out,
        "--probe-interval-ms",
        "20",
        "--",
        mcpstorm(),
        "serve",
        "--latency-ms",
        "3",
        "--leak-kb",
        "64",
    ]);
    assert_eq!(run.code, 1, "{}", run.explain());
    let text = std::fs::read_to_string(&page).expect("the page");
    let document = well_formed(&text);
    // Nothing to fetch: no script, no link, no source, no URL in a style.
    for node in document.descendants() {
        assert!(
            !["script", "link", "img", "iframe", "object"].contains(&node.tag_name().name()),
            "{:?}",
            node.tag_name()
        );
        for attribute in ["src", "href"] {
            assert!(node.attribute(attribute).is_none(), "{node:?}");
        }
    }
    assert!(!text.contains("url("), "a style fetches");
    // The description's markup is text, not markup.
    assert!(text.contains("Has &lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt; &amp; friends"));
    // A row per criterion, in the state the report gives.
    let rows: Vec<_> = document
        .descendants()
        .filter(|n| n.has_tag_name("tr") && n.attribute("class") == Some("criterion"))
        .collect();
    let criteria = run.scenario("leaky")["result"]["criteria"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(rows.len(), criteria.len());
    for (row, criterion) in rows.iter().zip(&criteria) {
        let cells: Vec<String> = row
            .children()
            .filter(|n| n.has_tag_name("td"))
            .map(|td| {
                td.descendants()
                    .filter(|n| n.is_text())
                    .filter_map(|n| n.text())
                    .collect()
            })
            .collect();
        assert_eq!(cells[0], criterion["state"].as_str().unwrap());
        assert!(cells[1].starts_with(criterion["expression"].as_str().unwrap()));
    }
    assert_eq!(run.criterion("leaky", "p95 <= 1"), "FAIL");
    // Four charts, each with drawn lines; the latency limit is drawn at 1 ms.
    let charts: Vec<_> = document
        .descendants()
        .filter(|n| n.has_tag_name("svg"))
        .collect();
    assert_eq!(charts.len(), 4, "{text}");
    for chart in &charts {
        let lines: Vec<&str> = chart
            .descendants()
            .filter(|n| n.has_tag_name("path"))
            .filter_map(|n| n.attribute("d"))
            .collect();
        assert!(!lines.is_empty(), "{chart:?}");
        assert!(lines.iter().all(|d| d.starts_with('M') && d.len() > 8));
    }
    let limit_labels: Vec<&str> = charts[0]
        .descendants()
        .filter(|n| n.attribute("class") == Some("limit-label"))
        .filter_map(|n| n.text())
        .collect();
    assert_eq!(limit_labels, ["p95 <= 1"]);
    // The RSS chart has as many points as the report has samples (thinned
    // past 1,200), and its trend line.
    let samples = run.scenario("leaky")["result"]["resources"]["series"]
        .as_array()
        .unwrap()
        .len();
    let rss = charts[2]
        .descendants()
        .find(|n| n.has_tag_name("path"))
        .and_then(|n| n.attribute("d"))
        .unwrap();
    assert_eq!(rss.matches(['M', 'L']).count(), samples.min(1200));
    assert!(
        charts[2]
            .descendants()
            .any(|n| n.has_tag_name("path") && n.attribute("class") == Some("line trend")),
        "{text}"
    );
}

#[test]
fn a_saved_report_renders_the_same_page_later() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let out = format!("html={}", page.display());
    let run = run(&["sequential", "--out", &out, "--", mcpstorm(), "serve"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let later = std::process::Command::new(mcpstorm())
        .arg("report")
        .arg(run.dir.path().join("report.json"))
        .args(["--out", "html=-"])
        .output()
        .expect("runs");
    assert_eq!(later.status.code(), Some(0), "{}", common::said(&later));
    assert_eq!(later.stdout, std::fs::read(&page).unwrap());
}

#[test]
fn a_capacity_search_is_drawn_as_latency_against_the_rate_with_its_steps() {
    // A short search against one CPU thread at 5 ms a call: the page draws
    // p99 against the rate asked (the steps in rising rate) and lists every
    // step as the report gives it.
    let search = r#"
name = "capacity"
timeout_ms = 5000
[[phase]]
name = "search"
load = { kind = "capacity", start_rate = 50, max_rate = 400, step_s = 0.5, refine = 1, p99_ms = 50 }
[[call]]
tool = "echo"
arguments = { message = "x" }
"#;
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(dir.path(), "capacity.toml", search);
    let page = dir.path().join("report.html");
    let out = format!("html={}", page.display());
    let run = run(&[
        scenario.to_str().unwrap(),
        "--out",
        &out,
        "--",
        mcpstorm(),
        "serve",
        "--busy-ms",
        "5",
    ]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let text = std::fs::read_to_string(&page).expect("the page");
    let document = well_formed(&text);
    assert!(text.contains("Capacity search: search"), "{text}");
    let steps = run.scenario("capacity")["result"]["phases"][0]["capacity"]["steps"]
        .as_array()
        .expect("steps")
        .clone();
    // The curve: a point a step.
    let curve = document
        .descendants()
        .find(|n| {
            n.has_tag_name("svg")
                && n.attribute("aria-label") == Some("p99 against the rate asked (calls/s)")
        })
        .expect("the curve");
    let p99 = curve
        .descendants()
        .find(|n| n.has_tag_name("path"))
        .and_then(|n| n.attribute("d"))
        .expect("its line");
    assert_eq!(p99.matches(['M', 'L']).count(), steps.len(), "{p99}");
    // The table: a row a step, its rate as the report has it.
    let table = document
        .descendants()
        .filter(|n| n.has_tag_name("table"))
        .find(|t| t.descendants().any(|n| n.text() == Some("asked /s")))
        .expect("the steps' table");
    let rates: Vec<String> = table
        .children()
        .filter(|n| n.has_tag_name("tr"))
        .skip(1)
        .filter_map(|row| row.children().filter(|n| n.has_tag_name("td")).nth(1))
        .filter_map(|cell| cell.text().map(str::to_string))
        .collect();
    let expected: Vec<String> = steps
        .iter()
        .map(|s| format!("{:.0}", s["rate_per_s"].as_f64().unwrap()))
        .collect();
    assert_eq!(rates, expected);
}
