//! Keys: read on a thread of their own (crossterm's read blocks) and turned
//! into view changes or commands for the runner.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use tokio::sync::mpsc;

use super::RunCommand;
use super::view::ViewState;

/// What a key did.
#[derive(Debug, PartialEq)]
pub enum Action {
    Command(RunCommand),
    /// Save what is on screen (and the figures so far) to files.
    SaveScreen,
    Redraw,
    Nothing,
}

/// Terminal events, delivered to async code.
pub struct KeyReader {
    events: mpsc::UnboundedReceiver<Event>,
    stop: Arc<AtomicBool>,
}

impl KeyReader {
    pub fn start() -> KeyReader {
        let (tx, events) = mpsc::unbounded_channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        // Polling with a timeout lets the thread notice it is no longer wanted.
        let _ = std::thread::Builder::new()
            .name("mcpstorm-keys".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    match event::poll(Duration::from_millis(100)) {
                        Ok(true) => match event::read() {
                            Ok(event) => {
                                if tx.send(event).is_err() {
                                    return;
                                }
                            }
                            Err(_) => return,
                        },
                        Ok(false) => {}
                        Err(_) => return,
                    }
                }
            });
        KeyReader { events, stop }
    }

    /// The next event; `None` when the terminal can no longer be read.
    pub async fn next(&mut self) -> Option<Event> {
        self.events.recv().await
    }
}

impl Drop for KeyReader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Apply one terminal event to the view, or turn it into a command.
/// `final_view`: every scenario has run, and the verdict is on screen.
pub fn action(event: &Event, state: &mut ViewState, final_view: bool) -> Action {
    let key = match event {
        Event::Key(key) if key.kind == KeyEventKind::Press => key,
        Event::Resize(..) => return Action::Redraw,
        _ => return Action::Nothing,
    };
    // On the final view, `r` runs everything again only when pressed twice:
    // the finished run is not thrown away by one stray key.
    let confirming = std::mem::take(&mut state.confirm_rerun);
    if final_view && key.code == KeyCode::Char('r') && !confirming {
        state.confirm_rerun = true;
        return Action::Redraw;
    }
    match key_action(key, state) {
        Action::Nothing if confirming => Action::Redraw,
        other => other,
    }
}

fn key_action(key: &KeyEvent, state: &mut ViewState) -> Action {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Char('c') if ctrl => Action::Command(RunCommand::Quit),
        KeyCode::Char('q') | KeyCode::Char('Q') => Action::Command(RunCommand::Quit),
        KeyCode::Char('p') | KeyCode::Char(' ') => Action::Command(RunCommand::TogglePause),
        KeyCode::Char('+') | KeyCode::Char('=') => Action::Command(RunCommand::Raise),
        KeyCode::Char('-') | KeyCode::Char('_') => Action::Command(RunCommand::Lower),
        KeyCode::Char('r') => Action::Command(RunCommand::Restart),
        KeyCode::Char('?') | KeyCode::Char('h') => {
            state.help = !state.help;
            Action::Redraw
        }
        KeyCode::Tab => {
            state.focus = state.focus.next();
            state.scroll = 0;
            Action::Redraw
        }
        KeyCode::BackTab => {
            state.focus = state.focus.previous();
            state.scroll = 0;
            Action::Redraw
        }
        KeyCode::Char('w') => Action::SaveScreen,
        KeyCode::Char('s') => {
            state.sort = state.sort.next();
            Action::Redraw
        }
        // Drawing keeps the offset within the table.
        KeyCode::Down | KeyCode::Char('j') => scrolled(state, |at| at.saturating_add(1)),
        KeyCode::Up | KeyCode::Char('k') => scrolled(state, |at| at.saturating_sub(1)),
        KeyCode::PageDown => scrolled(state, |at| at.saturating_add(PAGE)),
        KeyCode::PageUp => scrolled(state, |at| at.saturating_sub(PAGE)),
        KeyCode::Home => scrolled(state, |_| 0),
        KeyCode::Enter => {
            state.zoomed = !state.zoomed;
            Action::Redraw
        }
        KeyCode::Esc => {
            state.help = false;
            state.zoomed = false;
            Action::Redraw
        }
        _ => Action::Nothing,
    }
}

