//! Parsing and checking a scenario file. Every error is one line naming the
//! file, line, column and key, and what was expected there.

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::calls::{RawCall, mix};
use super::{Amount, Load, OnCrash, Phase, Scenario, SessionEnd};
use crate::acceptance::{Criteria, Criterion};

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{file}:{line}:{column}: {key}: {message}")]
    Invalid {
        file: String,
        line: usize,
        column: usize,
        key: String,
        message: String,
    },
    #[error("cannot read scenario file {file}: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error("no built-in scenario or file named `{name}` (built-in: {builtins})")]
    Unknown { name: String, builtins: String },
}

const DEFAULT_TIMEOUT_MS: f64 = 30_000.0;
const DEFAULT_PROBE_INTERVAL_MS: f64 = 250.0;
/// The robustness phase's very large request: 4 MiB, past what a line
/// reader with a fixed buffer takes, well within mcpstorm's own limits.
const DEFAULT_HUGE_REQUEST_KB: u32 = 4096;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    timeout_ms: Option<Spanned<f64>>,
    probe_interval_ms: Option<Spanned<f64>>,
    on_crash: Option<Spanned<String>>,
    abort_after_consecutive_failures: Option<Spanned<i64>>,
    #[serde(default)]
    phase: Vec<Spanned<RawPhase>>,
    #[serde(default)]
    call: Vec<Spanned<RawCall>>,
    #[serde(default)]
    acceptance: Option<Spanned<toml::Table>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPhase {
    name: Spanned<String>,
    warmup: Option<bool>,
    load: Spanned<RawLoad>,
    /// A mix for this phase only, instead of the scenario's.
    call: Option<Vec<Spanned<RawCall>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLoad {
    kind: Spanned<String>,
    calls: Option<Spanned<i64>>,
    workers: Option<Spanned<i64>>,
    batches: Option<Spanned<i64>>,
    rate: Option<Spanned<f64>>,
    duration_s: Option<Spanned<f64>>,
    iterations: Option<Spanned<i64>>,
    sessions: Option<Spanned<i64>>,
    calls_per_session: Option<Spanned<i64>>,
    end: Option<Spanned<String>>,
    rounds: Option<Spanned<i64>>,
    huge_request_kb: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCriterionOptions {
    about: Option<String>,
}

/// Locates byte offsets in the file as line and column, and builds errors.
pub(super) struct Source<'a> {
    text: &'a str,
    file: &'a str,
}

impl Source<'_> {
    pub(super) fn position(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }

    pub(super) fn error(
        &self,
        offset: usize,
        key: &str,
        message: impl Into<String>,
    ) -> ScenarioError {
        let (line, column) = self.position(offset);
        ScenarioError::Invalid {
            file: self.file.to_string(),
            line,
            column,
            key: format!("key `{key}`"),
            message: message.into(),
        }
    }

    pub(super) fn at<T>(
        &self,
        spanned: &Spanned<T>,
        key: &str,
        message: impl Into<String>,
    ) -> ScenarioError {
        self.error(spanned.span().start, key, message)
    }

    /// The key written just before `offset` on its line (`workers` in
    /// `load = { workers = "x" }` for an offset inside `"x"`).
    pub(super) fn key_before(&self, offset: usize) -> Option<String> {
        let offset = offset.min(self.text.len());
        let line_start = self.text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.text[offset..]
            .find('\n')
            .map_or(self.text.len(), |i| offset + i);
        let line = &self.text[line_start..line_end];
        let column = offset - line_start;
        // The offset may sit on the key itself (unknown field): take the word there.
        let word_end = line[column..]
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
            .map_or(line.len(), |i| column + i);
        if word_end > column && line[word_end..].trim_start().starts_with('=') {
            return Some(line[column..word_end].to_string());
        }
        let equals = line[..column].rfind('=')?;
        let key = line[..equals].trim_end();
        // Past the last character that cannot be in a key (whatever its width).
        let start = key
            .char_indices()
            .rfind(|&(_, c)| !(c.is_alphanumeric() || c == '_' || c == '-' || c == '"'))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let key = key[start..].trim_matches('"');
        (!key.is_empty()).then(|| key.to_string())
    }
}

