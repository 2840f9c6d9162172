//! `kind = "sequential"`: one call at a time, each sent when the last one
//! returned — the closed model with a single worker.

use std::fmt;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::closed_loop::{self, Workers};
use super::segment::{Segment, or_nothing};
use super::{LoadModel, ModelKind};
use crate::engine::{EngineError, PhaseContext};
use crate::scenario::Amount;
use crate::scenario::file::ScenarioError;
use crate::scenario::load_keys::LoadKeys;

pub const MODEL: ModelKind = ModelKind {
    kind: "sequential",
    keys: &["calls", "duration_s"],
    parse,
};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sequential {
    pub amount: Amount,
}

fn parse(keys: &LoadKeys) -> Result<Arc<dyn LoadModel>, ScenarioError> {
    Ok(Arc::new(Sequential {
        amount: keys.amount()?,
    }))
}

impl fmt::Display for Sequential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sequential, {}", self.amount)
    }
}

impl LoadModel for Sequential {
    fn planned_calls(&self) -> Option<u64> {
        self.amount.calls()
    }

    fn follows_the_dial(&self) -> bool {
        false
    }

    fn segment(&self, segment: Segment) -> Result<Arc<dyn LoadModel>, String> {
        // One worker: in the first segment, with every call.
        Ok(or_nothing(segment.share(1), self, segment, || {
            Arc::new(*self)
        }))
    }

    fn run<'a>(&'a self, phase: PhaseContext<'a>) -> BoxFuture<'a, Result<(), EngineError>> {
        async move {
            closed_loop::run(&phase.sampling_runner()?, Workers::Fixed(1), self.amount).await;
            Ok(())
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::parsed;

    #[test]
    fn plans_its_calls_and_none_for_a_time() {
        let calls = parsed(r#"kind = "sequential", calls = 7"#);
        assert_eq!(calls.planned_calls(), Some(7));
        assert_eq!(calls.to_string(), "sequential, 7 calls");
        let timed = parsed(r#"kind = "sequential", duration_s = 2.5"#);
        assert_eq!(timed.planned_calls(), None);
        assert_eq!(timed.to_string(), "sequential, 2.5 s");
    }
}
