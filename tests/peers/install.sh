#!/usr/bin/env bash
# Install the third-party MCP servers the peer tests run against, pinned, into
# the project's ignored folder .peers/ (from the npm registry and PyPI):
#   - @modelcontextprotocol/server-everything (Node, handshake era)
#   - a Python server on `mcp` 2.x (MCPServer: handshake era and 2026-07-28)
#   - a Python server on `mcp` 1.x (FastMCP: handshake era only)
#   - @modelcontextprotocol/server-filesystem and server-memory (Node)
#   - mcp-time, a Go server shipped as an npm binary
#   - a server on the standalone `fastmcp` package (PyPI)
# Idempotent: a pinned version already installed is kept.
set -euo pipefail
cd "$(dirname "$0")/../.."
PEERS=.peers
EVERYTHING_VERSION=2026.8.31
MCP2_VERSION=2.3.0
MCP1_VERSION=1.30.0
FILESYSTEM_VERSION=2026.8.31
MEMORY_VERSION=2026.8.31
MCP_TIME_VERSION=0.4.0
FASTMCP_VERSION=4.1.6
mkdir -p "$PEERS"

npm_peer() {
    local installed=$1 spec=$2
    if [ ! -f "$PEERS/node/node_modules/$installed" ]; then
        echo "== npm: $spec"
        mkdir -p "$PEERS/node"
        npm install --prefix "$PEERS/node" --no-audit --no-fund --loglevel=error "$spec"
    fi
}
npm_peer @modelcontextprotocol/server-everything/dist/index.js \
    "@modelcontextprotocol/server-everything@$EVERYTHING_VERSION"
npm_peer @modelcontextprotocol/server-filesystem/dist/index.js \
    "@modelcontextprotocol/server-filesystem@$FILESYSTEM_VERSION"
npm_peer @modelcontextprotocol/server-memory/dist/index.js \
    "@modelcontextprotocol/server-memory@$MEMORY_VERSION"
npm_peer mcp-time-linux-x64/bin/mcp-time "mcp-time-linux-x64@$MCP_TIME_VERSION"

venv() {
    local dir=$1 spec=$2 module=${3:-mcp}
    if [ ! -x "$dir/bin/python" ] || ! "$dir/bin/python" -c "import $module" 2>/dev/null; then
        echo "== pip: $spec into $dir"
        python3 -m venv "$dir"
        "$dir/bin/pip" install --quiet --disable-pip-version-check "$spec"
    fi
}
venv "$PEERS/py-mcp2" "mcp==$MCP2_VERSION"
venv "$PEERS/py-mcp1" "mcp==$MCP1_VERSION"
venv "$PEERS/py-fastmcp" "fastmcp==$FASTMCP_VERSION" fastmcp
echo "peers installed in $PEERS"
