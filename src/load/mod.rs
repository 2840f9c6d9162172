//! Load models: how a phase's calls are made. Each is one file here — its
//! keys in a scenario's `load = { kind = "…" }`, its description, the calls
//! it plans and how it runs — and one line in [`MODELS`].
//!
//! The engine hands a model the phase's [`PhaseContext`]: the run's session
//! (through a [`PhaseRunner`](crate::engine::PhaseRunner) that makes and
//! counts one call), the run's options, the event channel and the stop and
//! dial controls.

mod capacity;
mod churn;
mod closed_loop;
mod coldstart;
mod concurrent;
mod objective;
mod open_loop;
mod ramping_rate;
mod ramping_workers;
mod rate;
mod robustness;
pub mod segment;
mod sequential;
mod session_open;
mod sessions;
mod stages;
mod step_cost;

use std::fmt;
use std::sync::Arc;

use futures_util::future::BoxFuture;

pub use objective::Objective;
pub use segment::Segment;

use crate::engine::{EngineError, PhaseContext};
use crate::scenario::CallMix;
use crate::scenario::file::{ScenarioError, Source};
use crate::scenario::load_keys::{LoadKeys, RawLoad};

/// A load model, as a scenario's phase configured it.
pub trait LoadModel: fmt::Display + fmt::Debug + Send + Sync {
    /// Calls the phase will make, when known in advance (the progress bar;
    /// how often the probe samples as calls go).
    fn planned_calls(&self) -> Option<u64>;

    /// Whether the load dial (`+`, `-`) changes it. A sequential phase makes
    /// one call at a time by definition: more workers would make it a
    /// concurrent one under its name.
    fn follows_the_dial(&self) -> bool {
        true
    }

    /// The calls per second it sets out to send, before the load dial: an
    /// open model's rate. A closed model has none (it sends as fast as
    /// answers come back).
    fn target_per_s(&self) -> Option<f64> {
        None
    }

    /// An open model whose rate moves: the rate at points of the phase's
    /// time, `(seconds since its start, calls/s)`, linear between them (the
    /// dashboard draws it as the target).
    fn target_ramp(&self) -> Option<Vec<(f64, f64)>> {
        None
    }

    /// Whether it makes its calls on the run's session. A model that starts
    /// servers of its own (cold start) does not, and a scenario of such
    /// phases alone opens none.
    fn uses_the_session(&self) -> bool {
        true
    }

    /// A label its own events are counted under, besides its mix's calls
    /// (a whole cold start; the opening of a churned session).
    fn own_label(&self) -> Option<&'static str> {
        None
    }

    /// The model held to a command line's objective (`--slo`), if it has
    /// one to hold to (a capacity search); `None` otherwise.
    fn with_objective(&self, _objective: &Objective) -> Option<Arc<dyn LoadModel>> {
        None
    }

    /// Its share in `segment` of a test split by `--segment`
    /// ([`segment`]), or why it cannot be split.
    fn segment(&self, segment: Segment) -> Result<Arc<dyn LoadModel>, String>;

    /// Refuse a mix the model cannot run, saying why.
    fn check_mix(&self, _mix: &CallMix) -> Result<(), &'static str> {
        Ok(())
    }

    /// Make the phase's calls, to its end or until the run is halted.
    fn run<'a>(&'a self, phase: PhaseContext<'a>) -> BoxFuture<'a, Result<(), EngineError>>;
}

/// A load kind a scenario file can name.
pub struct ModelKind {
    /// The `kind` it is written with.
    pub kind: &'static str,
    /// The keys its `load` table takes besides `kind`.
    pub keys: &'static [&'static str],
    /// Read the table (its keys already checked against `keys`).
    pub parse: fn(&LoadKeys) -> Result<Arc<dyn LoadModel>, ScenarioError>,
}

/// Every load kind, by the name scenario files use.
pub const MODELS: &[ModelKind] = &[
    sequential::MODEL,
    concurrent::MODEL,
    rate::MODEL,
    ramping_rate::MODEL,
    ramping_workers::MODEL,
    capacity::MODEL,
    sessions::MODEL,
    coldstart::MODEL,
    churn::MODEL,
    robustness::MODEL,
];

