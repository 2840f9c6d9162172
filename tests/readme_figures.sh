#!/usr/bin/env bash
# Re-measure every figure the README quotes about builds, test runs and the
# built-in scenarios, and re-capture its sample outputs, so that none of them
# goes stale. Run it on a quiet machine; it writes:
#
#   assets/figures.txt    the machine, the date and each measured time
#   assets/headless.txt   `mcpstorm run --headless` of the six reference scenarios
#   assets/dashboard.txt  the demo 40 s in, as tmux shows it at 120x40
#   assets/dashboard.ansi the same with colours (view it with `cat`)
#   assets/capacity.txt   a capacity search's final view, at 120x40 (and .ansi)
#
# FIGURES_COLD_BUILD=0 skips the cold builds (about 2.5 minutes on a quiet
# 2-core machine; they use their own target directory, target/cold-build, so
# the project's target/ is kept). Needs tmux for the dashboard capture.
set -euo pipefail
cd "$(dirname "$0")/.."

figures=assets/figures.txt
bin=target/release/mcpstorm

mkdir -p target
log=target/readme_figures.log
: >"$log"
seconds_of() {
    local start end
    start=$(date +%s.%N)
    "$@" >>"$log" 2>&1 || { echo "failed: $* (its output: $log)" >&2; tail -40 "$log" >&2; return 1; }
    end=$(date +%s.%N)
    python3 -c "print(f'{$end - $start:.1f}')"
}

{
    echo "# Figures the README quotes, measured by bash tests/readme_figures.sh"
    echo "date: $(date -u +%Y-%m-%d)"
    echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GiB, Linux $(uname -r)"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "rustc: $(rustc --version)"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
} >"$figures"

if [ "${FIGURES_COLD_BUILD:-1}" != 0 ]; then
    rm -rf target/cold-build
    echo "cold cargo build --release: $(CARGO_TARGET_DIR=target/cold-build seconds_of cargo build --release) s" >>"$figures"
    echo "cold cargo test --no-run: $(CARGO_TARGET_DIR=target/cold-build seconds_of cargo test --no-run) s" >>"$figures"
    rm -rf target/cold-build
fi

cargo build --release >/dev/null 2>&1
cargo test --no-run >/dev/null 2>&1
echo "cargo test (built, quiet machine): $(seconds_of cargo test) s" >>"$figures"

# The default run: every built-in scenario but tools and the demo, each
# scenario's own time from the report.
report=$(mktemp)
echo "mcpstorm run --headless (the eight default scenarios): $(seconds_of "$bin" run --headless --report "$report") s" >>"$figures"
python3 - "$report" >>"$figures" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
for scenario in report["scenarios"]:
    print(f"  {scenario['name']}: {scenario['result']['elapsed_s']:.1f} s, {scenario['verdict']}")
EOF

reference=(sequential concurrent memory-leak latency-stability mixed coldstart)
echo "mcpstorm run --headless ${reference[*]}: $(seconds_of "$bin" run --headless "${reference[@]}") s" >>"$figures"
"$bin" run --headless "${reference[@]}" >assets/headless.txt 2>/dev/null

# The demo 40 s in, at 120x40, as a person sees it; then to its end, and
# once more headless, for mcpstorm's own CPU and RSS (its /proc/self samples,
# in the report's probe series).
session=mcpstorm-figures-$$
demo_tui=$(mktemp -d)
trap 'rm -f "$report"; rm -rf "$demo_tui"' EXIT
tmux kill-session -t "$session" 2>/dev/null || true
tmux new-session -d -s "$session" -x 120 -y 40 \
    "PATH=$PWD/target/release:\$PATH mcpstorm demo --report $demo_tui/tui.json; sleep 30"
sleep 40
tmux capture-pane -p -t "$session" >assets/dashboard.txt
tmux capture-pane -p -e -t "$session" >assets/dashboard.ansi
# The demo lasts a minute; its final view waits for q.
sleep 25
tmux send-keys -t "$session" q
for _ in $(seq 100); do [ -s "$demo_tui/tui.json" ] && break; sleep 0.2; done
tmux kill-session -t "$session" 2>/dev/null || true
"$bin" demo --headless --report "$demo_tui/headless.json" >/dev/null 2>&1 || true

# A capacity search's final view, at 120x40 (it ends some 23 s in): 2 s
# steps against a target whose one thread spends 5 ms of CPU a call (200
# calls/s at most).
cat >"$demo_tui/capacity.toml" <<'TOML'
name = "capacity"
timeout_ms = 5000
[[phase]]
name = "search"
load = { kind = "capacity", start_rate = 20, max_rate = 2000, step_s = 2, p99_ms = 50 }
[[call]]
tool = "echo"
arguments = { message = "x" }
[acceptance]
"crashes == 0" = {}
"capacity_per_s >= 150" = {}
TOML
tmux new-session -d -s "$session" -x 120 -y 40 \
    "PATH=$PWD/target/release:\$PATH mcpstorm run $demo_tui/capacity.toml --report $demo_tui/capacity.json -- mcpstorm serve --busy-ms 5; sleep 30"
sleep 30
tmux capture-pane -p -t "$session" >assets/capacity.txt
tmux capture-pane -p -e -t "$session" >assets/capacity.ansi
tmux kill-session -t "$session" 2>/dev/null || true
python3 - "$demo_tui/tui.json" "$demo_tui/headless.json" >>"$figures" <<'PY'
import json, sys
for name, path in zip(["dashboard", "headless"], sys.argv[1:]):
    series = json.load(open(path))["scenarios"][0]["result"]["resources"]["series"]
    # The first samples precede the first CPU window (they read 0).
    cpu = [p["self_cpu_percent"] for p in series[4:]]
    rss = max(p["self_rss_mb"] for p in series)
    print(f"demo, mcpstorm's own CPU {name}: {sum(cpu) / len(cpu):.1f} % of a core on average, "
          f"peak {max(cpu):.0f} %; RSS at most {rss:.1f} MB ({len(series)} samples)")
PY

# The README's two sample blocks, from the files just written: the block
# after each `<!-- figures:NAME … -->` marker is replaced.
python3 - <<'PY'
import re

def scenario_block(text, name):
    """One scenario's summary, from its `━━ name ━━` line to the next."""
    out = []
    for line in text.splitlines():
        if line.startswith("━━ "):
            if out:
                break
            if line.startswith(f"━━ {name} ━━"):
                out.append(line)
        elif out:
            out.append(line)
    return "\n".join(out)

blocks = {
    "dashboard": open("assets/dashboard.txt").read().rstrip("\n"),
    "headless": scenario_block(open("assets/headless.txt").read(), "memory-leak"),
}
readme = open("README.md").read()
for name, body in blocks.items():
    pattern = re.compile(r"(<!-- figures:" + name + r"\b[^>]*-->\n```text\n).*?(```\n)", re.S)
    readme, count = pattern.subn(lambda m: m.group(1) + body + "\n" + m.group(2), readme)
    if count != 1:
        raise SystemExit(f"README: no single figures:{name} block")
open("README.md", "w").write(readme)
PY

cat "$figures"
