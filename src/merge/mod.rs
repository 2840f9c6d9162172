//! `mcpstorm merge`: the report of a whole test from the reports of its
//! segments (`--segment I/N`, docs/SCALING.md).
//!
//! The segments must be every share of one test: the same count, each
//! index once, the same whole test. The merged report is segment 1's with
//! every figure the segments share replaced: call counts and outcomes
//! summed, latency percentiles read from the sum of the segments'
//! histograms (HdrHistogram's V2 encoding in each report), wire counters
//! summed; the server's process figures are those of the segment that
//! measured it (given `--pid`), or none; figures that are one segment's own
//! and cannot be joined (a churn fit, a stage's sends) are left out;
//! criteria are judged again ([`judge`]).

mod calls;
mod judge;

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::report::saved::{SavedError, read_json};
use crate::report::{calls_json, window_json};
use crate::stats::{CallStats, PhaseSnapshot, Snapshot, WindowPoint};

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("{0}")]
    Saved(#[from] SavedError),
    #[error("{0}")]
    Refused(String),
}

fn refused(why: impl Into<String>) -> MergeError {
    MergeError::Refused(why.into())
}

/// Most segment reports merged at once.
pub const MOST_REPORTS: usize = 10_000;

/// Most windows a merged time line holds (each segment keeps 600).
const MOST_WINDOWS: usize = 100_000;

/// Phase figures that are one segment's own: left out of a merged phase.
const NOT_JOINED: &[&str] = &["churn", "bad_inputs", "stages", "capacity", "sessions"];

/// Wire counters a merge sums; the rest of `wire` (setup percentiles) is
/// left out, the longest setup kept.
const WIRE_SUMMED: &[&str] = &[
    "responses",
    "duplicate_ids",
    "unknown_ids",
    "missing_ids",
    "mixups",
    "correlation_violations",
    "late_responses",
    "protocol_violations",
    "notifications",
    "server_requests",
    "sessions_expired",
    "http_errors",
    "cancellations_sent",
    "connections_opened",
    "tls_handshakes",
    "tls_resumed",
    "http2_connections",
    "auth_failures",
    "token_fetches",
    "token_fetches_failed",
];

/// One segment's report, read.
struct Part {
    file: String,
    index: u64,
    report: Value,
}

/// The merged report of the segments' report `files`.
pub fn merge(files: &[PathBuf]) -> Result<Value, MergeError> {
    if files.len() > MOST_REPORTS {
        return Err(refused(format!("at most {MOST_REPORTS} reports")));
    }
    let mut parts = Vec::with_capacity(files.len());
    for path in files {
        let report = read_json(path)?;
        let file = path.display().to_string();
        let index = report["segment"]["index"].as_u64().ok_or_else(|| {
            refused(format!(
                "{file}: not a segment's report (a run given --segment I/N writes one)"
            ))
        })?;
        parts.push(Part {
            file,
            index,
            report,
        });
    }
    parts.sort_by_key(|p| p.index);
    check_whole(&parts)?;
    let mut merged = parts[0].report.clone();
    let count = parts.len();
    // Every segment's now: no index, and the files it was merged from.
    merged["segment"] = json!({
        "index": null,
        "count": count,
        "start_at_unix_s": parts[0].report["segment"]["start_at_unix_s"],
        "whole": parts[0].report["segment"]["whole"],
        "merged_from": parts.iter().map(|p| p.file.as_str()).collect::<Vec<_>>(),
    });
    let earliest = parts
        .iter()
        .filter_map(|p| p.report["started_at_unix_s"].as_u64())
        .min();
    merged["started_at_unix_s"] = json!(earliest);
    merged["interrupted"] = json!(parts.iter().any(|p| p.report["interrupted"] == true));
    let scenario_count = parts[0].report["scenarios"].as_array().map_or(0, Vec::len);
    let mut verdicts = Vec::new();
    for s in 0..scenario_count {
        let scenarios: Vec<&Value> = parts.iter().map(|p| &p.report["scenarios"][s]).collect();
        let scenario = merge_scenario(&scenarios, &parts)?;
        verdicts.push(scenario["verdict"].as_str().unwrap_or("ERROR").to_string());
        merged["scenarios"][s] = scenario;
    }
    merged["verdict"] = json!(worst(verdicts.iter().map(String::as_str)));
    Ok(merged)
}

