"""The browser tests' harness: each test gets the real binary on a fresh
SQLite database seeded with the demo, and a headless Chromium (Debian's,
driven by its chromedriver through selenium)."""

import json
import os
import pathlib
import re
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


class Server:
    """The service on a scratch folder, with a small JSON client for set-up."""

    def __init__(self, folder: pathlib.Path):
        self.folder = folder
        env = dict(os.environ)
        env.update(
            DATABASE_URL=f"sqlite://{folder}/painline.db",
            PAINLINE_BIND="127.0.0.1:0",
            PAINLINE_LOG="info",
            # The shortest lifetime: the dashboard then refreshes before
            # every request (it refreshes when under a minute is left).
            PAINLINE_ACCESS_TTL="60",
        )
        subprocess.run([BINARY, "seed-demo"], cwd=folder, env=env, check=True, capture_output=True)
        self.log_path = folder / "server.log"
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen([BINARY, "serve"], cwd=folder, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.port = None
        deadline = time.monotonic() + 20
        while self.port is None:
            match = re.search(rb'"port":(\d+)', self.log_path.read_bytes())
            if match:
                self.port = int(match.group(1))
            elif self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(self.log_path.read_text())
            else:
                time.sleep(0.05)  # waiting for the server to write its port
        self.base = f"http://127.0.0.1:{self.port}"

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

    def metric(self, name, **labels):
        with urllib.request.urlopen(self.base + "/metrics") as response:
            text = response.read().decode()
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total


@pytest.fixture
def server():
    with tempfile.TemporaryDirectory() as folder:
        s = Server(pathlib.Path(folder))
        try:
            yield s
        finally:
            s.stop()


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
