//! mcpstorm against the physical floor, side by side in one run:
//! `cargo bench --bench overhead` (release build; a few minutes).
//!
//! 1. The floor: a request/response ping-pong of the same byte sizes as an
//!    MCP `echo` call, over a pipe pair between two processes (this program
//!    re-run as the peer) and over loopback TCP — what the machine allows.
//! 2. mcpstorm over stdio against the built-in target's `echo`: sequential
//!    round trips (p50, p99, calls/s), then 16 and 64 requests in flight,
//!    with the target's CPU beside them (at saturation the server, not
//!    mcpstorm, should be the limit).
//!
//! Each figure is printed with its ratio to the floor measured in the same
//! run; these machines are noisy, and a lone absolute time means little.
//! `docs/BENCHMARKS.md` keeps the results and how to read them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Value, json};

/// Round trips per floor measurement, and calls per mcpstorm phase.
const FLOOR_ROUND_TRIPS: u64 = 20_000;
const SEQUENTIAL_CALLS: u64 = 20_000;
const CONCURRENT_CALLS: u64 = 60_000;

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
    let (request, response) = message_sizes();
    println!("mcpstorm overhead benchmark ({} CPUs)", cores());
    println!("echo call on the wire: request {request} B, response {response} B\n");

    let pipe = pipe_floor(request, response);
    let tcp = tcp_floor(request, response);
    let sequential = mcpstorm_phase("sequential", SEQUENTIAL_CALLS, 1);
    let in_flight_16 = mcpstorm_phase("16 in flight", CONCURRENT_CALLS, 16);
    let in_flight_64 = mcpstorm_phase("64 in flight", CONCURRENT_CALLS, 64);

    println!(
        "| measurement | p50 µs | p99 µs | round trips/s | p50 vs pipe floor | server CPU max |"
    );
    println!("|---|---|---|---|---|---|");
    for row in [&pipe, &tcp, &sequential, &in_flight_16, &in_flight_64] {
        println!(
            "| {} | {:.1} | {:.1} | {:.0} | {:.2}× | {} |",
            row.name,
            row.p50_us,
            row.p99_us,
            row.per_second,
            row.p50_us / pipe.p50_us,
            row.server_cpu
                .map_or("—".to_string(), |cpu| format!("{cpu:.0} %"))
        );
    }
    println!(
        "\nmcpstorm's sequential overhead at p50: {:.1} µs over the pipe floor ({:.2}× its round trip).",
        sequential.p50_us - pipe.p50_us,
        sequential.p50_us / pipe.p50_us
    );
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

/// The bytes of one `echo` call as mcpstorm sends it (2026-07-28, with its
/// `_meta`) and as the built-in target answers it, newline included.
fn message_sizes() -> (usize, usize) {
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "mcpstorm", "version": "0.1.0"},
    });
    let request = json!({"jsonrpc": "2.0", "id": 12345, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": "bench 12345"}, "_meta": meta}});
    let response = json!({"jsonrpc": "2.0", "id": 12345,
        "result": {"content": [{"type": "text", "text": "bench 12345"}], "resultType": "complete"}});
    (line_len(&request), line_len(&response))
}

fn line_len(message: &Value) -> usize {
    message.to_string().len() + 1
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

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
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
    let mut latencies = histogram();
    let started = Instant::now();
    for _ in 0..FLOOR_ROUND_TRIPS {
        let sent = Instant::now();
        writer.write_all(&line).expect("send to the peer");
        answer.clear();
        reader
            .read_until(b'\n', &mut answer)
            .expect("receive from the peer");
        let _ = latencies.record(sent.elapsed().as_nanos() as u64);
    }
    (latencies, started.elapsed())
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

/// One phase of mcpstorm (release build, headless) against `mcpstorm serve`
/// over stdio; its figures read from the JSON report.
fn mcpstorm_phase(name: &str, calls: u64, in_flight: u32) -> Row {
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
load = {{ kind = "sequential", calls = 2000 }}
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
    let mcpstorm = env!("CARGO_BIN_EXE_mcpstorm");
    let status = Command::new(mcpstorm)
        .arg("run")
        .arg("--headless")
        .arg(&scenario)
        .arg("--report")
        .arg(&report)
        .args(["--", mcpstorm, "serve"])
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
        name: format!("mcpstorm stdio, {name}"),
        p50_us: number(&phase["latency"]["p50_ms"]) * 1000.0,
        p99_us: number(&phase["latency"]["p99_ms"]) * 1000.0,
        per_second: number(&phase["throughput_per_s"]),
        server_cpu: result["resources"]["cpu_max_percent"].as_f64(),
    }
}
