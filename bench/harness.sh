#!/usr/bin/env bash
# The benchmark of issue 10, one command:
#
#   bench/harness.sh                 # SQLite, then PostgreSQL when one answers at PG_URL
#   bench/harness.sh sqlite          # one backend
#
# For each backend: a fresh database seeded by `painline seed-bench` (50
# therapists × 20 patients × 730 days, through the services), the release
# build serving it over loopback, and `loadgen` (bench/loadgen.rs) driving
# every scenario at fixed rates, latency measured from each request's due
# time. The limits are measured in the same run on the same disk: raw
# SQLite single-row inserts, pgbench single-row inserts, the /healthz floor
# (also through oha --latency-correction when oha is installed).
# Writes the top of bench/RESULTS.md (the table, machine, date and command; the
# history below it is kept) and leaves
# the raw lines in target/bench/.
#
# PostgreSQL is the benchmark's own: a cluster it creates in PG_DIR and
# starts on PG_PORT with pg_stat_statements loaded (the statements' calls
# and times are reported per scenario), from Debian's postgresql package,
# as the postgres user when run as root. PG_URL=… uses a running server
# instead (without statement figures unless it loads pg_stat_statements).
#
# Knobs (environment): THERAPISTS=50 PATIENTS_PER=20 DAYS=730 STEP=4
# STATED=10 ONLY=all PG_DIR=/var/tmp/painline-bench-pg PG_PORT=55432
# KEEP=1: seed once into target/bench/keep/ and the database
# painline_bench_keep, keep them (and the cluster), and reuse them on later
# runs (seeding PostgreSQL takes about 10 minutes; the PUT scenarios add a
# few thousand entries to the kept data each run).
# BIN=path: serve with that build instead of building (before/after runs).
# Needs: cargo, curl, python3; PostgreSQL's server, psql and pgbench; oha (optional).
set -euo pipefail
cd "$(dirname "$0")/.."
BACKENDS=${1:-both}
THERAPISTS=${THERAPISTS:-50}
PATIENTS_PER=${PATIENTS_PER:-20}
DAYS=${DAYS:-730}
STEP=${STEP:-4}
STATED=${STATED:-10}
ONLY=${ONLY:-all}
KEEP=${KEEP:-}
PG_URL=${PG_URL:-}
PG_DIR=${PG_DIR:-/var/tmp/painline-bench-pg}
PG_PORT=${PG_PORT:-55432}
PORT=${PORT:-18390}
BASE="http://127.0.0.1:$PORT"
SECRET=bench-secret-bench-secret-bench-secret-0123
OUT=target/bench
mkdir -p "$OUT"
COMMAND="bench/harness.sh $*"
[ "$THERAPISTS$PATIENTS_PER$DAYS" = 5020730 ] || COMMAND="THERAPISTS=$THERAPISTS PATIENTS_PER=$PATIENTS_PER DAYS=$DAYS $COMMAND"
[ -z "$KEEP" ] || COMMAND="KEEP=1 $COMMAND"

for tool in cargo curl python3; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is not installed" >&2; exit 1; }
done
echo "bench: building the release binary and the load generator"
cargo build --release --quiet --bin painline --example loadgen
BIN=${BIN:-$PWD/target/release/painline}
LOADGEN=$PWD/target/release/examples/loadgen
[ "$BIN" = "$PWD/target/release/painline" ] || COMMAND="BIN=$BIN $COMMAND"
# Every scenario, in order; ONLY picks some.
SCENARIOS="floor put_64 put_1 put_closed trends_2y trends_2y_cold overview_20 sync_week me me_login_flood mix_90_9_1"
[ "$ONLY" = all ] || SCENARIOS=${ONLY//,/ }

SERVER_PID=
stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

# The benchmark's own PostgreSQL (see the top of this file).
PG_STARTED=
AS_PG=()
[ "$(id -u)" != 0 ] || AS_PG=(runuser -u postgres --)
start_own_pg() {
    local bindir
    bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [ -x "$bindir/initdb" ] || { echo "bench: PostgreSQL's server is not installed (Debian: postgresql); skipped" >&2; return 1; }
    if [ ! -s "$PG_DIR/PG_VERSION" ]; then
        mkdir -p "$PG_DIR"
        [ "$(id -u)" != 0 ] || chown postgres: "$PG_DIR"
        "${AS_PG[@]}" "$bindir/initdb" -D "$PG_DIR" -U postgres --auth=trust -E UTF8 >/dev/null
    fi
    "${AS_PG[@]}" "$bindir/pg_ctl" -D "$PG_DIR" -l "$PG_DIR/server.log" -w start -o \
        "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=200 \
         -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all" >/dev/null
    PG_STARTED=$bindir
    PG_URL=postgres://postgres@127.0.0.1:$PG_PORT/postgres
    psql "$PG_URL" -qc "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" 2>/dev/null
}
stop_own_pg() {
    [ -n "$PG_STARTED" ] || return 0
    "${AS_PG[@]}" "$PG_STARTED/pg_ctl" -D "$PG_DIR" -w stop -m fast >/dev/null || true
    [ -n "$KEEP" ] || rm -rf "$PG_DIR"
    PG_STARTED=
}
trap 'stop_server; stop_own_pg' EXIT

# statements DB SCENARIO: the statements PostgreSQL ran in database DB
# during the scenario, by total time (pg_stat_statements, installed in the
# cluster's postgres database; nothing when it is not loaded).
statements() {
    psql "$PG_URL" -Atqc "SELECT jsonb_build_object('statements', jsonb_build_object('scenario', '$2', 'top', coalesce(jsonb_agg(t), '[]'))) FROM (
        SELECT regexp_replace(left(query, 160), '\s+', ' ', 'g') AS query, calls,
               round(total_exec_time::numeric, 1) AS total_ms, round(mean_exec_time::numeric, 4) AS mean_ms
        FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = '$1')
        ORDER BY total_exec_time DESC LIMIT 8) t" 2>/dev/null || true
}

