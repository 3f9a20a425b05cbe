"""Checks exported FHIR bundles with an independent R4 model library.

fhir.resources' R4B models are identical to R4 for Bundle, Patient, CarePlan,
Observation and Procedure (docs/api-guide.md, exports). Each file must parse as a Bundle
of type collection, and each entry's resource must parse as its own
resource type, so unknown fields, wrong types and missing required
elements all fail.
"""

import json
import sys

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle


def check(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        raw = f.read()
    bundle = Bundle.model_validate_json(raw)
    if bundle.type != "collection":
        raise SystemExit(f"{path}: bundle type is {bundle.type!r}, not 'collection'")
    counts: dict[str, int] = {}
    urls = set()
    for entry in json.loads(raw)["entry"]:
        resource = entry["resource"]
        kind = resource["resourceType"]
        get_fhir_model_class(kind).model_validate(resource)
        counts[kind] = counts.get(kind, 0) + 1
        if entry["fullUrl"] in urls:
            raise SystemExit(f"{path}: {entry['fullUrl']} twice")
        urls.add(entry["fullUrl"])
    if counts.get("Patient") != 1:
        raise SystemExit(f"{path}: {counts.get('Patient', 0)} Patient resources")
    for kind in ("Observation", "Procedure"):
        if not counts.get(kind):
            raise SystemExit(f"{path}: no {kind}")
    return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))


if __name__ == "__main__":
    for path in sys.argv[1:]:
        print(f"valid R4 bundle: {path}: {check(path)}")
