#!/usr/bin/env bash
# The TypeScript client of the contract: openapi-typescript (pinned in
# .ci/contract/node, installed into target/contract-node) generates types
# from openapi.yaml, where any warning or error fails; then tsc --strict
# compiles them with a client's use of them (the sync feed and the
# questionnaires narrowed by their discriminators, the problem codes as a
# closed set), so a document that only generates is not enough.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
node_dir=$root/target/contract-node
bin=$node_dir/node_modules/.bin
if ! cmp -s .ci/contract/node/package-lock.json "$node_dir/package-lock.json" || [ ! -x "$bin/openapi-typescript" ]; then
    rm -rf "$node_dir"
    mkdir -p "$node_dir"
    cp .ci/contract/node/package.json .ci/contract/node/package-lock.json "$node_dir/"
    npm ci --prefix "$node_dir" --no-audit --no-fund --loglevel=error
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$bin/openapi-typescript" openapi.yaml -o "$out/painline.ts" >"$out/generate.log" 2>&1 || {
    cat "$out/generate.log"
    exit 1
}
cat "$out/generate.log"
if grep -Eiq "warn|error|⚠|✘" "$out/generate.log"; then
    echo "contract: openapi-typescript warned" >&2
    exit 1
fi
cat >"$out/use.ts" <<'TS'
import type { components, paths } from "./painline";

type Schemas = components["schemas"];

export function describe(change: Schemas["Change"]): string {
    if (change.data === null) {
        return `${change.kind} ${change.id} deleted`;
    }
    switch (change.kind) {
        case "pain_entry":
            return `pain ${change.data.pain_level} on ${change.data.date}`;
        case "massage_session":
            return `${change.data.duration_minutes} min by ${change.data.recorded_by.role}`;
        case "stretch_session":
            return `${change.data.duration_seconds} s`;
        case "assessment":
            return `${change.data.instrument}: ${change.data.score}`;
        case "stretch":
            return change.data.name;
        case "condition":
            return change.data.condition;
        case "programme":
            return `${change.data.items.length} stretches from ${change.data.starts_on}`;
    }
}

export function answered(body: Schemas["AssessmentBody"]): number {
    switch (body.instrument) {
        case "peg":
        case "rmdq":
            return body.answers.length;
        case "odi":
            return body.answers.filter((a) => a !== null).length;
    }
}

export const code: Schemas["Problem"]["code"] = "validation_failed";
export type Feed = paths["/v1/me/changes"]["get"]["responses"][200]["content"]["application/json"];
TS
"$bin/tsc" --noEmit --strict --noImplicitReturns --target es2022 --module esnext \
    --moduleResolution bundler "$out/painline.ts" "$out/use.ts"
echo "contract: openapi-typescript generated without a warning; tsc --strict compiled the types"
