#!/usr/bin/env bash
# Load benchmarks of a release build over loopback, on SQLite and, when one
# answers, PostgreSQL. Prints one markdown table row per scenario.
#   bench/run.sh                 # both backends, 10 s per scenario
#   DURATION=30s bench/run.sh    # longer runs
#   PG_URL=postgres://user@host/db bench/run.sh
# Needs wrk, curl and jq (Debian: apt-get install -y wrk curl jq); psql for PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
PORT=${PORT:-18181}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
SECRET=bench-secret-bench-secret-bench-secret-0123
BASE="http://127.0.0.1:$PORT"

for tool in wrk curl jq; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is not installed" >&2; exit 1; }
done
cargo build --release --quiet
BIN=$PWD/target/release/painline

# "name | req/s | p50 | p99 | errors" from wrk's output.
row() {
    local name=$1 out=$2
    local rps p50 p99 non2xx
    rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    non2xx=$(awk '/^non-2xx:/ {print $2}' <<<"$out")
    echo "| $BACKEND | $name | $rps | $p50 | $p99 | ${non2xx:-0} |"
}

bench() {
    local name=$1; shift
    local out
    out=$(wrk --latency -d "$DURATION" "$@" 2>&1)
    row "$name" "$out"
}

run_backend() {
    BACKEND=$1
    local url=$2 dir pid
    dir=$(mktemp -d)
    (cd "$dir" && DATABASE_URL=$url PAINLINE_JWT_SECRET=$SECRET PAINLINE_SIGNUPS_PER_HOUR=1000000 PAINLINE_THERAPIST_SIGNUP=open PAINLINE_BIND=127.0.0.1:$PORT \
        PAINLINE_LOG=warn PAINLINE_DB_POOL_SIZE=16 exec "$BIN" serve 2>"$dir/server.log") &
    pid=$!
    for _ in $(seq 1 100); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.1; done
    local email="bench-$RANDOM@example.org" password="correct horse battery"
    TOKEN=$(curl -sf "$BASE/v1/auth/register" -H 'content-type: application/json' \
        -d "{\"email\":\"$email\",\"password\":\"$password\",\"display_name\":\"Bench\",\"role\":\"patient\"}" |
        jq -r .tokens.access_token)
    # Login accounts: each login connection cycles through its own accounts.
    local emails=""
    for i in $(seq 1 64); do
        curl -sf "$BASE/v1/auth/register" -H 'content-type: application/json' \
            -d "{\"email\":\"login$i-$RANDOM@example.org\",\"password\":\"$password\",\"display_name\":\"L\",\"role\":\"patient\"}" |
            jq -r .user.email >>"$dir/emails"
    done
    emails=$(paste -sd, "$dir/emails")
    export TOKEN EMAILS=$emails PASSWORD=$password

    bench "GET /healthz (no database)" -t2 -c"$CONNS" "$BASE/healthz"
    bench "PUT new pain entry" -t2 -c"$CONNS" -s bench/put_entries.lua "$BASE"
    BENCH_PATH="/v1/me/pain-entries?limit=100" bench "GET 100 pain entries" -t2 -c"$CONNS" -s bench/get.lua "$BASE"
    BENCH_PATH="/v1/me/changes?limit=100" bench "GET sync feed page (100)" -t2 -c"$CONNS" -s bench/get.lua "$BASE"
    BENCH_PATH="/v1/me" bench "GET /v1/me" -t2 -c"$CONNS" -s bench/get.lua "$BASE"
    bench "POST /v1/auth/login (argon2)" -t1 -c16 -s bench/login.lua "$BASE"
    # Isolation: other routes while 16 clients hammer login.
    wrk -d "$DURATION" -t1 -c16 -s bench/login.lua "$BASE" >/dev/null 2>&1 &
    local flood=$!
    BENCH_PATH="/v1/me" bench "GET /v1/me during a login flood" -t1 -c4 -s bench/get.lua "$BASE"
    wait "$flood"

    kill -TERM "$pid"
    wait "$pid" || true
    rm -rf "$dir"
}

echo "| backend | scenario | req/s | p50 | p99 | non-2xx |"
echo "|---|---|---|---|---|---|"
run_backend sqlite "sqlite://$(mktemp -d)/bench.db"
if command -v psql >/dev/null && psql "$PG_URL" -Atqc 'SELECT 1' >/dev/null 2>&1; then
    db="painline_bench_$$"
    psql "$PG_URL" -qc "CREATE DATABASE $db" >/dev/null
    run_backend postgres "${PG_URL%/*}/$db"
    psql "$PG_URL" -qc "DROP DATABASE $db WITH (FORCE)" >/dev/null
fi
