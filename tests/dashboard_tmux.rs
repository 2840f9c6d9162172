//! The dashboard as a person uses it: the real binary in a real terminal
//! (tmux), against a leaking built-in target. Wait until the memory criterion
//! reads FAILING, press `q`, and check that mcpstorm exited, the terminal came
//! back, the report was written and the server is gone.
//!
//! Needs tmux, so it is its own test target: `cargo test --test dashboard_tmux`
//! (`.ci/run` installs tmux and runs it). Without tmux it fails, saying so.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::mcpstorm;

/// A tmux server of our own, killed when the test ends however it ends.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(command: &str, width: u16, height: u16) -> Tmux {
        let version = Command::new("tmux").arg("-V").output();
        assert!(
            version.is_ok_and(|o| o.status.success()),
            "this test needs tmux: install it with `apt-get install -y tmux` (.ci/run does)"
        );
        // One tmux server per test: the tests of this file run in parallel.
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmux = Tmux {
            socket: format!("mcpstorm-test-{}-{n}", std::process::id()),
        };
        let started = tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "dash",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            command,
        ]);
        assert!(
            started.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&started.stderr)
        );
        tmux
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .expect("tmux runs")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "dash"]).stdout)
            .into_owned()
    }

    fn alternate_screen_on(&self) -> bool {
        let out = self.run(&["display-message", "-p", "-t", "dash", "#{alternate_on}"]);
        String::from_utf8_lossy(&out.stdout).trim() == "1"
    }

    /// Wait until tmux has left the alternate screen (it draws what the
    /// program wrote when it gets a core, which a busy machine may delay).
    fn wait_for_normal_screen(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.alternate_screen_on() {
            assert!(
                Instant::now() < deadline,
                "still in the alternate screen after {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Wait until the screen shows `text`; panics with the screen after `limit`.
    fn wait_for(&self, text: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "no {text:?} within {limit:?}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

fn wait_for_file(path: &Path, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(text) = std::fs::read_to_string(path)
            && !text.is_empty()
        {
            return text;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{} did not appear within {limit:?}", path.display());
}

/// A shell script in `dir` that starts the server as `body` says. A marker
/// for `assert_nothing_left` goes in the script, not on the tmux command
/// line: the tmux server and the pane's shell keep that line in their own.
fn server_script(dir: &Path, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("server.sh");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

/// The command line for a run in tmux that records its exit code in `exit`.
/// `server` is the server's command line.
fn dashboard_command(scenario: &Path, report: &Path, exit: &Path, server: &str) -> String {
    format!(
        "{} ; sleep 60",
        run_recording_exit(scenario, report, exit, server)
    )
}

/// `mcpstorm run` in the dashboard, then its exit code written to `exit`.
fn run_recording_exit(scenario: &Path, report: &Path, exit: &Path, server: &str) -> String {
    format!(
        "{bin} run {scenario} --tui --report {report} -- {server}; echo $? > {exit}",
        bin = mcpstorm(),
        scenario = scenario.display(),
        report = report.display(),
        exit = exit.display(),
    )
}

/// The built-in server with these fault knobs.
fn serve(knobs: &str) -> String {
    format!("{} serve {knobs}", mcpstorm())
}

const STEADY: &str = r#"
name = "steady"
[[phase]]
name = "load"
load = { kind = "rate", rate = 50, duration_s = 30 }
[[call]]
tool = "echo"
arguments = { message = "hi {seq}" }
[acceptance]
"crashes == 0" = {}
"#;

#[test]
fn sigterm_restores_the_terminal_and_writes_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = common::scenario_file(dir.path(), "steady.toml", STEADY);
    let (report, exit) = (dir.path().join("report.json"), dir.path().join("exit"));
    let tmux = Tmux::start(
        &dashboard_command(&scenario, &report, &exit, &serve("")),
        100,
        30,
    );
    tmux.wait_for("PASSING crashes == 0", Duration::from_secs(60));
    // Anchored on the binary: the shell around it has the same words in its command line.
    let marker = format!("^{} run .*{}", mcpstorm(), report.display());
    let killed = Command::new("pkill")
        .args(["-TERM", "-f", &marker])
        .status()
        .unwrap();
    assert!(killed.success(), "no mcpstorm process to signal");
    assert_eq!(wait_for_file(&exit, Duration::from_secs(60)).trim(), "143");
    tmux.wait_for_normal_screen(Duration::from_secs(20));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).expect("the report exists")).unwrap();
    assert_eq!(report["interrupted"], true);
}

#[test]
fn a_crashing_server_is_shown_and_the_dashboard_stays() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = common::scenario_file(dir.path(), "steady.toml", STEADY);
    let (report, exit) = (dir.path().join("report.json"), dir.path().join("exit"));
    let tmux = Tmux::start(
        &dashboard_command(&scenario, &report, &exit, &serve("--crash-after 60")),
        120,
        40,
    );
    // The server dies after 60 calls; the final view stays with the verdict.
    let screen = tmux.wait_for("RESULT  FAIL", Duration::from_secs(60));
    assert!(screen.contains("FAIL    crashes == 0"), "{screen}");
    assert!(screen.contains("server crashed 1 time(s)"), "{screen}");
    // The crash note in full: focus the stderr pane (the last: Shift-Tab
    // from the first) and enlarge it.
    tmux.run(&["send-keys", "-t", "dash", "BTab"]);
    tmux.run(&["send-keys", "-t", "dash", "Enter"]);
    let enlarged = tmux.wait_for("server exited mid-run", Duration::from_secs(20));
    assert!(enlarged.contains("exit code 70"), "{enlarged}");
    assert!(enlarged.contains("crashing on request 61"), "{enlarged}");
    assert!(tmux.alternate_screen_on());
    tmux.run(&["send-keys", "-t", "dash", "q"]);
    // Quitting the final view is not an interruption: the verdict's exit code.
    assert_eq!(wait_for_file(&exit, Duration::from_secs(60)).trim(), "1");
    assert!(std::fs::metadata(&report).is_ok());
}

#[test]
fn the_leak_shows_failing_live_and_q_leaves_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = common::scenario_file(
        dir.path(),
        "leak.toml",
        r#"
name = "tmux-leak"
description = "Thirty seconds of steady calls against a leaking server."
[[phase]]
name = "warmup"
load = { kind = "rate", rate = 50, duration_s = 1 }
[[phase]]
name = "load"
load = { kind = "rate", rate = 50, duration_s = 30 }
[[call]]
tool = "echo"
arguments = { message = "hi {seq}" }
[acceptance]
"rss_growth_mb <= 50" = {}
"success_rate >= 0.99" = {}
"#,
    );
    let report = dir.path().join("report.json");
    let exit_file = dir.path().join("exit");
    let command = dashboard_command(&scenario, &report, &exit_file, &serve("--leak-kb 200"));
    let tmux = Tmux::start(&command, 120, 40);

    // 50 calls/s × 200 KB: the 50 MB allowance is gone about 5 s into the load.
    let live = tmux.wait_for("FAILING rss_growth_mb <= 50", Duration::from_secs(60));
    assert!(
        tmux.alternate_screen_on(),
        "the dashboard uses the alternate screen"
    );
    assert!(live.contains("tmux-leak (1/1) · phase load"), "{live}");
    assert!(live.contains("PASSING success_rate >= 0.99"), "{live}");
    assert!(live.contains("RSS"), "{live}");

    tmux.run(&["send-keys", "-t", "dash", "q"]);
    let code = wait_for_file(&exit_file, Duration::from_secs(60));
    // Quit mid-run: stopped cleanly, reported as interrupted.
    assert_eq!(code.trim(), "130", "{}", tmux.screen());

    // The terminal is back: the normal screen, with the summary printed on it.
    tmux.wait_for_normal_screen(Duration::from_secs(20));
    let after = tmux.wait_for("report written to", Duration::from_secs(20));
    assert!(after.contains("━━ tmux-leak ━━ FAIL"), "{after}");

    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).expect("the report exists")).unwrap();
    assert_eq!(report["interrupted"], true);
    let scenario = &report["scenarios"][0];
    let growth = &scenario["result"]["criteria"][0];
    assert_eq!(growth["expression"], "rss_growth_mb <= 50");
    assert_eq!(growth["state"], "FAIL");
    // The server was stopped with the run.
    common::assert_server_stopped(scenario);
}

