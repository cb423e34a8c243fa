#!/usr/bin/env bash
# Walk every operation of the AWS CodeArtifact service model (botocore's `codeartifact`
# service JSON) with the AWS CLI against a fresh `lading serve`, and print how many of them
# it implements. An operation counts as implemented when the server does not answer it with
# `UnknownOperationException` (the answer to a route it does not know); a validation error,
# a missing resource or a success all mean the operation is there.
#
#   bench/codeartifact-conformance.sh [LADING_BINARY]
#
# LADING_BINARY defaults to target/debug/lading (built when missing). The AWS CLI and its
# botocore come from `LADING_TEST_PYTHON` (the peers venv, `.ci/install-peers`), else
# `python3`; the CLI runs in that one Python process (awscli's own driver, the code behind
# `aws`), so 48 calls do not pay 48 interpreter starts. Every call uses the required members
# of its input shape, filled with values of the right type and length.
#
# Output: one line per operation (`implemented` or `missing`, and the server's answer), then
# `implemented: N of M`. Exit status 0 whatever N is; 1 when the walk itself failed.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LADING=${1:-$ROOT/target/debug/lading}
if [ ! -x "$LADING" ]; then
  (cd "$ROOT" && cargo build --quiet --bin lading)
fi
PYTHON=${LADING_TEST_PYTHON:-python3}

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

"$LADING" serve --data "$WORK/data" --listen 127.0.0.1:0 2>"$WORK/serve.log" &
SERVER_PID=$!
URL=
for _ in $(seq 1 300); do
  URL=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$WORK/serve.log" | head -n 1)
  [ -n "$URL" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/serve.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$URL" ] || { echo "lading serve did not start" >&2; cat "$WORK/serve.log" >&2; exit 1; }

export AWS_SHARED_CREDENTIALS_FILE=$WORK/data/credentials AWS_CONFIG_FILE=/dev/null
export AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export LADING_URL=$URL CONFORMANCE_WORK=$WORK

"$PYTHON" - <<'PY'
import contextlib
import io
import json
import os
import sys

import botocore.session
from awscli.clidriver import create_clidriver
from botocore import xform_name

model = botocore.session.get_session().get_service_model("codeartifact")
work = os.environ["CONFORMANCE_WORK"]
url = os.environ["LADING_URL"]
asset = os.path.join(work, "asset.bin")
with open(asset, "wb") as handle:
    handle.write(b"conformance")

# Values a real call would send, so the walk reaches each operation's own checks.
KNOWN = {
    "domain": "local",
    "repository": "main",
    "sourceRepository": "main",
    "destinationRepository": "main",
    "package": "conformance",
    "packageVersion": "1.0.0",
    "versions": ["1.0.0"],
    "asset": "conformance.bin",
    "assetName": "conformance.bin",
    "assetSHA256": "0" * 64,
    "namespace": "conformance",
    "packageGroup": "/*",
    "resourceArn": "arn:aws:codeartifact:us-east-1:000000000000:domain/local",
    "tags": [{"key": "k", "value": "v"}],
    "tagKeys": ["k"],
    "policyDocument": json.dumps({"Version": "2012-10-17", "Statement": []}),
    "externalConnection": "public:npmjs",
    "restrictions": {"publish": "ALLOW", "upstream": "ALLOW"},
}


def value_for(name, shape):
    if name in KNOWN:
        return KNOWN[name]
    if shape.enum:
        return "generic" if "generic" in shape.enum else shape.enum[0]
    kind = shape.type_name
    if kind == "string":
        return "x" * max(shape.metadata.get("min", 1), 1)
    if kind in ("integer", "long"):
        return shape.metadata.get("min", 1)
    if kind == "boolean":
        return False
    if kind == "list":
        return [value_for(name, shape.member)]
    if kind == "map":
        return {}
    if kind == "structure":
        return {
            member: value_for(member, shape.members[member])
            for member in shape.required_members
        }
    raise SystemExit(f"no sample value for {name} ({kind})")


def arguments(operation):
    shape = operation.input_shape
    args = ["codeartifact", xform_name(operation.name, "-")]
    if shape is None:
        return args
    for member in shape.required_members:
        member_shape = shape.members[member]
        if member_shape.type_name == "blob":
            args += ["--" + xform_name(member, "-"), asset]
            continue
        value = value_for(member, member_shape)
        text = value if isinstance(value, str) else json.dumps(value)
        args += ["--" + xform_name(member, "-"), text]
    if operation.has_streaming_output:
        args.append(os.path.join(work, "outfile"))
    return args + ["--endpoint-url", url, "--output", "json"]


implemented = 0
names = sorted(model.operation_names)
for name in names:
    driver = create_clidriver()
    stderr, stdout = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
        status = driver.main(arguments(model.operation_model(name)))
    message = stderr.getvalue().strip().splitlines()
    answer = "ok" if status == 0 else (message[-1] if message else f"exit {status}")
    if "UnknownOperationException" in answer:
        print(f"missing      {name}")
    else:
        implemented += 1
        print(f"implemented  {name}: {answer[:160]}")
print(f"implemented: {implemented} of {len(names)}")
PY
