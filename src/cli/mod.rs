//! The command line: what a user types, and the commands behind it. This is
//! the binary's edge, where errors become messages and exit codes.

mod compare;
mod discover;
mod init;
mod mcp_json;
mod merge;
mod outputs;
mod run;
mod secrets;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::acceptance::metrics::{METRICS, Scope};
use crate::builtin_server::FaultKnobs;
use crate::client::ProtocolChoice;
use crate::protocol::ProtocolVersion;
use crate::scenario::{self, builtin};
pub use crate::transport::TransportKind;
use crate::transport::custody;

/// Exit codes, as the README documents them.
pub mod exit {
    pub const PASS: u8 = 0;
    pub const FAIL: u8 = 1;
    pub const SETUP: u8 = 2;
    pub const HANGUP: u8 = 129;
    pub const INTERRUPTED: u8 = 130;
    pub const TERMINATED: u8 = 143;
}

#[derive(Debug, Parser)]
#[command(
    name = "mcpstorm",
    version,
    about = "Load-test MCP servers and judge whether they hold up.",
    long_about = "Load-test MCP servers and judge whether they hold up.\n\n\
        Without a command, runs the demo: a one-minute scenario against the built-in target \
        server with a slow memory leak, shown on the live dashboard."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenarios against a server (the built-in target when no command follows `--`).
    Run(RunArgs),
    /// A one-minute demo on the dashboard: the built-in target with a slow leak
    /// (what `mcpstorm` alone does).
    Demo(DemoArgs),
    /// Serve the built-in MCP target over stdio (or Streamable HTTP with
    /// --http), with optional fault knobs.
    Serve(ServeArgs),
    /// List a server's tools (with their input schemas), resources and prompts.
    Discover(DiscoverArgs),
    /// Write a scenario file for a server from its real tools: one call per
    /// tool, with arguments made from its schema for you to fill in.
    Init(InitArgs),
    /// List the built-in scenarios.
    Scenarios,
    /// Check scenario files (or built-in names) without running them.
    Check {
        /// Scenario files or built-in names.
        #[arg(required = true)]
        files: Vec<String>,
    },
    /// List the metrics that acceptance criteria can use.
    Metrics,
    /// Write a saved JSON report in other formats (--out junit=FILE): the
    /// same files a run's --out writes.
    Report(outputs::ReportArgs),
    /// Compare two saved runs (BASE.json NEW.json) per scenario, phase and
    /// tool: each difference and whether it is beyond noise, as Markdown;
    /// exit 1 when one crosses a --fail-on threshold.
    Compare(compare::CompareArgs),
    /// Merge the reports of a test's segments (runs given --segment I/N)
    /// into the report of the whole test: counts summed, percentiles from
    /// the merged histograms, criteria judged again.
    Merge(merge::MergeArgs),
    /// Internal: the watchdog that stops what mcpstorm started once it ends.
    #[command(name = "custody-watchdog", hide = true)]
    CustodyWatchdog { owner: String },
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Built-in scenario names or scenario files; all built-ins when none are given.
    pub scenarios: Vec<String>,
    /// Write the complete result as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Also write the result as KIND to FILE (repeatable; `-` is stdout):
    /// json, junit (JUnit XML: each criterion a test case), html (a
    /// self-contained page) or markdown (a summary, for a CI job's page);
    /// or serve live metrics: prometheus[=ADDR]
    /// (GET /metrics on 127.0.0.1:9464 unless ADDR).
    #[arg(long = "out", value_name = "KIND=FILE", value_parser = outputs::out_spec)]
    pub outs: Vec<outputs::OutSpec>,
    /// Print progress and a summary instead of the dashboard (the default when
    /// stdout or stdin is not a terminal).
    #[arg(long, conflicts_with = "tui")]
    pub headless: bool,
    /// Show the dashboard even when stdout or stdin is not a terminal.
    #[arg(long)]
    pub tui: bool,
    /// Per-call timeout in milliseconds (overrides the scenario's `timeout_ms`).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    pub timeout_ms: Option<u64>,
    /// How often the server's process tree is sampled, in milliseconds
    /// (overrides the scenario's `probe_interval_ms`; default 250, 4 per second).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    pub probe_interval_ms: Option<u64>,
    /// Largest message accepted from the server, in bytes (over HTTP: one
    /// whole reply; over HTTP+SSE: one event); a longer one is a protocol error.
    #[arg(long, value_name = "BYTES", default_value_t = crate::transport::stdio::DEFAULT_MAX_MESSAGE_BYTES)]
    pub max_message_bytes: usize,
    /// How long a server gets to be ready, in milliseconds: to accept
    /// connections (an HTTP server mcpstorm starts) and to answer the
    /// handshake. Calls have their own timeout (--timeout-ms).
    #[arg(long, value_name = "MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    pub startup_timeout_ms: u64,
    /// Measure only the first process of the server's tree whose command line
    /// contains TEXT, and its descendants, instead of the whole tree: the
    /// server under its wrapper (`npx`, `uv run`), whose own memory moves
    /// would otherwise mix with the server's.
    #[arg(long, value_name = "TEXT")]
    pub measure_process: Option<String>,
    /// Call TOOL in the automatic mixes (`auto = true`, as in the built-in
    /// `tools`) although it is not annotated read-only: your word that it is
    /// safe to call with generated arguments (repeatable).
    #[arg(long, value_name = "TOOL")]
    pub include: Vec<String>,
    /// Leave TOOL out of the automatic mixes (repeatable).
    #[arg(long, value_name = "TOOL")]
    pub exclude: Vec<String>,
    /// The objective of the capacity searches (`kind = "capacity"`, the
    /// built-in `capacity`) and of sessions as users (`kind = "sessions"`):
    /// "p99 < 100ms", "success_rate >= 0.999" or "rss < 512MB" (capacity
    /// alone), one a flag (repeatable); replaces the scenario's `p99_ms`,
    /// `success_rate` or `max_rss_mb`.
    #[arg(long, value_name = "OBJECTIVE", value_parser = crate::load::Objective::parse)]
    pub slo: Vec<crate::load::Objective>,
    /// Run the I-th of N shares of the test (1 ≤ I ≤ N): N mcpstorm
    /// processes, each given one segment, make exactly the whole test
    /// against one server (given by --url); `mcpstorm merge` joins their
    /// reports (docs/SCALING.md).
    #[arg(long, value_name = "I/N", value_parser = crate::load::Segment::parse)]
    pub segment: Option<crate::load::Segment>,
    /// Begin the load at this wall-clock time, so that segments on many
    /// machines begin together: RFC 3339 (`2026-12-01T09:30:00Z`) or Unix
    /// seconds; the server is connected to and its tools listed before.
    #[arg(long, value_name = "TIME", value_parser = parse_start_at)]
    pub start_at: Option<std::time::SystemTime>,
    /// Milliseconds a server gets to exit after its stdin closes (and again after SIGTERM).
    #[arg(long, value_name = "MS", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
    pub shutdown_grace_ms: u64,
    #[command(flatten)]
    pub target: TargetArgs,
}

