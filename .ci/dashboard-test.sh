#!/usr/bin/env bash
# The dashboard in a real browser: installs Debian's chromium and
# chromium-driver when missing, selenium and pytest into a venv, and runs
# tests/browser against the debug build (each test starts its own server on
# a fresh SQLite database with the demo data). Screenshots go to
# PAINLINE_SCREENSHOTS (default: a scratch folder).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium chromium-driver >/dev/null
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q --disable-pip-version-check -r tests/browser/requirements.txt
export PAINLINE_SCREENSHOTS=${PAINLINE_SCREENSHOTS:-$WORK/screenshots}
(cd tests/browser && "$WORK/venv/bin/python" -m pytest -q -p no:cacheprovider)
echo "screenshots: $PAINLINE_SCREENSHOTS"
