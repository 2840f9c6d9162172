#!/usr/bin/env bash
# mcpstorm against oha, the HTTP load generator, over Streamable HTTP, side by
# side in one run: both post the same `tools/call` echo body with the same
# headers (2026-07-28: MCP-Protocol-Version, Mcp-Method, Mcp-Name) to one
# `mcpstorm serve --http` on 127.0.0.1, at 1, 16 and 64 requests in flight.
# oha knows nothing of MCP: it sends the same bytes and times the answers, the
# least an HTTP client can do. The target's CPU is read from /proc around each
# run. oha is pinned and installed into target/bench-tools on first use
# (cargo install; a few minutes).
#
#   bash benches/http_oha.sh [CALLS]      (default 50000 per run)
set -euo pipefail
cd "$(dirname "$0")/.."
CALLS=${1:-50000}
WARMUP=2000
OHA_VERSION=1.16.0
TOOLS=target/bench-tools
OHA=$TOOLS/bin/oha

if ! "$OHA" --version 2>/dev/null | grep -q "$OHA_VERSION"; then
    echo "== cargo install oha $OHA_VERSION into $TOOLS" >&2
    cargo install oha --version "$OHA_VERSION" --locked --root "$TOOLS" --quiet
fi
cargo build --release --quiet
MCPSTORM=target/release/mcpstorm

source benches/http_target.sh
start_http_target "$MCPSTORM"

# The body mcpstorm sends for this call, its `_meta` included.
body='{"jsonrpc":"2.0","id":100000,"method":"tools/call","params":{"name":"echo","arguments":{"message":"bench 100000"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"mcpstorm","version":"0.1.0"}}}}'
headers=(-H "content-type: application/json" -H "accept: application/json, text/event-stream"
         -H "mcp-protocol-version: 2026-07-28" -H "mcp-method: tools/call" -H "mcp-name: echo")

ticks() { awk '{print $14 + $15}' "/proc/$target_pid/stat"; }
clock_ticks=$(getconf CLK_TCK)

# `oha_row IN_FLIGHT` / `mcpstorm_row IN_FLIGHT`: one client's figures as a
# JSON line; the target's CPU is its /proc ticks over the measured run's wall time.
oha_row() {
    local in_flight=$1
    "$OHA" -n "$WARMUP" -c "$in_flight" -m POST "${headers[@]}" -d "$body" --no-tui "$url" >/dev/null
    local before after started ended
    before=$(ticks); started=$(date +%s.%N)
    "$OHA" -n "$CALLS" -c "$in_flight" -m POST "${headers[@]}" -d "$body" --no-tui \
        --output-format json "$url" > "$work/oha.json"
    after=$(ticks); ended=$(date +%s.%N)
    python3 - "$work/oha.json" "$before" "$after" "$started" "$ended" "$clock_ticks" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
before, after, started, ended, hz = map(float, sys.argv[2:])
summary, pct = report["summary"], report["latencyPercentiles"]
codes = report.get("statusCodeDistribution", {})
print(json.dumps({"per_second": summary["requestsPerSec"], "p50_us": pct["p50"] * 1e6,
                  "p99_us": pct["p99"] * 1e6, "ok": codes.get("200", 0),
                  "server_cpu": (after - before) / hz / (ended - started) * 100}))
PY
}

# mcpstorm warms up in a run of its own, as oha does, so the target's CPU is
# read around the measured calls alone.
mcpstorm_row() {
    local in_flight=$1 load
    if [ "$in_flight" = 1 ]; then
        load="{ kind = \"sequential\", calls = $CALLS }"
    else
        load="{ kind = \"concurrent\", workers = $in_flight, calls = $CALLS }"
    fi
    scenario "$work/warmup.toml" "{ kind = \"sequential\", calls = $WARMUP }"
    scenario "$work/bench.toml" "$load"
    "$MCPSTORM" run --headless "$work/warmup.toml" --url "$url" >/dev/null 2>&1
    local before after started ended
    before=$(ticks); started=$(date +%s.%N)
    "$MCPSTORM" run --headless "$work/bench.toml" --report "$work/report.json" \
        --url "$url" --pid "$target_pid" >/dev/null 2>&1
    after=$(ticks); ended=$(date +%s.%N)
    python3 - "$work/report.json" "$before" "$after" "$started" "$ended" "$clock_ticks" <<'PY'
import json, sys
phase = json.load(open(sys.argv[1]))["scenarios"][0]["result"]["phases"][0]
before, after, started, ended, hz = map(float, sys.argv[2:])
print(json.dumps({"per_second": phase["throughput_per_s"], "p50_us": phase["latency"]["p50_ms"] * 1000,
                  "p99_us": phase["latency"]["p99_ms"] * 1000, "ok": phase["outcomes"]["ok"],
                  "server_cpu": (after - before) / hz / (ended - started) * 100}))
PY
}

echo "echo calls over Streamable HTTP (2026-07-28) to mcpstorm serve --http, $CALLS per run after $WARMUP to warm up ($(nproc) CPUs)"
echo
echo "| in flight | client | calls/s | p50 µs | p99 µs | answered 200/ok | target CPU | mcpstorm ÷ oha calls/s |"
echo "|---|---|---|---|---|---|---|---|"
for in_flight in 1 16 64; do
    theirs=$(oha_row "$in_flight")
    ours=$(mcpstorm_row "$in_flight")
    python3 - "$in_flight" "$theirs" "$ours" <<'PY'
import json, sys
in_flight, theirs, ours = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
ratio = ours["per_second"] / theirs["per_second"]
for client, row in (("oha", theirs), ("mcpstorm", ours)):
    print(f"| {in_flight} | {client} | {row['per_second']:,.0f} | {row['p50_us']:.0f} | "
          f"{row['p99_us']:.0f} | {row['ok']:,} | {row['server_cpu']:.0f} % | "
          f"{'%.2f×' % ratio if client == 'mcpstorm' else ''} |")
PY
done
