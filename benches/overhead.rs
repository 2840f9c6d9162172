//! mcpstorm against the physical floor, side by side in one run:
//! `cargo bench --bench overhead` (release build; a few minutes).
//!
//! 1. The floor: a request/response ping-pong of the same byte sizes as an
//!    MCP `echo` call, over a pipe pair between two processes (this program
//!    re-run as the peer) and over loopback TCP — what the machine allows.
//! 2. A bare client against the built-in target, over stdio, HTTP and HTTPS:
//!    the same bytes mcpstorm sends, from one blocking thread with nothing
//!    around them. The floor plus the target's own work; what mcpstorm adds
//!    is its distance from this row.
//! 3. mcpstorm against the target's `echo`, over stdio and Streamable HTTP
//!    (plain, and over TLS with the target's private CA, in HTTP/1.1 and
//!    with `--http2`):
//!    sequential round trips (p50, p99, calls/s), then 16 and 64 requests in
//!    flight, with the target's CPU beside them (at saturation the server,
//!    not mcpstorm, should be the limit).
//!
//! Each figure is printed with its ratio to the floor measured in the same
//! run; these machines are noisy, and a lone absolute time means little.
//! `docs/BENCHMARKS.md` keeps the results and how to read them.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{BareHttp, BareStdio, FIRST_ID, HttpTarget, MCPSTORM, round_trips};
use hdrhistogram::Histogram;
use serde_json::Value;

/// Round trips per floor measurement, and calls per mcpstorm phase.
const FLOOR_ROUND_TRIPS: u64 = 20_000;
const SEQUENTIAL_CALLS: u64 = 20_000;
const CONCURRENT_CALLS: u64 = 60_000;
/// mcpstorm's measured phases over each transport: name, calls, in flight.
const MCPSTORM_RUNS: [(&str, u64, u32); 3] = [
    ("sequential", SEQUENTIAL_CALLS, 1),
    ("16 in flight", CONCURRENT_CALLS, 16),
    ("64 in flight", CONCURRENT_CALLS, 64),
];
/// Calls before any timing starts, for every client.
const WARMUP_CALLS: u64 = 2_000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // The floor's peer: this program, re-run with `--pipe-echo N`.
    if let Some(position) = args.iter().position(|a| a == "--pipe-echo") {
        let bytes = args
            .get(position + 1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        return pipe_echo(bytes);
    }
    let request = common::echo_request(FIRST_ID).len() + 1;
    let response = common::echo_response(FIRST_ID).len() + 1;
    println!("mcpstorm overhead benchmark ({} CPUs)", cores());
    println!("echo call on the wire (stdio): request {request} B, response {response} B\n");

    let pipe = pipe_floor(request, response);
    let tcp = tcp_floor(request, response);
    let bare_stdio = bare_stdio_row();
    let stdio = MCPSTORM_RUNS
        .map(|(name, calls, in_flight)| mcpstorm_phase(Transport::Stdio, name, calls, in_flight));
    let bare_http = bare_http_row(None);
    let http = MCPSTORM_RUNS
        .map(|(name, calls, in_flight)| mcpstorm_phase(Transport::Http, name, calls, in_flight));
    let tls_dir = std::env::temp_dir().join(format!("mcpstorm-bench-tls-{}", std::process::id()));
    let bare_https = bare_http_row(Some(&tls_dir));
    let https = MCPSTORM_RUNS
        .map(|(name, calls, in_flight)| mcpstorm_phase(Transport::Https, name, calls, in_flight));
    let https2 = MCPSTORM_RUNS
        .map(|(name, calls, in_flight)| mcpstorm_phase(Transport::Https2, name, calls, in_flight));
    let _ = std::fs::remove_dir_all(&tls_dir);

    println!(
        "| measurement | p50 µs | p99 µs | calls/s | p50 vs pipe floor | p50 over bare client | server CPU |"
    );
    println!("|---|---|---|---|---|---|---|");
    let print = |row: &Row, bare: Option<&Row>| {
        println!(
            "| {} | {:.1} | {:.1} | {:.0} | {:.2}× | {} | {} |",
            row.name,
            row.p50_us,
            row.p99_us,
            row.per_second,
            row.p50_us / pipe.p50_us,
            bare.map_or("—".to_string(), |bare| format!(
                "{:+.1} µs",
                row.p50_us - bare.p50_us
            )),
            row.server_cpu
                .map_or("—".to_string(), |cpu| format!("{cpu:.0} %"))
        );
    };
    print(&pipe, None);
    print(&tcp, None);
    print(&bare_stdio, None);
    // Only a sequential row compares with the bare client, which is
    // sequential too; with calls in flight the difference is queueing.
    for (index, row) in stdio.iter().enumerate() {
        print(row, (index == 0).then_some(&bare_stdio));
    }
    print(&bare_http, None);
    for (index, row) in http.iter().enumerate() {
        print(row, (index == 0).then_some(&bare_http));
    }
    print(&bare_https, None);
    for (index, row) in https.iter().enumerate() {
        print(row, (index == 0).then_some(&bare_https));
    }
    // The bare client speaks HTTP/1.1: HTTP/2 rows compare with the floor.
    for row in &https2 {
        print(row, None);
    }
    println!(
        "\nmcpstorm's own share of a sequential call at p50: {:.1} µs over stdio, {:.1} µs over HTTP, \
         {:.1} µs over HTTPS (its p50 less the bare client's, against the same target).",
        stdio[0].p50_us - bare_stdio.p50_us,
        http[0].p50_us - bare_http.p50_us,
        https[0].p50_us - bare_https.p50_us,
    );
}

