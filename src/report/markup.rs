//! Text made safe inside XML (JUnit), HTML and Markdown: the report's
//! strings come from outside (a server's name, its error messages, a
//! scenario's words) and may hold markup, quotes or control characters.

use std::fmt::Write;

/// Report text made safe in a Markdown table cell or after a heading's
/// words: cut to `most` characters, control characters escaped, and every
/// character that makes markup there escaped (emphasis, code, links, HTML,
/// cells, entities); the rest (`.`, `-`, `#`) only means something at the
/// start of a line, which a cell never is.
pub fn markdown_cell(text: &str, most: usize) -> String {
    let quoted = crate::protocol::untrusted::quote(text, most);
    let mut out = String::with_capacity(quoted.len());
    for c in quoted.chars() {
        if "\\`*_[]<>|~&".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `text` as an XML 1.0 attribute value (quoted with `"`): markup
/// characters as entities, line breaks and tabs as character references
/// (kept through attribute normalisation), and the characters XML 1.0
/// forbids (other control characters, U+FFFE, U+FFFF) as U+FFFD.
pub fn escape(text: &str) -> String {
    escaped(text, true)
}

/// `text` as XML 1.0 character data (an element's text): the same, with
/// line breaks and tabs kept as they are.
pub fn escape_text(text: &str) -> String {
    escaped(text, false)
}

fn escaped(text: &str, attribute: bool) -> String {
    let mut escaped = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            '\n' | '\t' if !attribute => escaped.push(c),
            '\n' | '\r' | '\t' => {
                let _ = write!(escaped, "&#{};", u32::from(c));
            }
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                escaped.push('\u{FFFD}')
            }
            c => escaped.push(c),
        }
    }
    escaped
}

/// A figure (a criterion's value or limit) as short as its precision
/// allows: `20`, `0.99`, `43.2105`.
pub fn figure(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        return format!("{value:.0}");
    }
    let text = format!("{value:.4}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Seconds since the Unix epoch as an ISO 8601 date and time in UTC,
/// without a zone (as JUnit's `timestamp` is written).
pub fn iso8601_utc(unix_s: u64) -> String {
    let days = (unix_s / 86_400) as i64;
    let seconds = unix_s % 86_400;
    // Days since 1970-01-01 to a civil date (proleptic Gregorian), by eras
    // of 400 years.
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds % 3600 / 60,
        seconds % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_quotes_and_forbidden_characters_are_escaped() {
        assert_eq!(
            escape("a<b>&\"c\"'d'"),
            "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;"
        );
        assert_eq!(escape("x\ny\tz\r"), "x&#10;y&#9;z&#13;");
        assert_eq!(
            escape("\u{1}\u{1b}[31m\u{FFFF}"),
            "\u{FFFD}\u{FFFD}[31m\u{FFFD}"
        );
        assert_eq!(escape("]]>"), "]]&gt;");
        assert_eq!(escape_text("a\n\tb\r<"), "a\n\tb&#13;&lt;");
    }

    #[test]
    fn unix_seconds_are_dates_in_utc() {
        assert_eq!(iso8601_utc(0), "1970-01-01T00:00:00");
        assert_eq!(iso8601_utc(951_782_400), "2000-02-29T00:00:00");
        assert_eq!(iso8601_utc(1_796_000_000), "2026-11-30T00:53:20");
        assert_eq!(iso8601_utc(4_102_444_799), "2099-12-31T23:59:59");
    }

    #[test]
    fn figures_are_as_short_as_their_precision() {
        assert_eq!(figure(20.0), "20");
        assert_eq!(figure(0.99), "0.99");
        assert_eq!(figure(43.21049), "43.2105");
        assert_eq!(figure(f64::NAN), "NaN");
    }
}
