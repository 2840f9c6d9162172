//! Parsing and checking a scenario file. Every error is one line naming the
//! file, line, column and key, and what was expected there.

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::calls::{RawCall, mix};
use super::load_keys::RawLoad;
use super::{OnCrash, Phase, Scenario, Turns};
use crate::acceptance::{Criteria, Criterion};
use crate::compare::threshold::Threshold;

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
    /// Thresholds `mcpstorm compare` holds this scenario's new run to.
    #[serde(default)]
    regressions: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPhase {
    name: Spanned<String>,
    warmup: Option<bool>,
    load: Spanned<RawLoad>,
    /// Make the mix's calls in turns of this many calls of one entry.
    calls_per_turn: Option<Spanned<i64>>,
    /// Or in this many turns of each entry over the phase.
    turns_each: Option<Spanned<i64>>,
    /// A mix for this phase only, instead of the scenario's.
    call: Option<Vec<Spanned<RawCall>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCriterionOptions {
    about: Option<String>,
}

/// Locates byte offsets in the file as line and column, and builds errors.
pub(crate) struct Source<'a> {
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

    pub(crate) fn error(
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

    pub(crate) fn at<T>(
        &self,
        spanned: &Spanned<T>,
        key: &str,
        message: impl Into<String>,
    ) -> ScenarioError {
        self.error(spanned.span().start, key, message)
    }

    /// A whole number in `range`, or an error at it naming `path` and the
    /// range (`name must be a whole number from 1 to 10, got 0`).
    pub(super) fn whole_in(
        &self,
        value: &Spanned<i64>,
        path: &str,
        name: &str,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<u64, ScenarioError> {
        match u64::try_from(*value.get_ref()) {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(self.at(
                value,
                path,
                format!(
                    "{name} must be a whole number from {} to {}, got {}",
                    range.start(),
                    range.end(),
                    value.get_ref()
                ),
            )),
        }
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

/// The range of each number with a fraction given at the top of the file:
/// `timeout_ms` and `probe_interval_ms`, 1 ms to a day.
const MS_RANGE: (f64, f64) = (1.0, 86_400_000.0);

/// A number as a person would write it: 1e300, not three hundred digits.
pub(super) fn shown(v: f64) -> String {
    if v != 0.0 && !(1e-3..1e9).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        v.to_string()
    }
}

/// A phase's turns: `calls_per_turn` or `turns_each` (one of them), range
/// checked; `turns_each` only where the phase's calls are planned (it
/// divides them).
fn phase_turns(
    src: &Source,
    raw: &RawPhase,
    key: &str,
    planned_calls: Option<u64>,
) -> Result<Option<Turns>, ScenarioError> {
    match (&raw.calls_per_turn, &raw.turns_each) {
        (Some(_), Some(each)) => Err(src.at(
            each,
            &format!("{key}.turns_each"),
            "give calls_per_turn or turns_each, not both",
        )),
        (Some(calls), None) => {
            let path = format!("{key}.calls_per_turn");
            let calls = src.whole_in(calls, &path, "calls_per_turn", 1..=1_000_000)?;
            Ok(Some(Turns::Calls(calls)))
        }
        (None, Some(spanned)) => {
            let path = format!("{key}.turns_each");
            let each = src.whole_in(spanned, &path, "turns_each", 1..=1_000)?;
            if planned_calls.is_none() {
                return Err(src.at(
                    spanned,
                    &path,
                    "turns_each divides the phase's calls among the turns: give the load its \
                     calls (calls = N, or a rate with duration_s), or use calls_per_turn",
                ));
            }
            Ok(Some(Turns::Each(each)))
        }
        (None, None) => Ok(None),
    }
}

fn positive_f64(
    src: &Source,
    value: &Spanned<f64>,
    key: &str,
    what: &str,
) -> Result<f64, ScenarioError> {
    let v = *value.get_ref();
    let (least, largest) = MS_RANGE;
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
        let load = crate::load::parse(&src, &raw_phase.load, &format!("{key}.load"))?;
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
        let turns = phase_turns(&src, raw_phase, &key, load.planned_calls())?;
        // In turns, the phase's schedule is its own (a fresh counter): a
        // shared mix's turns start with the phase.
        let mix = mix.in_turns(turns, load.planned_calls());
        if let Err(why) = load.check_mix(&mix) {
            return Err(src.at(&raw_phase.load, &format!("{key}.call"), why));
        }
        phases.push(Phase {
            warmup: raw_phase.warmup.unwrap_or(phase_name == "warmup"),
            turns,
            name: phase_name,
            load,
            mix,
        });
    }
    // The labels the load models count their own events under, once each.
    for label in phases.iter().filter_map(|p| p.load.own_label()) {
        if !labels.iter().any(|l| l == label) {
            labels.push(label.to_string());
        }
    }
    // An automatic mix adds labels only the server can name: any label goes.
    let any_auto = phases.iter().any(|p| p.mix.auto.is_some());
    let known_labels = (!any_auto).then_some(labels.as_slice());
    let criteria = criteria(&src, raw.acceptance.as_ref(), &phases, known_labels)?;
    let mut regressions = Vec::new();
    for (i, text) in raw.regressions.iter().enumerate() {
        let threshold = text
            .get_ref()
            .parse::<Threshold>()
            .map_err(|why| src.at(text, &format!("regressions[{i}]"), why.to_string()))?;
        regressions.push(threshold.text);
    }
    Ok(Scenario {
        regressions,
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
    fn regression_thresholds_are_checked_where_they_are_written() {
        let good = format!("regressions = [\"p95 +10%\", \" throughput -5% \"]\n{GOOD}");
        let s = parse(&good, "x.toml").unwrap();
        assert_eq!(s.regressions, vec!["p95 +10%", "throughput -5%"]);
        let said = error_of(&format!(
            "regressions = [\"p95 +10%\", \"p95 ten\"]\n{GOOD}"
        ));
        assert!(said.starts_with("x.toml:1:"), "{said}");
        assert!(said.contains("regressions[1]"), "{said}");
        assert!(said.contains("+ for a rise"), "{said}");
    }

    #[test]
    fn a_good_file_loads() {
        let s = parse(GOOD, "x.toml").unwrap();
        assert_eq!(s.phases.len(), 2);
        assert!(s.phases[0].warmup && !s.phases[1].warmup);
        assert_eq!(s.labels, vec!["echo", "tools/list"]);
        assert_eq!(s.criteria.list.len(), 2);
        assert_eq!(s.phases[1].load.to_string(), "2 workers, 10 calls");
        assert_eq!(s.phases[1].load.planned_calls(), Some(10));
    }

    #[test]
    fn turns_each_shares_the_phase_among_the_turns_of_every_entry() {
        // 10 calls in two rounds of echo (weight 3) and tools/list (1):
        // 4 steps a round, 8 turns, 1 call each.
        let s = parse(
            &GOOD.replace("name = \"load\"", "name = \"load\"\nturns_each = 2"),
            "x.toml",
        )
        .unwrap();
        assert_eq!(s.phases[1].turns, Some(Turns::Each(2)));
        let rate = GOOD
            .replace(
                "{ kind = \"concurrent\", workers = 2, calls = 10 }",
                "{ kind = \"rate\", rate = 100, duration_s = 8 }",
            )
            .replace("name = \"load\"", "name = \"load\"\nturns_each = 2");
        let s = parse(&rate, "x.toml").unwrap();
        // 800 calls, 8 turns of 100: by weight, echo's three and
        // tools/list's one in each round.
        let picks: Vec<usize> = (0..800).map(|_| s.phases[1].mix.schedule.pick()).collect();
        for turn in picks.chunks(100) {
            assert!(turn.iter().all(|&p| p == turn[0]), "{turn:?}");
        }
        assert_eq!(picks.iter().filter(|&&p| p == 1).count(), 200);
    }

    #[test]
    fn turns_each_needs_planned_calls_and_excludes_calls_per_turn() {
        let e = error_of(&GOOD.replace(
            "{ kind = \"concurrent\", workers = 2, calls = 10 }",
            "{ kind = \"concurrent\", workers = 2, duration_s = 10 }\nturns_each = 2",
        ));
        assert!(e.contains("key `phase[1].turns_each`"), "{e}");
        assert!(e.contains("give the load its calls"), "{e}");
        let e = error_of(&GOOD.replace(
            "name = \"load\"",
            "name = \"load\"\nturns_each = 2\ncalls_per_turn = 5",
        ));
        assert!(e.contains("not both"), "{e}");
        let e = error_of(&GOOD.replace("name = \"load\"", "name = \"load\"\nturns_each = 0"));
        assert!(
            e.contains("turns_each must be a whole number from 1 to 1000, got 0"),
            "{e}"
        );
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let e = error_of(&GOOD.replace("workers = 2", "workers = \"two\""));
        assert!(e.starts_with("x.toml:8:"), "{e}");
        assert!(e.contains("key `phase[1].load.workers`"), "{e}");
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
