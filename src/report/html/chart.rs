//! Line charts as inline SVG, for the HTML report: series over the run's
//! clock, vertical markers (phases, crashes) and horizontal limits (a
//! criterion's threshold). No script and no fetch: the file draws itself.

use std::fmt::Write;

use crate::report::markup::escape;

/// Points drawn per series at most: a long run's are thinned, keeping each
/// stretch's highest (a spike must not vanish).
const MAX_POINTS: usize = 1200;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 230.0;
const LEFT: f64 = 58.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 26.0;
const BOTTOM: f64 = 30.0;

pub struct Series {
    pub name: String,
    /// Its style: `s0`…`s3` (colours), `floor`, `trend` (dashed).
    pub class: &'static str,
    pub points: Vec<(f64, f64)>,
}

pub struct Chart {
    pub title: String,
    pub unit: &'static str,
    pub series: Vec<Series>,
    /// Vertical lines at these x, labelled.
    pub markers: Vec<(f64, String)>,
    /// Horizontal lines at these y, labelled.
    pub limits: Vec<(f64, String)>,
    /// What the x axis's tick labels end with: `s` for the run's time.
    pub x_suffix: &'static str,
}

impl Chart {
    pub fn new(title: impl Into<String>, unit: &'static str) -> Chart {
        Chart {
            title: title.into(),
            unit,
            series: Vec::new(),
            markers: Vec::new(),
            limits: Vec::new(),
            x_suffix: "s",
        }
    }

    pub fn line(&mut self, name: impl Into<String>, class: &'static str, points: Vec<(f64, f64)>) {
        let points: Vec<(f64, f64)> = points
            .into_iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        if !points.is_empty() {
            self.series.push(Series {
                name: name.into(),
                class,
                points: thinned(points),
            });
        }
    }

    /// The chart as an `<svg>` element (a paragraph when nothing was drawn).
    pub fn svg(&self) -> String {
        if self.series.is_empty() {
            return format!(
                "<p class=\"empty\">{}: no samples</p>\n",
                escape(&self.title)
            );
        }
        let all = self.series.iter().flat_map(|s| &s.points);
        let x_max = all
            .clone()
            .map(|p| p.0)
            .chain(self.markers.iter().map(|m| m.0))
            .fold(0.0_f64, f64::max);
        let x_max = if x_max > 0.0 { x_max } else { 1.0 };
        let y_top = all
            .map(|p| p.1)
            .chain(self.limits.iter().map(|l| l.0))
            .filter(|y| y.is_finite())
            .fold(0.0_f64, f64::max);
        let y_step = nice_step(y_top / 4.0);
        let y_max = (y_top / y_step).ceil().max(1.0) * y_step;
        let x = |v: f64| LEFT + (v / x_max).clamp(0.0, 1.0) * (WIDTH - LEFT - RIGHT);
        let y = |v: f64| HEIGHT - BOTTOM - (v / y_max).clamp(0.0, 1.0) * (HEIGHT - TOP - BOTTOM);
        let mut svg = String::new();
        let _ = writeln!(
            svg,
            "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{}\">",
            escape(&self.title)
        );
        let _ = writeln!(svg, "<title>{}</title>", escape(&self.title));
        // Axes and their ticks.
        let mut tick = 0.0;
        while tick <= y_max + y_step / 2.0 {
            let _ = writeln!(
                svg,
                "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/><text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                WIDTH - RIGHT,
                y(tick),
                y(tick),
                LEFT - 4.0,
                y(tick) + 3.5,
                tick_label(tick, y_step)
            );
            tick += y_step;
        }
        let x_step = nice_step(x_max / 6.0);
        let mut tick = 0.0;
        while tick <= x_max + x_step / 100.0 {
            let _ = writeln!(
                svg,
                "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}{}</text>",
                x(tick),
                HEIGHT - BOTTOM + 14.0,
                tick_label(tick, x_step),
                self.x_suffix
            );
            tick += x_step;
        }
        let _ = writeln!(
            svg,
            "<text class=\"unit\" x=\"4\" y=\"14\">{}</text>",
            escape(self.unit)
        );
        for (at, label) in &self.markers {
            let _ = writeln!(
                svg,
                "<line class=\"marker\" x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{TOP}\" y2=\"{1:.1}\"/><text class=\"marker-label\" x=\"{2:.1}\" y=\"{3:.1}\">{4}</text>",
                x(*at),
                HEIGHT - BOTTOM,
                x(*at) + 3.0,
                TOP + 9.0,
                escape(label)
            );
        }
        for (at, label) in &self.limits {
            let _ = writeln!(
                svg,
                "<line class=\"limit\" x1=\"{LEFT}\" x2=\"{0:.1}\" y1=\"{1:.1}\" y2=\"{1:.1}\"/><text class=\"limit-label\" x=\"{0:.1}\" y=\"{2:.1}\" text-anchor=\"end\">{3}</text>",
                WIDTH - RIGHT,
                y(*at),
                y(*at) - 3.0,
                escape(label)
            );
        }
        for series in &self.series {
            let mut d = String::new();
            for (index, (px, py)) in series.points.iter().enumerate() {
                let command = if index == 0 { 'M' } else { 'L' };
                let _ = write!(d, "{command}{:.1} {:.1} ", x(*px), y(*py));
            }
            // A single point (a run shorter than a window) is a dot.
            let shape = match series.points.len() {
                1 => {
                    d.push_str("l0.1 0");
                    "line dot"
                }
                _ => "line",
            };
            let _ = writeln!(
                svg,
                "<path class=\"{shape} {}\" d=\"{}\"><title>{}</title></path>",
                series.class,
                d.trim_end(),
                escape(&series.name)
            );
        }
        // The legend, along the top.
        let mut legend_x = LEFT;
        for series in &self.series {
            let _ = writeln!(
                svg,
                "<rect class=\"key {}\" x=\"{legend_x:.1}\" y=\"6\" width=\"10\" height=\"10\"/><text class=\"legend\" x=\"{:.1}\" y=\"15\">{}</text>",
                series.class,
                legend_x + 14.0,
                escape(&series.name)
            );
            legend_x += 24.0 + 6.5 * series.name.chars().count() as f64;
        }
        svg.push_str("</svg>\n");
        svg
    }
}

