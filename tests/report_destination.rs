//! `--report` goes where the user points it: a place it cannot be written is
//! refused before the run (not after an hour's soak), and a symlink, a FIFO
//! or `-` (stdout) is written through, never replaced.

mod common;

use std::os::unix::fs::FileTypeExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{assert_nothing_left, mcpstorm};

/// `mcpstorm run --headless sequential --report REPORT -- mcpstorm serve EXTRA`.
fn run_with_report(report: &str, extra: &[&str]) -> std::process::Output {
    Command::new(mcpstorm())
        .args(["run", "--headless", "sequential", "--report", report])
        .args(["--", mcpstorm(), "serve"])
        .args(extra)
        .output()
        .expect("mcpstorm runs")
}

fn explain(output: &std::process::Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A marker the server's command line carries, for `pgrep -f`.
fn marker(test: &str) -> String {
    format!("--log-every 7{}{}", test.len(), std::process::id())
}

#[test]
fn a_report_that_cannot_be_written_is_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir/report.json");
    let read_only = dir.path().join("read-only");
    std::fs::create_dir(&read_only).unwrap();
    let mut permissions = std::fs::metadata(&read_only).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o500);
    std::fs::set_permissions(&read_only, permissions).unwrap();
    let cases = [
        (missing.clone(), "no-such-dir"),
        (dir.path().to_path_buf(), "is a directory"),
        (read_only.join("report.json"), "read-only"),
    ];
    // Root may write anywhere: the read-only case then proves nothing.
    let root = unsafe_is_root();
    for (path, named) in cases {
        if root && named == "read-only" {
            continue;
        }
        let marker = marker(named);
        let (flag, value) = marker.split_once(' ').unwrap();
        let output = run_with_report(&path.to_string_lossy(), &[flag, value]);
        let said = explain(&output);
        assert_eq!(output.status.code(), Some(2), "{said}");
        assert!(said.contains(named), "the message names the place: {said}");
        assert!(said.contains("--report"), "{said}");
        // Refused before the run: no scenario ran, no server was started.
        assert!(!said.contains("━━"), "{said}");
        assert!(!said.contains("server mcpstorm-target"), "{said}");
        assert_nothing_left(&marker);
    }
    let partial: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(partial.is_empty(), "left behind: {partial:?}");
}

fn unsafe_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}

#[test]
fn a_symlinked_report_is_written_through_the_link() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("real.json");
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let output = run_with_report(&link.to_string_lossy(), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", explain(&output));
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link is still a link"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&target).expect("the target is written")).unwrap();
    assert_eq!(report["verdict"], "PASS");
}

#[test]
fn a_report_to_stdout_is_the_only_thing_there() {
    let output = run_with_report("-", &[]);
    assert_eq!(output.status.code(), Some(0), "{}", explain(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is the JSON report alone ({e}): {}",
            explain(&output)
        )
    });
    assert_eq!(report["verdict"], "PASS");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("━━ sequential ━━ PASS"),
        "the summary moves to stderr: {stderr}"
    );
}

#[test]
fn a_report_into_a_fifo_is_streamed_and_a_signal_while_it_waits_exits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("report.fifo");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    // A reader takes the report: it arrives whole, and the FIFO stays one.
    let reader = Command::new("timeout")
        .arg("120")
        .arg("cat")
        .arg(&fifo)
        .stdout(Stdio::piped())
        .spawn()
        .expect("cat runs");
    // Read as it comes: a report larger than the two pipes' buffers would
    // otherwise stall cat, and mcpstorm behind it.
    let read = std::thread::spawn(move || reader.wait_with_output().expect("cat ends"));
    let output = run_with_report(&fifo.to_string_lossy(), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", explain(&output));
    let read = read.join().expect("the reader");
    let streamed: serde_json::Value = serde_json::from_slice(&read.stdout).unwrap();
    assert_eq!(streamed["verdict"], "PASS");
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());

    // No reader: writing the report waits for one. A Ctrl-C then ends
    // mcpstorm at once (it has nothing left to stop), saying what was lost.
    let marker = marker("fifo");
    let (flag, value) = marker.split_once(' ').unwrap();
    let mut child = Command::new(mcpstorm())
        .args(["run", "--headless", "sequential", "--report"])
        .arg(&fifo)
        .args(["--", mcpstorm(), "serve", flag, value])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mcpstorm runs");
    let stdout = child.stdout.take().unwrap();
    // The verdict line is printed before the report is written.
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    assert!(
        lines.any(|l| l.is_ok_and(|l| l.contains("━━ sequential ━━"))),
        "the run ends"
    );
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill(2) on the child's pid.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let signalled = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(30),
            "still waiting on the FIFO after a Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("not written"), "{stderr}");
    assert_nothing_left(&marker);
}
