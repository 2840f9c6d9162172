"""A hostile MCP server: it refuses every request with the unsupported-version
error (-32022), yet names 2026-07-28 among the revisions it supports, so a
client that takes its word and asks again in that revision is refused again,
for ever. Over stdio by default; `http PORT` serves the same answers over
HTTP on 127.0.0.1:PORT (printing its URL)."""

import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


def answer(line):
    try:
        message = json.loads(line)
    except ValueError:
        return None
    if not isinstance(message, dict) or "id" not in message:
        return None
    return {
        "jsonrpc": "2.0",
        "id": message["id"],
        "error": {
            "code": -32022,
            "message": "Unsupported protocol version",
            "data": {"supported": ["2026-07-28"], "requested": "2026-07-28"},
        },
    }


def stdio():
    for line in sys.stdin:
        reply = answer(line)
        if reply is not None:
            sys.stdout.write(json.dumps(reply) + "\n")
            sys.stdout.flush()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        reply = answer(body)
        if reply is None:
            self.send_response(202)
            self.end_headers()
            return
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    # Any other argument (a marker the tests look for) is ignored.
    if sys.argv[1:2] == ["http"]:
        server = HTTPServer(("127.0.0.1", int(sys.argv[2])), Handler)
        print(f"listening on http://127.0.0.1:{server.server_port}/mcp", flush=True)
        server.serve_forever()
    else:
        stdio()
