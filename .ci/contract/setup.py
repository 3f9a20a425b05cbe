"""Creates the contract run's accounts on a fresh server: a patient with a
few days of data and a therapist linked to them. Prints shell assignments."""
import datetime
import sys
import uuid

from api import call, expect, link, register

base = sys.argv[1]
patient_id, patient = register(base, "patient@contract.test", "patient", "Contract Patient")
therapist_id, therapist = register(base, "therapist@contract.test", "therapist", "Contract Therapist")
link(base, therapist, patient)
today = datetime.date.today() - datetime.timedelta(days=1)
for days_ago in range(7):
    day = (today - datetime.timedelta(days=days_ago)).isoformat()
    status, _ = call(base, "PUT", f"/v1/me/pain-entries/{uuid.uuid4()}", patient,
                     {"date": day, "pain_level": 3 + days_ago % 4})
    expect(status, 201, "logging a pain entry")
status, _ = call(base, "POST", "/v1/me/massage-sessions", patient, {
    "date": (today - datetime.timedelta(days=3)).isoformat(),
    "duration_minutes": 45, "technique": "swedish", "areas": [],
})
expect(status, 201, "recording a massage session")
status, stretches = call(base, "GET", "/v1/stretches", patient)
expect(status, 200, "listing stretches")
items = stretches["items"] if isinstance(stretches, dict) else stretches
print(f"export CONTRACT_PATIENT_ID={patient_id} CONTRACT_PATIENT_TOKEN={patient}")
print(f"export CONTRACT_THERAPIST_ID={therapist_id} CONTRACT_THERAPIST_TOKEN={therapist}")
print(f"export CONTRACT_STRETCH_ID={items[0]['id']}")
print(f"export CONTRACT_STRETCH_IDS={','.join(item['id'] for item in items)}")
