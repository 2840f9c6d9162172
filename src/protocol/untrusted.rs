//! Text that came from a server, made safe to keep and to show. A server
//! may send a 30 MB error message or an id that is a book, and its strings
//! may carry terminal escapes (clear the screen, set the window title, write
//! the clipboard with OSC 52). What mcpstorm keeps of them — samples, error
//! messages, quotes, its name — passes through [`quote`]: cut to a bound,
//! with the original size said, and with every control character shown as
//! an escape rather than obeyed.

use std::fmt::{self, Write as _};

/// What is kept of one server string, in characters, unless said otherwise.
pub const QUOTE_CHARS: usize = 300;

/// `text`, at most `limit` characters of it (then "… (N bytes in all)"),
/// control characters escaped.
pub fn quote(text: &str, limit: usize) -> String {
    let mut quoted = String::with_capacity(text.len().min(limit + 32));
    for (taken, c) in text.chars().enumerate() {
        if taken == limit {
            let _ = write!(quoted, "… ({} bytes in all)", text.len());
            return quoted;
        }
        push_shown(&mut quoted, c);
    }
    quoted
}

/// Text made of server strings, shown line by line: each line is cut at
/// `limit` characters and its control characters are escaped; the line
/// breaks stay.
pub fn quote_lines(text: &str, limit: usize) -> String {
    text.split('\n')
        .map(|line| quote(line, limit))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Format `args` (a message holding server data: a JSON body, an id)
/// without ever holding more than `limit` characters of it; when cut, the
/// whole message's size is said, as [`quote`] says it.
pub fn quote_fmt(args: fmt::Arguments<'_>, limit: usize) -> String {
    let mut bounded = Bounded {
        text: String::new(),
        left: limit,
        bytes: 0,
        cut: false,
    };
    let _ = bounded.write_fmt(args);
    if bounded.cut {
        let _ = write!(bounded.text, "… ({} bytes in all)", bounded.bytes);
    }
    bounded.text
}

/// Keeps the first `left` characters written and counts the bytes of all
/// of them: the rest is measured, never held.
struct Bounded {
    text: String,
    left: usize,
    bytes: usize,
    cut: bool,
}

impl fmt::Write for Bounded {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.bytes += s.len();
        for c in s.chars() {
            if self.left == 0 {
                self.cut = true;
                break;
            }
            push_shown(&mut self.text, c);
            self.left -= 1;
        }
        Ok(())
    }
}

/// `c` as it may reach a terminal: control characters (C0, DEL, C1) and the
/// bidirectional overrides that reorder what is shown become `\u{..}`.
fn push_shown(out: &mut String, c: char) {
    let reorders = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if c.is_control() || reorders || c == '\u{2028}' || c == '\u{2029}' {
        let _ = write!(out, "{}", c.escape_unicode());
    } else {
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_text_is_cut_with_its_size_said() {
        assert_eq!(quote("short", 10), "short");
        let huge = "x".repeat(30 << 20);
        let quoted = quote(&huge, QUOTE_CHARS);
        assert!(quoted.len() < 400, "{}", quoted.len());
        assert!(quoted.ends_with(&format!("… ({} bytes in all)", 30 << 20)));
    }

    #[test]
    fn terminal_escapes_are_shown_not_obeyed() {
        let hostile = "name\x1b[2J\x1b]52;c;cHduZWQ=\x07\u{202e}evil\r\n";
        let quoted = quote(hostile, QUOTE_CHARS);
        assert!(!quoted.chars().any(|c| c.is_control()), "{quoted:?}");
        assert!(!quoted.contains('\u{202e}'));
        assert!(quoted.starts_with("name\\u{1b}[2J"), "{quoted}");
        assert!(
            quote("née 名前 🙂", 20).contains("名前 🙂"),
            "printable text stays"
        );
    }

    #[test]
    fn lines_keep_their_breaks_and_lose_their_escapes() {
        let text = "tool \x1b]0;title\x07\nsecond line\n";
        assert_eq!(
            quote_lines(text, 100),
            "tool \\u{1b}]0;title\\u{7}\nsecond line\n"
        );
    }

    #[test]
    fn formatting_stops_at_the_bound() {
        let huge = vec!["y".repeat(1 << 20); 8];
        let quoted = quote_fmt(format_args!("body {huge:?}"), 100);
        // 100 characters kept, then the whole message's size: "body " and
        // 8 quoted strings of 1 MiB, with their commas and brackets.
        let size = 5 + 8 * ((1 << 20) + 2) + 7 * 2 + 2;
        assert!(
            quoted.starts_with(&format!("body [\"{}", "y".repeat(93))),
            "{quoted}"
        );
        assert!(
            quoted.ends_with(&format!("… ({size} bytes in all)")),
            "{quoted}"
        );
        assert_eq!(
            quoted.chars().count(),
            100 + format!("… ({size} bytes in all)").chars().count()
        );
        assert_eq!(quote_fmt(format_args!("id {}", 7), 100), "id 7");
    }
}
