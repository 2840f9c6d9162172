//! What the benchmarks share: the `echo` call as mcpstorm puts it on the
//! wire, and bare clients that send exactly those bytes to the built-in
//! target with nothing around them — no JSON parsing, no correlation, no
//! statistics, one blocking thread. The distance from a bare client to
//! mcpstorm, against the same server in the same run, is what mcpstorm itself
//! costs.

#![allow(dead_code)] // each benchmark uses its own part

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::json;

/// The built-in target, as cargo built it for the benchmarks.
pub const MCPSTORM: &str = env!("CARGO_BIN_EXE_mcpstorm");

/// The id of the bare clients' request (six digits, as mcpstorm's ids are
/// for most of a run).
pub const FIRST_ID: u64 = 100_000;

/// One `echo` call as mcpstorm sends it in the 2026-07-28 revision (with its
/// `_meta`), without the newline.
pub fn echo_request(id: u64) -> String {
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "mcpstorm", "version": "0.1.0"},
    });
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": format!("bench {id}")}, "_meta": meta}})
    .to_string()
}

/// The built-in target's answer to [`echo_request`], without the newline.
pub fn echo_response(id: u64) -> String {
    json!({"jsonrpc": "2.0", "id": id,
        "result": {"content": [{"type": "text", "text": format!("bench {id}")}], "resultType": "complete"}})
    .to_string()
}