/// Every segment of one test, each once.
fn check_whole(parts: &[Part]) -> Result<(), MergeError> {
    let Some(first) = parts.first() else {
        return Err(refused("no report to merge"));
    };
    let count = first.report["segment"]["count"].as_u64().unwrap_or(0);
    let whole = &first.report["segment"]["whole"];
    for part in parts {
        let segment = &part.report["segment"];
        if segment["count"].as_u64() != Some(count) {
            return Err(refused(format!(
                "{} is a segment of {} and {} of {count}: segments of different splits",
                part.file, segment["count"], first.file
            )));
        }
        if segment["whole"] != *whole {
            return Err(refused(format!(
                "{} is a segment of another test than {}: their scenarios or phases differ \
                 ({} against {})",
                part.file, first.file, segment["whole"], whole
            )));
        }
    }
    let names = |report: &Value| -> Vec<String> {
        report["scenarios"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| s["name"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let ran = names(&first.report);
    for part in parts {
        let theirs = names(&part.report);
        if theirs != ran {
            return Err(refused(format!(
                "{} ran the scenarios {theirs:?} and {} {ran:?}: a segment that stopped \
                 early (its run was interrupted, or a scenario could not start) is not \
                 its share of the test",
                part.file, first.file
            )));
        }
    }
    for part in parts {
        check_shape(part)?;
    }
    for pair in parts.windows(2) {
        if pair[0].index == pair[1].index {
            return Err(refused(format!(
                "{} and {} are both segment {}/{count}",
                pair[0].file, pair[1].file, pair[0].index
            )));
        }
    }
    let missing: Vec<String> = (1..=count)
        .filter(|i| parts.iter().all(|p| p.index != *i))
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() || parts.len() as u64 != count {
        return Err(refused(format!(
            "segment {} missing: the whole test needs every segment's report",
            missing.join(", ")
        )));
    }
    Ok(())
}

/// What the merge writes into is the shape mcpstorm writes: each scenario
/// an object, each result (of a scenario that ran) an object whose phases
/// are objects, as many as the whole test has. A report edited by hand, or
/// hostile, is refused here rather than half merged.
fn check_shape(part: &Part) -> Result<(), MergeError> {
    let wrong = |what: &str| {
        refused(format!(
            "{}: {what} is not as mcpstorm writes it",
            part.file
        ))
    };
    let whole = &part.report["segment"]["whole"];
    for (index, scenario) in part.report["scenarios"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let at = format!("scenarios[{index}]");
        if !scenario.is_object() {
            return Err(wrong(&at));
        }
        if scenario["verdict"] == "ERROR" {
            continue;
        }
        let result = &scenario["result"];
        let phases = result["phases"].as_array();
        let written = whole[index]["phases"].as_array().map(Vec::len);
        if !result.is_object()
            || phases.is_none_or(|all| all.iter().any(|p| !p.is_object()))
            || phases.map(Vec::len) != written
        {
            return Err(wrong(&format!("{at}.result")));
        }
    }
    Ok(())
}

/// ERROR over FAIL over PASS.
fn worst<'a>(verdicts: impl Iterator<Item = &'a str>) -> &'static str {
    let mut worst = "PASS";
    for verdict in verdicts {
        worst = match (worst, verdict) {
            ("ERROR", _) | (_, "ERROR") => "ERROR",
            ("FAIL", _) | (_, "FAIL") => "FAIL",
            _ => "PASS",
        };
    }
    worst
}

fn merge_scenario(scenarios: &[&Value], parts: &[Part]) -> Result<Value, MergeError> {
    let mut merged = scenarios[0].clone();
    let name = merged["name"].as_str().unwrap_or_default().to_string();
    if let Some(failed) = scenarios.iter().find(|s| s["verdict"] == "ERROR") {
        // A segment that could not run: the whole test did not run.
        merged["verdict"] = json!("ERROR");
        merged["error"] = failed["error"].clone();
        return Ok(merged);
    }
    merged["incomplete"] = scenarios
        .iter()
        .map(|s| &s["incomplete"])
        .find(|i| !i.is_null())
        .cloned()
        .unwrap_or(Value::Null);
    let results: Vec<&Value> = scenarios.iter().map(|s| &s["result"]).collect();
    let (result, snapshot) = merge_result(&results, parts, &name)?;
    let all_passed = result["criteria"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|c| c["state"] == "PASS" || c["state"] == "NOT_MEASURED");
    let passed = all_passed && merged["incomplete"].is_null() && snapshot.total.calls > 0;
    merged["verdict"] = json!(if passed { "PASS" } else { "FAIL" });
    merged["result"] = result;
    Ok(merged)
}

/// The merged `result`, and the snapshot its criteria were judged on.
fn merge_result(
    results: &[&Value],
    parts: &[Part],
    scenario: &str,
) -> Result<(Value, Snapshot), MergeError> {
    let mut merged = results[0].clone();
    let at = format!("scenario {scenario:?}");
    let sum = |key: &str| summed(results, key);
    merged["elapsed_s"] = json!(largest(results, "elapsed_s"));
    merged["finished"] = json!(results.iter().all(|r| r["finished"] == true));
    for key in ["crashes", "not_sent", "forced_stops", "stalls_not_listed"] {
        merged[key] = json!(sum(key));
    }
    let total = calls::merged(&by_key(results, "total"), &format!("{at}, total"))?;
    let per_label = calls::merged_labels(&by_key(results, "per_label"), &at)?;
    merged["total"] = calls_json(&total);
    merged["per_label"] = labels_json(&per_label);
    // The server's figures: from the segment that measured it.
    let servers = results
        .iter()
        .position(|r| r["resources"]["sampled"] == true);
    if let Some(measured) = servers {
        for key in ["resources", "stderr_tail", "crashes_at_s", "restarts_at_s"] {
            merged[key] = results[measured][key].clone();
        }
    }
    merged["wire"] = merge_wire(results);
    merged["windows"] = merge_windows(results, &at)?;
    merged["stalls"] = concat(results, "stalls", 1_000);
    merged["recent_errors"] = concat(results, "recent_errors", 20);
    merged["control_changes"] = json!([]);
    merged["coldstart"] = only_one(results, "coldstart");
    let mut notes = Vec::new();
    for (part, result) in parts.iter().zip(results) {
        for note in result["notes"].as_array().into_iter().flatten() {
            if let Some(note) = note.as_str() {
                notes.push(json!(format!("segment {}: {note}", part.index)));
            }
        }
    }
    merged["notes"] = Value::Array(notes);
    let (phases, phase_snapshots) = merge_phases(results, parts, servers, &at)?;
    merged["phases"] = Value::Array(phases);
    let snapshot = Snapshot {
        scenario: scenario.to_string(),
        finished: true,
        phases: phase_snapshots,
        total,
        per_label,
        crashes: sum("crashes"),
        forced_stops: sum("forced_stops"),
        restarts_at_s: vec![0.0; sum_len(results, "restarts_at_s")],
        wire: crate::stats::WireSnapshot {
            correlation_violations: merged["wire"]["correlation_violations"]
                .as_u64()
                .unwrap_or(0),
            protocol_violations: merged["wire"]["protocol_violations"].as_u64().unwrap_or(0),
            ..Default::default()
        },
        ..Snapshot::default()
    };
    let servers_criteria = servers.map(|i| &results[i]["criteria"]);
    merged["criteria"] = Value::Array(judge::criteria(
        &results[0]["criteria"],
        servers_criteria,
        &snapshot,
    ));
    Ok((merged, snapshot))
}

fn by_key<'a>(values: &[&'a Value], key: &str) -> Vec<&'a Value> {
    values.iter().map(|v| &v[key]).collect()
}

