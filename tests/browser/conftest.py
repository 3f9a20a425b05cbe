"""The browser tests' harness: each test gets the real binary on a fresh
SQLite database seeded with the demo, and a headless Chromium (Debian's,
driven by its chromedriver through selenium)."""

import json
import os
import pathlib
import re
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINARY = pathlib.Path(os.environ.get("PAINLINE_BIN", ROOT / "target" / "debug" / "painline"))
PASSWORD = "painline-demo-password"
THERAPIST = "therapist@demo.painline.example"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """The service on a scratch folder, with a small JSON client for set-up.
    It keeps its port across a restart, so an open page can go on using it."""

    def __init__(self, folder: pathlib.Path, access_ttl: int):
        self.folder = folder
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ)
        self.env.update(
            DATABASE_URL=f"sqlite://{folder}/painline.db",
            PAINLINE_BIND=f"127.0.0.1:{self.port}",
            PAINLINE_LOG="info",
            PAINLINE_ACCESS_TTL=str(access_ttl),
            # Mailed links lead back to this server; mail goes to outbox/.
            PAINLINE_PUBLIC_URL=self.base,
        )
        subprocess.run([BINARY, "seed-demo"], cwd=folder, env=self.env, check=True, capture_output=True)
        self.start()

    def start(self):
        self.log_path = self.folder / "server.log"
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen([BINARY, "serve"], cwd=self.folder, env=self.env,
                                        stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=1):
                    return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(self.log_path.read_text())
                time.sleep(0.05)  # waiting for the server to listen

    def restart(self, **env):
        """Stops the service and starts it again on the same database and port."""
        self.stop()
        self.env.update(env)
        self.start()

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=20)
        self.log.close()

    def call(self, method, path, body=None, token=None):
        request = urllib.request.Request(self.base + path, method=method)
        if body is not None:
            request.data = json.dumps(body).encode()
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            raw = error.read()
            return error.code, json.loads(raw) if raw else None

    def login(self, email, password=PASSWORD):
        status, body = self.call("POST", "/v1/auth/login", {"email": email, "password": password})
        assert status == 200, body
        return body["tokens"]["access_token"]

    def mails_to(self, address):
        """The .eml files in the outbox addressed to `address`, oldest first."""
        outbox = self.folder / "outbox"
        found = [p for p in outbox.glob("*.eml") if f"<{address}>" in p.read_text() or f"To: {address}" in p.read_text()]
        return [p.read_text() for p in sorted(found, key=lambda p: p.stat().st_mtime_ns)]

    def link_in(self, address, path, count=1):
        """The link to `path` in the newest mail to `address`, as a reader
        clicks it, once `count` mails to it are written (the sender writes
        them just after the request that queued them is answered)."""
        deadline = time.monotonic() + 20
        while len(mails := self.mails_to(address)) < count:
            assert time.monotonic() < deadline, f"no mail to {address}"
            time.sleep(0.05)  # waiting for the sender's file
        match = re.search(re.escape(self.base + path) + r"#token=[A-Za-z0-9_-]+", mails[-1])
        assert match, mails[-1]
        return match.group(0)

    def metric(self, name, **labels):
        with urllib.request.urlopen(self.base + "/metrics") as response:
            text = response.read().decode()
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total


def serving(access_ttl):
    with tempfile.TemporaryDirectory() as folder:
        s = Server(pathlib.Path(folder), access_ttl=access_ttl)
        try:
            yield s
        finally:
            s.stop()


@pytest.fixture
def server():
    """60-second access tokens: the dashboard refreshes before every request."""
    yield from serving(60)


@pytest.fixture
def server_900():
    """The default 15-minute access tokens."""
    yield from serving(900)


def chrome(width, height, mobile=False):
    options = webdriver.ChromeOptions()
    if mobile:
        # A window cannot be narrower than 500 px; a phone's viewport is emulated.
        options.add_experimental_option("mobileEmulation", {
            "deviceMetrics": {"width": width, "height": height, "pixelRatio": 2, "touch": True}})
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for flag in [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", f"--window-size={width},{height}",
    ]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    return webdriver.Chrome(service=service, options=options)


@pytest.fixture
def browser():
    driver = chrome(1280, 900)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def phone():
    driver = chrome(375, 812, mobile=True)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def screenshots():
    folder = pathlib.Path(os.environ.get("PAINLINE_SCREENSHOTS", tempfile.mkdtemp()))
    folder.mkdir(parents=True, exist_ok=True)
    return folder
