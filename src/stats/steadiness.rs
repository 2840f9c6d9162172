//! How long the server's memory trend has held: the time since its estimate
//! last stood outside the 95 % interval it has now. A figure that has moved
//! only within its own interval for a minute can be read; one that left it a
//! second ago is still on its way somewhere.

use super::trend::{RssTrend, push_bounded};

/// Estimates remembered (thinned evenly when full, like the trend's points).
const ESTIMATES: usize = 512;

#[derive(Debug, Default)]
pub(super) struct Steadiness {
    /// The baseline the estimates count from: a new one starts them over.
    baseline_at_s: Option<f64>,
    /// (when, KB a call) of each trend seen since the baseline.
    estimates: Vec<(f64, f64)>,
}

impl Steadiness {
    /// Note `trend` as judged at `at_s` (its baseline taken at
    /// `baseline_at_s`) and set how long it has been steady.
    pub(super) fn record(&mut self, baseline_at_s: Option<f64>, at_s: f64, trend: &mut RssTrend) {
        if self.baseline_at_s != baseline_at_s {
            self.baseline_at_s = baseline_at_s;
            self.estimates.clear();
        }
        push_bounded(&mut self.estimates, (at_s, trend.kb_per_call), ESTIMATES);
        let (low, high) = (trend.kb_per_call_low, trend.kb_per_call_high);
        // The first estimate of the run of them, up to now, within today's
        // interval.
        let steady_from = self
            .estimates
            .iter()
            .rev()
            .take_while(|(_, kb)| (low..=high).contains(kb))
            .last()
            .map_or(at_s, |(t, _)| *t);
        trend.steady_for_s = Some(at_s - steady_from);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trend(kb: f64, half: f64) -> RssTrend {
        RssTrend {
            collections: 2,
            ..RssTrend::between(kb - half, kb + half)
        }
    }

    fn steady(s: &mut Steadiness, baseline: f64, at_s: f64, kb: f64, half: f64) -> f64 {
        let mut t = trend(kb, half);
        s.record(Some(baseline), at_s, &mut t);
        t.steady_for_s.expect("set")
    }

    #[test]
    fn steady_since_the_estimate_last_left_todays_interval() {
        let mut s = Steadiness::default();
        // 60 KB a call on a heap's first rise, then the leak's 1 KB.
        assert_eq!(steady(&mut s, 0.0, 1.0, 60.0, 5.0), 0.0);
        assert_eq!(steady(&mut s, 0.0, 2.0, 30.0, 5.0), 0.0);
        assert_eq!(steady(&mut s, 0.0, 3.0, 1.1, 0.5), 0.0);
        assert_eq!(steady(&mut s, 0.0, 4.0, 0.9, 0.5), 1.0);
        assert_eq!(steady(&mut s, 0.0, 10.0, 1.0, 0.2), 7.0);
        // An estimate out of the interval: it starts again.
        assert_eq!(steady(&mut s, 0.0, 11.0, 1.5, 0.1), 0.0);
        // A new baseline (a restarted server) forgets the old estimates.
        assert_eq!(steady(&mut s, 20.0, 21.0, 1.5, 10.0), 0.0);
        assert_eq!(steady(&mut s, 20.0, 25.0, 1.5, 10.0), 4.0);
    }
}