#[derive(Clone, Copy)]
enum Transport {
    Stdio,
    Http,
    Https,
    /// HTTPS with `--http2`: every call a stream of one connection.
    Https2,
}

struct Row {
    name: String,
    p50_us: f64,
    p99_us: f64,
    per_second: f64,
    server_cpu: Option<f64>,
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The peer of the pipe floor: answer every line with a line of `bytes`.
fn pipe_echo(bytes: usize) {
    let answer = line_of(bytes);
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    let mut line = String::new();
    let mut reader = stdin.lock();
    while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
        if stdout
            .write_all(&answer)
            .and_then(|_| stdout.flush())
            .is_err()
        {
            return;
        }
        line.clear();
    }
}

fn line_of(bytes: usize) -> Vec<u8> {
    let mut line = vec![b'x'; bytes.saturating_sub(1)];
    line.push(b'\n');
    line
}

fn row(name: &str, latencies: &Histogram<u64>, elapsed: Duration) -> Row {
    Row {
        name: name.to_string(),
        p50_us: latencies.value_at_quantile(0.5) as f64 / 1000.0,
        p99_us: latencies.value_at_quantile(0.99) as f64 / 1000.0,
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        server_cpu: None,
    }
}

/// Sequential round trips: a line of `request` bytes out, a line back; the
/// writer and reader are dropped at the end, which ends the peer.
fn ping_pong(
    mut writer: impl Write,
    mut reader: impl BufRead,
    request: usize,
    response: usize,
) -> (Histogram<u64>, Duration) {
    let line = line_of(request);
    let mut answer = Vec::with_capacity(response);
    round_trips(FLOOR_ROUND_TRIPS, || {
        writer.write_all(&line).expect("send to the peer");
        answer.clear();
        reader
            .read_until(b'\n', &mut answer)
            .expect("receive from the peer");
    })
}

/// Sequential round trips over a pipe pair to another process.
fn pipe_floor(request: usize, response: usize) -> Row {
    let exe = std::env::current_exe().expect("the benchmark's own path");
    let mut peer = Command::new(exe)
        .args(["--pipe-echo", &response.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the pipe peer starts");
    let to_peer = peer.stdin.take().expect("stdin");
    let from_peer = BufReader::new(peer.stdout.take().expect("stdout"));
    let (latencies, elapsed) = ping_pong(to_peer, from_peer, request, response);
    let _ = peer.wait();
    row("floor: pipe pair, 2 processes", &latencies, elapsed)
}

/// Sequential round trips over one loopback TCP connection (TCP_NODELAY).
fn tcp_floor(request: usize, response: usize) -> Row {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let address = listener.local_addr().expect("its address");
    let peer = std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("the client connects");
        stream.set_nodelay(true).expect("nodelay");
        let answer = line_of(response);
        let mut writer = stream.try_clone().expect("a second handle");
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
            if writer.write_all(&answer).is_err() {
                return;
            }
            line.clear();
        }
    });
    let stream = TcpStream::connect(address).expect("connects");
    stream.set_nodelay(true).expect("nodelay");
    let writer = stream.try_clone().expect("a second handle");
    let (latencies, elapsed) = ping_pong(writer, BufReader::new(stream), request, response);
    let _ = peer.join();
    row("floor: loopback TCP, 2 threads", &latencies, elapsed)
}