fn labels_json(labels: &[crate::stats::LabelStats]) -> Value {
    Value::Array(
        labels
            .iter()
            .map(|l| {
                let mut object = json!({ "label": l.label });
                with_calls(&mut object, &l.stats);
                object
            })
            .collect(),
    )
}

/// `object` with the call figures' keys set to `stats`'.
fn with_calls(object: &mut Value, stats: &CallStats) {
    if let (Some(out), Value::Object(calls)) = (object.as_object_mut(), calls_json(stats)) {
        out.extend(calls);
    }
}

/// The largest number at `key` (0 without one).
fn largest(values: &[&Value], key: &str) -> f64 {
    values
        .iter()
        .filter_map(|v| v[key].as_f64())
        .fold(0.0, f64::max)
}

/// The whole numbers at `key`, summed.
fn summed(values: &[&Value], key: &str) -> u64 {
    values.iter().filter_map(|v| v[key].as_u64()).sum()
}

fn sum_len(results: &[&Value], key: &str) -> usize {
    results
        .iter()
        .filter_map(|r| r[key].as_array())
        .map(Vec::len)
        .sum()
}

/// The arrays at `key` one after another, the first `most` kept.
fn concat(results: &[&Value], key: &str, most: usize) -> Value {
    Value::Array(
        results
            .iter()
            .filter_map(|r| r[key].as_array())
            .flatten()
            .take(most)
            .cloned()
            .collect(),
    )
}

