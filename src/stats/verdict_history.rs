//! When each criterion's state changed, for the report: a verdict that
//! flipped during the run (PASSING, then FAILING, then PASSING) says so, and
//! when, where the final state alone would hide it.

use serde::Serialize;

use super::snapshot::{CriterionState, CriterionStatus};

/// The changes kept per criterion; later ones are counted, not listed.
const CHANGES_LISTED: usize = 100;

/// A criterion entered `state` at `at_s` on the run clock, its value then.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StateChange {
    pub at_s: f64,
    pub state: CriterionState,
    pub value: Option<f64>,
}

/// Every criterion's changes so far, in the order the criteria are judged.
#[derive(Debug, Default)]
pub(super) struct VerdictHistory {
    criteria: Vec<Changes>,
}

#[derive(Debug, Default, Clone)]
struct Changes {
    current: Option<CriterionState>,
    listed: Vec<StateChange>,
    not_listed: u64,
}

impl VerdictHistory {
    /// Note the states judged at `at_s`, and give each status its history.
    pub(super) fn record(&mut self, at_s: f64, statuses: &mut [CriterionStatus]) {
        if self.criteria.len() < statuses.len() {
            self.criteria.resize(statuses.len(), Changes::default());
        }
        for (changes, status) in self.criteria.iter_mut().zip(statuses.iter_mut()) {
            if changes.current != Some(status.state) {
                changes.current = Some(status.state);
                if changes.listed.len() < CHANGES_LISTED {
                    changes.listed.push(StateChange {
                        at_s,
                        state: status.state,
                        value: status.value,
                    });
                } else {
                    changes.not_listed += 1;
                }
            }
            status.changes = changes.listed.clone();
            status.changes_not_listed = changes.not_listed;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: CriterionState) -> CriterionStatus {
        CriterionStatus {
            expression: "x <= 1".into(),
            state,
            value: Some(1.0),
            threshold: Some(1.0),
            detail: String::new(),
            about: None,
            caps: None,
            changes: Vec::new(),
            changes_not_listed: 0,
        }
    }

    #[test]
    fn only_changes_are_kept_and_a_flapping_verdict_stays_bounded() {
        use CriterionState::*;
        let mut history = VerdictHistory::default();
        let mut judged = [status(Pending)];
        for (i, state) in [Pending, Settling, Settling, Passing, Failing, Passing, Pass]
            .into_iter()
            .enumerate()
        {
            judged[0].state = state;
            history.record(i as f64, &mut judged);
        }
        let states: Vec<_> = judged[0].changes.iter().map(|c| c.state).collect();
        assert_eq!(states, [Pending, Settling, Passing, Failing, Passing, Pass]);
        assert_eq!(judged[0].changes[2].at_s, 3.0);
        for i in 0..1000 {
            judged[0].state = if i % 2 == 0 { Failing } else { Passing };
            history.record(10.0 + f64::from(i), &mut judged);
        }
        assert_eq!(judged[0].changes.len(), CHANGES_LISTED);
        assert_eq!(
            judged[0].changes_not_listed,
            1000 - (CHANGES_LISTED as u64 - 6)
        );
    }
}