impl TargetArgs {
    pub fn protocol_choice(&self) -> ProtocolChoice {
        self.protocol
            .map_or(ProtocolChoice::Auto, ProtocolChoice::Force)
    }
}

/// Which server to test and how to speak to it (shared by run and discover).
#[derive(Debug, Clone, Default, Args)]
pub struct TargetArgs {
    /// Speak exactly this protocol version (2024-11-05 … 2025-11-25 open with
    /// `initialize`; 2026-07-28 is stateless). By default mcpstorm probes with
    /// `server/discover` and falls back to `initialize`.
    #[arg(long, value_name = "VERSION", value_parser = parse_version)]
    pub protocol: Option<ProtocolVersion>,
    /// Take the server from an MCP client config file (`mcpServers` entries
    /// with `command`, `args`, `env`, or `url` and `headers`), instead of a
    /// command after `--`.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["server", "url", "server_cmd"])]
    pub config: Option<PathBuf>,
    /// The entry of --config to run (needed when it has several).
    #[arg(long = "server", value_name = "NAME", requires = "config")]
    pub server_name: Option<String>,
    /// Extra environment for the server (repeatable; values are never
    /// printed): NAME=VALUE, or NAME alone to pass on NAME from mcpstorm's own
    /// environment, which keeps the value off the command line.
    #[arg(long = "env", value_name = "NAME[=VALUE]")]
    pub env: Vec<String>,
    /// Extra environment for the server from a file of NAME=VALUE lines
    /// (blank lines and # comments skipped; repeatable).
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_files: Vec<PathBuf>,
    /// Test a Streamable HTTP endpoint, e.g. http://127.0.0.1:3001/mcp (or
    /// https://). A user:password@ in it is sent as Basic auth and shown as
    /// user:<redacted>@.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// HTTP header sent with every request, 'Name: value' (repeatable; values
    /// are never printed).
    #[arg(long = "header", value_name = "'NAME: VALUE'")]
    pub headers: Vec<String>,
    /// HTTP headers from a file of 'Name: value' lines (blank lines and #
    /// comments skipped; repeatable), to keep their values off the command line.
    #[arg(long = "header-file", value_name = "FILE")]
    pub header_files: Vec<PathBuf>,
    /// Send `Authorization: Bearer TOKEN` with the token read from FILE (its
    /// first line that is not blank or a # comment); never printed.
    #[arg(long, value_name = "FILE", conflicts_with = "bearer_token_env")]
    pub bearer_token_file: Option<PathBuf>,
    /// Send `Authorization: Bearer TOKEN` with the token from mcpstorm's own
    /// environment variable NAME, off the command line; never printed.
    #[arg(long, value_name = "NAME")]
    pub bearer_token_env: Option<String>,
    /// OAuth 2.1 client credentials (Streamable HTTP): this client's ID at
    /// the server's authorization server. A token is fetched before the run
    /// (the token endpoint found from the server's metadata, unless
    /// --oauth-token-url), sent on every request and fetched again before it
    /// expires; fetches are counted apart from the calls.
    #[arg(long, value_name = "ID", conflicts_with_all = ["bearer_token_file", "bearer_token_env"])]
    pub oauth_client_id: Option<String>,
    /// The OAuth client's secret, read from FILE (its first line that is
    /// not blank or a # comment); never printed.
    #[arg(
        long,
        value_name = "FILE",
        requires = "oauth_client_id",
        conflicts_with = "oauth_client_secret_env"
    )]
    pub oauth_client_secret_file: Option<PathBuf>,
    /// The OAuth client's secret, from mcpstorm's own environment variable
    /// NAME; never printed.
    #[arg(long, value_name = "NAME", requires = "oauth_client_id")]
    pub oauth_client_secret_env: Option<String>,
    /// The authorization server's token endpoint, instead of finding it from
    /// the server's metadata.
    #[arg(long, value_name = "URL", requires = "oauth_client_id")]
    pub oauth_token_url: Option<String>,
    /// The scopes to ask for (space-separated), instead of those the
    /// server's challenge or metadata names.
    #[arg(long, value_name = "SCOPES", requires = "oauth_client_id")]
    pub oauth_scope: Option<String>,
    /// Over HTTP: start this server for the run (one command line, quoted as
    /// a shell would) and measure its process tree; it is stopped at the end.
    /// Without --url, its address is the first http(s):// URL it prints. A
    /// command after `--` together with --url or --transport http does the same.
    #[arg(long, value_name = "COMMAND", conflicts_with = "server")]
    pub server_cmd: Option<String>,
    /// Over HTTP: measure this already running server process (and its
    /// descendants). Without --server-cmd or --pid, server-side figures are
    /// not measured.
    #[arg(long, value_name = "PID", requires = "url", conflicts_with_all = ["server_cmd", "server"])]
    pub pid: Option<u32>,
    /// Over HTTP: leave the session open at the end instead of ending it with DELETE.
    #[arg(long)]
    pub keep_session: bool,
    /// Over HTTP: follow the endpoint's 307 and 308 redirects (on its own
    /// host) before the run, and send the calls where they lead; each is
    /// said in the report's notes.
    #[arg(long)]
    pub follow_redirects: bool,
    /// Over HTTP: speak HTTP/2, every call a stream of one shared
    /// connection: over https:// when the server's ALPN chooses it (else
    /// HTTP/1.1, as the summary says), over http:// by prior knowledge
    /// (h2c). Without it, HTTP/1.1, as the MCP SDKs' clients speak it.
    #[arg(long)]
    pub http2: bool,
    /// https://: trust this CA's certificates (PEM) beside the platform's and
    /// the Mozilla roots: a private CA.
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// https://: accept any server certificate (a self-signed one): who
    /// answers is not checked, and the summary and the report say so.
    #[arg(long)]
    pub insecure: bool,
    /// https://: present this client certificate chain (PEM), with --key:
    /// mutual TLS.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// https://: the private key of --cert (PEM).
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,

    /// stdio, http (Streamable HTTP), or sse (the deprecated HTTP+SSE of
    /// 2024-11-05, --url naming its SSE endpoint, often …/sse); http is
    /// implied by --url, --server-cmd and --pid. `--transport http` (or sse)
    /// alone runs the built-in target over it.
    #[arg(long, value_enum, value_name = "KIND")]
    pub transport: Option<TransportKind>,
    /// The server command and its arguments, after `--`.
    #[arg(last = true, value_name = "SERVER_CMD")]
    pub server: Vec<String>,
}

