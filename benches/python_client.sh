#!/usr/bin/env bash
# mcpstorm against the official Python MCP SDK client, side by side in one run:
# sequential echo calls over stdio through `ClientSession` + `stdio_client`
# (benches/python_client.py) and through mcpstorm, against the same two
# servers: mcpstorm's built-in target and an echo server on the Python `mcp`
# package (tests/peers/echo_server.py). The SDK is pinned and installed into
# target/bench-venv from PyPI on first use.
#
#   bash benches/python_client.sh [CALLS]      (default 5000)
set -euo pipefail
cd "$(dirname "$0")/.."
CALLS=${1:-5000}
MCP_VERSION=2.3.0
VENV=target/bench-venv

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import mcp" 2>/dev/null; then
    echo "== pip: mcp==$MCP_VERSION into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "mcp==$MCP_VERSION"
fi
cargo build --release --quiet
MCPSTORM=target/release/mcpstorm
PYTHON="$VENV/bin/python"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/sequential.toml" <<TOML
name = "bench"
[[phase]]
name = "warmup"
load = { kind = "sequential", calls = 200 }
[[phase]]
name = "load"
load = { kind = "sequential", calls = $CALLS }
[[call]]
tool = "echo"
arguments = { message = "bench {seq}" }
TOML

# mcpstorm's figures for the measured phase, from its JSON report.
# The first argument is the protocol revision the SDK spoke: mcpstorm speaks
# the same one, so both send the same messages.
mcpstorm_row() {
    local protocol=$1
    shift
    "$MCPSTORM" run --headless "$work/sequential.toml" --report "$work/report.json" \
        --protocol "$protocol" -- "$@" >/dev/null 2>&1
    python3 - "$work/report.json" <<'PY'
import json, sys
result = json.load(open(sys.argv[1]))["scenarios"][0]["result"]
phase = result["phases"][1]
print(json.dumps({"protocol": result["server"]["protocol_version"],
                  "per_second": phase["throughput_per_s"],
                  "p50_us": phase["latency"]["p50_ms"] * 1000,
                  "p99_us": phase["latency"]["p99_ms"] * 1000}))
PY
}

echo "sequential echo calls over stdio, $CALLS measured after 200 to warm up ($(nproc) CPUs)"
echo
echo "| server | client | protocol | calls/s | p50 µs | p99 µs | mcpstorm ÷ SDK |"
echo "|---|---|---|---|---|---|---|"
for server in target python; do
    case $server in
        target) name="mcpstorm serve"; command=("$MCPSTORM" serve) ;;
        python) name="Python mcp $MCP_VERSION echo server"; command=("$PYTHON" tests/peers/echo_server.py) ;;
    esac
    sdk=$("$PYTHON" benches/python_client.py "$CALLS" "${command[@]}")
    protocol=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["protocol"])' "$sdk")
    ours=$(mcpstorm_row "$protocol" "${command[@]}")
    python3 - "$name" "$sdk" "$ours" <<'PY'
import json, sys
name, sdk, ours = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
ratio = ours["per_second"] / sdk["per_second"]
for client, row in (("Python SDK ClientSession", sdk), ("mcpstorm", ours)):
    print(f"| {name} | {client} | {row['protocol']} | {row['per_second']:,.0f} | "
          f"{row['p50_us']:.0f} | {row['p99_us']:.0f} | "
          f"{'%.1f×' % ratio if client == 'mcpstorm' else ''} |")
PY
done