/// The largest whole number each key may take (the least is 1). Beyond these
/// a value is a mistake, not a test: it would run for years, spawn more
/// workers than any machine has threads, or not fit the counters that carry
/// it (4294967297 workers wrapped to 1). The README's load table lists them.
fn int_max(key: &str) -> u64 {
    match key {
        "workers" => 10_000,
        "rounds" => 1_000,
        "huge_request_kb" => 65_536,
        "iterations" => 100_000,
        // calls, batches, sessions, calls_per_session
        _ => 1_000_000_000,
    }
}

/// The range of each number with a fraction: (least, largest).
fn f64_range(key: &str) -> (f64, f64) {
    match key {
        // Calls per second: one per 100 s and more; far beyond 100,000 the
        // schedule would pile up calls faster than any server answers them.
        "rate" => (0.01, 100_000.0),
        // A week.
        "duration_s" => (0.001, 604_800.0),
        // timeout_ms, probe_interval_ms: 1 ms to a day.
        _ => (1.0, 86_400_000.0),
    }
}

/// A number as a person would write it: 1e300, not three hundred digits.
fn shown(v: f64) -> String {
    if v != 0.0 && !(1e-3..1e9).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        v.to_string()
    }
}

fn positive_int(
    src: &Source,
    value: &Option<Spanned<i64>>,
    key: &str,
    what: &str,
) -> Result<Option<u64>, ScenarioError> {
    let max = int_max(what);
    match value {
        None => Ok(None),
        Some(v) if (1..=max as i64).contains(v.get_ref()) => Ok(Some(*v.get_ref() as u64)),
        Some(v) => Err(src.at(
            v,
            key,
            format!(
                "{what} must be a whole number from 1 to {max}, got {}",
                v.get_ref()
            ),
        )),
    }
}

fn positive_f64(
    src: &Source,
    value: &Spanned<f64>,
    key: &str,
    what: &str,
) -> Result<f64, ScenarioError> {
    let v = *value.get_ref();
    let (least, largest) = f64_range(what);
    if (least..=largest).contains(&v) {
        Ok(v)
    } else {
        Err(src.at(
            value,
            key,
            format!(
                "{what} must be a number from {least} to {largest}, got {}",
                shown(v)
            ),
        ))
    }
}

fn amount(src: &Source, raw: &RawLoad, key: &str) -> Result<Amount, ScenarioError> {
    let calls = positive_int(src, &raw.calls, &format!("{key}.calls"), "calls")?;
    let duration = raw
        .duration_s
        .as_ref()
        .map(|d| positive_f64(src, d, &format!("{key}.duration_s"), "duration_s"))
        .transpose()?;
    match (calls, duration) {
        (Some(n), None) => Ok(Amount::Calls(n)),
        (None, Some(s)) => Ok(Amount::Duration(Duration::from_secs_f64(s))),
        (Some(_), Some(_)) => Err(src.at(
            &raw.kind,
            key,
            "give either `calls` or `duration_s`, not both",
        )),
        (None, None) => Err(src.at(&raw.kind, key, "needs `calls` or `duration_s`")),
    }
}