start_server() { # URL LOG
    DATABASE_URL=$1 PAINLINE_JWT_SECRET=$SECRET PAINLINE_SIGNUPS_PER_HOUR=1000000 PAINLINE_THERAPIST_SIGNUP=open PAINLINE_BIND=127.0.0.1:$PORT \
        PAINLINE_ACCESS_TTL=86400 PAINLINE_LOG=warn "$BIN" serve 2>"$2" &
    SERVER_PID=$!
    # Up to 2 minutes: a first start migrates the data set (an index rebuild).
    for _ in $(seq 1 1200); do curl -sf "$BASE/healthz" >/dev/null && return 0; sleep 0.1; done
    cat "$2" >&2
    return 1
}

floor_oha() { # JSONL
    command -v oha >/dev/null || return 0
    oha --no-tui --latency-correction -q 5000 -z "${STATED}s" -c 64 --output-format json \
        "$BASE/healthz" >"$OUT/oha.json" 2>/dev/null || return 0
    python3 - "$OUT/oha.json" >>"$1" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
p = r["latencyPercentiles"]
print(json.dumps({"oha_floor": {"rate": 5000, "achieved": round(r["summary"]["requestsPerSec"]),
      "p50_ms": p["p50"] * 1000, "p99_ms": p["p99"] * 1000, "p999_ms": p["p99.9"] * 1000,
      "errors": sum(v for k, v in r["statusCodeDistribution"].items() if not k.startswith("2"))}}))
EOF
}

bench_backend() { # NAME URL JSONL MANIFEST
    local name=$1 url=$2 jsonl=$3 manifest=$4 started
    : >"$jsonl"
    if [ -n "$KEEP" ] && [ -s "$manifest" ]; then
        echo "bench: $name: reusing the data seeded earlier ($manifest)"
    else
        echo "bench: $name: seeding $THERAPISTS × $PATIENTS_PER patients × $DAYS days"
        started=$(date +%s)
        DATABASE_URL=$url PAINLINE_JWT_SECRET=$SECRET PAINLINE_LOG=warn "$BIN" seed-bench \
            --therapists "$THERAPISTS" --patients-per-therapist "$PATIENTS_PER" --days "$DAYS" \
            --manifest "$manifest" --allow-postgres --parallel 4 | tee "$OUT/seed-$name.txt"
        echo "{\"seed_seconds\": $(($(date +%s) - started))}" >>"$jsonl"
    fi
    # Measure the steady state, not the flush of the bulk load: write the
    # seed's dirty pages out now (PostgreSQL's checkpointer would otherwise
    # be writing gigabytes during the first scenarios) and, on PostgreSQL,
    # let VACUUM ANALYZE do what autovacuum does in a running service.
    case $url in
        postgres*) psql "$url" -qc "VACUUM ANALYZE" -qc "CHECKPOINT" ;;
        sqlite*) python3 -c "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('PRAGMA wal_checkpoint(TRUNCATE)'); c.close()" "${url#sqlite://}" ;;
    esac
    start_server "$url" "$OUT/server-$name.log"
    local db_pid=()
    if [ -n "$PG_STARTED" ] && [[ $url == postgres* ]]; then
        db_pid=(--db-pid "$(head -1 "$PG_DIR/postmaster.pid")")
    fi
    for scenario in $SCENARIOS; do
        echo "bench: $name: $scenario"
        [[ $url != postgres* ]] || psql "$PG_URL" -Atqc "SELECT pg_stat_statements_reset()" >/dev/null 2>&1 || true
        "$LOADGEN" scenarios --base "$BASE" --manifest "$manifest" \
            --server-pid "$SERVER_PID" "${db_pid[@]}" --only "$scenario" --step-seconds "$STEP" \
            --stated-seconds "$STATED" | tee -a "$jsonl"
        [[ $url != postgres* ]] || statements "${url##*/}" "$scenario" >>"$jsonl"
    done
    floor_oha "$jsonl"
    stop_server
}

