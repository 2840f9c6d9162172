# Sourced by the bench scripts that run against mcpstorm's built-in HTTP
# target. Gives them:
#   $work                  a scratch directory, removed on exit;
#   start_http_target BIN  starts `BIN serve --http 127.0.0.1:0`, sets $url
#                          and $target_pid (the target is stopped on exit);
#   scenario FILE LOAD     writes a one-phase scenario of echo calls.

work=$(mktemp -d)
target_pid=
cleanup() {
    [ -n "$target_pid" ] && kill "$target_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

start_http_target() {
    "$1" serve --http 127.0.0.1:0 > "$work/target.out" 2>/dev/null &
    target_pid=$!
    url=
    for _ in $(seq 100); do
        url=$(grep -o 'http://[^ ]*' "$work/target.out" || true)
        [ -n "$url" ] && break
        sleep 0.1
    done
    [ -n "$url" ] || { echo "the HTTP target did not start" >&2; exit 1; }
}

scenario() {
    cat > "$1" <<TOML
name = "bench"
[[phase]]
name = "load"
load = $2
[[call]]
tool = "echo"
arguments = { message = "bench {seq}" }
TOML
}