fn load(src: &Source, raw: &Spanned<RawLoad>, key: &str) -> Result<Load, ScenarioError> {
    let span = raw.span().start;
    let raw = raw.get_ref();
    let kind = raw.kind.get_ref().as_str();
    let unexpected = |field: &str, present: bool| -> Result<(), ScenarioError> {
        if present {
            Err(src.error(
                span,
                &format!("{key}.{field}"),
                format!("`{field}` does not apply to load kind \"{kind}\""),
            ))
        } else {
            Ok(())
        }
    };
    // A positive whole number this kind cannot do without.
    let required = |field: &str, value: &Option<Spanned<i64>>| -> Result<u32, ScenarioError> {
        let path = format!("{key}.{field}");
        positive_int(src, value, &path, field)?
            .map(|n| n as u32)
            .ok_or_else(|| {
                src.at(
                    &raw.kind,
                    &path,
                    format!("load kind \"{kind}\" needs `{field}`"),
                )
            })
    };
    // The keys each kind reads; any other key given is a mistake to point at.
    let accepted: &[&str] = match kind {
        "sequential" => &["calls", "duration_s"],
        "concurrent" => &["workers", "calls", "duration_s", "batches"],
        "rate" => &["rate", "calls", "duration_s"],
        "coldstart" => &["iterations"],
        "churn" => &["sessions", "calls_per_session", "end"],
        "robustness" => &["rounds", "huge_request_kb"],
        _ => &[],
    };
    let given = [
        ("calls", raw.calls.is_some()),
        ("workers", raw.workers.is_some()),
        ("batches", raw.batches.is_some()),
        ("rate", raw.rate.is_some()),
        ("duration_s", raw.duration_s.is_some()),
        ("iterations", raw.iterations.is_some()),
        ("sessions", raw.sessions.is_some()),
        ("calls_per_session", raw.calls_per_session.is_some()),
        ("end", raw.end.is_some()),
        ("rounds", raw.rounds.is_some()),
        ("huge_request_kb", raw.huge_request_kb.is_some()),
    ];
    if !accepted.is_empty() {
        for (field, present) in given {
            unexpected(field, present && !accepted.contains(&field))?;
        }
    }
    Ok(match kind {
        "sequential" => Load::Sequential {
            amount: amount(src, raw, key)?,
        },
        "concurrent" => {
            let workers = required("workers", &raw.workers)?;
            match positive_int(src, &raw.batches, &format!("{key}.batches"), "batches")? {
                Some(batches) => {
                    unexpected("calls", raw.calls.is_some())?;
                    unexpected("duration_s", raw.duration_s.is_some())?;
                    Load::Batches {
                        workers,
                        batches: batches as u32,
                    }
                }
                None => Load::Concurrent {
                    workers,
                    amount: amount(src, raw, key)?,
                },
            }
        }
        "rate" => {
            let rate = raw.rate.as_ref().ok_or_else(|| {
                src.at(
                    &raw.kind,
                    &format!("{key}.rate"),
                    "load kind \"rate\" needs `rate` (calls per second)",
                )
            })?;
            let per_second = positive_f64(src, rate, &format!("{key}.rate"), "rate")?;
            Load::Rate {
                per_second,
                amount: amount(src, raw, key)?,
            }
        }
        "coldstart" => {
            let iterations = required("iterations", &raw.iterations)?;
            Load::ColdStart { iterations }
        }
        "churn" => {
            let sessions = required("sessions", &raw.sessions)?;
            let calls_per_session = positive_int(
                src,
                &raw.calls_per_session,
                &format!("{key}.calls_per_session"),
                "calls_per_session",
            )?
            .unwrap_or(1);
            let end = match &raw.end {
                None => SessionEnd::Close,
                Some(end) => match end.get_ref().as_str() {
                    "close" => SessionEnd::Close,
                    "abandon" => SessionEnd::Abandon,
                    other => {
                        return Err(src.at(
                            end,
                            &format!("{key}.end"),
                            format!("unknown session end \"{other}\" (expected \"close\" or \"abandon\")"),
                        ));
                    }
                },
            };
            Load::Churn {
                sessions,
                calls_per_session: calls_per_session as u32,
                end,
            }
        }
        "robustness" => {
            let optional = |field: &str, value: &Option<Spanned<i64>>, default: u32| {
                positive_int(src, value, &format!("{key}.{field}"), field)
                    .map(|n| n.map_or(default, |n| n as u32))
            };
            Load::Robustness {
                rounds: optional("rounds", &raw.rounds, 1)?,
                huge_request_kb: optional(
                    "huge_request_kb",
                    &raw.huge_request_kb,
                    DEFAULT_HUGE_REQUEST_KB,
                )?,
            }
        }
        other => {
            return Err(src.at(
                &raw.kind,
                &format!("{key}.kind"),
                format!("unknown load kind \"{other}\" (expected sequential, concurrent, rate, coldstart, churn or robustness)"),
            ));
        }
    })
}

/// Turn a toml parse error into ours, naming the key at the error.
fn syntax_error(src: &Source, err: toml::de::Error) -> ScenarioError {
    let offset = err.span().map_or(0, |s| s.start);
    let key = src
        .key_before(offset)
        .unwrap_or_else(|| "(file)".to_string());
    let message = err.message().replace('\n', " ");
    src.error(offset, &key, message)
}

pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
    let src = Source { text, file };
    let raw: RawScenario = toml::from_str(text).map_err(|e| syntax_error(&src, e))?;
    let name = raw.name.get_ref().trim().to_string();
    if name.is_empty() {
        return Err(src.at(&raw.name, "name", "name must not be empty"));
    }
    let ms = |value: &Option<Spanned<f64>>,
              key: &str,
              default: f64|
     -> Result<Duration, ScenarioError> {
        let ms = match value {
            Some(v) => positive_f64(&src, v, key, key)?,
            None => default,
        };
        Ok(Duration::from_secs_f64(ms / 1000.0))
    };
    let call_timeout = ms(&raw.timeout_ms, "timeout_ms", DEFAULT_TIMEOUT_MS)?;
    let probe_interval = ms(
        &raw.probe_interval_ms,
        "probe_interval_ms",
        DEFAULT_PROBE_INTERVAL_MS,
    )?;
    let on_crash = match &raw.on_crash {
        None => OnCrash::Abort,
        Some(v) if v.get_ref() == "abort" => OnCrash::Abort,
        Some(v) if v.get_ref() == "restart" => OnCrash::Restart,
        Some(v) => {
            return Err(src.at(
                v,
                "on_crash",
                format!(
                    "unknown on_crash \"{}\" (expected \"abort\" or \"restart\")",
                    v.get_ref()
                ),
            ));
        }
    };
    let abort_after = match &raw.abort_after_consecutive_failures {
        None => Some(DEFAULT_ABORT_AFTER),
        Some(v) if *v.get_ref() == 0 => None,
        Some(v) if (1..=1_000_000).contains(v.get_ref()) => Some(*v.get_ref() as u64),
        Some(v) => {
            return Err(src.at(
                v,
                "abort_after_consecutive_failures",
                format!(
                    "abort_after_consecutive_failures must be a whole number from 0 (never) \
                     to 1000000, got {}",
                    v.get_ref()
                ),
            ));
        }
    };
    if raw.phase.is_empty() {
        return Err(src.error(0, "phase", "a scenario needs at least one [[phase]]"));
    }
    let mut labels = Vec::new();
    let shared_mix = if raw.call.is_empty() {
        None
    } else {
        Some(mix(
            &src,
            &raw.call,
            "call",
            raw.call[0].span().start,
            &mut labels,
        )?)
    };
    let mut phases = Vec::new();
    for (i, raw_phase) in raw.phase.iter().enumerate() {
        let span = raw_phase.span().start;
        let raw_phase = raw_phase.get_ref();
        let key = format!("phase[{i}]");
        let phase_name = raw_phase.name.get_ref().trim().to_string();
        if phase_name.is_empty()
            || phase_name.contains(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
        {
            return Err(src.at(
                &raw_phase.name,
                &format!("{key}.name"),
                "a phase name must be one word (it is used in criteria like p95(load))",
            ));
        }
        if phases.iter().any(|p: &Phase| p.name == phase_name) {
            return Err(src.at(
                &raw_phase.name,
                &format!("{key}.name"),
                format!("phase name \"{phase_name}\" is used twice"),
            ));
        }
        let load = load(&src, &raw_phase.load, &format!("{key}.load"))?;
        let mix = match (&raw_phase.call, &shared_mix) {
            (Some(own), _) => mix(&src, own, &format!("{key}.call"), span, &mut labels)?,
            (None, Some(shared)) => shared.clone(),
            (None, None) => {
                return Err(src.error(
                    span,
                    &format!("{key}.call"),
                    "no calls to make: add [[call]] entries (for the scenario or this phase)",
                ));
            }
        };
        if matches!(load, Load::ColdStart { .. }) && mix.calls.is_empty() {
            return Err(src.at(
                &raw_phase.load,
                &format!("{key}.call"),
                "a cold-start phase needs a [[call]] naming its one call (auto mixes are for phases on a running server)",
            ));
        }
        phases.push(Phase {
            warmup: raw_phase.warmup.unwrap_or(phase_name == "warmup"),
            name: phase_name,
            load,
            mix,
        });
    }
    if phases
        .iter()
        .any(|p| matches!(p.load, Load::ColdStart { .. }))
    {
        labels.push(COLDSTART_LABEL.to_string());
    }
    if phases.iter().any(|p| matches!(p.load, Load::Churn { .. })) {
        labels.push(SESSION_OPEN_LABEL.to_string());
    }
    // An automatic mix adds labels only the server can name: any label goes.
    let any_auto = phases.iter().any(|p| p.mix.auto.is_some());
    let known_labels = (!any_auto).then_some(labels.as_slice());
    let criteria = criteria(&src, raw.acceptance.as_ref(), &phases, known_labels)?;
    Ok(Scenario {
        name,
        description: raw.description.trim().to_string(),
        source: file.to_string(),
        call_timeout,
        probe_interval,
        on_crash,
        abort_after,
        phases,
        labels,
        criteria,
    })
}

