//! Property tests over what comes from outside: the scenario parser, the
//! criterion language, the JSON-RPC reader and `mcpstorm merge` take any input — random bytes,
//! and near-valid input with one part made hostile — and answer with a value
//! or an error, never a panic, a hang or an abort.
//!
//! `cargo test` runs a short, bounded pass (2,000 cases a property, a few
//! seconds); a longer one is `PROPTEST_CASES=1000000 cargo test --release
//! --test fuzz` (about a minute on two cores). A failure prints the smallest
//! input that breaks it; proptest keeps it in `tests/fuzz.proptest-regressions`
//! (checked in) to be tried first from then on. The first long run found a
//! panic: a scenario line whose key followed a multi-byte character was cut
//! inside that character while naming the key of an error.

use mcpstorm::acceptance::Criterion;
use mcpstorm::protocol::id_scan;
use mcpstorm::protocol::jsonrpc::{self, Incoming, ResponseBody};
use mcpstorm::scenario::file;
use mcpstorm::stats::{LatencyHistogram, Snapshot};
use proptest::prelude::*;

/// Cases per property in the default run: enough to walk the grammar's
/// corners, small enough for the test suite's budget.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000);
    ProptestConfig {
        cases,
        // Shrinking a failure is bounded too.
        max_shrink_iters: 2_000,
        ..ProptestConfig::default()
    }
}

/// A number as a hostile file might write it.
fn hostile_number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| format!("{n:?}")),
        Just("1e300".to_string()),
        Just("-0.0".to_string()),
        Just("4294967297".to_string()),
        Just("nan".to_string()),
        Just("inf".to_string()),
        Just("1e-300".to_string()),
        Just("\"12\"".to_string()),
        Just("[1, 2]".to_string()),
        Just("{}".to_string()),
    ]
}

/// A scenario that is valid but for the values: every number hostile.
fn near_valid_scenario() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec![
            "sequential",
            "concurrent",
            "rate",
            "coldstart",
            "churn",
            "robustness",
            "warp",
        ]),
        prop::collection::vec(
            (
                prop::sample::select(vec![
                    "calls",
                    "workers",
                    "batches",
                    "rate",
                    "duration_s",
                    "iterations",
                    "sessions",
                    "calls_per_session",
                    "rounds",
                    "huge_request_kb",
                ]),
                hostile_number(),
            ),
            0..4,
        ),
        hostile_number(),
        hostile_number(),
        "[ -~]{0,40}",
    )
        .prop_map(|(kind, keys, timeout, weight, criterion)| {
            let load: Vec<String> = keys.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            format!(
                "name = \"fuzz\"\ntimeout_ms = {timeout}\n\
                 [[phase]]\nname = \"load\"\nload = {{ kind = \"{kind}\", {} }}\n\
                 [[call]]\ntool = \"echo\"\nweight = {weight}\narguments = {{ message = \"{{seq}}\" }}\n\
                 [acceptance]\n{:?} = {{}}\n",
                load.join(", "),
                criterion
            )
        })
}

/// A criterion built from the language's own pieces, nested and joined at
/// random: deeper and longer than any person writes.
fn criterion_text() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        hostile_number(),
        prop::sample::select(vec![
            "p95",
            "p99(load)",
            "rss_growth_mb",
            "success_rate(load, echo)",
            "calls",
            "unknown_metric",
            "p95(nowhere)",
        ])
        .prop_map(str::to_string),
    ];
    let expression = atom.prop_recursive(6, 64, 4, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(vec!["+", "-", "*", "/"]),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("{a} {op} {b}")),
            inner.clone().prop_map(|e| format!("({e})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("max({a}, {b})")),
            inner.prop_map(|e| format!("-{e}")),
        ]
    });
    (
        expression.clone(),
        prop::sample::select(vec!["<", "<=", "==", ">=", ">", "!=", "=<", ""]),
        expression,
    )
        .prop_map(|(a, op, b)| format!("{a} {op} {b}"))
}

/// A JSON-RPC line, valid or broken in one place, or nested deep.
fn message_line() -> impl Strategy<Value = Vec<u8>> {
    let id = prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        Just("null".to_string()),
        "\"[a-z]{0,8}\"".prop_map(|s| s),
        Just("-1".to_string()),
        Just("1.5".to_string()),
    ];
    let body = prop_oneof![
        Just("\"result\":{}".to_string()),
        Just("\"result\":null".to_string()),
        Just("\"error\":{\"code\":-32601,\"message\":\"x\"}".to_string()),
        Just("\"error\":\"oops\"".to_string()),
        Just("\"method\":\"ping\"".to_string()),
        (0usize..400).prop_map(|depth| {
            format!("\"result\":{}1{}", "[".repeat(depth), "]".repeat(depth))
        }),
    ];
    (id, body, 0usize..3, any::<Vec<u8>>()).prop_map(|(id, body, cut, noise)| {
        let mut line = format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},{body}}}").into_bytes();
        match cut {
            // Broken: cut short, or with noise spliced in.
            1 => line.truncate(line.len() / 2),
            2 => {
                let at = line.len() / 3;
                line.splice(at..at, noise);
            }
            _ => {}
        }
        line
    })
}

