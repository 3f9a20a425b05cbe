#!/usr/bin/env bash
# The therapist's overview at scale: GET /v1/patients?limit=200 for a
# therapist with 200 linked patients, each with 90 days of data (seeded
# straight into the database), on SQLite and, when one answers, PostgreSQL.
# Prints the statements one page costs (from /metrics) and wrk's latency
# with one connection (one dashboard) and with 8.
#   bench/overview.sh            PATIENTS=200 DAYS=90 DURATION=10s by default
# Needs wrk, curl, jq, python3; psql for PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
PATIENTS=${PATIENTS:-200}
DAYS=${DAYS:-90}
DURATION=${DURATION:-10s}
PORT=${PORT:-18282}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
SECRET=bench-secret-bench-secret-bench-secret-0123
BASE="http://127.0.0.1:$PORT"
for tool in wrk curl jq python3; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is not installed" >&2; exit 1; }
done
cargo build --release --quiet
BIN=$PWD/target/release/painline

queries() { curl -s "$BASE/metrics" | awk '/^painline_db_queries_total / {print $2}'; }

run_backend() {
    local backend=$1 url=$2 seed=$3 dir pid
    dir=$(mktemp -d)
    (cd "$dir" && DATABASE_URL=$url PAINLINE_JWT_SECRET=$SECRET PAINLINE_BIND=127.0.0.1:$PORT \
        PAINLINE_LOG=warn exec "$BIN" serve 2>"$dir/server.log") &
    pid=$!
    for _ in $(seq 1 100); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.1; done
    local reply token therapist
    reply=$(curl -sf "$BASE/v1/auth/register" -H 'content-type: application/json' \
        -d "{\"email\":\"bench-$RANDOM@example.org\",\"password\":\"correct horse battery\",\"display_name\":\"Bench\",\"role\":\"therapist\"}")
    token=$(jq -r .tokens.access_token <<<"$reply")
    therapist=$(jq -r .user.id <<<"$reply")
    python3 bench/seed_overview.py "$therapist" "$PATIENTS" "$DAYS" >"$dir/seed.sql"
    $seed "$dir/seed.sql"
    local before after shown
    before=$(queries)
    shown=$(curl -sf "$BASE/v1/patients?limit=$PATIENTS" -H "authorization: Bearer $token" | jq '.items | length')
    after=$(queries)
    echo "$backend: $shown patients shown, $((after - before)) statements for the page"
    for conns in 1 8; do
        wrk --latency -t1 -c"$conns" -d "$DURATION" -H "authorization: Bearer $token" \
            "$BASE/v1/patients?limit=$PATIENTS" |
            awk -v b="$backend" -v c="$conns" '/^Requests\/sec:/ {rps=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2}
                END {printf "| %s | %d connection(s) | %.0f pages/s | p50 %s | p99 %s |\n", b, c, rps, p50, p99}'
    done
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
    rm -rf "$dir"
}

sqlite_seed() { python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.executescript(open(sys.argv[2]).read())' "$SQLITE_FILE" "$1"; }
SQLITE_DIR=$(mktemp -d)
SQLITE_FILE=$SQLITE_DIR/bench.db
run_backend sqlite "sqlite://$SQLITE_FILE" sqlite_seed
rm -rf "$SQLITE_DIR"

if psql "$PG_URL" -Atqc 'SELECT 1' >/dev/null 2>&1; then
    DB="painline_overview_$$"
    psql "$PG_URL" -qc "CREATE DATABASE $DB" >/dev/null
    PG_DB_URL="${PG_URL%/*}/$DB"
    pg_seed() { psql "$PG_DB_URL" -q -f "$1" >/dev/null; }
    run_backend postgres "$PG_DB_URL" pg_seed
    psql "$PG_URL" -qc "DROP DATABASE $DB WITH (FORCE)" >/dev/null
fi
