//! The stages of a ramp: `stages = [{ rate = 100, duration_s = 30 }, …]`
//! (or `workers = …`), each going linearly from the value before it (the
//! `start_…` key's, for the first) to its own over its duration. The ramping
//! load models read their schedule from it.

use std::fmt;
use std::ops::RangeInclusive;
use std::time::Duration;

use crate::scenario::file::ScenarioError;
use crate::scenario::load_keys::LoadKeys;

/// A stage's length: a millisecond to a week.
const DURATION_S: RangeInclusive<f64> = 0.001..=604_800.0;
/// Stages in one ramp.
const MOST_STAGES: usize = 1_000;

/// One stage: from the value before it to `to`, over `seconds`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    pub to: f64,
    pub seconds: f64,
}

/// A piecewise-linear schedule of one quantity (a rate, a number of workers).
#[derive(Debug, Clone, PartialEq)]
pub struct Stages {
    pub start: f64,
    pub stages: Vec<Stage>,
    /// What the values are, for descriptions: "calls/s", "workers".
    pub unit: &'static str,
}

impl Stages {
    /// Read `stages` (each `{ VALUE = …, duration_s = … }`, the value in
    /// `range`) and `start_key` (`default_start` when not given).
    pub fn parse(
        keys: &LoadKeys,
        value: &'static str,
        range: RangeInclusive<f64>,
        start_key: &str,
        default_start: f64,
        unit: &'static str,
    ) -> Result<Stages, ScenarioError> {
        let tables = keys
            .tables("stages", &[value, "duration_s"], MOST_STAGES)?
            .ok_or_else(|| {
                keys.missing("stages", &format!("[{{ {value} = …, duration_s = … }}, …]"))
            })?;
        let mut stages = Vec::with_capacity(tables.len());
        for (index, table) in tables.iter().enumerate() {
            stages.push(Stage {
                to: keys.number_in("stages", index, table, value, range.clone())?,
                seconds: keys.number_in("stages", index, table, "duration_s", DURATION_S)?,
            });
        }
        Ok(Stages {
            start: keys.number(start_key, range)?.unwrap_or(default_start),
            stages,
            unit,
        })
    }

    /// Each stage as (value at its start, value at its end, seconds).
    pub fn segments(&self) -> impl Iterator<Item = (f64, f64, f64)> + '_ {
        let mut from = self.start;
        self.stages.iter().map(move |stage| {
            let segment = (from, stage.to, stage.seconds);
            from = stage.to;
            segment
        })
    }

    /// The whole ramp's length.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.stages.iter().map(|s| s.seconds).sum())
    }

    /// The value `at` after the start (the last stage's past the end).
    pub fn at(&self, at: Duration) -> f64 {
        let mut left = at.as_secs_f64();
        let mut last = self.start;
        for (from, to, seconds) in self.segments() {
            if left <= seconds {
                return from + (to - from) * left / seconds;
            }
            left -= seconds;
            last = to;
        }
        last
    }

    /// The integral of the value over the whole ramp (calls, for a rate).
    pub fn integral(&self) -> f64 {
        self.segments()
            .map(|(from, to, seconds)| (from + to) / 2.0 * seconds)
            .sum()
    }

    /// The ramp as points `(seconds since its start, value)`, linear between.
    pub fn points(&self) -> Vec<(f64, f64)> {
        let mut at = 0.0;
        let mut points = vec![(0.0, self.start)];
        for (_, to, seconds) in self.segments() {
            at += seconds;
            points.push((at, to));
        }
        points
    }

    /// The index of the stage `at` falls in (the last one past the end).
    pub fn index_at(&self, at: Duration) -> usize {
        let mut left = at.as_secs_f64();
        for (index, stage) in self.stages.iter().enumerate() {
            if left < stage.seconds {
                return index;
            }
            left -= stage.seconds;
        }
        self.stages.len().saturating_sub(1)
    }

    /// The highest value the ramp reaches.
    pub fn peak(&self) -> f64 {
        self.stages.iter().map(|s| s.to).fold(self.start, f64::max)
    }
}

impl fmt::Display for Stages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (from, to, seconds)) in self.segments().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            if from == to {
                write!(f, "{to} {} for {seconds} s", self.unit)?;
            } else {
                write!(f, "{from} → {to} {} over {seconds} s", self.unit)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_run_linearly_between_stages() {
        let ramp = Stages {
            start: 0.0,
            stages: vec![
                Stage {
                    to: 10.0,
                    seconds: 2.0,
                },
                Stage {
                    to: 10.0,
                    seconds: 1.0,
                },
            ],
            unit: "workers",
        };
        assert_eq!(ramp.at(Duration::from_secs(1)), 5.0);
        assert_eq!(ramp.at(Duration::from_millis(2500)), 10.0);
        assert_eq!(ramp.at(Duration::from_secs(9)), 10.0);
        assert_eq!(ramp.integral(), 20.0);
        assert_eq!(ramp.duration(), Duration::from_secs(3));
        assert_eq!(ramp.peak(), 10.0);
        assert_eq!(
            ramp.to_string(),
            "0 → 10 workers over 2 s, 10 workers for 1 s"
        );
    }
}
