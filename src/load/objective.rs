//! A capacity search's service-level objective as given on the command line
//! (`--slo "p99 < 100ms"`, `--slo "success_rate >= 0.999"`, `--slo "rss <
//! 512MB"`): the parts of the scenario's objective it replaces.

use std::ops::RangeInclusive;

pub const P99_MS: RangeInclusive<f64> = 0.001..=3_600_000.0;
pub const SUCCESS: RangeInclusive<f64> = 0.0..=1.0;
pub const RSS_MB: RangeInclusive<f64> = 0.001..=16_777_216.0;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Objective {
    pub p99_ms: Option<f64>,
    pub success_rate: Option<f64>,
    /// The server's memory (its process tree's RSS) at each step's end.
    pub max_rss_mb: Option<f64>,
}

impl Objective {
    /// Read one `--slo`: `p99 < 100ms` (or `<=`, `ms` optional, `s` for
    /// seconds), `success_rate >= 0.999` (or `success >= 99.9%`), `rss <
    /// 512MB` (or `GB`; `MB` optional).
    pub fn parse(text: &str) -> Result<Objective, String> {
        let shape = || {
            format!(
                "--slo {text:?}: write \"p99 < 100ms\", \"success_rate >= 0.999\" or \
                 \"rss < 512MB\" (one a flag)"
            )
        };
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let bound = |prefixes: &[&str]| prefixes.iter().find_map(|p| compact.strip_prefix(p));
        if let Some(bound) = bound(&["p99<=", "p99<"]) {
            let ms = scaled(bound, &[("ms", 1.0), ("s", 1000.0)])
                .filter(|ms| P99_MS.contains(ms))
                .ok_or_else(shape)?;
            return Ok(Objective {
                p99_ms: Some(ms),
                ..Objective::default()
            });
        }
        if let Some(floor) = bound(&["success_rate>=", "success>=", "success_rate>", "success>"]) {
            let rate = scaled(floor, &[("%", 0.01)])
                .filter(|r| SUCCESS.contains(r))
                .ok_or_else(shape)?;
            return Ok(Objective {
                success_rate: Some(rate),
                ..Objective::default()
            });
        }
        if let Some(ceiling) = bound(&["rss<=", "rss<"]) {
            let mb = scaled(ceiling, &[("MB", 1.0), ("GB", 1024.0)])
                .filter(|mb| RSS_MB.contains(mb))
                .ok_or_else(shape)?;
            return Ok(Objective {
                max_rss_mb: Some(mb),
                ..Objective::default()
            });
        }
        Err(shape())
    }

    /// This objective with `other`'s parts laid over it.
    pub fn and(self, other: Objective) -> Objective {
        Objective {
            p99_ms: other.p99_ms.or(self.p99_ms),
            success_rate: other.success_rate.or(self.success_rate),
            max_rss_mb: other.max_rss_mb.or(self.max_rss_mb),
        }
    }
}

/// A number with an optional unit of `units` (the first that ends it), in
/// the unit the scale is to.
fn scaled(value: &str, units: &[(&str, f64)]) -> Option<f64> {
    let (digits, scale) = units
        .iter()
        .find_map(|(unit, scale)| value.strip_suffix(unit).map(|d| (d, *scale)))
        .unwrap_or((value, 1.0));
    digits
        .parse::<f64>()
        .ok()
        .map(|n| n * scale)
        .filter(|n| n.is_finite())
}

#[cfg(test)]
mod tests {
    use super::Objective;

    #[test]
    fn an_objective_reads_as_people_write_it() {
        let p99 = |text| Objective::parse(text).map(|o| o.p99_ms);
        assert_eq!(p99("p99 < 100ms"), Ok(Some(100.0)));
        assert_eq!(p99("p99<=0.25s"), Ok(Some(250.0)));
        assert_eq!(p99("p99 < 40"), Ok(Some(40.0)));
        let success = |text| Objective::parse(text).map(|o| o.success_rate);
        assert_eq!(success("success_rate >= 0.999"), Ok(Some(0.999)));
        assert_eq!(success("success >= 99.5%"), Ok(Some(0.995)));
        let rss = |text| Objective::parse(text).map(|o| o.max_rss_mb);
        assert_eq!(rss("rss < 512MB"), Ok(Some(512.0)));
        assert_eq!(rss("rss <= 2 GB"), Ok(Some(2048.0)));
        assert_eq!(rss("rss<64"), Ok(Some(64.0)));
        for bad in [
            "p95 < 10ms",
            "p99 > 10ms",
            "p99 < NaNms",
            "p99 < 10MB",
            "success >= 150%",
            "rss < 0MB",
            "rss < -5MB",
            "rss > 5MB",
            "",
        ] {
            let e = Objective::parse(bad).unwrap_err();
            assert!(
                e.contains("p99 < 100ms") && e.contains("rss < 512MB"),
                "{bad}: {e}"
            );
        }
        let all = Objective::parse("p99 < 5ms")
            .unwrap()
            .and(Objective::parse("success >= 99%").unwrap())
            .and(Objective::parse("rss < 1GB").unwrap());
        assert_eq!(
            (all.p99_ms, all.success_rate, all.max_rss_mb),
            (Some(5.0), Some(0.99), Some(1024.0))
        );
    }
}
