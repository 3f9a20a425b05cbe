"""Schemathesis hooks: the request rules openapi.yaml cannot state.

OpenAPI 3.1 has no way to relate two values of one request, or a value to
today's date, or to data already stored. (What JSON Schema can state is in
openapi.yaml and not repeated here: the years of dates and instants, lists
that name a value once, each questionnaire's answers, a reminder's days
while enabled; src/openapi/rules.rs.) The server enforces such rules
(each is written in the operation's description in openapi.yaml and answers
400 or 422 naming the field). Here, and only for requests schemathesis
generates as *valid* (positive mode), the generated values are brought
inside those rules, so "valid data must be accepted" tests what it means to.
Negative cases are never touched: every one must still be refused.

Each rule below names where the server enforces it.
"""
import datetime
import os
import re
import uuid

import schemathesis
from api import link

# Patients' "today" follows their time zone (UTC-12 .. UTC+14): a date up to
# yesterday in UTC is never in any patient's future.
LATEST = datetime.datetime.now(datetime.timezone.utc).date() - datetime.timedelta(days=1)
# A built-in stretch, found by .ci/contract-test.sh before the run.
STRETCH_ID = os.environ.get("CONTRACT_STRETCH_ID")
# Every stretch of the catalog, for a programme's items.
STRETCH_IDS = [s for s in os.environ.get("CONTRACT_STRETCH_IDS", "").split(",") if s]


def _date(value):
    try:
        return datetime.date.fromisoformat(value)
    except (TypeError, ValueError):
        return None


def _positive(case):
    meta = getattr(case, "meta", None)
    return meta is not None and meta.generation.mode.is_positive


def _whole(value):
    """JSON Schema (and the server) count 14.0 as the integer 14."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


# The pattern openapi.yaml declares for If-Match (routes/http.rs).
IF_MATCH = re.compile(r'^[ \t]*(\*|(W/)?"[0-9]{1,18}"([ \t]*,[ \t]*(W/)?"[0-9]{1,18}")*)[ \t]*$')


@schemathesis.hook
def filter_case(context, case):
    """Schemathesis 4.32 can label a case positive while one of its parts
    was generated negative (seen: an `If-Match` header whose pattern needs
    characters its header generator avoids, sent as `0`, in the coverage
    phase and, beside a request example, in the examples phase). Such a
    case is neither: it is dropped; its negative part is still sent in the
    negative cases the phases make."""
    meta = getattr(case, "meta", None)
    if meta is None or not meta.generation.mode.is_positive:
        return True
    if not all(c.mode.is_positive for c in meta.components.values()):
        return False
    headers = case.headers or {}
    if_match = next((v for k, v in headers.items() if k.lower() == "if-match"), None)
    return if_match is None or bool(IF_MATCH.match(str(if_match)))


def _clamp(day):
    """Not after the patient's today (1900 and later is in the schema)."""
    return min(day, LATEST)


def _fix_range(query):
    """routes/http.rs check_range, service/trends.rs resolve: from <= to
    (to defaults to the patient's today), at most 1,096 days."""
    start, end = _date(query.get("from")), _date(query.get("to"))
    if start is None and end is None:
        return
    if end is not None:
        end = _clamp(end)
    if start is not None:
        start = _clamp(start)
        ceiling = end or LATEST
        if start > ceiling:
            start = ceiling
        if (ceiling - start).days >= 1000:
            start = ceiling - datetime.timedelta(days=999)
        query["from"] = start.isoformat()
    if end is not None:
        query["to"] = end.isoformat()


def _fix_body(body):
    """domain/logbook.rs Checks::date: a logbook date is not after the
    patient's today + 1."""
    if "date" in body and _date(body["date"]) is not None:
        body["date"] = _clamp(_date(body["date"])).isoformat()
    # kinds/massage_session.rs: the areas' minutes fit in duration_minutes.
    areas = body.get("areas")
    duration = _whole(body.get("duration_minutes"))
    if isinstance(areas, list) and duration is not None:
        total = 0
        for area in areas:
            minutes = _whole(area.get("minutes")) if isinstance(area, dict) else None
            if minutes is not None:
                area["minutes"] = max(1, min(minutes, duration - total))
                total += area["minutes"]
        if total > duration:
            body["areas"] = []
    # kinds/stretch_session.rs: stretch_id names a stretch the patient has.
    if "stretch_id" in body and STRETCH_ID:
        body["stretch_id"] = STRETCH_ID
    # kinds/programme.rs: a programme's items name distinct stretches the
    # patient has (the catalog holds fewer than the 20 items allowed), and
    # it does not end before it starts.
    items = body.get("items")
    if isinstance(items, list) and STRETCH_IDS and all(isinstance(i, dict) for i in items):
        del items[len(STRETCH_IDS):]
        for item, stretch in zip(items, STRETCH_IDS):
            if "stretch_id" in item:
                item["stretch_id"] = stretch
    starts, ends = _date(body.get("starts_on")), _date(body.get("ends_on"))
    if starts is not None and ends is not None and ends < starts:
        body["ends_on"] = starts.isoformat()


def _fix_me(case):
    """routes/me.rs update_me: a new address comes with the account's
    password (declared as dependentRequired; the value is the one the
    accounts were made with), and must be one SMTP can carry, since a link
    is mailed to it (lettre's address rules, IDNA domains, which no pattern
    states): a plain address stands in for the generated one. Each stays a
    fresh address, so "taken" is never the answer by accident."""
    if case.method != "PATCH" or case.path != "/v1/me" or not isinstance(case.body, dict):
        return
    if "email" in case.body:
        case.body["email"] = f"moved-{uuid.uuid4().hex[:12]}@example.org"
        case.body["current_password"] = os.environ.get("CONTRACT_PASSWORD", "unknown")


def _fix(case, generated):
    """Brings a positive case inside the rules above."""
    _fix_me(case)
    if isinstance(case.query, dict):
        _fix_range(case.query)
        # routes/http.rs, sync.rs: a cursor is a value only the API makes
        # (a `next_cursor`); one made up is a 400, like any forged token.
        # One filled in from an earlier answer (a link) is kept.
        if generated:
            case.query.pop("cursor", None)
        # routes/export.rs: from/to choose the days of the CSV export only.
        if case.path.endswith("/export") and ("from" in case.query or "to" in case.query):
            case.query["format"] = "csv"
    if isinstance(case.body, dict):
        _fix_body(case.body)


@schemathesis.hook
def map_case(context, case):
    if _positive(case):
        _fix(case, generated=True)
    return case


@schemathesis.hook
def before_call(context, case, kwargs):
    """Again just before sending: the stateful phase fills values from
    earlier answers (links) after generation, which can break a rule that
    relates them to generated ones (areas' minutes and a linked duration)."""
    if _positive(case):
        _fix(case, generated=False)


@schemathesis.hook
def after_call(context, case, response):
    """The therapist's run may end its link to the patient (DELETE
    /v1/patients/{pid}); the rest of that run reads the patient's data
    through it, so it is made again at once. (In the patient's run, which
    comes last, nothing needs the link any more; by then the patient's
    made-up invitation codes have it throttled, as they should.)"""
    ended = (
        case.method == "DELETE"
        and response.status_code == 204
        and case.path == "/v1/patients/{pid}"
    )
    if ended and os.environ.get("CONTRACT_BASE_URL"):
        link(
            os.environ["CONTRACT_BASE_URL"],
            os.environ["CONTRACT_THERAPIST_TOKEN"],
            os.environ["CONTRACT_PATIENT_TOKEN"],
        )
