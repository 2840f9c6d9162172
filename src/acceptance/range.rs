//! Criteria over figures that come with an uncertainty.
//!
//! A memory trend is an estimate with a 95 % interval, not a number: judged
//! on its middle alone, a criterion flips each time the estimate wanders
//! across the limit. So an expression is also evaluated over intervals
//! (each metric's 95 % interval, a plain figure being an interval of one
//! point), and a comparison is decided only when it holds, or fails, over
//! the whole of them. Otherwise the evidence cannot tell yet.

use super::expr::{BinOp, Cmp, Expr, Func, MetricCall};

/// A closed interval of values, `low <= high`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub low: f64,
    pub high: f64,
}

impl Range {
    pub fn point(value: f64) -> Range {
        Range {
            low: value,
            high: value,
        }
    }

    /// The interval between two values, in either order.
    pub fn between(a: f64, b: f64) -> Range {
        Range {
            low: a.min(b),
            high: a.max(b),
        }
    }

    fn add(self, other: Range) -> Range {
        Range::between(self.low + other.low, self.high + other.high)
    }

    fn neg(self) -> Range {
        Range::between(-self.high, -self.low)
    }

    fn mul(self, other: Range) -> Range {
        let products = [
            self.low * other.low,
            self.low * other.high,
            self.high * other.low,
            self.high * other.high,
        ];
        spanning(&products)
    }

    /// `None` when the divisor may be zero: the quotient is unbounded.
    fn div(self, other: Range) -> Option<Range> {
        if other.low <= 0.0 && other.high >= 0.0 {
            return None;
        }
        Some(self.mul(Range::between(1.0 / other.low, 1.0 / other.high)))
    }

    fn abs(self) -> Range {
        if self.low >= 0.0 {
            self
        } else if self.high <= 0.0 {
            self.neg()
        } else {
            Range::between(0.0, self.high.max(-self.low))
        }
    }
}

fn spanning(values: &[f64]) -> Range {
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Range { low, high }
}

impl Expr {
    /// Evaluate over intervals, `lookup` giving each metric's; `None` when
    /// any is unknown yet or the result is unbounded (a divisor that may be
    /// zero).
    pub fn eval_range(&self, lookup: &impl Fn(&MetricCall) -> Option<Range>) -> Option<Range> {
        Some(match self {
            Expr::Number(n) => Range::point(*n),
            Expr::Metric(m) => lookup(m)?,
            Expr::Neg(e) => e.eval_range(lookup)?.neg(),
            Expr::Binary(a, op, b) => {
                let (a, b) = (a.eval_range(lookup)?, b.eval_range(lookup)?);
                match op {
                    BinOp::Add => a.add(b),
                    BinOp::Sub => a.add(b.neg()),
                    BinOp::Mul => a.mul(b),
                    BinOp::Div => a.div(b)?,
                }
            }
            Expr::Call(func, args) => {
                let values: Option<Vec<Range>> =
                    args.iter().map(|a| a.eval_range(lookup)).collect();
                let values = values?;
                match func {
                    Func::Max => values.into_iter().reduce(|a, b| Range {
                        low: a.low.max(b.low),
                        high: a.high.max(b.high),
                    })?,
                    Func::Min => values.into_iter().reduce(|a, b| Range {
                        low: a.low.min(b.low),
                        high: a.high.min(b.high),
                    })?,
                    Func::Abs => values.first()?.abs(),
                }
            }
        })
    }
}

