#!/usr/bin/env bash
# mcpstorm's user-space instructions per call, counted by valgrind's callgrind.
# Unlike CPU time, an instruction count does not move with the host's load,
# so two builds can be compared on a noisy machine (this is how the per-call
# work was cut; see docs/BENCHMARKS.md). Kernel time (syscalls, context
# switches) is not in it: `cargo bench --bench own_cost` measures that.
#
# Each row runs the echo scenario twice under callgrind, with N and 3N calls,
# and divides the difference by 2N: start-up and set-up fall out, what is
# left is the cost of a call with everything that runs beside it (the stats
# aggregator's snapshots, the probe's samples).
#   - stdio: open model at 500 calls/s against `mcpstorm serve`;
#   - http: 16 calls in flight against `mcpstorm serve --http 127.0.0.1:0`.
#
#   bash benches/instructions.sh [BINARY...]    (default: target/release/mcpstorm)
#
# Needs valgrind (apt install valgrind). About 15 seconds per binary on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
if [ $# -eq 0 ]; then
    cargo build --release --quiet
    set -- target/release/mcpstorm
fi
CALLS=1000

source benches/http_target.sh
# The HTTP target is the first binary's, shared by every row.
start_http_target "$1"

# `instructions BINARY FILE ARGS...`: instructions callgrind counted in one run.
instructions() {
    local binary=$1 file=$2
    shift 2
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        "$binary" run --headless "$file" --report "$work/report.json" "$@" \
        2>&1 >/dev/null | grep -oP 'Collected : \K[0-9]+'
}

echo "| build | stdio, 500 calls/s: instructions per call | http, 16 in flight: instructions per call |"
echo "|---|---|---|"
for binary in "$@"; do
    row="| $binary |"
    for transport in stdio http; do
        declare -A counted=()
        for calls in $CALLS $((3 * CALLS)); do
            if [ "$transport" = stdio ]; then
                scenario "$work/s.toml" "{ kind = \"rate\", rate = 500, calls = $calls }"
                counted[$calls]=$(instructions "$binary" "$work/s.toml" -- "$binary" serve)
            else
                scenario "$work/s.toml" "{ kind = \"concurrent\", workers = 16, calls = $calls }"
                counted[$calls]=$(instructions "$binary" "$work/s.toml" --url "$url")
            fi
        done
        per_call=$(( (counted[$((3 * CALLS))] - counted[$CALLS]) / (2 * CALLS) ))
        row="$row $per_call |"
    done
    echo "$row"
done
