"""MCP servers (stdio, an `echo` tool) whose process trees fool a sum of RSS.
MODE is one of:

  shared MB N   holds MB of memory it has written, then forks N children that
                only sleep: every child's RSS counts those pages again, where
                they are one copy (PSS counts them once)
  wrapper       a wrapper that holds 30 MB, and starts `forking.py leaky` as
                its server; at the server's 60th call the wrapper frees its
                30 MB, while the server keeps 100 KB of every call after its
                50th: the tree's sum ends about 5 MB above where the load
                began, 35 MB above its floor after the free
  leaky         the server `wrapper` starts
  spawner       each call takes 5 ms; at its 10th call it starts a child
                (`sleep 30`), at its 300th it stops it: the tree changes

Any further argument (a marker the tests look for) is ignored."""

import os
import signal
import subprocess
import sys
import time

from mcp_stdio import ECHO, serve, text_result

MODE = sys.argv[1]


def echo(rid, params):
    text_result(rid, str((params.get("arguments") or {}).get("message", "")))


def shared():
    megabytes, children = int(sys.argv[2]), int(sys.argv[3])
    held = b"z" * (megabytes << 20)
    parent = os.getpid()
    for _ in range(children):
        if os.fork() == 0:
            # A child that only sleeps, sharing `held`, until its parent goes.
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1):
                os.dup2(devnull, fd)
            while os.getppid() == parent:
                time.sleep(0.2)
            os._exit(0)
    serve("forking-shared", [ECHO], echo)
    return held


def wrapper():
    held = [b"y" * (30 << 20)]
    signal.signal(signal.SIGUSR1, lambda *_: held.clear())
    server = subprocess.Popen([sys.executable, __file__, "leaky"] + sys.argv[2:])
    sys.exit(server.wait())


def leaky():
    kept = []
    calls = [0]

    def call(rid, params):
        calls[0] += 1
        if calls[0] > 50:
            kept.append(b"k" * (100 << 10))
        if calls[0] == 60:
            os.kill(os.getppid(), signal.SIGUSR1)
        echo(rid, params)

    serve("forking-leaky", [ECHO], call)


def spawner():
    calls = [0]
    child = []

    def call(rid, params):
        calls[0] += 1
        time.sleep(0.005)
        if calls[0] == 10:
            child.append(subprocess.Popen(["sleep", "30"]))
        if calls[0] == 300 and child:
            child[0].kill()
            child[0].wait()
        echo(rid, params)

    serve("forking-spawner", [ECHO], call)


if __name__ == "__main__":
    {"shared": shared, "wrapper": wrapper, "leaky": leaky, "spawner": spawner}[MODE]()
