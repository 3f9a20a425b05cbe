"""One whole story through the client openapi-python-client generated from
openapi.yaml: a therapist and a patient register, link with an invitation
code, the patient logs a week, the therapist records a massage session and
reads the trends, and exports the logbook as FHIR. Every answer is parsed
into the generated models; every step checks what it got back."""
import datetime
import json
import sys
import uuid

from painline_client import AuthenticatedClient, Client
from painline_client.api.auth import register
from painline_client.api.care_team import create_invitation, join_care_team
from painline_client.api.exports import export_patient_data
from painline_client.api.logbook import list_changes, list_pain_entries, put_pain_entry
from painline_client.api.therapist_views import create_patient_massage_session
from painline_client.api.trends import get_my_trends, get_patient_trends
from painline_client.models import (
    CreateInvitation,
    ExportFormat,
    JoinCareTeam,
    MassageSessionBody,
    PainEntryBody,
    PainEntryChange,
    Problem,
    RegisterRequest,
    Role,
    SessionResponse,
    Technique,
    Timezone,
    TrendsResponse,
)

base = sys.argv[1]
run = uuid.uuid4().hex[:8]


def check(condition, what):
    if not condition:
        raise SystemExit(f"story: {what}")
    print(f"story: {what}: ok")


def signed_up(role, name):
    answer = register.sync(
        client=Client(base_url=base),
        body=RegisterRequest(
            email=f"{role.value}-{run}@story.test",
            password="a long story password",
            display_name=name,
            role=role,
            timezone=Timezone.EUROPE_BERLIN,
        ),
    )
    check(isinstance(answer, SessionResponse), f"{role.value} registers")
    client = AuthenticatedClient(base_url=base, token=answer.tokens.access_token)
    return answer.user.id, client


therapist_id, therapist = signed_up(Role.THERAPIST, "Dr. Story")
patient_id, patient = signed_up(Role.PATIENT, "Pat Story")

invitation = create_invitation.sync(client=therapist, body=CreateInvitation(expires_in_hours=24))
check(not isinstance(invitation, Problem) and len(invitation.code) == 11, "therapist creates an invitation")
member = join_care_team.sync(client=patient, body=JoinCareTeam(code=invitation.code.lower()))
check(not isinstance(member, Problem) and member.therapist.id == therapist_id, "patient joins with the code")

# Pain 7 before the session, then 3 and slowly back up. Berlin's today.
today = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)).date()
week = [today - datetime.timedelta(days=6 - i) for i in range(7)]
levels = [7, 7, 6, 3, 3, 4, 5]
for day, level in zip(week, levels):
    reply = put_pain_entry.sync_detailed(
        uuid.uuid4(), client=patient, body=PainEntryBody(date=day, pain_level=level)
    )
    check(reply.status_code == 201, f"patient logs pain {level} on {day}")
listed = list_pain_entries.sync(client=patient, from_=week[0], to=week[-1])
check(sorted(e.pain_level for e in listed.items) == sorted(levels), "the week is stored")
# The sync feed's items are a oneOf by kind: each parses into its kind's model.
feed = list_changes.sync(client=patient)
entries = [c for c in feed.changes if isinstance(c, PainEntryChange)]
check(len(entries) == 7 and all(c.data.pain_level in levels for c in entries), "the sync feed has the week's entries")

session = create_patient_massage_session.sync(
    patient_id,
    client=therapist,
    body=MassageSessionBody(
        date=week[2], duration_minutes=60, technique=Technique.DEEP_TISSUE, areas=[]
    ),
)
check(not isinstance(session, Problem) and session.date == week[2], "therapist records a session")

trends = get_patient_trends.sync(patient_id, client=therapist, from_=week[0], to=week[-1])
check(isinstance(trends, TrendsResponse), "therapist reads the trends")
check(trends.summary.sessions == 1 and len(trends.intervals) == 1, "one session, one interval")
interval = trends.intervals[0]
check(interval.session_id == session.id, "the interval starts at the recorded session")
# docs/analytics.md: baseline = mean of the logged days of the week before (7, 7), relief = baseline − early pain.
check(interval.baseline_pain == 7.0, f"baseline pain 7.0 (got {interval.baseline_pain})")
check(interval.relief is not None and interval.relief > 0, f"relief {interval.relief} > 0")
mine = get_my_trends.sync(client=patient, from_=week[0], to=week[-1])
check(mine.intervals[0].relief == interval.relief, "the patient sees the same figures")

# The FHIR export: the request is built by the generated module and sent by
# the generated client; the 200 answer is a Bundle, which this client's
# models (one shape per status) do not describe, so it is read as JSON.
request = export_patient_data._get_kwargs(patient_id, format_=ExportFormat.FHIR)
answer = therapist.get_httpx_client().request(**request)
check(answer.status_code == 200, "therapist exports FHIR")
check(answer.headers["content-type"].startswith("application/fhir+json"), "as application/fhir+json")
bundle = json.loads(answer.content)
kinds = [entry["resource"]["resourceType"] for entry in bundle["entry"]]
check(bundle["resourceType"] == "Bundle" and bundle["type"] == "collection", "a collection Bundle")
check(kinds.count("Patient") == 1, "with the patient")
check(kinds.count("Observation") == 7, f"7 pain observations (got {kinds.count('Observation')})")
check(kinds.count("Procedure") == 1, "and the massage session as a Procedure")
print("story: done")