/// Rows PageUp and PageDown move by.
const PAGE: usize = 10;

/// Scroll the focused table, when it has rows to scroll.
fn scrolled(state: &mut ViewState, to: impl Fn(usize) -> usize) -> Action {
    if !state.focus.scrolls() {
        return Action::Nothing;
    }
    // Drawing clamps the offset to the table: the view's offset is clamped
    // to a bound no table reaches, so a held key cannot run it up forever.
    state.scroll = to(state.scroll).min(MAX_SCROLL);
    Action::Redraw
}

/// More rows than any table holds (tools are bounded well below this).
const MAX_SCROLL: usize = 100_000;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::view::Pane;

    fn press(code: KeyCode) -> Event {
        Event::Key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    #[test]
    fn keys_map_to_commands_and_view_changes() {
        let mut state = ViewState::default();
        assert_eq!(
            action(&press(KeyCode::Char('q')), &mut state, false),
            Action::Command(RunCommand::Quit)
        );
        let ctrl_c = Event::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
        assert_eq!(
            action(&ctrl_c, &mut state, false),
            Action::Command(RunCommand::Quit)
        );
        assert_eq!(
            action(&press(KeyCode::Char('p')), &mut state, false),
            Action::Command(RunCommand::TogglePause)
        );
        assert_eq!(
            action(&press(KeyCode::Char('+')), &mut state, false),
            Action::Command(RunCommand::Raise)
        );
        assert_eq!(
            action(&press(KeyCode::Char('-')), &mut state, false),
            Action::Command(RunCommand::Lower)
        );
        assert_eq!(
            action(&press(KeyCode::Char('r')), &mut state, false),
            Action::Command(RunCommand::Restart)
        );
        action(&press(KeyCode::Tab), &mut state, false);
        assert_eq!(state.focus, Pane::Acceptance);
        action(&press(KeyCode::BackTab), &mut state, false);
        assert_eq!(state.focus, Pane::Latency);
        action(&press(KeyCode::Enter), &mut state, false);
        assert!(state.zoomed);
        action(&press(KeyCode::Char('?')), &mut state, false);
        assert!(state.help);
        action(&press(KeyCode::Esc), &mut state, false);
        assert!(!state.help && !state.zoomed);
    }

    #[test]
    fn a_rerun_from_the_final_view_asks_first() {
        let mut state = ViewState::default();
        let r = press(KeyCode::Char('r'));
        // Once: asks.
        assert_eq!(action(&r, &mut state, true), Action::Redraw);
        assert!(state.confirm_rerun);
        // Twice: runs again.
        assert_eq!(
            action(&r, &mut state, true),
            Action::Command(RunCommand::Restart)
        );
        assert!(!state.confirm_rerun);
        // Once, then another key: stays (and the key does what it does).
        action(&r, &mut state, true);
        assert_eq!(
            action(&press(KeyCode::Char('x')), &mut state, true),
            Action::Redraw
        );
        assert!(!state.confirm_rerun);
        action(&r, &mut state, true);
        assert_eq!(
            action(&press(KeyCode::Char('q')), &mut state, true),
            Action::Command(RunCommand::Quit)
        );
    }

    #[test]
    fn s_sorts_and_the_arrows_scroll_only_a_focused_table() {
        use crate::ui::view::SortBy;
        let mut state = ViewState::default();
        action(&press(KeyCode::Char('s')), &mut state, false);
        assert_eq!(state.sort, SortBy::Calls);
        // Latency has no rows to scroll.
        assert_eq!(
            action(&press(KeyCode::Down), &mut state, false),
            Action::Nothing
        );
        state.focus = Pane::PerLabel;
        action(&press(KeyCode::PageDown), &mut state, false);
        action(&press(KeyCode::Down), &mut state, false);
        assert_eq!(state.scroll, PAGE + 1);
        action(&press(KeyCode::Up), &mut state, false);
        assert_eq!(state.scroll, PAGE);
        // A held key never runs the offset up without bound.
        for _ in 0..MAX_SCROLL {
            action(&press(KeyCode::PageDown), &mut state, false);
        }
        assert_eq!(state.scroll, MAX_SCROLL);
        // Another pane starts at its top.
        action(&press(KeyCode::Tab), &mut state, false);
        assert_eq!(state.scroll, 0);
    }
}
