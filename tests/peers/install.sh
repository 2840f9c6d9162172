#!/usr/bin/env bash
# Install the third-party MCP servers the peer tests run against, pinned, into
# the project's ignored folder .peers/ (from the npm registry and PyPI):
#   - @modelcontextprotocol/server-everything (Node, handshake era)
#   - a Python server on `mcp` 2.x (MCPServer: handshake era and 2026-07-28)
#   - a Python server on `mcp` 1.x (FastMCP: handshake era only)
# Idempotent: a pinned version already installed is kept.
set -euo pipefail
cd "$(dirname "$0")/../.."
PEERS=.peers
EVERYTHING_VERSION=2026.8.31
MCP2_VERSION=2.3.0
MCP1_VERSION=1.30.0
mkdir -p "$PEERS"

if [ ! -f "$PEERS/node/node_modules/@modelcontextprotocol/server-everything/dist/index.js" ]; then
    echo "== npm: @modelcontextprotocol/server-everything@$EVERYTHING_VERSION"
    mkdir -p "$PEERS/node"
    npm install --prefix "$PEERS/node" --no-audit --no-fund --loglevel=error \
        "@modelcontextprotocol/server-everything@$EVERYTHING_VERSION"
fi

venv() {
    local dir=$1 spec=$2
    if [ ! -x "$dir/bin/python" ] || ! "$dir/bin/python" -c "import mcp" 2>/dev/null; then
        echo "== pip: $spec into $dir"
        python3 -m venv "$dir"
        "$dir/bin/pip" install --quiet --disable-pip-version-check "$spec"
    fi
}
venv "$PEERS/py-mcp2" "mcp==$MCP2_VERSION"
venv "$PEERS/py-mcp1" "mcp==$MCP1_VERSION"
echo "peers installed in $PEERS"