#[test]
fn q_stops_at_once_while_calls_hang_on_a_stalled_server() {
    // The server stops reading at its 20th request: every call after waits
    // (the timeout is 30 s). `q` used to wait for the calls in flight and
    // then for the server; now it stops the run at once.
    let dir = tempfile::tempdir().unwrap();
    let scenario = common::scenario_file(dir.path(), "steady.toml", STEADY);
    let (report, exit) = (dir.path().join("report.json"), dir.path().join("exit"));
    let stall = format!("--stall-at 20 --stall-ms 8{}", std::process::id());
    let server = server_script(dir.path(), &format!("exec {}", serve(&stall)));
    let tmux = Tmux::start(
        &dashboard_command(&scenario, &report, &exit, &server),
        100,
        30,
    );
    tmux.wait_for("PASSING crashes == 0", Duration::from_secs(60));
    // Calls are in flight and piling up by now (50 a second, none answered).
    std::thread::sleep(Duration::from_secs(2));
    tmux.run(&["send-keys", "-t", "dash", "q"]);
    let pressed = Instant::now();
    let code = wait_for_file(&exit, Duration::from_secs(60));
    let took = pressed.elapsed();
    assert_eq!(code.trim(), "130", "{}", tmux.screen());
    // The stop itself takes well under a second; the rest is a busy
    // machine's slack. Waiting for the calls would take 30 s.
    assert!(took < Duration::from_secs(15), "took {took:?}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).expect("the report exists")).unwrap();
    let notes = report["scenarios"][0]["result"]["notes"].to_string();
    assert!(
        notes.contains("in flight at the interruption were abandoned"),
        "{notes}"
    );
    common::assert_nothing_left(&stall);
}

#[test]
fn a_dashboard_that_cannot_draw_stops_the_run_and_its_server() {
    // The terminal's output goes to a pipe that closes after a few frames:
    // drawing fails. The run used to go on without a screen and then wait,
    // for ever, for a quit no one could give; now it stops, writes its
    // report and stops its server.
    let dir = tempfile::tempdir().unwrap();
    let long = STEADY.replace("duration_s = 30", "duration_s = 600");
    let scenario = common::scenario_file(dir.path(), "long.toml", &long);
    let (report, exit) = (dir.path().join("report.json"), dir.path().join("exit"));
    let marker = format!("--stall-at 1000000 --stall-ms 9{}", std::process::id());
    let server = server_script(dir.path(), &format!("exec {}", serve(&marker)));
    let command = format!(
        "{{ {}; }} | head -c 3000 > /dev/null; sleep 60",
        run_recording_exit(&scenario, &report, &exit, &server)
    );
    let _tmux = Tmux::start(&command, 100, 30);
    let code = wait_for_file(&exit, Duration::from_secs(60));
    assert_eq!(code.trim(), "130");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).expect("the report exists")).unwrap();
    assert_eq!(report["interrupted"], true);
    // The pipe may break before the server has started (no result) or after.
    let scenario = &report["scenarios"][0];
    if !scenario["result"].is_null() {
        common::assert_server_stopped(scenario);
    }
    common::assert_nothing_left(&marker);
}