impl Default for RunArgs {
    fn default() -> Self {
        RunArgs {
            scenarios: Vec::new(),
            report: None,
            outs: Vec::new(),
            headless: false,
            tui: false,
            timeout_ms: None,
            probe_interval_ms: None,
            max_message_bytes: crate::transport::stdio::DEFAULT_MAX_MESSAGE_BYTES,
            startup_timeout_ms: 30_000,
            shutdown_grace_ms: 2000,
            measure_process: None,
            include: Vec::new(),
            exclude: Vec::new(),
            slo: Vec::new(),
            segment: None,
            start_at: None,
            target: TargetArgs::default(),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct DiscoverArgs {
    /// Print the catalog as JSON.
    #[arg(long)]
    pub json: bool,
    /// How long to wait for each answer, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    pub timeout_ms: u64,
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Clone, Args)]
pub struct InitArgs {
    /// Write the scenario to FILE (never over an existing file without
    /// --force) instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace FILE if it exists.
    #[arg(long, requires = "output")]
    pub force: bool,
    /// How long to wait for each answer, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    pub timeout_ms: u64,
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Clone, Default, Args)]
pub struct DemoArgs {
    /// Write the complete result as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Also write the result as KIND to FILE (repeatable): json, junit,
    /// html, markdown; or prometheus[=ADDR] for live metrics.
    #[arg(long = "out", value_name = "KIND=FILE", value_parser = outputs::out_spec)]
    pub outs: Vec<outputs::OutSpec>,
    /// Print progress and a summary instead of the dashboard.
    #[arg(long)]
    pub headless: bool,
}

/// The demo target: a little latency and jitter, rare tool errors, a 24 MB
/// garbage-collection sawtooth, and a 2 KB/call leak that the memory criteria
/// catch within the minute.
pub const DEMO_TARGET_KNOBS: &[&str] = &[
    "--latency-ms",
    "1",
    "--jitter-ms",
    "4",
    "--fail-rate",
    "0.002",
    "--sawtooth-mb",
    "24",
    "--sawtooth-kb-per-call",
    "16",
    "--leak-kb",
    "2",
];

impl DemoArgs {
    fn into_run_args(self) -> Result<RunArgs, String> {
        let me = std::env::current_exe()
            .map_err(|e| format!("cannot find the mcpstorm binary for the demo target: {e}"))?;
        let mut server = vec![me.to_string_lossy().into_owned(), "serve".to_string()];
        server.extend(DEMO_TARGET_KNOBS.iter().map(|k| k.to_string()));
        Ok(RunArgs {
            scenarios: vec!["demo".to_string()],
            report: self.report,
            outs: self.outs,
            headless: self.headless,
            target: TargetArgs {
                server,
                ..TargetArgs::default()
            },
            ..RunArgs::default()
        })
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub knobs: FaultKnobs,
    #[command(flatten)]
    pub http: crate::builtin_server::http::HttpServeArgs,
}

fn parse_version(text: &str) -> Result<ProtocolVersion, String> {
    text.parse()
}

/// Run the parsed command line; returns the process exit code.
pub fn main(cli: Cli) -> ExitCode {
    match cli.command.unwrap_or(Command::Demo(DemoArgs::default())) {
        Command::Run(args) => in_custody(run::run(args)),
        Command::Demo(args) => match args.into_run_args() {
            Ok(args) => in_custody(run::run(args)),
            Err(error) => {
                eprintln!("mcpstorm: {error}");
                ExitCode::from(exit::SETUP)
            }
        },
        Command::Serve(args) => match runtime().map(|rt| rt.block_on(serve(args))) {
            Ok(Ok(())) => ExitCode::SUCCESS,
            Ok(Err(error)) => {
                eprintln!("mcpstorm serve: {error}");
                ExitCode::from(exit::SETUP)
            }
            Err(code) => code,
        },
        Command::Discover(args) => in_custody(discover::discover(args)),
        Command::Init(args) => in_custody(init::init(args)),
        // A plain blocking loop: no runtime.
        Command::CustodyWatchdog { owner } => custody::watchdog_main(&owner),
        Command::Scenarios => {
            for (name, text) in builtin::all() {
                let summary = scenario::file::parse(text, name)
                    .map(|s| first_sentence(&s.description))
                    .unwrap_or_else(|e| format!("(broken: {e})"));
                outln!("{name:<18} {summary}");
            }
            ExitCode::SUCCESS
        }
        Command::Check { files } => check(&files),
        Command::Report(args) => outputs::report(args),
        Command::Compare(args) => compare::compare(args),
        Command::Merge(args) => merge::merge(args),
        Command::Metrics => {
            for m in METRICS {
                let form = match m.scope() {
                    Scope::Calls => format!("{}[(phase[, label])]", m.name),
                    Scope::Run => m.name.to_string(),
                    Scope::Phase => format!("{}(phase)", m.name),
                    Scope::Label => format!("{}(label)", m.name),
                };
                let unit = if m.unit.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", m.unit)
                };
                outln!("{form:<44} {}{unit}", m.about);
            }
            ExitCode::SUCCESS
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| {
            eprintln!("mcpstorm: cannot start the async runtime: {error}");
            ExitCode::from(exit::SETUP)
        })
}

/// Run a command that starts servers: mcpstorm takes custody of every
/// process it starts, and at the end stops whatever is still left.
fn in_custody(command: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    if let Err(lost) = custody::take_custody() {
        eprintln!("mcpstorm: warning: {lost}");
    }
    // A load test opens many connections; the servers keep their own limit.
    crate::transport::fd_limit::raise();
    crate::engine::panics::install_recorder();
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    runtime.block_on(async {
        let code = command.await;
        let left = custody::sweep(custody::SWEEP_GRACE).await;
        if left > 0 {
            eprintln!(
                "mcpstorm: stopped {left} process(es) that the server(s) left running \
                 outside their process tree"
            );
        }
        code
    })
}

async fn serve(args: ServeArgs) -> std::io::Result<()> {
    if args.http.http.is_some() {
        crate::builtin_server::http::serve_http(args.knobs, args.http).await
    } else {
        crate::builtin_server::serve_stdio(args.knobs).await
    }
}

fn first_sentence(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.find(": ") {
        Some(i) => flat[..i].to_string(),
        None => flat,
    }
}

fn check(files: &[String]) -> ExitCode {
    let mut broken = false;
    for file in files {
        match scenario::load(file) {
            Ok(s) => outln!(
                "{file}: ok — scenario \"{}\", {} phase(s), {} criteria",
                s.name,
                s.phases.len(),
                s.criteria.list.len()
            ),
            Err(error) => {
                eprintln!("{error}");
                broken = true;
            }
        }
    }
    ExitCode::from(if broken { exit::SETUP } else { exit::PASS })
}

/// Furthest ahead `--start-at` may be: a typo of a day must not leave a
/// run waiting unseen.
const START_AT_MOST_AHEAD: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// `--start-at`: RFC 3339 or Unix seconds, at most a day ahead.
fn parse_start_at(text: &str) -> Result<std::time::SystemTime, String> {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};
    let text = text.trim();
    let at = match text.parse::<f64>() {
        Ok(seconds) if (0.0..1e11).contains(&seconds) => {
            UNIX_EPOCH + Duration::from_secs_f64(seconds)
        }
        Ok(_) => {
            return Err(format!(
                "{text:?} is not a time of this era in Unix seconds"
            ));
        }
        Err(_) => humantime::parse_rfc3339_weak(text).map_err(|e| {
            format!("expected RFC 3339 (2026-12-01T09:30:00Z) or Unix seconds, got {text:?}: {e}")
        })?,
    };
    if at
        .duration_since(SystemTime::now())
        .is_ok_and(|ahead| ahead > START_AT_MOST_AHEAD)
    {
        return Err(format!(
            "{text:?} is more than {} hours ahead",
            START_AT_MOST_AHEAD.as_secs() / 3600
        ));
    }
    Ok(at)
}
