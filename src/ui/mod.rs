//! The live dashboard: ratatui + crossterm, fed by the aggregator's snapshots.
//! It is an output ([`Dashboard`]) that follows the run and holds the
//! terminal until the person quits.
//!
//! The UI only reads (the newest snapshot on a watch channel) and sends
//! commands (pause, load dial, restart, quit) that the load path picks up
//! between calls, so drawing never holds the load up. It draws at most ten
//! frames a second, and only when a snapshot, the run's status or a key has
//! changed something.

pub(crate) mod input;
pub mod layout;
pub(crate) mod panes;
pub mod screen_file;
mod view;

use std::sync::Arc;
use std::time::Duration;

use ratatui::DefaultTerminal;
use tokio::sync::{mpsc, watch};

use crate::engine::CancelToken;
pub use crate::report::{Finished, RunCommand, RunStatus};
use crate::report::{Following, LiveFeed, Output, OutputError};
use crate::stats::Snapshot;
use input::{Action, KeyReader};
pub use view::{Pane, SortBy, View, ViewState};

/// The dashboard as an output: it takes the terminal when the run begins
/// and gives it back when the person quits or a signal stops the run. The
/// final view stays until then.
pub struct Dashboard;

impl Output for Dashboard {
    fn follow(&mut self, feed: &LiveFeed) -> Result<Option<Following>, OutputError> {
        let mut guard = TerminalGuard::enter().map_err(|source| OutputError::Show {
            what: "cannot open the dashboard (use --headless)",
            source,
        })?;
        let feed = feed.clone();
        Ok(Some(tokio::spawn(async move {
            let commands = feed.commands.clone();
            let shown = run(&mut guard, feed.snapshots, feed.status, commands, feed.halt).await;
            drop(guard);
            // A dashboard that failed cannot be quit from: the run stops.
            if shown.is_err() {
                let _ = feed.commands.send(RunCommand::Quit);
            }
            shown.map_err(|source| OutputError::Show {
                what: "the dashboard failed",
                source,
            })
        })))
    }

    fn holds_the_terminal(&self) -> bool {
        true
    }
}

/// How long the word on a saved screen stays.
const NOTICE_SHOWN: Duration = Duration::from_secs(6);

/// Save the screen as it is drawn now (`screen_file`) into the working
/// directory; what happened, in words.
fn save_screen(
    terminal: &DefaultTerminal,
    snapshots: &watch::Receiver<Arc<Snapshot>>,
    status: &watch::Receiver<RunStatus>,
    state: &ViewState,
) -> String {
    let snapshot = snapshots.borrow().clone();
    let run_status = status.borrow().clone();
    let view = View {
        snapshot: &snapshot,
        status: &run_status,
        state,
        notice: None,
    };
    let size = terminal.size().unwrap_or_default();
    match screen_file::save(&view, size.width, size.height, std::path::Path::new(".")) {
        Ok(path) => format!(
            "saved the screen to {} (and .ansi, and the figures so far in .json)",
            path.display()
        ),
        Err(e) => format!("could not save the screen here: {e}"),
    }
}

/// The shortest time between two frames: at most ten a second.
const FRAME: Duration = Duration::from_millis(100);

/// Owns the terminal while the dashboard shows; restores it when dropped, so a
/// quit, an error or an unwinding panic all leave the terminal as it was.
/// (`ratatui::try_init` also installs a panic hook that restores it first.)
struct TerminalGuard {
    terminal: DefaultTerminal,
}

impl TerminalGuard {
    fn enter() -> std::io::Result<TerminalGuard> {
        Ok(TerminalGuard {
            terminal: ratatui::try_init()?,
        })
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// Run the dashboard until the person quits or `halt` is set (a signal).
async fn run(
    guard: &mut TerminalGuard,
    mut snapshots: watch::Receiver<Arc<Snapshot>>,
    mut status: watch::Receiver<RunStatus>,
    commands: mpsc::UnboundedSender<RunCommand>,
    halt: CancelToken,
) -> std::io::Result<()> {
    let mut keys = KeyReader::start();
    let mut state = ViewState {
        monochrome: crate::report::colours_declined(),
        ..ViewState::default()
    };
    let mut dirty = true;
    // What `w` did, and until when it is said.
    let mut notice: Option<(String, tokio::time::Instant)> = None;
    let mut snapshots_open = true;
    let mut status_open = true;
    let mut frames = tokio::time::interval(FRAME);
    frames.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = frames.tick() => {
                if notice.as_ref().is_some_and(|(_, until)| *until <= tokio::time::Instant::now()) {
                    notice = None;
                    dirty = true;
                }
                if dirty {
                    let snapshot = snapshots.borrow().clone();
                    let run_status = status.borrow().clone();
                    let view = View {
                        snapshot: &snapshot,
                        status: &run_status,
                        state: &state,
                        notice: notice.as_ref().map(|(text, _)| text.as_str()),
                    };
                    guard.terminal.draw(|frame| layout::draw(frame, &view))?;
                    dirty = false;
                }
            }
            changed = snapshots.changed(), if snapshots_open => {
                snapshots_open = changed.is_ok();
                dirty = true;
            }
            changed = status.changed(), if status_open => {
                status_open = changed.is_ok();
                dirty = true;
            }
            event = keys.next() => {
                let final_view = status.borrow().all_done;
                match event.map(|e| input::action(&e, &mut state, final_view)) {
                    Some(Action::Command(RunCommand::Quit)) | None => {
                        let _ = commands.send(RunCommand::Quit);
                        return Ok(());
                    }
                    Some(Action::Command(command)) => {
                        let _ = commands.send(command);
                    }
                    Some(Action::Redraw) => dirty = true,
                    Some(Action::SaveScreen) => {
                        let said = save_screen(&guard.terminal, &snapshots, &status, &state);
                        notice = Some((said, tokio::time::Instant::now() + NOTICE_SHOWN));
                        dirty = true;
                    }
                    Some(Action::Nothing) => {}
                }
            }
            _ = halt.wait() => return Ok(()),
        }
    }
}
