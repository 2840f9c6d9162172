#!/usr/bin/env bash
# How often `mcpstorm compare` calls two runs of one healthy server
# different: RUNS runs (30 by default) of each of two scenarios against the
# built-in target, each run compared with the next, and three runs with the
# next three; per metric the share of figures beyond noise, and how many
# comparisons fail some thresholds. docs/COMPARE.md has the results. About 4 minutes for 30 runs.
#
#   bash benches/compare_noise.sh [RUNS]
set -euo pipefail
runs=${1:-30}
here=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
mcpstorm=${CARGO_TARGET_DIR:-$here/target}/release/mcpstorm
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Latency the server's sleep sets: sequential calls of 10 ms.
cat > "$work/sleeping.toml" <<'TOML'
name = "sleeping"
probe_interval_ms = 20
[[phase]]
name = "warmup"
warmup = true
load = { kind = "sequential", calls = 20 }
[[phase]]
name = "load"
load = { kind = "sequential", calls = 300 }
[[call]]
tool = "echo"
arguments = { message = "hi {seq}" }
[[call]]
tool = "add"
arguments = { a = 1, b = 2 }
TOML
# Latency the CPU sets: four workers against a server that answers at once.
cat > "$work/busy.toml" <<'TOML'
name = "busy"
probe_interval_ms = 20
[[phase]]
name = "warmup"
warmup = true
load = { kind = "sequential", calls = 50 }
[[phase]]
name = "load"
load = { kind = "concurrent", workers = 4, calls = 2000 }
[[call]]
tool = "echo"
arguments = { message = "hi {seq}" }
[[call]]
tool = "add"
arguments = { a = 1, b = 2 }
TOML

for i in $(seq 1 "$runs"); do
    "$mcpstorm" run "$work/sleeping.toml" --headless --report "$work/sleeping$i.json" \
        -- "$mcpstorm" serve --latency-ms 10 > /dev/null
    "$mcpstorm" run "$work/busy.toml" --headless --report "$work/busy$i.json" \
        -- "$mcpstorm" serve > /dev/null
done

python3 - "$mcpstorm" "$work" "$runs" <<'PY'
import collections, json, subprocess, sys
mcpstorm, work, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
thresholds = ["p50 +10%", "p95 +10%", "p99 +10%", "p95 +25%", "p99 +25%",
              "rss_trend_kb_per_call +0.5", "success_rate -0.01"]

def compare(base, new, extra):
    """Each pair's tested figures (warm-ups left out) and the thresholds failed."""
    args = [mcpstorm, "compare", base[0], new[0], "--markdown", "/dev/null"]
    args += [a for f in base[1:] for a in ("--base-also", f)]
    args += [a for f in new[1:] for a in ("--new-also", f)]
    out = subprocess.run(args + ["--json", "-"], capture_output=True, text=True, check=True)
    figures = [f for part in json.loads(out.stdout)["comparison"]["scenarios"][0]["parts"]
               if not part.get("warmup") for f in part["figures"]]
    failed = [t for t in thresholds
              if subprocess.run(args + ["--fail-on", t], capture_output=True).returncode == 1]
    return figures, failed

def table(title, pairs):
    tested, beyond, largest, failed = (collections.Counter() for _ in range(4))
    for base, new in pairs:
        figures, crossed = compare(base, new, [])
        for figure in figures:
            if figure["noise"] == "untested":
                continue
            metric = figure["metric"]
            tested[metric] += 1
            if figure["noise"] == "beyond":
                beyond[metric] += 1
                largest[metric] = max(largest[metric], abs(figure["relative_change"] or 0))
        for threshold in crossed:
            failed[threshold] += 1
    print(f"\n{title}: {len(pairs)} comparisons")
    print("| metric | beyond noise | largest such change |")
    print("|---|---|---|")
    for metric in tested:
        share = 100 * beyond[metric] / tested[metric]
        print(f"| {metric} | {beyond[metric]} of {tested[metric]} ({share:.1f} %) | "
              f"{100 * largest[metric]:.1f} % |")
    print("| threshold | comparisons failed |")
    print("|---|---|")
    for threshold in thresholds:
        print(f"| `{threshold}` | {failed[threshold]} of {len(pairs)} |")

for scenario in ["sleeping", "busy"]:
    files = [f"{work}/{scenario}{i}.json" for i in range(1, runs + 1)]
    # One run a side: each run against the next (no run in two pairs' same side).
    table(f"{scenario}, one run a side", [([a], [b]) for a, b in zip(files, files[1:])])
    # Three runs a side: runs 1-3 against 4-6, 7-9 against 10-12, …
    groups = [files[i:i + 3] for i in range(0, runs - runs % 3, 3)]
    table(f"{scenario}, three runs a side", list(zip(groups[0::2], groups[1::2])))
PY
