#!/usr/bin/env bash
# Run the test suites several times in a row while CPU hogs hold every core,
# to prove that no test's verdict depends on the machine's load (a red CI run
# on a busy machine costs a whole session). Run it before submitting a change
# that touches a timing-sensitive test.
#
#   bash tests/stress.sh                 # 3 rounds of: cargo test, dashboard_tmux, peers
#   STRESS_RUNS=5 bash tests/stress.sh
#   STRESS_SUITES="default" bash tests/stress.sh
#
# STRESS_RUNS    rounds (default 3)
# STRESS_HOGS    busy loops beside the tests (default 2 per core: with the
#                tests' own work the load average reaches 6-10 on 2 cores)
# STRESS_SUITES  any of: default (cargo test), tmux (the dashboard in tmux),
#                peers (third-party servers; runs tests/peers/install.sh),
#                consumers (the output files' readers and the deploy kit's checks; runs
#                tests/consumers/install.sh)
#
# Each suite's output goes to target/stress/ROUND-SUITE.log; the last line is
# "stress: N passed, M failed" over every suite run, and the exit code is 1 if
# any failed.
set -uo pipefail
cd "$(dirname "$0")/.."

runs=${STRESS_RUNS:-3}
hogs=${STRESS_HOGS:-$(($(nproc) * 2))}
suites=${STRESS_SUITES:-default tmux peers}
logs=target/stress
mkdir -p "$logs"

suite_command() {
    case $1 in
        default) echo "cargo test --no-fail-fast" ;;
        tmux) echo "cargo test --test dashboard_tmux --no-fail-fast" ;;
        peers) echo "cargo test --test peers --test peers_tools --no-fail-fast" ;;
        consumers) echo "cargo test --test consumers --test deploy --no-fail-fast" ;;
        *) echo "unknown suite $1 (default, tmux, peers, consumers)" >&2; exit 2 ;;
    esac
}

# Build everything first, unhogged: the point is the tests' verdicts, not the
# compiler's speed.
for suite in $suites; do
    cmd=$(suite_command "$suite") || exit 2
    $cmd --no-run >/dev/null 2>&1 || { echo "build failed: $cmd --no-run" >&2; exit 2; }
    if [ "$suite" = peers ]; then
        bash tests/peers/install.sh >/dev/null || exit 2
    fi
    if [ "$suite" = consumers ]; then
        bash tests/consumers/install.sh >/dev/null || exit 2
    fi
done

hog_pids=()
stop_hogs() {
    for pid in "${hog_pids[@]}"; do kill "$pid" 2>/dev/null; done
    wait 2>/dev/null
}
trap stop_hogs EXIT
trap 'exit 130' INT TERM
for _ in $(seq "$hogs"); do
    sh -c 'while :; do :; done' &
    hog_pids+=("$!")
done
echo "stress: $hogs busy loops on $(nproc) cores; $runs rounds of: $suites"

passed=0
failed=0
for round in $(seq "$runs"); do
    for suite in $suites; do
        log="$logs/$round-$suite.log"
        start=$(date +%s)
        if $(suite_command "$suite") >"$log" 2>&1; then
            passed=$((passed + 1))
            verdict=ok
        else
            failed=$((failed + 1))
            verdict="FAILED (see $log)"
        fi
        load=$(cut -d' ' -f1 /proc/loadavg)
        echo "round $round $suite: $verdict in $(($(date +%s) - start)) s, load $load"
        grep -E '^test .* FAILED$|^---- ' "$log" | sed 's/^/    /'
    done
done
echo "stress: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
