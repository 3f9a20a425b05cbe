#!/usr/bin/env bash
# Starts the debug build on a fresh SQLite database, seeds the demo, and
# checks what a patient and their therapist export: every FHIR bundle with
# fhir.resources (an independent R4 model library, installed into a venv
# here), the CSV with Python's csv module.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=target/debug/painline
WORK=$(mktemp -d)
trap 'kill "${SERVER:-}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q --disable-pip-version-check "fhir.resources==8.3.0"

export DATABASE_URL="sqlite://$WORK/painline.db" PAINLINE_BIND=127.0.0.1:0 PAINLINE_LOG=info
(cd "$WORK" && "$OLDPWD/$BIN" seed-demo)
(cd "$WORK" && exec "$OLDPWD/$BIN" serve >"$WORK/server.log" 2>&1) &
SERVER=$!
for _ in $(seq 1 100); do
    PORT=$(grep -o '"port":[0-9]*' "$WORK/server.log" | head -n1 | cut -d: -f2 || true)
    [ -n "$PORT" ] && break
    sleep 0.1
done
[ -n "${PORT:-}" ] || { cat "$WORK/server.log"; exit 1; }
API="http://127.0.0.1:$PORT"

token() {
    curl -fsS "$API/v1/auth/login" -H 'content-type: application/json' \
        -d "{\"email\":\"$1\",\"password\":\"painline-demo-password\"}" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens"]["access_token"])'
}
PATIENT=$(token alex@demo.painline.example)
THERAPIST=$(token therapist@demo.painline.example)
curl -fsS "$API/v1/me/export?format=fhir" -H "authorization: Bearer $PATIENT" -o "$WORK/alex.fhir.json"
FILES=("$WORK/alex.fhir.json")
for pid in $(curl -fsS "$API/v1/patients" -H "authorization: Bearer $THERAPIST" |
    python3 -c 'import json,sys; [print(p["id"]) for p in json.load(sys.stdin)["items"]]'); do
    curl -fsS "$API/v1/patients/$pid/export?format=fhir" -H "authorization: Bearer $THERAPIST" -o "$WORK/$pid.fhir.json"
    FILES+=("$WORK/$pid.fhir.json")
done
# A patient the demo does not cover: notes (one empty, one with a control
# character), an entry with a time, one with two red flags, sessions
# recorded by the patient with and without a start, PEG from an entry and
# from a questionnaire.
REGISTERED=$(curl -fsS "$API/v1/auth/register" -H 'content-type: application/json' \
    -d '{"email":"fhir-edge@example.org","password":"correct horse battery","display_name":"Edge Case","role":"patient"}')
EDGE=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens"]["access_token"])' <<<"$REGISTERED")
TODAY=$(date -u +%F)
for body in \
    "{\"date\":\"$TODAY\",\"pain_level\":5,\"notes\":\"\"}" \
    "{\"date\":\"$TODAY\",\"pain_level\":8,\"red_flags\":[\"fever\",\"saddle_anaesthesia\"]}" \
    "{\"date\":\"$TODAY\",\"pain_level\":6,\"recorded_at\":\"${TODAY}T07:15:00.123456Z\",\"enjoyment_interference\":4,\"activity_interference\":5,\"notes\":\"bell \\u0007 and\\nnewline\",\"regions\":[\"hip_left\",\"leg_right\"]}"; do
    curl -fsS "$API/v1/me/pain-entries" -H "authorization: Bearer $EDGE" -H 'content-type: application/json' -d "$body" >/dev/null
done
for body in \
    "{\"date\":\"$TODAY\",\"duration_minutes\":45,\"technique\":\"trigger_point\",\"areas\":[],\"notes\":\" \"}" \
    "{\"date\":\"$TODAY\",\"started_at\":\"${TODAY}T06:00:00Z\",\"duration_minutes\":30,\"technique\":\"other\",\"pain_before\":7,\"areas\":[{\"muscle\":\"piriformis\",\"side\":\"right\",\"minutes\":30}]}"; do
    curl -fsS "$API/v1/me/massage-sessions" -H "authorization: Bearer $EDGE" -H 'content-type: application/json' -d "$body" >/dev/null
done
curl -fsS "$API/v1/me/assessments" -H "authorization: Bearer $EDGE" -H 'content-type: application/json' \
    -d "{\"date\":\"$TODAY\",\"instrument\":\"peg\",\"answers\":[3,4,5]}" >/dev/null