machine="$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(($(grep MemTotal /proc/meminfo | awk '{print $2}') / 1024)) MiB RAM, $(uname -sr)"
files=()

if [ "$BACKENDS" = both ] || [ "$BACKENDS" = sqlite ]; then
    if [ -n "$KEEP" ]; then
        dir=$OUT/keep
        mkdir -p "$dir"
    else
        dir=$(mktemp -d -p "$OUT")
    fi
    echo "bench: raw SQLite ceiling"
    "$LOADGEN" raw-sqlite --file "$dir/raw.db" --seconds 5 >"$OUT/limits-sqlite.jsonl"
    rm -f "$dir/raw.db"*
    [ -s "$dir/manifest.json" ] || rm -f "$dir/bench.db"*
    bench_backend sqlite "sqlite://$dir/bench.db" "$OUT/sqlite.jsonl" "$dir/manifest.json"
    cat "$OUT/limits-sqlite.jsonl" >>"$OUT/sqlite.jsonl"
    files+=("sqlite=$OUT/sqlite.jsonl")
    [ -n "$KEEP" ] || rm -rf "$dir"
fi

if [ "$BACKENDS" = both ] || [ "$BACKENDS" = postgres ]; then
    [ -n "$PG_URL" ] || start_own_pg || true
    if [ -n "$PG_URL" ] && psql "$PG_URL" -Atqc 'SELECT 1' >/dev/null 2>&1; then
        if [ -n "$KEEP" ]; then
            db=painline_bench_keep
            manifest=$OUT/keep/manifest-postgres.json
            mkdir -p "$OUT/keep"
            if [ ! -s "$manifest" ] || [ "$(psql "$PG_URL" -Atc "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
                rm -f "$manifest"
                psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $db" -qc "CREATE DATABASE $db" >/dev/null
            fi
        else
            db="painline_bench_$$"
            manifest=$OUT/manifest-postgres.json
            psql "$PG_URL" -qc "CREATE DATABASE $db" >/dev/null
        fi
        db_url="${PG_URL%/*}/$db"
        psql "$db_url" -qc "DROP TABLE IF EXISTS bench_raw" -qc "CREATE TABLE bench_raw (id text PRIMARY KEY, patient text NOT NULL, data text NOT NULL)"
        : >"$OUT/limits-postgres.jsonl"
        for clients in 10 16 64; do
            echo "bench: pgbench ceiling, $clients clients"
            tps=$(pgbench -n -c "$clients" -j 2 -T 5 -f bench/pgbench_insert.sql "$db_url" 2>/dev/null |
                awk '/^tps/ {print int($3)}')
            echo "{\"pgbench_inserts_per_s\": $tps, \"clients\": $clients}" >>"$OUT/limits-postgres.jsonl"
        done
        psql "$db_url" -qc "DROP TABLE bench_raw"
        bench_backend postgres "$db_url" "$OUT/postgres.jsonl" "$manifest"
        cat "$OUT/limits-postgres.jsonl" >>"$OUT/postgres.jsonl"
        files+=("postgres=$OUT/postgres.jsonl")
        [ -n "$KEEP" ] || psql "$PG_URL" -qc "DROP DATABASE $db WITH (FORCE)" >/dev/null
    else
        echo "bench: no PostgreSQL at $PG_URL; skipped" >&2
    fi
fi

# The latest run replaces the top of bench/RESULTS.md, up to the line
# "## How the benchmark works"; what follows (the method and the history of
# earlier rounds) is kept.
python3 bench/report.py --machine "$machine" --command "$COMMAND" \
    --commit "$(git rev-parse --short HEAD)$(git diff --quiet || echo '+changes')" \
    "${files[@]}" >"$OUT/latest.md"
{
    cat "$OUT/latest.md"
    echo
    sed -n '/^## How the benchmark works/,$p' bench/RESULTS.md
} >"$OUT/RESULTS.md"
mv "$OUT/RESULTS.md" bench/RESULTS.md
echo "bench: wrote bench/RESULTS.md (the latest run on top, the history kept)"