/// The bare stdio client against `mcpstorm serve`, with the target's CPU.
fn bare_stdio_row() -> Row {
    let mut client = BareStdio::start();
    let pid = client.target_pid();
    measured_bare("bare client → target, stdio", pid, || client.call())
}

/// The bare HTTP client against `mcpstorm serve --http`, one connection;
/// over TLS when `tls` names a directory for the target's private CA.
fn bare_http_row(tls: Option<&std::path::Path>) -> Row {
    let (target, name) = match tls {
        Some(dir) => (HttpTarget::start_tls(dir), "bare client → target, HTTPS"),
        None => (HttpTarget::start(), "bare client → target, HTTP"),
    };
    let mut client = BareHttp::connect(&target);
    measured_bare(name, target.pid(), || client.call())
}

/// Warm up, then time sequential calls; the target's CPU over the timed part.
fn measured_bare(name: &str, target: u32, mut call: impl FnMut()) -> Row {
    for _ in 0..WARMUP_CALLS {
        call();
    }
    let cpu_before = common::process_cpu_time(target);
    let (latencies, elapsed) = round_trips(SEQUENTIAL_CALLS, call);
    let cpu = common::process_cpu_time(target)
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    let mut row = row(name, &latencies, elapsed);
    row.server_cpu = cpu.map(|cpu| cpu.as_secs_f64() / elapsed.as_secs_f64() * 100.0);
    row
}

/// One phase of mcpstorm (release build, headless) against `mcpstorm serve`,
/// over stdio or HTTP; its figures read from the JSON report.
fn mcpstorm_phase(transport: Transport, name: &str, calls: u64, in_flight: u32) -> Row {
    let dir = std::env::temp_dir().join(format!("mcpstorm-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let scenario = dir.join("bench.toml");
    let load = if in_flight == 1 {
        format!(r#"{{ kind = "sequential", calls = {calls} }}"#)
    } else {
        format!(r#"{{ kind = "concurrent", workers = {in_flight}, calls = {calls} }}"#)
    };
    let text = format!(
        r#"
name = "bench"
[[phase]]
name = "warmup"
load = {{ kind = "sequential", calls = {WARMUP_CALLS} }}
[[phase]]
name = "load"
load = {load}
[[call]]
tool = "echo"
arguments = {{ message = "bench {{seq}}" }}
"#
    );
    std::fs::write(&scenario, text).expect("the scenario is written");
    let report = dir.join("report.json");
    let mut command = Command::new(MCPSTORM);
    command
        .arg("run")
        .arg("--headless")
        .arg(&scenario)
        .arg("--report")
        .arg(&report);
    let transport_name = match transport {
        Transport::Stdio => {
            command.args(["--", MCPSTORM, "serve"]);
            "stdio"
        }
        Transport::Http => {
            command.args([
                "--server-cmd",
                &format!("{MCPSTORM} serve --http 127.0.0.1:0"),
            ]);
            "HTTP"
        }
        Transport::Https | Transport::Https2 => {
            let tls = dir.join("tls");
            command
                .arg("--server-cmd")
                .arg(format!(
                    "{MCPSTORM} serve --http 127.0.0.1:0 --tls-self-signed {}",
                    tls.display()
                ))
                .arg("--cacert")
                .arg(tls.join("ca.pem"));
            if matches!(transport, Transport::Https2) {
                command.arg("--http2");
                "HTTPS, HTTP/2"
            } else {
                "HTTPS"
            }
        }
    };
    let status = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("mcpstorm runs");
    assert!(status.success(), "mcpstorm failed the bench scenario");
    let mut text = String::new();
    std::fs::File::open(&report)
        .and_then(|mut f| f.read_to_string(&mut text))
        .expect("the report is written");
    let _ = std::fs::remove_dir_all(&dir);
    let report: Value = serde_json::from_str(&text).expect("the report is JSON");
    let result = &report["scenarios"][0]["result"];
    let phase = &result["phases"][1];
    let number = |value: &Value| value.as_f64().unwrap_or(f64::NAN);
    Row {
        name: format!("mcpstorm {transport_name}, {name}"),
        p50_us: number(&phase["latency"]["p50_ms"]) * 1000.0,
        p99_us: number(&phase["latency"]["p99_ms"]) * 1000.0,
        per_second: number(&phase["throughput_per_s"]),
        server_cpu: result["resources"]["cpu_max_percent"].as_f64(),
    }
}
