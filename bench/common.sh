# Shared by the benchmark scripts (sourced): the release build, a server on
# a fresh database per backend, a registered user, the statement counter.
# The sourcing script sets PORT and defines run_backend NAME URL SEED_FN.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
SECRET=bench-secret-bench-secret-bench-secret-0123
BASE="http://127.0.0.1:$PORT"
for tool in wrk curl jq python3; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is not installed" >&2; exit 1; }
done
cargo build --release --quiet
BIN=$PWD/target/release/painline

# Statements run so far, from /metrics.
queries() { curl -s "$BASE/metrics" | awk '/^painline_db_queries_total / {print $2}'; }

# start_server URL: serves URL from a scratch folder; sets SERVER_PID, SERVER_DIR.
start_server() {
    SERVER_DIR=$(mktemp -d)
    (cd "$SERVER_DIR" && DATABASE_URL=$1 PAINLINE_JWT_SECRET=$SECRET PAINLINE_SIGNUPS_PER_HOUR=1000000 PAINLINE_THERAPIST_SIGNUP=open PAINLINE_BIND=127.0.0.1:$PORT \
        PAINLINE_LOG=warn exec "$BIN" serve 2>"$SERVER_DIR/server.log") &
    SERVER_PID=$!
    for _ in $(seq 1 100); do curl -sf "$BASE/healthz" >/dev/null && return 0; sleep 0.1; done
    cat "$SERVER_DIR/server.log" >&2
    return 1
}

stop_server() {
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    rm -rf "$SERVER_DIR"
}

# register ROLE: signs up a fresh user; sets TOKEN and USER_ID.
register() {
    local reply
    reply=$(curl -sf "$BASE/v1/auth/register" -H 'content-type: application/json' \
        -d "{\"email\":\"bench-$RANDOM$RANDOM@example.org\",\"password\":\"correct horse battery\",\"display_name\":\"Bench\",\"role\":\"$1\"}")
    TOKEN=$(jq -r .tokens.access_token <<<"$reply")
    USER_ID=$(jq -r .user.id <<<"$reply")
}

# each_backend: run_backend on a fresh SQLite file, then on a fresh
# PostgreSQL database when one answers at PG_URL. SEED_FN FILE loads SQL.
each_backend() {
    local dir
    dir=$(mktemp -d)
    SQLITE_FILE=$dir/bench.db
    sqlite_seed() { python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.executescript(open(sys.argv[2]).read())' "$SQLITE_FILE" "$1"; }
    run_backend sqlite "sqlite://$SQLITE_FILE" sqlite_seed
    rm -rf "$dir"
    if psql "$PG_URL" -Atqc 'SELECT 1' >/dev/null 2>&1; then
        local db="painline_bench_$$"
        psql "$PG_URL" -qc "CREATE DATABASE $db" >/dev/null
        PG_DB_URL="${PG_URL%/*}/$db"
        pg_seed() { psql "$PG_DB_URL" -q -f "$1" >/dev/null; }
        run_backend postgres "$PG_DB_URL" pg_seed
        psql "$PG_URL" -qc "DROP DATABASE $db WITH (FORCE)" >/dev/null
    fi
}