/// The load model a phase's `load` table configures; `path` is where the
/// table is (`phase[0].load`), for errors.
pub(crate) fn parse(
    src: &Source,
    table: &toml::Spanned<RawLoad>,
    path: &str,
) -> Result<Arc<dyn LoadModel>, ScenarioError> {
    let kinds = MODELS.iter().map(|m| m.kind).collect::<Vec<_>>().join(", ");
    let kind_value = table.get_ref().get("kind").ok_or_else(|| {
        src.error(
            table.span().start,
            &format!("{path}.kind"),
            format!("a load needs `kind` (one of {kinds})"),
        )
    })?;
    let Some(kind_text) = kind_value.get_ref().as_str() else {
        return Err(src.at(
            kind_value,
            &format!("{path}.kind"),
            format!("kind must be a string: one of {kinds}"),
        ));
    };
    let Some(model) = MODELS.iter().find(|m| m.kind == kind_text) else {
        return Err(src.at(
            kind_value,
            &format!("{path}.kind"),
            format!("unknown load kind \"{kind_text}\" (expected one of {kinds})"),
        ));
    };
    let kind = toml::Spanned::new(kind_value.span(), kind_text.to_string());
    let keys = LoadKeys::new(src, path, &kind, table.get_ref());
    for key in keys.given() {
        if !model.keys.contains(&key.get_ref().as_str()) {
            return Err(src.at(
                key,
                &format!("{path}.{}", key.get_ref()),
                format!(
                    "`{}` does not apply to load kind \"{}\" (it takes {})",
                    key.get_ref(),
                    model.kind,
                    model.keys.join(", ")
                ),
            ));
        }
    }
    (model.parse)(&keys)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn scenario(load: &str) -> String {
        format!(
            "name = \"t\"\n[[phase]]\nname = \"p\"\nload = {{ {load} }}\n[[call]]\ntool = \"echo\"\n"
        )
    }

    /// The model a phase with this `load` table gets.
    pub(crate) fn parsed(load: &str) -> Arc<dyn LoadModel> {
        match crate::scenario::file::parse(&scenario(load), "t.toml") {
            Ok(scenario) => scenario.phases[0].load.clone(),
            Err(e) => panic!("{load}: {e}"),
        }
    }

    /// The error a phase with this `load` table gets.
    pub(crate) fn parse_error(load: &str) -> String {
        match crate::scenario::file::parse(&scenario(load), "t.toml") {
            Ok(_) => panic!("{load}: accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn each_kind_is_registered_once_and_reads_back_as_written() {
        for (i, model) in MODELS.iter().enumerate() {
            assert!(
                MODELS[..i].iter().all(|m| m.kind != model.kind),
                "{} twice",
                model.kind
            );
        }
        for load in [
            r#"kind = "sequential", calls = 1"#,
            r#"kind = "concurrent", workers = 1, calls = 1"#,
            r#"kind = "rate", rate = 1, calls = 1"#,
            r#"kind = "coldstart", iterations = 1"#,
            r#"kind = "churn", sessions = 1"#,
            r#"kind = "robustness""#,
        ] {
            assert_eq!(
                parsed(load).planned_calls().map(|n| n > 0),
                Some(true),
                "{load}"
            );
        }
    }

    #[test]
    fn a_key_of_another_kind_or_none_is_named_with_the_keys_that_apply() {
        let e = parse_error(r#"kind = "sequential", calls = 5, workers = 2"#);
        assert!(
            e.starts_with("t.toml:4:")
                && e.contains("phase[0].load.workers")
                && e.contains(
                    "does not apply to load kind \"sequential\" (it takes calls, duration_s)"
                ),
            "{e}"
        );
        let e = parse_error(r#"kind = "sequential", calls = 5, wrokers = 2"#);
        assert!(e.contains("`wrokers` does not apply"), "{e}");
    }

    #[test]
    fn a_missing_or_unknown_kind_lists_the_kinds() {
        for load in [r#"calls = 5"#, r#"kind = "ramp", calls = 5"#, r#"kind = 3"#] {
            let e = parse_error(load);
            assert!(
                e.starts_with("t.toml:4:") && e.contains("phase[0].load.kind"),
                "{load}: {e}"
            );
            // Every kind, in the registry's order.
            let listed: Vec<&str> = e
                .split("one of ")
                .nth(1)
                .unwrap_or("")
                .trim_end_matches(')')
                .split(", ")
                .collect();
            let kinds: Vec<&str> = MODELS.iter().map(|m| m.kind).collect();
            assert_eq!(listed, kinds, "{load}: {e}");
        }
    }
}
