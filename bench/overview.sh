#!/usr/bin/env bash
# The therapist's overview at scale: GET /v1/patients?limit=200 for a
# therapist with 200 linked patients, each with 90 days of data (seeded
# straight into the database), on SQLite and, when one answers, PostgreSQL.
# Prints the statements one page costs (from /metrics) and wrk's latency
# with one connection (one dashboard) and with 8.
#   bench/overview.sh            PATIENTS=200 DAYS=90 DURATION=10s by default
# Needs wrk, curl, jq, python3; psql for PostgreSQL.
PATIENTS=${PATIENTS:-200}
DAYS=${DAYS:-90}
DURATION=${DURATION:-10s}
PORT=${PORT:-18282}
source "$(dirname "$0")/common.sh"

run_backend() {
    local backend=$1 url=$2 seed=$3 before after shown
    start_server "$url"
    register therapist
    python3 bench/seed_overview.py "$USER_ID" "$PATIENTS" "$DAYS" >"$SERVER_DIR/seed.sql"
    $seed "$SERVER_DIR/seed.sql"
    before=$(queries)
    # The first page computes every patient's figures (cold); later ones
    # find them kept until a patient's data or day changes.
    cold=$(curl -sf -o "$SERVER_DIR/page.json" -w '%{time_total}' "$BASE/v1/patients?limit=$PATIENTS" \
        -H "authorization: Bearer $TOKEN")
    shown=$(jq '.items | length' "$SERVER_DIR/page.json")
    after=$(queries)
    echo "$backend: $shown patients shown, $((after - before)) statements for the page, first (cold) page in ${cold}s"
    for conns in 1 8; do
        wrk --latency -t1 -c"$conns" -d "$DURATION" -H "authorization: Bearer $TOKEN" \
            "$BASE/v1/patients?limit=$PATIENTS" |
            awk -v b="$backend" -v c="$conns" '/^Requests\/sec:/ {rps=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2}
                END {printf "| %s | %d connection(s) | %.0f pages/s | p50 %s | p99 %s |\n", b, c, rps, p50, p99}'
    done
    stop_server
}

each_backend