#[test]
fn quitting_while_the_server_starts_is_an_interruption() {
    // The server takes 20 s to start; `q` a moment in stops the run. It was
    // reported as a setup error (exit 2, "interrupted": false).
    let dir = tempfile::tempdir().unwrap();
    let scenario = common::scenario_file(dir.path(), "steady.toml", STEADY);
    let (report, exit) = (dir.path().join("report.json"), dir.path().join("exit"));
    let marker = format!("sleep 20.{}", std::process::id());
    let server = server_script(dir.path(), &format!("{marker}; exec {}", serve("")));
    let tmux = Tmux::start(
        &dashboard_command(&scenario, &report, &exit, &server),
        100,
        30,
    );
    tmux.wait_for("steady (1/1)", Duration::from_secs(60));
    tmux.run(&["send-keys", "-t", "dash", "q"]);
    let code = wait_for_file(&exit, Duration::from_secs(60));
    assert_eq!(code.trim(), "130", "{}", tmux.screen());
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).expect("the report exists")).unwrap();
    assert_eq!(report["interrupted"], true);
    let scenario = &report["scenarios"][0];
    assert_eq!(scenario["incomplete"], "interrupted");
    common::assert_nothing_left(&marker);
}

#[test]
fn a_pause_and_a_load_change_are_in_the_report_and_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = common::scenario_file(dir.path(), "steady.toml", STEADY);
    let report = dir.path().join("report.json");
    let exit_file = dir.path().join("exit");
    let command = dashboard_command(&scenario, &report, &exit_file, &serve(""));
    let tmux = Tmux::start(&command, 120, 40);
    tmux.wait_for("steady (1/1) · phase load", Duration::from_secs(60));
    tmux.run(&["send-keys", "-t", "dash", "p"]);
    tmux.wait_for("PAUSED", Duration::from_secs(20));
    tmux.run(&["send-keys", "-t", "dash", "p"]);
    tmux.run(&["send-keys", "-t", "dash", "+"]);
    tmux.wait_for("load ×1.25", Duration::from_secs(20));
    tmux.run(&["send-keys", "-t", "dash", "q"]);
    wait_for_file(&exit_file, Duration::from_secs(60));
    tmux.wait_for_normal_screen(Duration::from_secs(20));
    let after = tmux.wait_for("report written to", Duration::from_secs(20));
    assert!(
        after.contains("paused and load, as set by hand: at "),
        "{after}"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).expect("the report exists")).unwrap();
    let changes = report["scenarios"][0]["result"]["control_changes"]
        .as_array()
        .expect("control_changes")
        .clone();
    let states: Vec<(bool, f64)> = changes
        .iter()
        .map(|c| (c["paused"] == true, c["load_scale"].as_f64().unwrap()))
        .collect();
    assert_eq!(
        states,
        [(true, 1.0), (false, 1.0), (false, 1.25)],
        "{changes:?}"
    );
    let times: Vec<f64> = changes
        .iter()
        .map(|c| c["at_s"].as_f64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}

