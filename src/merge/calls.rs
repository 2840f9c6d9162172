//! One call figures object (the run's, a phase's, a label's) from the
//! segments' own: counts summed, the latency histograms added, and the
//! percentiles read from the sum — never averaged.

use serde_json::Value;

use crate::stats::{CallStats, LabelStats, LatencyHistogram, OutcomeCounts};

use super::MergeError;

/// The call figures the segments' `objects` make together, as
/// [`CallStats`] (what criteria are judged on); `throughput_per_s` is the
/// sum of the segments' (they ran at the same time); `at` names the object
/// in errors.
pub fn merged(objects: &[&Value], at: &str) -> Result<CallStats, MergeError> {
    let mut outcomes = OutcomeCounts::default();
    let mut histogram = LatencyHistogram::default();
    let mut throughput_per_s = 0.0;
    for (segment, object) in objects.iter().enumerate() {
        let count = |key: &str| object["outcomes"][key].as_u64().unwrap_or(0);
        outcomes.ok += count("ok");
        outcomes.jsonrpc_error += count("jsonrpc_error");
        outcomes.tool_error += count("tool_error");
        outcomes.timeout += count("timeout");
        outcomes.transport_error += count("transport_error");
        outcomes.protocol_error += count("protocol_error");
        throughput_per_s += object["throughput_per_s"].as_f64().unwrap_or(0.0);
        if let Some(part) = histogram_of(object, at, segment)? {
            histogram.add(&part);
        }
    }
    let calls = outcomes.total();
    Ok(CallStats {
        calls,
        outcomes,
        success_rate: outcomes.success_rate(),
        latency: histogram.summary(),
        throughput_per_s,
        latency_histogram_us: (calls > 0).then(|| std::sync::Arc::new(histogram.recorded_us())),
        latency_hdr_v2: (calls > 0).then(|| std::sync::Arc::from(histogram.to_v2_base64())),
    })
}

/// The latency histogram of `object` (call figures, or a window: its
/// `calls` and `latency_hdr_v2`), from segment `segment` (from 0); `None`
/// without calls.
pub fn histogram_of(
    object: &Value,
    at: &str,
    segment: usize,
) -> Result<Option<LatencyHistogram>, MergeError> {
    let calls = object["calls"].as_u64().unwrap_or(0);
    match object["latency_hdr_v2"].as_str() {
        Some(encoded) => LatencyHistogram::from_v2_base64(encoded)
            .map(Some)
            .map_err(|why| {
                MergeError::Refused(format!("{at}: segment {}'s histogram: {why}", segment + 1))
            }),
        None if calls > 0 => Err(MergeError::Refused(format!(
            "{at}: segment {}'s {calls} calls have no latency_hdr_v2 histogram \
             (written by an older mcpstorm: run the segments with this one)",
            segment + 1
        ))),
        None => Ok(None),
    }
}

/// Each label's figures across the segments (`per_label` arrays), in the
/// order labels first appear.
pub fn merged_labels(arrays: &[&Value], at: &str) -> Result<Vec<LabelStats>, MergeError> {
    let mut names: Vec<&str> = Vec::new();
    for array in arrays {
        for label in array.as_array().into_iter().flatten() {
            if let Some(name) = label["label"].as_str()
                && !names.contains(&name)
            {
                names.push(name);
            }
        }
    }
    names
        .into_iter()
        .map(|name| {
            let objects: Vec<&Value> = arrays
                .iter()
                .filter_map(|array| {
                    array
                        .as_array()?
                        .iter()
                        .find(|label| label["label"] == name)
                })
                .collect();
            Ok(LabelStats {
                label: name.to_string(),
                stats: merged(&objects, &format!("{at}, {name}"))?,
            })
        })
        .collect()
}
