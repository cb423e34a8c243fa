"""Drive `lading serve`'s CodeArtifact control plane with boto3, end to end.

Every response is checked against botocore's own service model (the same model boto3 uses
to talk to AWS): `ParamValidator` validates each parsed response against the operation's
output shape, so a wrong member name, type or a missing required member fails the run.

Environment: LADING_URL (server), LADING_SKEWED_URL (same data, clock +1 h),
AWS_SHARED_CREDENTIALS_FILE (admin keys). Prints `boto3 control plane: N checks passed`.
"""

import hashlib
import json
import os
import sys
import time
import urllib.error
import urllib.request

import boto3

import codeartifact_common as shared
from codeartifact_common import URL, check, client, expect_error


SKEWED_URL = os.environ.get("LADING_SKEWED_URL")


def validated(operation, response):
    """Validate a parsed response against the operation's output shape, and that it has a
    request id."""
    shared.validated(operation, response)
    check(response["ResponseMetadata"].get("RequestId"), f"{operation} has no x-amzn-RequestId")
    return response


def main():
    ca = client()
    domain = "boto-dom"

    created = validated("CreateDomain", ca.create_domain(domain=domain))
    check(created["domain"]["name"] == domain and created["domain"]["status"] == "Active", created)
    expect_error("ConflictException", ca.create_domain, domain=domain)
    described = validated("DescribeDomain", ca.describe_domain(domain=domain))
    check(described["domain"]["repositoryCount"] == 0, described)
    domains = validated("ListDomains", ca.list_domains())
    check(domain in [item["name"] for item in domains["domains"]], domains)
    owner = described["domain"]["owner"]

    repo = validated("CreateRepository", ca.create_repository(domain=domain, domainOwner=owner, repository="releases", description="release builds"))
    check(repo["repository"]["description"] == "release builds", repo)
    validated("CreateRepository", ca.create_repository(domain=domain, repository="snapshots"))
    expect_error("ConflictException", ca.create_repository, domain=domain, repository="releases")
    expect_error("ResourceNotFoundException", ca.create_repository, domain="no-such-domain", repository="x1")
    expect_error("ValidationException", ca.create_repository, domain=domain, repository="-bad")
    validated("DescribeRepository", ca.describe_repository(domain=domain, repository="releases"))
    expect_error("ResourceNotFoundException", ca.describe_repository, domain=domain, repository="missing")
    in_domain = validated("ListRepositoriesInDomain", ca.list_repositories_in_domain(domain=domain))
    check([item["name"] for item in in_domain["repositories"]] == ["releases", "snapshots"], in_domain)
    page = validated("ListRepositoriesInDomain", ca.list_repositories_in_domain(domain=domain, maxResults=1))
    check(len(page["repositories"]) == 1 and page.get("nextToken"), page)
    page2 = validated("ListRepositoriesInDomain", ca.list_repositories_in_domain(domain=domain, maxResults=1, nextToken=page["nextToken"]))
    check([item["name"] for item in page2["repositories"]] == ["snapshots"] and "nextToken" not in page2, page2)
    everything = validated("ListRepositories", ca.list_repositories(repositoryPrefix="rel"))
    check([item["name"] for item in everything["repositories"]] == ["releases"], everything)
    check(described["domain"]["repositoryCount"] == 0 and validated("DescribeDomain", ca.describe_domain(domain=domain))["domain"]["repositoryCount"] == 2, "repositoryCount")

    token = validated("GetAuthorizationToken", ca.get_authorization_token(domain=domain, durationSeconds=900))
    lifetime = token["expiration"].timestamp() - time.time()
    check(850 < lifetime <= 901, f"token lifetime {lifetime}")
    default_token = validated("GetAuthorizationToken", ca.get_authorization_token(domain=domain))
    check(43000 < default_token["expiration"].timestamp() - time.time() <= 43201, "default lifetime is 12 h")
    expect_error("ValidationException", ca.get_authorization_token, domain=domain, durationSeconds=60)
    expect_error("ResourceNotFoundException", ca.get_authorization_token, domain="nope-domain")
    endpoint = validated("GetRepositoryEndpoint", ca.get_repository_endpoint(domain=domain, repository="releases", format="npm"))
    check(endpoint["repositoryEndpoint"] == f"{URL}/d/{domain}/npm/releases/", endpoint)
    generic_endpoint = ca.get_repository_endpoint(domain=domain, repository="releases", format="generic")["repositoryEndpoint"]

    # A generic package version with two assets: the first unfinished, the second finishes it.
    first, second = b"first asset\n", b"second asset, \x00 binary \xff\n"
    common = dict(domain=domain, repository="releases", format="generic", namespace="acme", package="tool", packageVersion="1.2.3")
    one = validated("PublishPackageVersion", ca.publish_package_version(**common, assetContent=first, assetName="tool.tar.gz", assetSHA256=hashlib.sha256(first).hexdigest(), unfinished=True))
    check(one["status"] == "Unfinished", one)
    check(one["asset"]["hashes"]["SHA-512"] == hashlib.sha512(first).hexdigest(), one)
    listing = validated("ListPackageVersions", ca.list_package_versions(domain=domain, repository="releases", format="generic", namespace="acme", package="tool"))
    check([(v["version"], v["status"]) for v in listing["versions"]] == [("1.2.3", "Unfinished")], listing)
    two = validated("PublishPackageVersion", ca.publish_package_version(**common, assetContent=second, assetName="tool notes.txt", assetSHA256=hashlib.sha256(second).hexdigest()))
    check(two["status"] == "Published" and two["versionRevision"] != one["versionRevision"], two)
    expect_error("ConflictException", ca.publish_package_version, **common, assetContent=b"late", assetName="late.txt", assetSHA256=hashlib.sha256(b"late").hexdigest())
    mismatch = expect_error("ValidationException", ca.publish_package_version, **dict(common, packageVersion="9.9.9"), assetContent=b"abc", assetName="x.bin", assetSHA256=hashlib.sha256(b"abd").hexdigest())
    check("do not match" in str(mismatch), mismatch)
    expect_error("ValidationException", ca.publish_package_version, **dict(common, format="npm"), assetContent=b"abc", assetName="x.bin", assetSHA256=hashlib.sha256(b"abc").hexdigest())

    packages = validated("ListPackages", ca.list_packages(domain=domain, repository="releases"))
    # First version published directly: CodeArtifact's defaults are publish ALLOW, upstream BLOCK.
    check(packages["packages"] == [{"format": "generic", "namespace": "acme", "package": "tool", "originConfiguration": {"restrictions": {"publish": "ALLOW", "upstream": "BLOCK"}}}], packages)
    origin = validated("PutPackageOriginConfiguration", ca.put_package_origin_configuration(domain=domain, repository="releases", format="generic", namespace="acme", package="tool", restrictions={"publish": "BLOCK", "upstream": "BLOCK"}))
    check(origin["originConfiguration"]["restrictions"]["publish"] == "BLOCK", origin)
    blocked = expect_error("ValidationException", ca.publish_package_version, **dict(common, packageVersion="3.0.0"), assetContent=b"x", assetName="x.bin", assetSHA256=hashlib.sha256(b"x").hexdigest())
    check("BLOCK" in str(blocked), blocked)
    validated("PutPackageOriginConfiguration", ca.put_package_origin_configuration(domain=domain, repository="releases", format="generic", namespace="acme", package="tool", restrictions={"publish": "ALLOW", "upstream": "BLOCK"}))
    described_package = validated("DescribePackage", ca.describe_package(domain=domain, repository="releases", format="generic", namespace="acme", package="tool"))
    check(described_package["package"]["originConfiguration"]["restrictions"] == {"publish": "ALLOW", "upstream": "BLOCK"}, described_package)
    blocked_list = validated("ListPackages", ca.list_packages(domain=domain, repository="releases", publish="BLOCK"))
    check(blocked_list["packages"] == [], blocked_list)
    # Upstream repositories: a cycle is refused, a chain is reported.
    validated("UpdateRepository", ca.update_repository(domain=domain, repository="snapshots", upstreams=[{"repositoryName": "releases"}]))
    expect_error("ValidationException", ca.update_repository, domain=domain, repository="releases", upstreams=[{"repositoryName": "snapshots"}])
    chained = validated("DescribeRepository", ca.describe_repository(domain=domain, repository="snapshots"))
    check(chained["repository"]["upstreams"] == [{"repositoryName": "releases"}], chained)
    versions = validated("ListPackageVersions", ca.list_package_versions(domain=domain, repository="releases", format="generic", namespace="acme", package="tool", status="Published"))
    check(versions["defaultDisplayVersion"] == "1.2.3" and versions["versions"][0]["origin"]["originType"] == "INTERNAL", versions)
    description = validated("DescribePackageVersion", ca.describe_package_version(**common))
    check(description["packageVersion"]["status"] == "Published" and description["packageVersion"]["packageName"] == "tool", description)
    expect_error("ResourceNotFoundException", ca.describe_package_version, **dict(common, packageVersion="0.0.0"))
    assets = validated("ListPackageVersionAssets", ca.list_package_version_assets(**common))
    by_name = {asset["name"]: asset for asset in assets["assets"]}
    check(set(by_name) == {"tool.tar.gz", "tool notes.txt"}, assets)
    for name, content in (("tool.tar.gz", first), ("tool notes.txt", second)):
        hashes = by_name[name]["hashes"]
        check(by_name[name]["size"] == len(content), by_name[name])
        check(hashes == {"MD5": hashlib.md5(content).hexdigest(), "SHA-1": hashlib.sha1(content).hexdigest(), "SHA-256": hashlib.sha256(content).hexdigest(), "SHA-512": hashlib.sha512(content).hexdigest()}, hashes)
        download = ca.get_package_version_asset(**common, asset=name)
        body = download["asset"].read()
        check(body == content, f"downloaded bytes of {name} differ")
        check(download["assetName"] == name and download["packageVersion"] == "1.2.3" and download["packageVersionRevision"] == two["versionRevision"], download)
        download["asset"] = body
        validated("GetPackageVersionAsset", download)
    expect_error("ResourceNotFoundException", ca.get_package_version_asset, **common, asset="missing.bin")

    # The generic data plane serves the same bytes with the repository token.
    request = urllib.request.Request(f"{generic_endpoint}acme/tool/1.2.3/tool.tar.gz", headers={"Authorization": f"Bearer {token['authorizationToken']}"})
    with urllib.request.urlopen(request) as response:
        check(response.read() == first, "generic data plane bytes")

    # Status changes and deletion.
    updated = validated("UpdatePackageVersionsStatus", ca.update_package_versions_status(domain=domain, repository="releases", format="generic", namespace="acme", package="tool", versions=["1.2.3", "4.5.6"], targetStatus="Archived"))
    check(updated["successfulVersions"]["1.2.3"]["status"] == "Archived" and updated["failedVersions"]["4.5.6"]["errorCode"] == "NOT_FOUND", updated)
    mismatched = validated("UpdatePackageVersionsStatus", ca.update_package_versions_status(domain=domain, repository="releases", format="generic", namespace="acme", package="tool", versions=["1.2.3"], expectedStatus="Unlisted", targetStatus="Published"))
    check(mismatched["failedVersions"]["1.2.3"]["errorCode"] == "MISMATCHED_STATUS", mismatched)
    validated("UpdatePackageVersionsStatus", ca.update_package_versions_status(domain=domain, repository="releases", format="generic", namespace="acme", package="tool", versions=["1.2.3"], expectedStatus="Archived", targetStatus="Published"))
    validated("PublishPackageVersion", ca.publish_package_version(**dict(common, packageVersion="2.0.0"), assetContent=b"two", assetName="two.bin", assetSHA256=hashlib.sha256(b"two").hexdigest()))
    deleted = validated("DeletePackageVersions", ca.delete_package_versions(domain=domain, repository="releases", format="generic", namespace="acme", package="tool", versions=["2.0.0"]))
    check(deleted["successfulVersions"]["2.0.0"]["status"] == "Deleted", deleted)
    remaining = ca.list_package_versions(domain=domain, repository="releases", format="generic", namespace="acme", package="tool")
    check([v["version"] for v in remaining["versions"]] == ["1.2.3"], remaining)

    # Refusals, with the codes AWS uses.
    credentials = boto3.Session().get_credentials()
    wrong_secret = client(aws_access_key_id=credentials.access_key, aws_secret_access_key="not-the-secret-key-0000000000000000000000")
    expect_error("InvalidSignatureException", wrong_secret.list_domains)
    unknown_key = client(aws_access_key_id="LKIAUNKNOWN000000000", aws_secret_access_key="whatever")
    expect_error("UnrecognizedClientException", unknown_key.list_domains)
    unsigned = urllib.request.Request(f"{URL}/v1/domains", method="POST", data=b"")
    try:
        urllib.request.urlopen(unsigned)
        raise AssertionError("an unsigned request was accepted")
    except urllib.error.HTTPError as error:
        check(error.code == 403 and error.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException", error.headers)

    if SKEWED_URL:
        # The same data served by a server whose clock runs an hour ahead: our signatures are
        # 60 minutes old there (AWS allows 15), and the 900 s token has expired.
        skewed = client(url=SKEWED_URL)
        error = expect_error("InvalidSignatureException", skewed.list_domains)
        check("Signature expired" in str(error), error)
        npm_endpoint = endpoint["repositoryEndpoint"].replace(URL, SKEWED_URL)
        request = urllib.request.Request(f"{npm_endpoint}-/whoami", headers={"Authorization": f"Bearer {token['authorizationToken']}"})
        try:
            urllib.request.urlopen(request)
            raise AssertionError("an expired token was accepted")
        except urllib.error.HTTPError as error:
            body = json.loads(error.read())
            check(error.code == 401 and "expired" in body["error"], body)
        # The 12-hour token is still good there.
        request = urllib.request.Request(f"{npm_endpoint}-/whoami", headers={"Authorization": f"Bearer {default_token['authorizationToken']}"})
        with urllib.request.urlopen(request) as response:
            check(json.loads(response.read()) == {"username": "admin"}, "whoami")

    print(f"boto3 control plane: {shared.checks} checks passed")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as error:
        print(f"FAILED after {shared.checks} checks: {error}", file=sys.stderr)
        sys.exit(1)
