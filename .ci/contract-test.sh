#!/usr/bin/env bash
# The contract, checked by tools we did not write, against a live server
# built from this tree (on the embedded SQLite default):
#  1. schemathesis with every check on and every phase (examples, coverage,
#     fuzzing, stateful), as a linked therapist and then as their patient;
#     any finding fails the run. What OpenAPI cannot state (rules relating
#     two values, or a value to today or to stored data) is in
#     .ci/contract/hooks.py, each rule with the place the server enforces it.
#  2. openapi-python-client generates a client from openapi.yaml (a warning
#     fails), and one whole story runs through it (.ci/contract/story.py).
#  3. openapi-typescript generates TypeScript types (a warning fails) and
#     tsc --strict compiles them with a client's use (.ci/contract/typescript.sh).
#  Before them, every example of openapi.yaml is checked against its schema
#  (.ci/contract/examples.py).
#   EXAMPLES=100 bash .ci/contract-test.sh     # more cases per operation
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
examples=${EXAMPLES:-25}
venv=$root/target/contract-venv

[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check -r .ci/contract/requirements.txt

echo "-- every example of openapi.yaml against its schema"
"$venv/bin/python" .ci/contract/examples.py openapi.yaml

cargo build --quiet
work=$(mktemp -d)
server_pid=
stop_server() {
    if [ -n "$server_pid" ]; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=
}
finish() {
    status=$?
    stop_server
    if [ "$status" -ne 0 ] && [ -f "$work/server.log" ]; then
        echo "-- the server's log (last 40 lines)" >&2
        tail -n 40 "$work/server.log" >&2
    fi
    rm -rf "$work"
}
trap finish EXIT

# A fresh server on a free port and an empty database.
start_server() {
    stop_server
    rm -rf "$work/data"
    port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # Only these settings: a DATABASE_URL or PAINLINE_* of the caller's
    # shell must not point the fuzzer at a real database or relay.
    (cd "$work" && exec env -i PATH="$PATH" HOME="$HOME" \
        DATABASE_URL=sqlite://data/painline.db PAINLINE_BIND=127.0.0.1:$port \
        PAINLINE_ACCESS_TTL=3600 PAINLINE_LOG=warn PAINLINE_SIGNUPS_PER_HOUR=1000000 PAINLINE_THERAPIST_SIGNUP=open \
        "$root/target/debug/painline" serve 2>>"$work/server.log") &
    server_pid=$!
    export CONTRACT_BASE_URL=http://127.0.0.1:$port
    "$venv/bin/python" - <<'PY'
import os, time, urllib.request
for _ in range(300):
    try:
        urllib.request.urlopen(os.environ["CONTRACT_BASE_URL"] + "/readyz", timeout=1)
        break
    except OSError:
        time.sleep(0.1)
else:
    raise SystemExit("the server did not become ready")
PY
}

export CONTRACT_PASSWORD="contract-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
export PYTHONPATH=$root/.ci/contract SCHEMATHESIS_HOOKS=hooks

fuzz() {
    local who=$1 token=$2
    echo "-- schemathesis as the $who ($examples examples per operation)"
    "$venv/bin/schemathesis" --config-file .ci/contract/schemathesis.toml run openapi.yaml \
        --url "$CONTRACT_BASE_URL" --header "Authorization: Bearer $token" \
        --checks all --phases examples,coverage,fuzzing,stateful \
        --max-examples "$examples" --seed "${SEED:-20261205}" \
        --report junit,ndjson --report-junit-path "$root/target/contract-$who.xml" \
        --report-ndjson-path "$root/target/contract-$who.ndjson" \
        --no-color | tee "$work/fuzz-$who.log"
    # An error (a case that could not be run) is not a pass either.
    if grep -E "[0-9]+ errored" "$work/fuzz-$who.log"; then
        echo "contract: schemathesis could not run every case as the $who" >&2
        exit 1
    fi
}

no_panic() {
    if grep -n "panicked" "$work/server.log"; then
        echo "contract: the server panicked" >&2
        exit 1
    fi
}

start_server
accounts=$("$venv/bin/python" .ci/contract/setup.py "$CONTRACT_BASE_URL")
eval "$accounts"
fuzz therapist "$CONTRACT_THERAPIST_TOKEN"
fuzz patient "$CONTRACT_PATIENT_TOKEN"
kill -0 "$server_pid"   # still serving
no_panic

echo "-- openapi-python-client"
rm -rf "$work/client"
(cd "$work" && "$venv/bin/openapi-python-client" generate --path "$root/openapi.yaml" \
    --config "$root/.ci/contract/client-config.yaml" --meta none --output-path client/painline_client) >"$work/generate.log" 2>&1 || {
    cat "$work/generate.log"
    exit 1
}
cat "$work/generate.log"
if grep -qi "warning" "$work/generate.log"; then
    echo "contract: openapi-python-client warned" >&2
    exit 1
fi
start_server
PYTHONPATH="$work/client:$root/.ci/contract" "$venv/bin/python" .ci/contract/story.py "$CONTRACT_BASE_URL"
no_panic

echo "-- openapi-typescript and tsc"
bash .ci/contract/typescript.sh
