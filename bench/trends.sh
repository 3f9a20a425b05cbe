#!/usr/bin/env bash
# Trends over three years: GET /v1/me/trends?from=…&to=… (1,096 days) for a
# patient with 1,096 days of data (1–2 pain entries and two stretch sessions
# a day, 150 massage sessions; seeded straight into the database), on SQLite
# and, when one answers, PostgreSQL. Prints the statements one request costs
# (from /metrics) and wrk's throughput and latency with 1 and 8 connections.
#   bench/trends.sh            DAYS=1096 SESSIONS=150 DURATION=10s by default
# Needs wrk, curl, jq, python3; psql for PostgreSQL.
DAYS=${DAYS:-1096}
SESSIONS=${SESSIONS:-150}
DURATION=${DURATION:-10s}
PORT=${PORT:-18283}
source "$(dirname "$0")/common.sh"

run_backend() {
    local backend=$1 url=$2 seed=$3 to from path before after summary
    start_server "$url"
    register patient
    python3 bench/seed_trends.py "$USER_ID" "$DAYS" "$SESSIONS" >"$SERVER_DIR/seed.sql"
    $seed "$SERVER_DIR/seed.sql"
    to=$(date -u +%F)
    from=$(date -u -d "$to - $((DAYS - 1)) days" +%F)
    path="/v1/me/trends?from=$from&to=$to"
    before=$(queries)
    summary=$(curl -sf "$BASE$path" -H "authorization: Bearer $TOKEN" |
        jq -c '{intervals: (.intervals | length), logged_days: .summary.logged_days}')
    after=$(queries)
    echo "$backend: $summary, $((after - before)) statement(s) per request"
    for conns in 1 8; do
        wrk --latency -t1 -c"$conns" -d "$DURATION" -H "authorization: Bearer $TOKEN" "$BASE$path" |
            awk -v b="$backend" -v c="$conns" '/^Requests\/sec:/ {rps=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2}
                /Non-2xx/ {bad=$4} END {printf "| %s | %d | %.0f | %s | %s | %d |\n", b, c, rps, p50, p99, bad}'
    done
    stop_server
}

echo "| backend | connections | req/s | p50 | p99 | non-2xx |"
echo "|---|---|---|---|---|---|"
each_backend
