//! Titles that fit their border. A title is a list of parts, the most
//! important first; a part that does not fit is left out whole and an
//! ellipsis says so. The terminal would otherwise cut the title at the
//! corner, in the middle of a number (`threads 1` for 11).

use ratatui::style::Style;
use ratatui::text::{Line, Span};

/// One piece of a title: a figure with its label, kept or left out whole;
/// it may have shorter forms for a narrow pane, longest first.
#[derive(Debug, Clone, Default)]
pub struct Part {
    forms: Vec<Vec<Span<'static>>>,
}

impl Part {
    pub fn new(text: impl Into<String>, style: Style) -> Part {
        Part {
            forms: vec![vec![Span::styled(text.into(), style)]],
        }
    }

    pub fn plain(text: impl Into<String>) -> Part {
        Part::new(text, Style::default())
    }

    /// A shorter form of this part, in the style of its first.
    pub fn or(mut self, text: impl Into<String>) -> Part {
        let style = self
            .forms
            .first()
            .and_then(|form| form.first())
            .map_or(Style::default(), |span| span.style);
        self.forms.push(vec![Span::styled(text.into(), style)]);
        self
    }

    /// This part's forms, each preceded by `prefix`'s first.
    pub fn after(self, prefix: Part) -> Part {
        let head = prefix.forms.into_iter().next().unwrap_or_default();
        Part {
            forms: self
                .forms
                .into_iter()
                .map(|form| head.iter().cloned().chain(form).collect())
                .collect(),
        }
    }
}

fn columns(spans: &[Span]) -> usize {
    spans.iter().map(|s| s.content.chars().count()).sum()
}

const SEPARATOR: &str = " · ";
const LEFT_OUT: &str = " …";

/// Whether every part fits `width` columns in its longest form.
pub fn fits(parts: &[Part], width: usize) -> bool {
    let longest: usize = parts
        .iter()
        .map(|p| p.forms.first().map_or(0, |f| columns(f)))
        .sum();
    // The space before is the one column more.
    longest + parts.len().saturating_sub(1) * SEPARATOR.chars().count() < width
}

/// `parts` joined by " · ", after a space (and before one, where there is
/// room), in at most `width` columns. As many parts are shown as fit in
/// their shortest forms (in order: one that does not fit ends the title,
/// and " …" says so where there is room); then each, in order, takes its
/// longest form that leaves room for the shortest forms of the rest shown.
/// Empty when not even the first part fits.
pub fn fit(parts: &[Part], width: usize) -> Line<'static> {
    let room = width.saturating_sub(1);
    let separator = SEPARATOR.chars().count();
    let shortest = |p: &Part| p.forms.last().map_or(0, |f| columns(f));
    // How many fit at all, and the columns each one's shortest form needs
    // (its separator included).
    let mut needed: Vec<usize> = Vec::new();
    for (index, part) in parts.iter().enumerate() {
        let gap = if index == 0 { 0 } else { separator };
        if needed.iter().sum::<usize>() + gap + shortest(part) > room {
            break;
        }
        needed.push(gap + shortest(part));
    }
    let shown = needed.len();
    let mut used = 0;
    let mut spans = vec![Span::raw(" ")];
    for (index, part) in parts.iter().take(shown).enumerate() {
        let gap = if index == 0 { 0 } else { separator };
        let rest: usize = needed[index + 1..].iter().sum();
        let fits = |form: &&Vec<Span>| used + gap + columns(form) + rest <= room;
        let Some(form) = part.forms.iter().find(fits) else {
            break;
        };
        if gap > 0 {
            spans.push(Span::raw(SEPARATOR));
        }
        used += gap + columns(form);
        spans.extend(form.iter().cloned());
    }
    if shown == 0 && !parts.is_empty() {
        return Line::default();
    }
    if shown < parts.len() && used + LEFT_OUT.chars().count() <= room {
        spans.push(Span::raw(LEFT_OUT));
        used += LEFT_OUT.chars().count();
    }
    if used < room {
        spans.push(Span::raw(" "));
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(line: &Line) -> String {
        line.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    fn parts(texts: &[&str]) -> Vec<Part> {
        texts.iter().map(|t| Part::plain(*t)).collect()
    }

    #[test]
    fn whole_parts_or_an_ellipsis_never_a_cut_number() {
        let title = parts(&["FDs 9 (max 9)", "threads 11"]);
        assert_eq!(text(&fit(&title, 40)), " FDs 9 (max 9) · threads 11 ");
        // Exactly enough (the space after is left out first).
        assert_eq!(text(&fit(&title, 27)), " FDs 9 (max 9) · threads 11");
        assert!(fits(&title, 27) && !fits(&title, 26));
        // One column short: the threads go, and it says so.
        assert_eq!(text(&fit(&title, 26)), " FDs 9 (max 9) … ");
        assert_eq!(text(&fit(&title, 16)), " FDs 9 (max 9) …");
        // No room for the ellipsis: the part alone.
        assert_eq!(text(&fit(&title, 15)), " FDs 9 (max 9) ");
        assert_eq!(text(&fit(&title, 14)), " FDs 9 (max 9)");
        // Not even the first part: nothing rather than half of it.
        assert_eq!(text(&fit(&title, 10)), "");
        assert_eq!(text(&fit(&[], 10)), "  ");
    }

    #[test]
    fn a_part_takes_its_shorter_form_where_the_long_one_does_not_fit() {
        let title = vec![
            Part::plain("RSS 110.0 MB (+96.0)"),
            Part::plain("trend +9.96 KB/call ±0.39").or("+9.96±0.39 KB/call"),
            Part::plain("3 GC"),
        ];
        assert_eq!(
            text(&fit(&title, 60)),
            " RSS 110.0 MB (+96.0) · trend +9.96 KB/call ±0.39 · 3 GC "
        );
        assert_eq!(
            text(&fit(&title, 45)),
            " RSS 110.0 MB (+96.0) · +9.96±0.39 KB/call … "
        );
        let prefixed = Part::plain("p50 0.52").after(Part::plain("Latency ms now: "));
        assert_eq!(text(&fit(&[prefixed], 40)), " Latency ms now: p50 0.52 ");
    }
}