#[test]
fn r_on_the_final_view_asks_first_and_never_overwrites_the_finished_run() {
    let dir = tempfile::tempdir().unwrap();
    let short = STEADY.replace("duration_s = 30", "duration_s = 1");
    let scenario = common::scenario_file(dir.path(), "short.toml", &short);
    let report = dir.path().join("report.json");
    let exit_file = dir.path().join("exit");
    let command = dashboard_command(&scenario, &report, &exit_file, &serve(""));
    let tmux = Tmux::start(&command, 120, 40);
    tmux.wait_for("RESULT", Duration::from_secs(60));
    // The finished run is on disk before the final view waits.
    let first = wait_for_file(&report, Duration::from_secs(20));
    let first: serde_json::Value = serde_json::from_str(&first).expect("valid JSON");
    assert_eq!(first["run"], 1);
    assert_eq!(first["verdict"], "PASS");
    // One `r` asks; another key stays.
    tmux.run(&["send-keys", "-t", "dash", "r"]);
    tmux.wait_for("r again: run everything again", Duration::from_secs(20));
    tmux.run(&["send-keys", "-t", "dash", "x"]);
    tmux.wait_for("r run again", Duration::from_secs(20));
    // Twice: the second run starts, and is quit half-way.
    tmux.run(&["send-keys", "-t", "dash", "r"]);
    tmux.wait_for("r again: run everything again", Duration::from_secs(20));
    tmux.run(&["send-keys", "-t", "dash", "r"]);
    tmux.wait_for("p pause", Duration::from_secs(20));
    tmux.run(&["send-keys", "-t", "dash", "q"]);
    wait_for_file(&exit_file, Duration::from_secs(60));
    // The first run's report is as it was; the second's is beside it.
    let kept: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).unwrap()).expect("valid JSON");
    assert_eq!(kept, first);
    let second = dir.path().join("report.2.json");
    let second: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&second).expect("the second run's report"))
            .expect("valid JSON");
    assert_eq!(second["run"], 2);
}

#[test]
fn w_saves_the_screen_with_its_colours_and_the_figures_so_far() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = common::scenario_file(dir.path(), "steady.toml", STEADY);
    let report = dir.path().join("report.json");
    let exit_file = dir.path().join("exit");
    // The files go to the working directory: the test's own.
    let command = format!(
        "cd {} && {}",
        dir.path().display(),
        dashboard_command(&scenario, &report, &exit_file, &serve(""))
    );
    let tmux = Tmux::start(&command, 120, 40);
    tmux.wait_for("steady (1/1) · phase load", Duration::from_secs(60));
    tmux.run(&["send-keys", "-t", "dash", "w"]);
    tmux.wait_for("saved the screen to", Duration::from_secs(20));
    // A second press never overwrites the first.
    tmux.run(&["send-keys", "-t", "dash", "w"]);
    tmux.wait_for("mcpstorm-screen-2.txt", Duration::from_secs(20));
    tmux.run(&["send-keys", "-t", "dash", "q"]);
    wait_for_file(&exit_file, Duration::from_secs(60));
    let text = wait_for_file(
        &dir.path().join("mcpstorm-screen-1.txt"),
        Duration::from_secs(5),
    );
    assert!(text.contains("steady (1/1) · phase load"), "{text}");
    assert!(text.contains("Latency ms"), "{text}");
    assert_eq!(text.lines().count(), 40, "{text}");
    let coloured = wait_for_file(
        &dir.path().join("mcpstorm-screen-1.ansi"),
        Duration::from_secs(5),
    );
    assert!(coloured.contains("\x1b[0;1"), "no escapes: {coloured}");
    let figures = wait_for_file(
        &dir.path().join("mcpstorm-screen-1.json"),
        Duration::from_secs(5),
    );
    let figures: serde_json::Value = serde_json::from_str(&figures).expect("valid JSON");
    assert_eq!(figures["name"], "steady");
    assert!(
        figures["result"]["total"]["calls"].as_u64().unwrap_or(0) > 0,
        "{figures}"
    );
    assert!(dir.path().join("mcpstorm-screen-2.txt").exists());
}
