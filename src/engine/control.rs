//! Controls a person (or a signal) can apply to a running scenario: stop it,
//! pause it, and turn the load up or down. The load path only ever reads these
//! (an atomic or a watch), so the dashboard never blocks it.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// A cancellation token: set once, seen by every clone. The run uses them
/// to stop the load (the person's word, a crash, the abort rule), to stop
/// watchers at the end, and to cut short waits (`unless`).
#[derive(Clone)]
pub struct CancelToken {
    tx: Arc<watch::Sender<bool>>,
    rx: watch::Receiver<bool>,
}

impl Default for CancelToken {
    fn default() -> Self {
        let (tx, rx) = watch::channel(false);
        CancelToken {
            tx: Arc::new(tx),
            rx,
        }
    }
}

impl CancelToken {
    pub fn set(&self) {
        let _ = self.tx.send(true);
    }

    pub fn is_set(&self) -> bool {
        *self.rx.borrow()
    }

    pub async fn wait(&self) {
        let mut rx = self.rx.clone();
        let _ = rx.wait_for(|set| *set).await;
    }

    /// `work`'s output, or `None` if the token is set first: a wait that a
    /// person stopping the run would otherwise sit through (a handshake, a
    /// call to a stalled server) races the token.
    pub async fn unless<F: std::future::Future>(&self, work: F) -> Option<F::Output> {
        tokio::select! {
            biased;
            output = work => Some(output),
            _ = self.wait() => None,
        }
    }
}

/// The load dial moves in steps of this factor, between these bounds.
const DIAL_STEP: f64 = 1.25;
const DIAL_MIN: f64 = 0.05;
const DIAL_MAX: f64 = 50.0;

/// Pause and the load dial, shared by the dashboard and the workers.
#[derive(Clone)]
pub struct LoadControl {
    paused: Arc<watch::Sender<bool>>,
    /// Load relative to the scenario's, in thousandths (1000 = as written).
    scale_permille: Arc<AtomicU32>,
    /// When the current pause began, and all paused time before it.
    pause_clock: Arc<Mutex<(Option<Instant>, Duration)>>,
    /// Bumped at every pause, resume and turn of the dial: the run records
    /// each (`changes`).
    changed: Arc<watch::Sender<u64>>,
}

/// Pause and load as a person set them, at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ControlState {
    pub paused: bool,
    pub load_scale: f64,
}

impl Default for LoadControl {
    fn default() -> Self {
        LoadControl {
            paused: Arc::new(watch::channel(false).0),
            scale_permille: Arc::new(AtomicU32::new(1000)),
            pause_clock: Arc::new(Mutex::new((None, Duration::ZERO))),
            changed: Arc::new(watch::channel(0).0),
        }
    }
}

impl LoadControl {
    pub fn set_paused(&self, paused: bool) {
        if let Ok(mut clock) = self.pause_clock.lock() {
            match (paused, clock.0) {
                (true, None) => clock.0 = Some(Instant::now()),
                (false, Some(since)) => {
                    clock.1 += since.elapsed();
                    clock.0 = None;
                }
                _ => {}
            }
        }
        let was = self.paused.send_replace(paused);
        if was != paused {
            self.changed.send_modify(|n| *n += 1);
        }
    }

    /// Pause and load now.
    pub fn state(&self) -> ControlState {
        ControlState {
            paused: self.is_paused(),
            load_scale: self.scale(),
        }
    }

    /// Each change of pause or load from now on, as it happens (a change
    /// seen late is seen as the state then).
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    pub fn is_paused(&self) -> bool {
        *self.paused.borrow()
    }

    /// Returns at once unless paused; then when resumed.
    pub async fn wait_unpaused(&self) {
        if !self.is_paused() {
            return;
        }
        let mut rx = self.paused.subscribe();
        let _ = rx.wait_for(|paused| !*paused).await;
    }

    /// Returns when a pause begins (at once if one is on).
    pub async fn wait_paused(&self) {
        let mut rx = self.paused.subscribe();
        let _ = rx.wait_for(|paused| *paused).await;
    }

    /// All time spent paused so far, the current pause included.
    pub fn paused_total(&self) -> Duration {
        self.pause_clock
            .lock()
            .map(|clock| clock.1 + clock.0.map_or(Duration::ZERO, |since| since.elapsed()))
            .unwrap_or_default()
    }

    /// The load factor: 1.0 runs the scenario as written.
    pub fn scale(&self) -> f64 {
        self.scale_permille.load(Ordering::Relaxed) as f64 / 1000.0
    }

    pub fn raise(&self) {
        self.set_scale(self.scale() * DIAL_STEP);
    }

    pub fn lower(&self) {
        self.set_scale(self.scale() / DIAL_STEP);
    }

    fn set_scale(&self, scale: f64) {
        let permille = (scale.clamp(DIAL_MIN, DIAL_MAX) * 1000.0).round() as u32;
        if self.scale_permille.swap(permille, Ordering::Relaxed) != permille {
            self.changed.send_modify(|n| *n += 1);
        }
    }

    /// `base` workers (or a rate) scaled by the dial, at least 1 worker.
    pub fn scaled_workers(&self, base: u32) -> u32 {
        ((base as f64 * self.scale()).round() as u32).max(1)
    }
}

/// Time a phase has been running, pauses left out.
pub struct ActiveClock {
    started: Instant,
    paused_before: Duration,
}

impl ActiveClock {
    pub fn start(control: &LoadControl) -> Self {
        ActiveClock {
            started: Instant::now(),
            paused_before: control.paused_total(),
        }
    }

    pub fn elapsed(&self, control: &LoadControl) -> Duration {
        let paused = control.paused_total().saturating_sub(self.paused_before);
        self.started.elapsed().saturating_sub(paused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_halt_ends_a_wait_and_a_finished_wait_is_kept() {
        let halt = CancelToken::default();
        assert_eq!(halt.unless(async { 7 }).await, Some(7));
        let stopper = halt.clone();
        tokio::spawn(async move { stopper.set() });
        let waited = halt.unless(std::future::pending::<()>()).await;
        assert_eq!(waited, None);
        // Both ready: the work's output is not thrown away.
        assert_eq!(halt.unless(async { 8 }).await, Some(8));
    }

    #[test]
    fn the_dial_moves_in_steps_and_stays_in_bounds() {
        let control = LoadControl::default();
        assert_eq!(control.scaled_workers(4), 4);
        control.raise();
        assert_eq!(control.scale(), 1.25);
        assert_eq!(control.scaled_workers(4), 5);
        for _ in 0..100 {
            control.lower();
        }
        assert_eq!(control.scale(), DIAL_MIN);
        assert_eq!(control.scaled_workers(4), 1, "never below one worker");
    }

    #[test]
    fn paused_time_is_left_out_of_the_active_clock() {
        let control = LoadControl::default();
        let clock = ActiveClock::start(&control);
        let outer = Instant::now();
        control.set_paused(true);
        std::thread::sleep(Duration::from_millis(60));
        control.set_paused(false);
        let paused = control.paused_total();
        assert!(paused >= Duration::from_millis(60));
        // However long this thread waited for a core between the lines above,
        // the active clock is the wall clock less exactly the paused time.
        let active = clock.elapsed(&control);
        let wall = outer.elapsed();
        assert!(
            active + paused >= wall,
            "{active:?} + {paused:?} < {wall:?}"
        );
        assert!(active + paused <= clock.started.elapsed());
    }
}
