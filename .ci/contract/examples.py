"""Every example of openapi.yaml is valid against its own schema.

Request and answer examples (media types) and parameter examples are
checked with a JSON Schema 2020-12 validator (jsonschema_rs, the one
schemathesis uses), formats included, `$ref`s resolved in the document.
Usage: python examples.py openapi.yaml"""
import sys

import jsonschema_rs
import yaml
from schemathesis.core.deserialization import get_yaml_loader

# As schemathesis reads it: YAML 1.2 (dates stay strings, `off` is no boolean).
with open(sys.argv[1], encoding="utf-8") as f:
    doc = yaml.load(f, Loader=get_yaml_loader())

checked, failed = 0, []


def check(where, schema, value):
    global checked
    root = {key: val for key, val in doc.items() if key == "components"}
    root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    root["allOf"] = [schema]
    validator = jsonschema_rs.Draft202012Validator(root, validate_formats=True)
    errors = [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(value)]
    checked += 1
    if errors:
        failed.append(f"{where}: " + "; ".join(errors[:5]))


def media(where, content):
    for media_type, item in (content or {}).items():
        schema = item.get("schema")
        if schema is None:
            continue
        if "example" in item:
            check(f"{where} {media_type} example", schema, item["example"])
        for name, example in (item.get("examples") or {}).items():
            if "value" in example:
                check(f"{where} {media_type} examples.{name}", schema, example["value"])


for path, item in doc["paths"].items():
    for method, op in item.items():
        if not isinstance(op, dict) or "responses" not in op:
            continue
        where = f"{method.upper()} {path}"
        for parameter in op.get("parameters", []):
            if "example" in parameter and "schema" in parameter:
                check(f"{where} parameter {parameter['name']}", parameter["schema"], parameter["example"])
        media(f"{where} request", (op.get("requestBody") or {}).get("content"))
        for status, response in op["responses"].items():
            media(f"{where} {status}", response.get("content"))

for line in failed:
    print(f"examples: {line}", file=sys.stderr)
print(f"examples: {checked} checked, {len(failed)} invalid")
sys.exit(1 if failed else 0)
