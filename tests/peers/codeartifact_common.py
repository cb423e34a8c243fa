"""What the boto3 peer scripts share (codeartifact_boto3.py, codeartifact_ops.py,
package_groups.py): a client for `lading serve`, responses validated against botocore's own
service model (the same model boto3 uses to talk to AWS: `ParamValidator` checks each parsed
response against the operation's output shape, so a wrong member name or type, or a missing
required member, fails the run), and the count of checks a script reports.

Environment: LADING_URL (server), AWS_SHARED_CREDENTIALS_FILE (admin keys).
"""

import os
import sys

import boto3
import botocore.exceptions
import botocore.session
import botocore.validate
from botocore.config import Config

URL = os.environ["LADING_URL"]
REGION = "us-east-1"
CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"})
MODEL = botocore.session.get_session().get_service_model("codeartifact")
VALIDATOR = botocore.validate.ParamValidator()
checks = 0


def check(condition, message):
    global checks
    if not condition:
        raise AssertionError(message)
    checks += 1


def validated(operation, response):
    """Validate a parsed response against the operation's output shape."""
    body = {key: value for key, value in response.items() if key != "ResponseMetadata"}
    report = VALIDATOR.validate(body, MODEL.operation_model(operation).output_shape)
    check(not report.has_errors(), f"{operation} response does not match the model:\n{report.generate_report()}\n{body}")
    check(response["ResponseMetadata"]["HTTPStatusCode"] == 200, f"{operation} status")
    return response


def expect_error(code, call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except botocore.exceptions.ClientError as error:
        actual = error.response["Error"]["Code"]
        check(actual == code, f"expected {code}, got {actual}: {error}")
        return error
    raise AssertionError(f"expected {code}, but the call succeeded")


def client(url=URL, **kwargs):
    return boto3.client("codeartifact", endpoint_url=url, region_name=REGION, config=CONFIG, **kwargs)


def run_scenario(scenarios):
    """Run the scenario `sys.argv[1]` names and print `SCENARIO: N checks passed`."""
    scenario = sys.argv[1]
    scenarios[scenario]()
    print(f"{scenario}: {checks} checks passed")