# Home programmes: one of three items that the therapist ended, then one
# of two items in force (a note with a control character): two CarePlans.
EDGE_ID=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["user"]["id"])' <<<"$REGISTERED")
CODE=$(curl -fsS "$API/v1/invitations" -H "authorization: Bearer $THERAPIST" -H 'content-type: application/json' -d '{}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["code"])')
curl -fsS "$API/v1/me/care-team" -H "authorization: Bearer $EDGE" -H 'content-type: application/json' \
    -d "{\"code\":\"$CODE\"}" >/dev/null
KNEE=5cc4de70-afe9-4d31-8df2-1cc2bd1c45ab CAT=298adaec-6990-404b-abde-9246865bd113 BEND=05265d94-defe-4733-92b0-2989f34a5b19
programme() {
    curl -fsS -X PUT "$API/v1/patients/$EDGE_ID/programme" -H "authorization: Bearer $THERAPIST" \
        -H 'content-type: application/json' -d "$1" >/dev/null
}
programme "{\"starts_on\":\"$TODAY\",\"note\":\"First plan\",\"items\":[{\"stretch_id\":\"$KNEE\",\"days_per_week\":7,\"seconds_per_day\":60},{\"stretch_id\":\"$CAT\",\"days_per_week\":5,\"seconds_per_day\":90,\"sets\":2,\"side\":\"both\"},{\"stretch_id\":\"$BEND\",\"days_per_week\":3,\"seconds_per_day\":45,\"reps\":10}]}"
curl -fsS -X DELETE "$API/v1/patients/$EDGE_ID/programme" -H "authorization: Bearer $THERAPIST"
programme "{\"starts_on\":\"$TODAY\",\"items\":[{\"stretch_id\":\"$KNEE\",\"days_per_week\":4,\"seconds_per_day\":120,\"note\":\"bell \\u0007 here\"},{\"stretch_id\":\"$BEND\",\"days_per_week\":2,\"seconds_per_day\":600}]}"
curl -fsS "$API/v1/me/export?format=fhir" -H "authorization: Bearer $EDGE" -o "$WORK/edge.fhir.json"
FILES+=("$WORK/edge.fhir.json")

"$WORK/venv/bin/python" .ci/fhir_check.py "${FILES[@]}"
python3 - "$WORK/edge.fhir.json" <<'PY'
import json, sys
with open(sys.argv[1], encoding="utf-8") as f:
    plans = [e["resource"] for e in json.load(f)["entry"] if e["resource"]["resourceType"] == "CarePlan"]
shape = [(p["status"], len(p["activity"])) for p in plans]
assert shape == [("completed", 3), ("active", 2)], shape
print(f"CarePlans: {shape}")
with open(sys.argv[1], encoding="utf-8") as f:
    observations = [e["resource"] for e in json.load(f)["entry"] if e["resource"]["resourceType"] == "Observation"]
flagged = [[c["code"]["text"] for c in o["component"]] for o in observations if "component" in o]
assert flagged == [["saddle_anaesthesia", "fever"]], flagged
print(f"red flags as Observation components: {flagged}")
PY

curl -fsS "$API/v1/me/export?format=csv" -H "authorization: Bearer $PATIENT" -o "$WORK/alex.csv"
python3 - "$WORK/alex.csv" <<'PY'
import csv, sys
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    rows = list(csv.DictReader(f))
assert len(rows) == 90, len(rows)
logged = [r for r in rows if r["mean_pain"]]
assert logged and all(0 <= float(r["mean_pain"]) <= 10 for r in logged)
print(f"valid CSV: {len(rows)} days, {len(logged)} logged")
PY
# Sam, the demo patient who reported a warning sign two days ago, as his
# therapist downloads the daily CSV.
SAM=$(curl -fsS "$API/v1/patients" -H "authorization: Bearer $THERAPIST" |
    python3 -c 'import json,sys; print(next(p["id"] for p in json.load(sys.stdin)["items"] if p["display_name"].startswith("Sam")))')
curl -fsS "$API/v1/patients/$SAM/export?format=csv" -H "authorization: Bearer $THERAPIST" -o "$WORK/sam.csv"
python3 - "$WORK/sam.csv" <<'PY'
import csv, sys
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    rows = list(csv.DictReader(f))
flagged = [(r["date"], r["red_flags"]) for r in rows if r["red_flags"]]
assert len(flagged) == 1 and flagged[0][1] == "bilateral_leg_symptoms", flagged
assert flagged[0][0] == rows[-3]["date"], (flagged, rows[-1]["date"])
print(f"red flags in the CSV: {flagged}")
PY
