#!/usr/bin/env python3
"""SQL for the trends benchmark: one patient with DAYS days of data ending
today: one or two pain entries a day, two stretch sessions a day, and
SESSIONS massage sessions spread evenly. Usage:
    seed_trends.py PATIENT_ID DAYS SESSIONS > seed.sql
"""
import datetime
import sys
import uuid

KNEE_TO_CHEST = "5cc4de70-afe9-4d31-8df2-1cc2bd1c45ab"
STAMP = "'2026-01-01 00:00:00'"
COLUMNS = (
    "id, patient_id, kind, date, author_id, author_role, data, version, change_seq, "
    "created_at, updated_at, pain_level, recorded_at, started_at, duration_minutes, duration_seconds, stretch_id"
)


def main() -> None:
    pid, days, sessions = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    today = datetime.datetime.now(datetime.timezone.utc).date()
    rows = []

    def row(date: datetime.date, kind: str, typed: str) -> None:
        rows.append(
            f"('{uuid.uuid4()}', '{pid}', '{kind}', '{date}', '{pid}', 'patient', '{{}}', 1, "
            f"{len(rows) + 1}, {STAMP}, {STAMP}, {typed})"
        )

    for d in range(days):
        date = today - datetime.timedelta(days=days - 1 - d)
        for n in range(1 + (d % 3 == 0)):
            row(date, "pain_entry", f"{(d * 7 + n * 3) % 11}, NULL, NULL, NULL, NULL, NULL")
        for n in range(2):
            row(date, "stretch_session", f"NULL, NULL, NULL, NULL, {240 + 60 * n}, '{KNEE_TO_CHEST}'")
        if (d * sessions) % days < sessions:
            row(date, "massage_session", "NULL, NULL, NULL, 60, NULL, NULL")
    print("BEGIN;")
    for i in range(0, len(rows), 500):
        print(f"INSERT INTO records ({COLUMNS}) VALUES " + ", ".join(rows[i : i + 500]) + ";")
    print(f"UPDATE users SET change_seq = {len(rows)} WHERE id = '{pid}';")
    print("COMMIT;")


if __name__ == "__main__":
    main()
