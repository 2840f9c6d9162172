//! `w`: what is on screen, saved for a bug report or a demo: the screen as
//! plain text (`.txt`) and with its colours (`.ansi`, for `cat` or `less
//! -R`), and the figures so far (`.json`: the scenario shown, as the report
//! has it). Numbered files in the working directory, never overwritten.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

use super::layout;
use super::view::View;
use crate::report::ScenarioResult;

/// Numbers tried before giving up on finding a free one.
const MOST_NUMBERS: u32 = 10_000;

/// Save the view drawn at `width`×`height` into `dir`; returns the text
/// file's path (the others share its stem).
pub fn save(view: &View, width: u16, height: u16, dir: &Path) -> std::io::Result<PathBuf> {
    // Drawing off screen cannot fail (its error type has no value).
    let Ok(mut terminal) = Terminal::new(TestBackend::new(width.max(1), height.max(1)));
    let Ok(_) = terminal.draw(|frame| layout::draw(frame, view));
    let buffer = terminal.backend().buffer();
    let snapshot = view.snapshot.as_ref();
    let so_far = ScenarioResult::judged(
        &snapshot.scenario,
        &view.status.description,
        "",
        snapshot.clone(),
    );
    let json = serde_json::to_string_pretty(&so_far).map_err(std::io::Error::other)?;
    for number in 1..=MOST_NUMBERS {
        let stem = dir.join(format!("mcpstorm-screen-{number}"));
        let text = stem.with_extension("txt");
        // Taken: the next number. `create_new` neither overwrites a file
        // nor follows a link planted under the name.
        let Ok(mut file) = OpenOptions::new().write(true).create_new(true).open(&text) else {
            continue;
        };
        file.write_all(plain(buffer).as_bytes())?;
        for (extension, content) in [("ansi", ansi(buffer)), ("json", json)] {
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(stem.with_extension(extension))?
                .write_all(content.as_bytes())?;
        }
        return Ok(text);
    }
    Err(std::io::Error::other(
        "no free name mcpstorm-screen-N.txt (N up to 10000)",
    ))
}

/// The screen's text, one line per row, trailing spaces trimmed.
pub fn plain(buffer: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buffer.area.height {
        let row: String = (0..buffer.area.width)
            .map(|x| buffer[(x, y)].symbol())
            .collect();
        out.push_str(row.trim_end());
        out.push('\n');
    }
    out
}

/// The screen with its colours and emphasis as ANSI escapes (SGR).
pub fn ansi(buffer: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buffer.area.height {
        let mut current = None;
        for x in 0..buffer.area.width {
            let cell = &buffer[(x, y)];
            let style = (cell.fg, cell.bg, cell.modifier);
            if current != Some(style) {
                out.push_str(&sgr(cell.fg, cell.bg, cell.modifier));
                current = Some(style);
            }
            out.push_str(cell.symbol());
        }
        out.push_str("\x1b[0m\n");
    }
    out
}

/// The escape that sets a cell's style from scratch.
fn sgr(fg: Color, bg: Color, modifier: Modifier) -> String {
    let mut codes = vec!["0".to_string()];
    for (flag, code) in [
        (Modifier::BOLD, "1"),
        (Modifier::DIM, "2"),
        (Modifier::ITALIC, "3"),
        (Modifier::UNDERLINED, "4"),
        (Modifier::REVERSED, "7"),
        (Modifier::CROSSED_OUT, "9"),
    ] {
        if modifier.contains(flag) {
            codes.push(code.to_string());
        }
    }
    codes.extend(colour(fg, false));
    codes.extend(colour(bg, true));
    format!("\x1b[{}m", codes.join(";"))
}

fn colour(color: Color, background: bool) -> Option<String> {
    let base = |code: u8| Some((if background { code + 10 } else { code }).to_string());
    match color {
        Color::Reset => None,
        Color::Black => base(30),
        Color::Red => base(31),
        Color::Green => base(32),
        Color::Yellow => base(33),
        Color::Blue => base(34),
        Color::Magenta => base(35),
        Color::Cyan => base(36),
        Color::Gray => base(37),
        Color::DarkGray => base(90),
        Color::LightRed => base(91),
        Color::LightGreen => base(92),
        Color::LightYellow => base(93),
        Color::LightBlue => base(94),
        Color::LightMagenta => base(95),
        Color::LightCyan => base(96),
        Color::White => base(97),
        Color::Indexed(i) => Some(format!("{};5;{i}", if background { 48 } else { 38 })),
        Color::Rgb(r, g, b) => Some(format!(
            "{};2;{r};{g};{b}",
            if background { 48 } else { 38 }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::layout::Rect;
    use ratatui::style::Style;

    #[test]
    fn colours_and_emphasis_become_escapes_and_text_stays_text() {
        let mut buffer = Buffer::empty(Rect::new(0, 0, 6, 1));
        buffer.set_string(0, 0, "ok", Style::default().fg(Color::Green));
        buffer.set_string(
            3,
            0,
            "F",
            Style::default().bg(Color::Red).add_modifier(Modifier::BOLD),
        );
        assert_eq!(plain(&buffer), "ok F\n");
        assert_eq!(
            ansi(&buffer),
            "\x1b[0;32mok\x1b[0m \x1b[0;1;41mF\x1b[0m  \x1b[0m\n"
        );
    }
}