impl Cmp {
    /// `Some(true)` when the comparison holds for every pair of values of
    /// the two intervals, `Some(false)` when it holds for none, `None` when
    /// it depends on where in them the truth lies.
    pub fn decide(self, lhs: Range, rhs: Range) -> Option<bool> {
        match self {
            // An order holds everywhere when it holds at both extreme
            // corners, and nowhere when it fails at both.
            Cmp::Lt | Cmp::Le | Cmp::Gt | Cmp::Ge => {
                let at_corners = (self.holds(lhs.high, rhs.low), self.holds(lhs.low, rhs.high));
                match at_corners {
                    (true, true) => Some(true),
                    (false, false) => Some(false),
                    _ => None,
                }
            }
            Cmp::Eq | Cmp::Ne => {
                let disjoint = lhs.high < rhs.low || rhs.high < lhs.low;
                let same_point = lhs.low == lhs.high && lhs == rhs;
                let equal = if same_point {
                    Some(true)
                } else if disjoint {
                    Some(false)
                } else {
                    None
                };
                equal.map(|equal| equal == (self == Cmp::Eq))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acceptance::expr::parse;

    fn range(low: f64, high: f64) -> Range {
        Range { low, high }
    }

    /// Evaluate a comparison's two sides with `x` in the given interval.
    fn sides(text: &str, x: Range) -> (Range, Range, Cmp) {
        let c = parse(text).unwrap();
        let lookup = |_: &MetricCall| Some(x);
        (
            c.lhs.eval_range(&lookup).unwrap(),
            c.rhs.eval_range(&lookup).unwrap(),
            c.cmp,
        )
    }

    #[test]
    fn arithmetic_keeps_every_value_inside() {
        let x = range(-1.0, 2.0);
        assert_eq!(sides("x + 1 <= 0", x).0, range(0.0, 3.0));
        assert_eq!(sides("x - x <= 0", x).0, range(-3.0, 3.0));
        assert_eq!(sides("-x * 2 <= 0", x).0, range(-4.0, 2.0));
        assert_eq!(sides("abs(x) <= 0", x).0, range(0.0, 2.0));
        assert_eq!(sides("abs(x - 5) <= 0", x).0, range(3.0, 6.0));
        assert_eq!(sides("max(x, 1) <= min(x, 0)", x).0, range(1.0, 2.0));
        assert_eq!(sides("max(x, 1) <= min(x, 0)", x).1, range(-1.0, 0.0));
        assert_eq!(sides("1 / (x + 2) <= 0", x).0, range(0.25, 1.0));
        // A divisor that may be zero: no bound.
        let c = parse("1 / x <= 0").unwrap();
        assert_eq!(c.lhs.eval_range(&|_: &MetricCall| Some(x)), None);
    }

    #[test]
    fn a_comparison_is_decided_only_over_the_whole_interval() {
        let limit = Range::point(1.0);
        assert_eq!(Cmp::Le.decide(range(0.2, 0.9), limit), Some(true));
        assert_eq!(Cmp::Le.decide(range(1.1, 3.0), limit), Some(false));
        assert_eq!(Cmp::Le.decide(range(0.5, 1.5), limit), None);
        assert_eq!(Cmp::Le.decide(range(0.5, 1.0), limit), Some(true));
        assert_eq!(Cmp::Lt.decide(range(0.5, 1.0), limit), None);
        assert_eq!(Cmp::Ge.decide(range(1.0, 2.0), limit), Some(true));
        assert_eq!(Cmp::Gt.decide(range(0.0, 0.5), limit), Some(false));
        assert_eq!(Cmp::Gt.decide(range(0.0, 1.5), limit), None);
        // Both sides uncertain: the intervals must not overlap.
        assert_eq!(Cmp::Le.decide(range(0.0, 1.0), range(0.5, 2.0)), None);
        assert_eq!(Cmp::Le.decide(range(0.0, 0.4), range(0.5, 2.0)), Some(true));
        // Points decide as plain figures do.
        for (a, b) in [(1.0, 1.0), (1.0, 2.0), (2.0, 1.0)] {
            for cmp in [Cmp::Lt, Cmp::Le, Cmp::Gt, Cmp::Ge, Cmp::Eq, Cmp::Ne] {
                let decided = cmp.decide(Range::point(a), Range::point(b));
                assert_eq!(decided, Some(cmp.holds(a, b)), "{a} {cmp:?} {b}");
            }
        }
        assert_eq!(Cmp::Eq.decide(range(0.0, 2.0), limit), None);
        assert_eq!(Cmp::Ne.decide(range(2.0, 3.0), limit), Some(true));
    }
}
