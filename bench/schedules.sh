#!/usr/bin/env bash
# Scale of the reminder scheduler on PostgreSQL (issue 13): 100,000
# patients with reminders enabled, their due times spread over a day, so a
# wake-up finds the ~70 that fall in one minute. Prints the plan of the
# claim query (EXPLAIN ANALYZE, in a transaction rolled back) and the time
# of real wake-ups of a release build, from its log.
#   bench/schedules.sh                       # 100,000 patients
#   PATIENTS=1000000 bench/schedules.sh
#   PG_URL=postgres://user@host/postgres bench/schedules.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PATIENTS=${PATIENTS:-100000}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB=painline_bench_schedules
SECRET=bench-secret-bench-secret-bench-secret-0123
command -v psql >/dev/null || { echo "bench: psql is not installed" >&2; exit 1; }
cargo build --release --quiet
BIN=$PWD/target/release/painline
BASE_URL=${PG_URL%/*}
psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
URL="$BASE_URL/$DB"
DATABASE_URL=$URL PAINLINE_JWT_SECRET=$SECRET "$BIN" migrate >/dev/null

# Patients in UTC, each with a reminder at a minute of the day (spread
# evenly), due next at that minute from now on; confirmed addresses.
psql -q "$URL" <<SQL
INSERT INTO users (id, email, password_hash, display_name, role, timezone, change_seq,
                   created_at, updated_at, email_verified_at)
SELECT md5(i::text)::uuid::text, 'p' || i || '@bench.example', 'x', 'Patient ' || i,
       'patient', 'UTC', 0, now(), now(), now()
FROM generate_series(1, $PATIENTS) AS i;
INSERT INTO mail_schedules (user_id, kind, enabled, local_time, days, next_due_at, due_date,
                            handled_date, version, updated_at)
SELECT md5(i::text)::uuid::text, 'reminder', TRUE,
       to_char(t, 'HH24:MI'), 'mon,tue,wed,thu,fri,sat,sun', t, t::date, NULL, 1, now()
FROM (SELECT i, date_trunc('minute', now() at time zone 'utc')
                 + ((i % 1440) || ' minutes')::interval AS t
      FROM generate_series(1, $PATIENTS) AS i) AS s;
ANALYZE users; ANALYZE mail_schedules; ANALYZE records;
SQL

echo "## claim query plan, $PATIENTS schedules (due in the next minute: $(psql -tA "$URL" -c \
  "SELECT count(*) FROM mail_schedules WHERE next_due_at <= now() at time zone 'utc' + interval '1 minute'"))"
psql -q "$URL" <<SQL
BEGIN;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT user_id, kind, enabled, local_time, days, next_due_at, due_date, handled_date, version, updated_at
FROM mail_schedules
WHERE next_due_at IS NOT NULL AND next_due_at <= (now() at time zone 'utc') + interval '1 minute'
ORDER BY next_due_at LIMIT 100 FOR UPDATE SKIP LOCKED;
ROLLBACK;
SQL

# Real wake-ups: the binary's scheduler runs at start and then each
# minute; its log line says how many were due and how long it took.
LOG=$(mktemp)
DATABASE_URL=$URL PAINLINE_JWT_SECRET=$SECRET PAINLINE_BIND=127.0.0.1:18282 \
  PAINLINE_MAIL_POLL=0 PAINLINE_LOG=info "$BIN" serve 2>"$LOG" &
PID=$!
trap 'kill $PID 2>/dev/null; rm -f "$LOG"' EXIT
for _ in $(seq 1 150); do
    [ "$(grep -c 'scheduler woke' "$LOG")" -ge 2 ] && break
    sleep 1  # waiting for the minute's second wake-up
done
echo "## wake-ups"
grep 'scheduler woke' "$LOG" | head -3
