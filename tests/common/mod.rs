//! Helpers for tests that drive the real `mcpstorm` binary over real pipes.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

pub mod peers;

/// A free loopback port (bound, then released for a process to take).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `GET path` from `address` (`IP:PORT` on loopback), the connection
/// closed after: its status line and body; `None` once nothing listens
/// there (or the answer is not HTTP).
pub fn http_get(address: &str, path: &str) -> Option<(String, String)> {
    let mut stream = TcpStream::connect(address).ok()?;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n")?;
    let status = head.lines().next().unwrap_or_default().to_string();
    Some((status, body.to_string()))
}

pub fn mcpstorm() -> &'static str {
    env!("CARGO_BIN_EXE_mcpstorm")
}

/// What one `mcpstorm run` left behind.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// The JSON report, when one was written.
    pub report: Option<Value>,
    pub dir: tempfile::TempDir,
    /// Wall time of the whole `mcpstorm` command, measured by the test.
    pub wall: std::time::Duration,
}

impl Run {
    pub fn report(&self) -> &Value {
        self.report.as_ref().unwrap_or_else(|| {
            panic!(
                "no report written\nstdout:\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// The result of the scenario called `name`.
    pub fn scenario(&self, name: &str) -> &Value {
        self.report()["scenarios"]
            .as_array()
            .and_then(|all| all.iter().find(|s| s["name"] == name))
            .unwrap_or_else(|| panic!("no scenario {name} in the report\n{}", self.stdout))
    }

    /// The final state of the criterion written as `expression` in scenario `name`.
    pub fn criterion(&self, name: &str, expression: &str) -> String {
        self.criterion_value(name, expression)["state"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    pub fn criterion_value(&self, name: &str, expression: &str) -> &Value {
        self.scenario(name)["result"]["criteria"]
            .as_array()
            .and_then(|all| all.iter().find(|c| c["expression"] == expression))
            .unwrap_or_else(|| panic!("no criterion `{expression}` in {name}"))
    }

    /// Every criterion of `name` that failed.
    pub fn failed(&self, name: &str) -> Vec<String> {
        self.scenario(name)["result"]["criteria"]
            .as_array()
            .map(|all| {
                all.iter()
                    .filter(|c| c["state"] != "PASS")
                    .map(|c| c["expression"].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn explain(&self) -> String {
        format!(
            "exit {}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Everything a command printed: stdout, then stderr.
pub fn said(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `mcpstorm run SCENARIOS --report R -- mcpstorm serve KNOBS`.
pub fn run_against_target(scenarios: &[&str], knobs: &[&str]) -> Run {
    let mut args: Vec<String> = scenarios.iter().map(|s| s.to_string()).collect();
    args.push("--".into());
    args.push(mcpstorm().into());
    args.push("serve".into());
    args.extend(knobs.iter().map(|k| k.to_string()));
    run(&args)
}

/// Run a scenario given as TOML text against `mcpstorm serve KNOBS`.
pub fn run_text_against_target(text: &str, knobs: &[&str]) -> Run {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = scenario_file(dir.path(), "scenario.toml", text);
    let mut args = vec![
        file.to_string_lossy().into_owned(),
        "--".into(),
        mcpstorm().into(),
        "serve".into(),
    ];
    args.extend(knobs.iter().map(|k| k.to_string()));
    run(&args)
}

/// `mcpstorm run ARGS` with `--report` added before any `--`.
pub fn run<S: AsRef<str>>(args: &[S]) -> Run {
    run_within(None, args)
}

/// [`run`], killed by `timeout` (exit 124) after `limit` if given: for a test
/// whose failure would be a run that never ends.
pub fn run_within<S: AsRef<str>>(limit: Option<std::time::Duration>, args: &[S]) -> Run {
    let (full, report, dir) = run_arguments(args);
    let mut command = match limit {
        Some(limit) => {
            let mut timeout = Command::new("timeout");
            timeout.args(["-k", "5", &limit.as_secs().to_string(), mcpstorm()]);
            timeout
        }
        None => Command::new(mcpstorm()),
    };
    let started = std::time::Instant::now();
    let output = command.args(&full).output().expect("mcpstorm runs");
    finish(output, &report, dir, started.elapsed())
}

/// [`run`], with `meanwhile` given mcpstorm's pid while it runs (to send it
/// signals, say).
pub fn run_meanwhile<S: AsRef<str>>(args: &[S], meanwhile: impl FnOnce(u32)) -> Run {
    let (full, report, dir) = run_arguments(args);
    let started = std::time::Instant::now();
    let child = Command::new(mcpstorm())
        .args(&full)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mcpstorm runs");
    meanwhile(child.id());
    let output = child.wait_with_output().expect("mcpstorm ends");
    finish(output, &report, dir, started.elapsed())
}

/// `run ARGS` as `run` builds it: `--headless` first, `--report` (into a
/// fresh temporary directory) before any `--`.
fn run_arguments<S: AsRef<str>>(args: &[S]) -> (Vec<String>, PathBuf, tempfile::TempDir) {
    let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let report = dir.path().join("report.json");
    let split = args.iter().position(|a| *a == "--").unwrap_or(args.len());
    let mut full: Vec<String> = vec!["run".into(), "--headless".into()];
    full.extend(args[..split].iter().map(|a| a.to_string()));
    full.push("--report".into());
    full.push(report.to_string_lossy().into_owned());
    full.extend(args[split..].iter().map(|a| a.to_string()));
    (full, report, dir)
}

/// [`run`], also returning mcpstorm's peak RSS in MB as the kernel counted it
/// (`wait4`'s `ru_maxrss`: mcpstorm itself, or the largest of the children
/// it waited for — the servers — if one was larger).
pub fn run_with_peak_rss<S: AsRef<str>>(args: &[S]) -> (Run, f64) {
    let (full, report, dir) = run_arguments(args);
    let started = std::time::Instant::now();
    // Reaped by the wait4 below, which std's `wait` cannot stand in for.
    #[allow(clippy::zombie_processes)]
    let mut child = Command::new(mcpstorm())
        .args(&full)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mcpstorm runs");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert!(waited > 0, "wait4: {}", std::io::Error::last_os_error());
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    let output = Output {
        status: std::os::unix::process::ExitStatusExt::from_raw(status),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    let mut run = finish(output, &report, dir, started.elapsed());
    run.code = code;
    (run, usage.ru_maxrss as f64 / 1024.0)
}

fn finish(output: Output, report: &Path, dir: tempfile::TempDir, wall: std::time::Duration) -> Run {
    let report = std::fs::read(report)
        .ok()
        .map(|bytes| serde_json::from_slice(&bytes).expect("the report is valid JSON"));
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        report,
        dir,
        wall,
    }
}

/// Write a scenario file into `dir` and return its path.
pub fn scenario_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write scenario");
    path
}

/// A scenario `fixed` of `calls` sequential echo calls in one phase,
/// `load`, written to `dir`: for a latency read against a known delay.
pub fn fixed_echo_scenario(dir: &Path, calls: usize) -> String {
    let text = format!(
        "name = \"fixed\"\n[[phase]]\nname = \"load\"\n\
         load = {{ kind = \"sequential\", calls = {calls} }}\n\
         [[call]]\ntool = \"echo\"\narguments = {{ message = \"x\" }}\n"
    );
    scenario_file(dir, "fixed.toml", &text)
        .to_string_lossy()
        .into_owned()
}

/// The server a scenario of `report` measured is no longer running (gone, or
/// a zombie its parent has yet to reap).
pub fn assert_server_stopped(scenario: &Value) {
    let pid = scenario["result"]["resources"]["pid"]
        .as_u64()
        .expect("the server's pid in the report");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(
        stat.is_empty() || stat.contains(") Z"),
        "server {pid} still running: {stat}"
    );
}

/// No process whose command line holds `marker` is running (`pgrep -f`).
/// A marker that starts with `--` is a pattern, not an option (pgrep took
/// it for one, failed, printed nothing, and the check passed whatever ran).
pub fn assert_nothing_left(marker: &str) {
    let left = Command::new("pgrep")
        .args(["-a", "-f", "--", marker])
        .output()
        .expect("pgrep runs");
    // 0: found some; 1: found none; anything else: pgrep could not look.
    assert!(
        matches!(left.status.code(), Some(0 | 1)),
        "pgrep failed: {}",
        String::from_utf8_lossy(&left.stderr)
    );
    assert!(
        left.stdout.is_empty(),
        "server left running: {}",
        String::from_utf8_lossy(&left.stdout)
    );
}

pub fn f64_at(value: &Value, pointer: &str) -> f64 {
    value
        .pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("no number at {pointer} in {value}"))
}

/// `mcpstorm serve --http 127.0.0.1:0 KNOBS`, started by the test; killed on drop.
pub struct HttpTarget {
    pub child: Child,
    pub url: String,
}

impl HttpTarget {
    pub fn start(knobs: &[&str]) -> HttpTarget {
        let mut child = Command::new(mcpstorm())
            .args(["serve", "--http", "127.0.0.1:0"])
            .args(knobs)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the target starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the target prints its address");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {line:?}"))
            .to_string();
        HttpTarget { child, url }
    }

    pub fn pid(&self) -> String {
        self.child.id().to_string()
    }

    /// `mcpstorm run SCENARIO ARGS` against this target, measured by its pid.
    pub fn run(&self, scenario: &str, args: &[&str]) -> Run {
        let pid = self.pid();
        let mut all = vec![scenario, "--url", &self.url, "--pid", &pid];
        all.extend(args);
        run(&all)
    }

    /// One raw POST, as a client that ignores the specification would send it.
    pub fn raw_post(&self, headers: &[&str], body: &str) -> String {
        let address = self.url.trim_start_matches("http://");
        let (host, _) = address.split_once('/').expect("a path");
        let mut stream = TcpStream::connect(host).expect("connects");
        let mut request = format!(
            "POST /mcp HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
             Accept: application/json, text/event-stream\r\nConnection: close\r\n\
             Content-Length: {}\r\n",
            body.len()
        );
        for header in headers {
            request.push_str(header);
            request.push_str("\r\n");
        }
        request.push_str("\r\n");
        request.push_str(body);
        stream.write_all(request.as_bytes()).expect("sends");
        let mut reply = String::new();
        stream.read_to_string(&mut reply).expect("reads");
        reply
    }
}

impl Drop for HttpTarget {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The memory a scenario's result attributes to each tool agrees with the
/// truth: `leaking` keeps `kb` a call, every other tool called keeps none,
/// each within a tenth of `kb`; `tools` were attributed, no more, no less.
pub fn assert_retained(result: &Value, leaking: &str, kb: f64, tools: usize) {
    let by_label = result["resources"]["retained_by_label"]
        .as_array()
        .unwrap_or_else(|| panic!("no attribution: {}", result["resources"]));
    assert_eq!(by_label.len(), tools, "{by_label:?}");
    assert!(
        by_label.iter().any(|e| e["label"] == leaking),
        "{leaking} not in {by_label:?}"
    );
    for entry in by_label {
        let read = f64_at(entry, "/kb_per_call");
        let truth = if entry["label"] == leaking { kb } else { 0.0 };
        assert!(
            (read - truth).abs() <= kb / 10.0,
            "{entry}: the truth is {truth} KB a call"
        );
    }
}