/// Calls in a row without an answer (timeouts, transport errors) after
/// which a run gives up on the server.
pub const DEFAULT_ABORT_AFTER: u64 = 50;

/// The label a whole cold-start iteration is counted under.
pub const COLDSTART_LABEL: &str = "coldstart";
/// The label the opening of a churned session is counted under.
pub const SESSION_OPEN_LABEL: &str = "session/open";

fn criteria(
    src: &Source,
    table: Option<&Spanned<toml::Table>>,
    phases: &[Phase],
    labels: Option<&[String]>,
) -> Result<Criteria, ScenarioError> {
    let Some(table) = table else {
        return Ok(Criteria::default());
    };
    let phase_names: Vec<String> = phases.iter().map(|p| p.name.clone()).collect();
    let section = table.span().start;
    let mut list = Vec::new();
    for (text, options) in table.get_ref() {
        // Keys lose their spans in a table; find the key's text after the section.
        let offset = src.text[section..]
            .find(text.as_str())
            .map_or(section, |i| section + i);
        let key = format!("acceptance.\"{text}\"");
        let options: RawCriterionOptions =
            options.clone().try_into().map_err(|e: toml::de::Error| {
                src.error(
                    offset,
                    &key,
                    format!("expected {{}} or {{ about = \"…\" }}: {}", e.message()),
                )
            })?;
        let mut criterion = Criterion::compile(text, &phase_names, labels)
            .map_err(|message| src.error(offset, &key, message))?;
        criterion.about = options.about;
        list.push(criterion);
    }
    Ok(Criteria { list })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_after_a_wide_character_names_its_key_without_panicking() {
        // Found by tests/fuzz.rs: the key was cut inside the character.
        for text in [
            "\"\u{fffc}=\u{a1}  ",
            "name = \"x\"\n\u{1f574}workers = \"x\"",
        ] {
            assert!(parse(text, "wide.toml").is_err());
        }
    }

    const GOOD: &str = r#"
name = "t"
[[phase]]
name = "warmup"
load = { kind = "sequential", calls = 5 }
[[phase]]
name = "load"
load = { kind = "concurrent", workers = 2, calls = 10 }
[[call]]
tool = "echo"
arguments = { message = "hi {seq}" }
weight = 3
[[call]]
method = "tools/list"
[acceptance]
"p95(load) <= 2 * p95(warmup)" = {}
"success_rate(load, echo) >= 0.99" = { about = "echo works" }
"#;

    fn error_of(text: &str) -> String {
        parse(text, "x.toml").expect_err("should fail").to_string()
    }

    #[test]
    fn a_good_file_loads() {
        let s = parse(GOOD, "x.toml").unwrap();
        assert_eq!(s.phases.len(), 2);
        assert!(s.phases[0].warmup && !s.phases[1].warmup);
        assert_eq!(s.labels, vec!["echo", "tools/list"]);
        assert_eq!(s.criteria.list.len(), 2);
        assert_eq!(
            s.phases[1].load,
            Load::Concurrent {
                workers: 2,
                amount: Amount::Calls(10)
            }
        );
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let e = error_of(&GOOD.replace("workers = 2", "workers = \"two\""));
        assert!(e.starts_with("x.toml:8:"), "{e}");
        assert!(e.contains("key `workers`"), "{e}");
        let e = error_of(&GOOD.replace("workers = 2", "wrokers = 2"));
        assert!(e.starts_with("x.toml:8:"), "{e}");
        assert!(e.contains("wrokers"), "{e}");
        let e = error_of(&GOOD.replace("workers = 2", "workers = 0"));
        assert!(
            e.contains("x.toml:8:")
                && e.contains("phase[1].load.workers")
                && e.contains("from 1 to 10000"),
            "{e}"
        );
        let e = error_of(&GOOD.replace("\"p95(load) <= 2 * p95(warmup)\"", "\"p95(lod) <= 1\""));
        assert!(
            e.starts_with("x.toml:16:") && e.contains("unknown phase `lod`"),
            "{e}"
        );
        let e = error_of(&GOOD.replace("\"p95(load) <= 2 * p95(warmup)\"", "\"p95(load) = 1\""));
        assert!(e.contains("x.toml:16:") && e.contains("=="), "{e}");
        let e = error_of(&GOOD.replace("kind = \"sequential\"", "kind = \"ramp\""));
        assert!(
            e.contains("x.toml:5:") && e.contains("unknown load kind"),
            "{e}"
        );
        let e = error_of(&GOOD.replace("name = \"t\"", "name = \"t\"\ncolour = 1"));
        assert!(e.contains("x.toml:3:") && e.contains("colour"), "{e}");
        let e = error_of(&GOOD.replace("hi {seq}", "hi {sequence}"));
        assert!(e.contains("{sequence}"), "{e}");
        let e = error_of("name = \"t\"\n[[phase]\n");
        assert!(e.starts_with("x.toml:2:"), "{e}");
        let e = error_of(&GOOD.replace(
            "kind = \"sequential\", calls = 5",
            "kind = \"rate\", rate = -5, calls = 5",
        ));
        assert!(
            e.contains("x.toml:5:")
                && e.contains("rate must be a number from 0.01 to 100000, got -5"),
            "{e}"
        );
        let e = error_of(&GOOD.replace("calls = 5 }", "calls = 5, duration_s = 3 }"));
        assert!(e.contains("not both"), "{e}");
        let e = error_of(&GOOD.replace("\"p95(load) <= 2 * p95(warmup)\"", "\"p95(load) <= 2 *\""));
        assert!(
            e.contains("x.toml:16:") && e.contains("expected a number"),
            "{e}"
        );
        let e = error_of(&GOOD.replace("weight = 3", "weight = -1"));
        assert!(
            e.contains("x.toml:12:") && e.contains("weight must be a whole number from 0 to 10000"),
            "{e}"
        );
    }

    #[test]
    fn numbers_out_of_range_are_refused_before_anything_runs() {
        // Each of these panicked, aborted on a huge allocation, wrapped around
        // or was accepted and ate gigabytes.
        for (from, to, key) in [
            ("calls = 5 }", "duration_s = 1e300 }", "duration_s"),
            ("calls = 5 }", "duration_s = nan }", "duration_s"),
            ("calls = 5 }", "calls = 4294967297 }", "calls"),
            ("workers = 2", "workers = 4294967297", "workers"),
            ("workers = 2", "workers = 1000000", "workers"),
            ("weight = 3", "weight = 4294967295", "weight"),
        ] {
            let e = error_of(&GOOD.replace(from, to));
            assert!(e.contains(key) && e.contains("must be"), "{to}: {e}");
            assert!(e.len() < 200, "a short message: {e}");
        }
        for load in [
            "kind = \"rate\", rate = 1e-300, calls = 5",
            "kind = \"rate\", rate = 1e9, calls = 5",
            "kind = \"coldstart\", iterations = 4294967296",
            "kind = \"robustness\", huge_request_kb = 4000000",
        ] {
            let e = error_of(&GOOD.replace("kind = \"sequential\", calls = 5", load));
            assert!(
                e.contains("x.toml:5:") && e.contains("must be"),
                "{load}: {e}"
            );
        }
        for top in [
            "timeout_ms = 0",
            "timeout_ms = 1e300",
            "probe_interval_ms = -1",
        ] {
            let e = error_of(&GOOD.replace("name = \"t\"", &format!("name = \"t\"\n{top}")));
            assert!(e.contains("must be a number from 1 to"), "{top}: {e}");
        }
    }
}