/// At most [`MAX_POINTS`]: each stretch's highest point.
fn thinned(points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    if points.len() <= MAX_POINTS {
        return points;
    }
    let stretch = points.len().div_ceil(MAX_POINTS);
    points
        .chunks(stretch)
        .filter_map(|chunk| chunk.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1)))
        .collect()
}

/// A round step near `raw`: 1, 2 or 5 times a power of ten.
fn nice_step(raw: f64) -> f64 {
    if !raw.is_finite() || raw <= 0.0 {
        return 1.0;
    }
    let power = 10f64.powf(raw.log10().floor());
    let fraction = raw / power;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * power
}

/// A tick's label, with the decimals its step needs.
fn tick_label(value: f64, step: f64) -> String {
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    format!("{value:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_round_and_long_series_are_thinned_keeping_peaks() {
        assert_eq!(nice_step(0.3), 0.5);
        assert_eq!(nice_step(7.0), 10.0);
        assert_eq!(nice_step(140.0), 200.0);
        assert_eq!(nice_step(0.0), 1.0);
        assert_eq!(tick_label(0.25, 0.05), "0.25");
        let mut points: Vec<(f64, f64)> = (0..10_000).map(|i| (i as f64, 1.0)).collect();
        points[5_001].1 = 99.0;
        let thin = thinned(points);
        assert!(thin.len() <= MAX_POINTS);
        assert!(thin.iter().any(|p| p.1 == 99.0));
    }

    #[test]
    fn a_chart_draws_its_lines_limits_and_markers_with_text_escaped() {
        let mut chart = Chart::new("latency <p95>", "ms");
        chart.line("p95", "s1", vec![(0.0, 1.0), (1.0, 3.0), (2.0, f64::NAN)]);
        chart.limits.push((2.0, "p95 <= 2".into()));
        chart.markers.push((1.0, "load & more".into()));
        let svg = chart.svg();
        assert!(svg.contains("<path class=\"line s1\" d=\"M58.0 "), "{svg}");
        assert!(svg.contains("latency &lt;p95&gt;"), "{svg}");
        assert!(svg.contains(">p95 &lt;= 2</text>"), "{svg}");
        assert!(svg.contains(">load &amp; more</text>"), "{svg}");
        assert!(Chart::new("empty", "ms").svg().contains("no samples"));
    }
}
