#!/usr/bin/env python3
"""Can the timing of POST /v1/auth/password-reset tell an address with an
account from one without? Against a release build on a fresh SQLite
database: N addresses with accounts and N without, each asked for once in
a shuffled order, GAP seconds apart (default 0.05, so a known address's
mail is written before the next ask), from distinct client addresses
through a trusted proxy (so no throttle answers), timed from the client. Prints both distributions and how
many of the 2N a midpoint threshold between the two medians classifies
right (50 % is a coin toss; an outside review found 24 of 24).

    cargo build --release && python3 bench/reset_timing.py [N]
"""

import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

N = int(sys.argv[1]) if len(sys.argv) > 1 else 24
GAP = float(os.environ.get("GAP", "0.05"))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("PAINLINE_BIN") or os.path.join(ROOT, "target", "release", "painline")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(base, path, body, client=None):
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    if client:
        request.add_header("x-forwarded-for", client)
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request) as reply:
            reply.read()
            status = reply.status
    except urllib.error.HTTPError as error:
        status = error.code
    return status, time.perf_counter() - started


def main():
    folder = tempfile.mkdtemp()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(
        os.environ,
        DATABASE_URL=f"sqlite://{folder}/painline.db",
        PAINLINE_BIND=f"127.0.0.1:{port}",
        PAINLINE_LOG="warn",
        PAINLINE_TRUSTED_PROXIES="127.0.0.1",
        PAINLINE_SIGNUPS_PER_HOUR="1000000",
    )
    server = subprocess.Popen([BIN, "serve"], cwd=folder, env=env)
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/healthz").read()
                break
            except OSError:
                time.sleep(0.05)
        known = []
        for i in range(N):
            email = f"known{i}@bench.example"
            status, _ = post(base, "/v1/auth/register", {
                "email": email, "password": "correct horse battery",
                "display_name": "Bench", "role": "patient"})
            assert status == 201, status
            known.append(email)
        unknown = [f"nobody{i}@bench.example" for i in range(N)]
        # Warm up the path once each way.
        post(base, "/v1/auth/password-reset", {"email": "warm@bench.example"}, "192.0.2.250")
        times = {"known": [], "unknown": []}
        asks = [("known", e) for e in known] + [("unknown", e) for e in unknown]
        random.Random(7).shuffle(asks)
        for n, (what, email) in enumerate(asks):
            client = f"198.51.{100 + n // 250}.{n % 250}"
            status, took = post(base, "/v1/auth/password-reset", {"email": email}, client)
            assert status == 202, status
            times[what].append(took * 1000)
            # Let the mail of a known address be written before the next
            # ask: this measures the answer itself, not its neighbours.
            time.sleep(GAP)
        mid = (statistics.median(times["known"]) + statistics.median(times["unknown"])) / 2
        slower_is_known = statistics.median(times["known"]) > statistics.median(times["unknown"])
        right = sum((t > mid) == slower_is_known for t in times["known"])
        right += sum((t > mid) != slower_is_known for t in times["unknown"])
        for what in ("known", "unknown"):
            t = sorted(times[what])
            print(f"{what:8} n={len(t)} median {statistics.median(t):.2f} ms, "
                  f"min {t[0]:.2f}, max {t[-1]:.2f}")
        print(f"classified right by a midpoint threshold: {right} of {2 * N} "
              f"({100 * right / (2 * N):.0f} %)")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
