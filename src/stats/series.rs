//! A time series with a fixed memory bound that keeps the whole run in view.
//!
//! When the series is full, neighbouring points are merged pairwise and each
//! stored point covers twice as many raw points from then on. A one-hour run
//! therefore looks like a one-minute run at coarser resolution: older data is
//! compressed, never dropped from the start.

/// A point that can absorb the point that follows it.
pub trait Mergeable: Clone {
    fn merge(&mut self, later: &Self);
}

#[derive(Debug, Clone)]
pub struct Series<T> {
    points: Vec<T>,
    capacity: usize,
    /// Raw points per stored point.
    span: usize,
    /// The point being filled, and how many raw points it holds.
    open: Option<(T, usize)>,
}

impl<T: Mergeable> Series<T> {
    /// `capacity` is rounded up to an even number of at least 2.
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(2).div_ceil(2) * 2;
        Series {
            points: Vec::with_capacity(capacity),
            capacity,
            span: 1,
            open: None,
        }
    }

    pub fn push(&mut self, point: T) {
        let (open, count) = match self.open.take() {
            Some((mut open, count)) => {
                open.merge(&point);
                (open, count + 1)
            }
            None => (point, 1),
        };
        if count < self.span {
            self.open = Some((open, count));
            return;
        }
        if self.points.len() == self.capacity {
            self.compact();
        }
        self.points.push(open);
    }

    fn compact(&mut self) {
        let mut merged = Vec::with_capacity(self.capacity);
        for pair in self.points.chunks(2) {
            let mut first = pair[0].clone();
            if let Some(second) = pair.get(1) {
                first.merge(second);
            }
            merged.push(first);
        }
        self.points = merged;
        self.span *= 2;
    }

    /// Every stored point, plus the one still being filled, borrowed.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.points
            .iter()
            .chain(self.open.as_ref().map(|(open, _)| open))
    }

    /// Every stored point, plus the one still being filled.
    pub fn points(&self) -> Vec<T> {
        let mut all = self.points.clone();
        if let Some((open, _)) = &self.open {
            all.push(open.clone());
        }
        all
    }

    /// How many raw points each stored point covers now.
    #[cfg(test)]
    pub fn span(&self) -> usize {
        self.span
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct Sum {
        first: u32,
        total: u32,
    }

    impl Mergeable for Sum {
        fn merge(&mut self, later: &Self) {
            self.total += later.total;
        }
    }

    #[test]
    fn stays_bounded_and_keeps_everything() {
        let mut series = Series::new(8);
        for i in 0..1000 {
            series.push(Sum { first: i, total: 1 });
        }
        let points = series.points();
        assert!(points.len() <= 9, "{}", points.len());
        // Nothing dropped: the totals still add up to every raw point.
        assert_eq!(points.iter().map(|p| p.total).sum::<u32>(), 1000);
        // And the start of the run is still the first point.
        assert_eq!(points[0].first, 0);
        assert!(series.span() >= 128);
    }
}