/// A segment's report as mcpstorm writes its shape: one scenario of one
/// phase, with its histograms, a window and a criterion.
fn segment_report(index: u32) -> serde_json::Value {
    let mut histogram = LatencyHistogram::default();
    for micros in [120, 250, 900 + u64::from(index)] {
        histogram.record(micros);
    }
    let calls = serde_json::json!({
        "calls": 3, "outcomes": {"ok": 3}, "success_rate": 1.0, "throughput_per_s": 3.0,
        "latency": {"count": 3}, "latency_hdr_v2": histogram.to_v2_base64(),
    });
    let mut phase = calls.clone();
    phase["name"] = "load".into();
    phase["load"] = "rate".into();
    phase["planned_calls"] = 3.into();
    phase["per_label"] = serde_json::json!([{"label": "echo", "calls": 3, "outcomes": {"ok": 3},
        "latency_hdr_v2": histogram.to_v2_base64()}]);
    let mut window = calls.clone();
    window["t_s"] = 1.0.into();
    window["span_s"] = 1.0.into();
    serde_json::json!({
        "schema_version": 1,
        "segment": {"index": index, "count": 2, "whole": [{"name": "s", "phases": ["load: rate"]}]},
        "scenarios": [{
            "name": "s", "verdict": "PASS",
            "result": {
                "scenario": "s", "phases": [phase], "total": calls, "per_label": [],
                "windows": [window], "resources": {"sampled": false}, "wire": {"responses": 3},
                "notes": ["n"], "criteria": [{"expression": "p99 <= 5000", "state": "PASS"}],
            },
        }],
    })
}

/// Every place in a JSON value, as a JSON pointer.
fn pointers(value: &serde_json::Value, at: String, all: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, child) in map {
                pointers(child, format!("{at}/{key}"), all);
            }
        }
        serde_json::Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                pointers(child, format!("{at}/{index}"), all);
            }
        }
        _ => {}
    }
    all.push(at);
}

/// A JSON value a hostile report might hold anywhere.
fn hostile_json() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|n| serde_json::json!(n)),
        "\\PC{0,20}".prop_map(serde_json::Value::from),
        Just(serde_json::json!([])),
        Just(serde_json::json!({})),
        Just(serde_json::json!([1, "x", null])),
    ]
}

/// A merge reads files and decodes histograms: an eighth of the cases.
fn merge_config() -> ProptestConfig {
    let whole = config();
    ProptestConfig {
        cases: (whole.cases / 8).max(1),
        ..whole
    }
}

proptest! {
    #![proptest_config(merge_config())]

    #[test]
    fn a_merge_of_hostile_segment_reports_is_done_or_refused_never_a_panic(
        place in any::<prop::sample::Index>(),
        value in hostile_json(),
        which in 0..2usize,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut reports = [segment_report(1), segment_report(2)];
        let mut all = Vec::new();
        pointers(&reports[which], String::new(), &mut all);
        let pointer = place.get(&all).clone();
        match reports[which].pointer_mut(&pointer) {
            Some(slot) => *slot = value,
            None => reports[which] = value,
        }
        let files: Vec<std::path::PathBuf> = reports
            .iter()
            .enumerate()
            .map(|(i, report)| {
                let path = dir.path().join(format!("{i}.json"));
                std::fs::write(&path, report.to_string()).unwrap();
                path
            })
            .collect();
        if let Ok(merged) = mcpstorm::merge::merge(&files) {
            prop_assert!(merged["verdict"].is_string());
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_scenario_parser_never_panics_on_bytes(text in "\\PC{0,400}") {
        let _ = file::parse(&text, "fuzz.toml");
    }

    #[test]
    fn a_hostile_scenario_is_refused_or_within_its_ranges(text in near_valid_scenario()) {
        if let Ok(scenario) = file::parse(&text, "fuzz.toml") {
            // Whatever was accepted is within the documented ranges.
            prop_assert!(scenario.call_timeout.as_millis() >= 1);
            prop_assert!(scenario.call_timeout.as_secs() <= 86_400);
            for phase in &scenario.phases {
                prop_assert!(phase.load.planned_calls().unwrap_or(0) <= 1_000_000_000);
            }
        }
    }

    #[test]
    fn a_criterion_parses_or_is_refused_and_evaluates_without_panic(text in criterion_text()) {
        let phases = vec!["warmup".to_string(), "load".to_string()];
        let labels = vec!["echo".to_string()];
        if let Ok(criterion) = Criterion::compile(&text, &phases, Some(&labels)) {
            // Over an empty run every metric is unmeasured or zero: judged,
            // never a panic, and reported under the text as written.
            let status = criterion.evaluate(&Snapshot::default(), true);
            prop_assert_eq!(status.expression, text);
        }
    }

    #[test]
    fn the_criterion_parser_never_panics_on_bytes(text in "\\PC{0,300}") {
        let _ = Criterion::compile(&text, &[], None);
    }

    #[test]
    fn the_json_rpc_reader_classifies_any_bytes(line in any::<Vec<u8>>()) {
        let _ = jsonrpc::classify(&line);
        let _ = id_scan::response_id(&line);
    }

    #[test]
    fn a_message_is_classified_and_an_unreadable_response_keeps_its_id(line in message_line()) {
        let scanned = id_scan::response_id(&line);
        match jsonrpc::classify(&line) {
            Incoming::Response { id, body: ResponseBody::Unusable(why) } => {
                // Delivered only to the request it names, with a bounded reason.
                prop_assert_eq!(id.and_then(|v| v.as_u64()), scanned);
                prop_assert!(why.len() < 1_000);
            }
            Incoming::Invalid { reason, sample } => {
                prop_assert!(reason.len() < 1_000 && sample.len() < 1_000);
            }
            _ => {}
        }
    }
}