/// The same call as a Streamable HTTP POST, with the headers mcpstorm sends
/// in the stateless revision.
pub fn echo_http_request(address: SocketAddr, path: &str, id: u64) -> Vec<u8> {
    let body = echo_request(id);
    format!(
        "POST {path} HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\n\
         accept: application/json, text/event-stream\r\nmcp-protocol-version: 2026-07-28\r\n\
         mcp-method: tools/call\r\nmcp-name: echo\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

/// `mcpstorm serve` over stdio, driven by one blocking thread. Every call
/// sends the same bytes, built once: the floor does no JSON work of its own
/// (the target needs no distinct ids, and the length is mcpstorm's).
pub struct BareStdio {
    target: Child,
    to_target: ChildStdin,
    from_target: BufReader<ChildStdout>,
    line: Vec<u8>,
    answer: Vec<u8>,
}

impl BareStdio {
    pub fn start() -> BareStdio {
        let mut target = Command::new(MCPSTORM)
            .arg("serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the target starts");
        let to_target = target.stdin.take().expect("stdin");
        let from_target = BufReader::new(target.stdout.take().expect("stdout"));
        let mut line = echo_request(FIRST_ID).into_bytes();
        line.push(b'\n');
        BareStdio {
            target,
            to_target,
            from_target,
            line,
            answer: Vec::with_capacity(256),
        }
    }

    /// One call: its line out, a line back.
    pub fn call(&mut self) {
        self.to_target
            .write_all(&self.line)
            .expect("send to the target");
        self.answer.clear();
        self.from_target
            .read_until(b'\n', &mut self.answer)
            .expect("an answer from the target");
        assert!(!self.answer.is_empty(), "the target hung up");
    }

    /// The target's process id (to read its CPU).
    pub fn target_pid(&self) -> u32 {
        self.target.id()
    }
}

impl Drop for BareStdio {
    fn drop(&mut self) {
        let _ = self.target.kill();
        let _ = self.target.wait();
    }
}

/// `mcpstorm serve --http` on a loopback port, stopped when dropped.
pub struct HttpTarget {
    process: Child,
    pub address: SocketAddr,
    pub path: String,
    /// Over TLS: the private CA's certificate (PEM) the target made.
    pub ca: Option<std::path::PathBuf>,
}

impl HttpTarget {
    pub fn start() -> HttpTarget {
        HttpTarget::started(&[], None)
    }

    /// The target over TLS, its private CA's certificate written into `dir`.
    pub fn start_tls(dir: &std::path::Path) -> HttpTarget {
        let dir_arg = dir.to_string_lossy().into_owned();
        HttpTarget::started(&["--tls-self-signed", &dir_arg], Some(dir.join("ca.pem")))
    }

    fn started(extra: &[&str], ca: Option<std::path::PathBuf>) -> HttpTarget {
        let mut process = Command::new(MCPSTORM)
            .args(["serve", "--http", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the HTTP target starts");
        // It prints "listening on http(s)://ADDRESS/PATH" once bound.
        let mut stdout = BufReader::new(process.stdout.take().expect("stdout"));
        let mut line = String::new();
        let rest = loop {
            line.clear();
            let read = stdout.read_line(&mut line).expect("the target's output");
            assert!(read > 0, "the HTTP target exited before listening");
            if let Some(at) = line.find("://") {
                break line[at + 3..].trim().to_string();
            }
        };
        // Keep draining its output so it never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let slash = rest.find('/').unwrap_or(rest.len());
        HttpTarget {
            process,
            address: rest[..slash].parse().expect("a socket address"),
            path: rest[slash..].to_string(),
            ca,
        }
    }

    pub fn pid(&self) -> u32 {
        self.process.id()
    }
}

impl Drop for HttpTarget {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// A stream a bare client reads and writes: TCP, or TLS over it.
pub trait Wire: Read + Write + Send {}
impl<T: Read + Write + Send> Wire for T {}

pub struct BareHttp {
    stream: BufReader<Box<dyn Wire>>,
    request: Vec<u8>,
    head: Vec<u8>,
    body: Vec<u8>,
}

impl BareHttp {
    /// One keep-alive connection to the target: TLS when it serves TLS
    /// (rustls, trusting its private CA), plain TCP otherwise.
    pub fn connect(target: &HttpTarget) -> BareHttp {
        let tcp = TcpStream::connect(target.address).expect("connects to the target");
        tcp.set_nodelay(true).expect("nodelay");
        let stream: Box<dyn Wire> = match &target.ca {
            Some(ca) => Box::new(tls_stream(tcp, ca)),
            None => Box::new(tcp),
        };
        BareHttp {
            stream: BufReader::new(stream),
            request: echo_http_request(target.address, &target.path, FIRST_ID),
            head: Vec::with_capacity(256),
            body: Vec::with_capacity(256),
        }
    }

    /// One call: the POST out, the head and its content-length of body back.
    pub fn call(&mut self) {
        self.stream
            .get_mut()
            .write_all(&self.request)
            .expect("send to the target");
        self.stream.get_mut().flush().expect("send to the target");
        self.head.clear();
        let mut content_length = 0usize;
        loop {
            let start = self.head.len();
            let read = self
                .stream
                .read_until(b'\n', &mut self.head)
                .expect("the answer's head");
            assert!(read > 0, "the target hung up");
            let line = &self.head[start..];
            if line == b"\r\n" {
                break;
            }
            let text = String::from_utf8_lossy(line).to_ascii_lowercase();
            if let Some(value) = text.strip_prefix("content-length:") {
                content_length = value.trim().parse().expect("a content length");
            }
        }
        assert!(
            self.head.starts_with(b"HTTP/1.1 200"),
            "the target refused: {}",
            String::from_utf8_lossy(&self.head)
        );
        self.body.resize(content_length, 0);
        self.stream
            .read_exact(&mut self.body)
            .expect("the answer's body");
    }
}

/// A TLS client stream over `tcp`, trusting the CA in `ca` (rustls on ring,
/// ALPN http/1.1: as mcpstorm's own client).
fn tls_stream(
    tcp: TcpStream,
    ca: &std::path::Path,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(ca).expect("the CA file") {
        roots.add(cert.expect("a CA certificate")).expect("a CA");
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("a server name");
    let connection =
        rustls::ClientConnection::new(std::sync::Arc::new(config), name).expect("a TLS client");
    rustls::StreamOwned::new(connection, tcp)
}

/// Sequential calls through `call`, timed one by one.
pub fn round_trips(calls: u64, mut call: impl FnMut()) -> (Histogram<u64>, Duration) {
    let mut latencies = histogram();
    let started = Instant::now();
    for _ in 0..calls {
        let sent = Instant::now();
        call();
        let _ = latencies.record(sent.elapsed().as_nanos() as u64);
    }
    (latencies, started.elapsed())
}

/// CPU time used so far by the calling thread.
pub fn thread_cpu_time() -> Duration {
    // SAFETY: getrusage writes one rusage into the zeroed value given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_THREAD, &mut usage);
        usage
    };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// CPU time (user + system) of a process so far, read as the probe reads it.
pub fn process_cpu_time(pid: u32) -> Option<Duration> {
    let ticks = mcpstorm::probe::procfs::read_stat(pid)?.cpu_ticks;
    let per_second = mcpstorm::probe::procfs::clock_ticks_per_second();
    Some(Duration::from_secs_f64(ticks as f64 / per_second as f64))
}