/// The figure at `key` when one segment alone has it; `null` otherwise.
fn only_one(values: &[&Value], key: &str) -> Value {
    let mut present = values.iter().map(|v| &v[key]).filter(|v| !v.is_null());
    match (present.next(), present.next()) {
        (Some(one), None) => one.clone(),
        _ => Value::Null,
    }
}

fn merge_wire(results: &[&Value]) -> Value {
    let mut wire = results[0]["wire"].clone();
    let Some(object) = wire.as_object_mut() else {
        return Value::Null;
    };
    for key in WIRE_SUMMED {
        let total: u64 = results
            .iter()
            .filter_map(|r| r["wire"][*key].as_u64())
            .sum();
        object.insert((*key).to_string(), json!(total));
    }
    let in_flight: u64 = results
        .iter()
        .filter_map(|r| r["wire"]["in_flight"].as_u64())
        .sum();
    object.insert("in_flight".into(), json!(in_flight));
    let longest = results
        .iter()
        .filter_map(|r| r["wire"]["connection_setup_max_ms"].as_f64())
        .reduce(f64::max);
    object.insert("connection_setup_max_ms".into(), json!(longest));
    // Percentiles of each segment's own connections: not joined.
    for key in [
        "connection_setup_p50_ms",
        "connection_setup_p99_ms",
        "token_fetch_mean_ms",
        "token_fetch_max_ms",
    ] {
        object.insert(key.into(), Value::Null);
    }
    object.insert(
        "violation_samples".into(),
        Value::Array(
            results
                .iter()
                .filter_map(|r| r["wire"]["violation_samples"].as_array())
                .flatten()
                .take(10)
                .cloned()
                .collect(),
        ),
    );
    wire
}

/// A window's `t_s` and `span_s` as bits: both positive, so in time order.
type WindowKey = (u64, u64);
/// A merged window's errors and its histogram's buckets.
type WindowSum = (u64, Vec<[u64; 2]>);

