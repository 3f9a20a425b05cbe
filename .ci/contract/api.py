"""A few calls to a running Painline, with the standard library only; used
by the contract run to set up its accounts and to restore a care-team link
the fuzzer ended."""
import json
import os
import urllib.error
import urllib.request


def call(base, method, path, token=None, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            text = reply.read()
            return reply.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as err:
        return err.code, None


class SetupFailed(Exception):
    """A call the contract run depends on did not answer as expected."""


def expect(status, want, what):
    if status != want:
        raise SetupFailed(f"contract setup: {what} answered {status}, expected {want}")


def register(base, email, role, name):
    status, body = call(base, "POST", "/v1/auth/register", body={
        "email": email,
        # Not an example in openapi.yaml: the fuzzer must not guess it.
        "password": os.environ["CONTRACT_PASSWORD"],
        "display_name": name,
        "role": role,
        "timezone": "UTC",
    })
    expect(status, 201, f"registering the {role}")
    return body["user"]["id"], body["tokens"]["access_token"]


def link(base, therapist_token, patient_token):
    status, invitation = call(base, "POST", "/v1/invitations", therapist_token, {})
    expect(status, 201, "creating an invitation")
    status, _ = call(base, "POST", "/v1/me/care-team", patient_token, {"code": invitation["code"]})
    expect(status, 201, "joining the care team")
