#!/usr/bin/env python3
"""SQL for the overview benchmark: PATIENTS patients linked to one therapist,
each with DAYS days of pain entries, a stretch session every other day, a
massage session every 14 days and a precaution. Usage:
    seed_overview.py THERAPIST_ID PATIENTS DAYS > seed.sql
"""
import datetime
import sys
import uuid

KNEE_TO_CHEST = "5cc4de70-afe9-4d31-8df2-1cc2bd1c45ab"
STAMP = "'2026-01-01 00:00:00'"


def main() -> None:
    therapist, patients, days = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    today = datetime.datetime.now(datetime.timezone.utc).date()
    out = sys.stdout
    out.write("BEGIN;\n")
    for p in range(patients):
        pid = uuid.uuid4()
        out.write(
            "INSERT INTO users (id, email, password_hash, display_name, role, timezone, change_seq, created_at, updated_at) "
            f"VALUES ('{pid}', 'seed{p}-{pid}@example.org', 'x', 'Patient {p}', 'patient', 'Europe/Berlin', 100000, {STAMP}, {STAMP});\n"
            f"INSERT INTO care_links (patient_id, therapist_id, since) VALUES ('{pid}', '{therapist}', {STAMP});\n"
        )
        rows = []
        for d in range(days):
            date = today - datetime.timedelta(days=d)

            def row(seq: int, kind: str, typed: str) -> str:
                return (
                    f"('{uuid.uuid4()}', '{pid}', '{kind}', '{date}', '{pid}', 'patient', '{{}}', 1, {seq}, "
                    f"{STAMP}, {STAMP}, {typed})"
                )

            rows.append(row(d * 3 + 1, "pain_entry", f"{(d * 7 + p) % 11}, NULL, NULL, NULL, NULL, NULL"))
            if d % 2 == 0:
                rows.append(row(d * 3 + 2, "stretch_session", f"NULL, NULL, NULL, NULL, 300, '{KNEE_TO_CHEST}'"))
            if d % 14 == 0:
                rows.append(row(d * 3 + 3, "massage_session", "NULL, NULL, NULL, 60, NULL, NULL"))
        out.write(
            "INSERT INTO records (id, patient_id, kind, date, author_id, author_role, data, version, change_seq, "
            "created_at, updated_at, pain_level, recorded_at, started_at, duration_minutes, duration_seconds, stretch_id) VALUES "
            + ", ".join(rows)
            + ";\n"
        )
        out.write(
            "INSERT INTO records (id, patient_id, kind, date, author_id, author_role, data, version, change_seq, "
            f"created_at, updated_at, natural_key) VALUES ('{uuid.uuid4()}', '{pid}', 'condition', NULL, '{pid}', "
            f"'patient', '{{}}', 1, 99999, {STAMP}, {STAMP}, 'osteoporosis');\n"
        )
    out.write("COMMIT;\n")


if __name__ == "__main__":
    main()