/// The latency time line: the windows at the same time (`t_s` from each
/// segment's start, together under `--start-at`, and the same span) as
/// one, their histograms added: percentiles of every call in the window.
fn merge_windows(results: &[&Value], at: &str) -> Result<Value, MergeError> {
    let mut windows: std::collections::BTreeMap<WindowKey, WindowSum> =
        std::collections::BTreeMap::new();
    for (segment, result) in results.iter().enumerate() {
        for window in result["windows"].as_array().into_iter().flatten() {
            let t_s = window["t_s"].as_f64().unwrap_or(0.0).max(0.0);
            let span_s = window["span_s"].as_f64().unwrap_or(0.0).max(0.0);
            let errors = window["errors"].as_u64().unwrap_or(0);
            let buckets =
                calls::histogram_of(window, &format!("{at}, window at {t_s} s"), segment)?
                    .map(|h| h.recorded_us())
                    .unwrap_or_default();
            let key = (t_s.to_bits(), span_s.to_bits());
            if let Some((merged_errors, merged)) = windows.get_mut(&key) {
                *merged_errors += errors;
                *merged = crate::stats::latency::add_recorded(merged, &buckets);
            } else if windows.len() < MOST_WINDOWS {
                windows.insert(key, (errors, buckets));
            }
        }
    }
    Ok(Value::Array(
        windows
            .into_iter()
            .map(|((t_s, span_s), (errors, buckets))| {
                let (t_s, span_s) = (f64::from_bits(t_s), f64::from_bits(span_s));
                window_json(&WindowPoint::of(t_s, span_s, errors, buckets))
            })
            .collect(),
    ))
}

/// Each phase merged, with the snapshot figures its criteria read.
fn merge_phases(
    results: &[&Value],
    parts: &[Part],
    servers: Option<usize>,
    at: &str,
) -> Result<(Vec<Value>, Vec<PhaseSnapshot>), MergeError> {
    let whole = &parts[0].report["segment"]["whole"];
    let scenario = results[0]["scenario"].as_str().unwrap_or_default();
    let whole_phases: Vec<&str> = whole
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["name"] == scenario)
        .and_then(|s| s["phases"].as_array())
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let count = results[0]["phases"].as_array().map_or(0, Vec::len);
    let mut phases = Vec::with_capacity(count);
    let mut snapshots = Vec::with_capacity(count);
    for index in 0..count {
        let each: Vec<&Value> = results.iter().map(|r| &r["phases"][index]).collect();
        let name = each[0]["name"].as_str().unwrap_or_default().to_string();
        let at = format!("{at}, phase {name:?}");
        let stats = calls::merged(&each, &at)?;
        let per_label = calls::merged_labels(&by_key(&each, "per_label"), &at)?;
        let mut phase = each[0].clone();
        with_calls(&mut phase, &stats);
        phase["per_label"] = labels_json(&per_label);
        // The load as written, unsplit.
        let prefix = format!("{name}: ");
        if let Some(load) = whole_phases
            .get(index)
            .and_then(|p| p.strip_prefix(prefix.as_str()))
        {
            phase["load"] = json!(load);
        }
        let planned: Option<u64> = each.iter().map(|p| p["planned_calls"].as_u64()).sum();
        phase["planned_calls"] = json!(planned);
        let late_sends = summed(&each, "late_sends");
        phase["late_sends"] = json!(late_sends);
        phase["max_send_lag_ms"] = json!(largest(&each, "max_send_lag_ms"));
        let target: Option<f64> = each.iter().map(|p| p["target_per_s"].as_f64()).sum();
        phase["target_per_s"] = json!(target);
        phase["duration_s"] = json!(largest(&each, "duration_s"));
        for key in NOT_JOINED {
            phase[*key] = only_one(&each, key);
        }
        phase["memory"] = servers.map_or(Value::Null, |i| each[i]["memory"].clone());
        phases.push(phase);
        snapshots.push(PhaseSnapshot {
            per_label,
            late_sends,
            ..PhaseSnapshot::of_calls(&name, stats)
        });
    }
    Ok((phases, snapshots))
}
