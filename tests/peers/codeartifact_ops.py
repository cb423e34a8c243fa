"""Drive the CodeArtifact operations `lading serve` gained for issue #18 with boto3.

Usage: codeartifact_ops.py SCENARIO, one scenario per Rust test (each on its own server and
domain). Every response is validated against botocore's own service model, as
codeartifact_boto3.py does, so a wrong member name or type fails the run.

Environment: LADING_URL (server), AWS_SHARED_CREDENTIALS_FILE (admin keys), and for the
policy scenario READER_CREDENTIALS (a principal with no grant on the repository).
Prints `SCENARIO: N checks passed`.
"""

import base64
import hashlib
import io
import json
import tarfile
import urllib.error
import urllib.request

from codeartifact_common import REGION, URL, check, client, expect_error, run_scenario, validated


def npm_tarball(name, version):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        data = json.dumps({"name": name, "version": version}).encode()
        info = tarfile.TarInfo("package/package.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def npm_publish(ca, domain, repository, name, version, manifest_extra):
    """Publish an npm version through the npm data plane, as `npm publish` sends it."""
    token = ca.get_authorization_token(domain=domain)["authorizationToken"]
    endpoint = ca.get_repository_endpoint(domain=domain, repository=repository, format="npm")["repositoryEndpoint"]
    tarball = npm_tarball(name, version)
    file_name = f"{name.split('/')[-1]}-{version}.tgz"
    manifest = {
        "name": name,
        "version": version,
        "dist": {
            "tarball": f"{endpoint}{name}/-/{file_name}",
            "shasum": hashlib.sha1(tarball).hexdigest(),
            "integrity": "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode(),
        },
        **manifest_extra,
    }
    body = {
        "_id": name,
        "name": name,
        "dist-tags": {"latest": version},
        "versions": {version: manifest},
        "_attachments": {file_name: {"content_type": "application/octet-stream", "data": base64.b64encode(tarball).decode(), "length": len(tarball)}},
    }
    request = urllib.request.Request(
        endpoint + name.replace("/", "%2f"),
        data=json.dumps(body).encode(),
        method="PUT",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request) as response:
            check(response.status in (200, 201), f"npm publish status {response.status}")
    except urllib.error.HTTPError as error:
        raise AssertionError(f"npm publish: {error.code} {error.read()!r}") from error


def publish_generic(ca, domain, repository, package, version, content=b"asset"):
    return validated(
        "PublishPackageVersion",
        ca.publish_package_version(
            domain=domain,
            repository=repository,
            format="generic",
            namespace="ns",
            package=package,
            packageVersion=version,
            assetName="file.bin",
            assetContent=content,
            assetSHA256=hashlib.sha256(content).hexdigest(),
        ),
    )


def versions():
    ca = client()
    domain = "versions"
    ca.create_domain(domain=domain)
    ca.create_repository(domain=domain, repository="source")
    ca.create_repository(domain=domain, repository="dest")
    ca.create_repository(domain=domain, repository="team", upstreams=[{"repositoryName": "source"}])
    generic = {"domain": domain, "format": "generic", "namespace": "ns", "package": "tool"}
    for version in ["1.0.0", "1.1.0", "2.0.0"]:
        publish_generic(ca, domain, "source", "tool", version, content=version.encode())

    # DisposePackageVersions: assets gone, version kept as Disposed.
    revision = ca.describe_package_version(repository="source", packageVersion="1.0.0", **generic)["packageVersion"]["revision"]
    disposed = validated(
        "DisposePackageVersions",
        ca.dispose_package_versions(repository="source", versions=["1.0.0", "9.9.9"], versionRevisions={"1.0.0": revision}, **generic),
    )
    check(disposed["successfulVersions"]["1.0.0"]["status"] == "Disposed", disposed)
    check(disposed["failedVersions"]["9.9.9"]["errorCode"] == "NOT_FOUND", disposed)
    status = ca.describe_package_version(repository="source", packageVersion="1.0.0", **generic)["packageVersion"]["status"]
    check(status == "Disposed", status)
    assets = validated("ListPackageVersionAssets", ca.list_package_version_assets(repository="source", packageVersion="1.0.0", **generic))
    check(assets["assets"] == [], assets)
    again = validated("DisposePackageVersions", ca.dispose_package_versions(repository="source", versions=["1.1.0"], expectedStatus="Unlisted", **generic))
    check(again["failedVersions"]["1.1.0"]["errorCode"] == "MISMATCHED_STATUS", again)
    expect_error("ResourceNotFoundException", ca.dispose_package_versions, repository="source", versions=["1.0.0"], domain=domain, format="generic", namespace="ns", package="nothing")
    expect_error("ValidationException", ca.dispose_package_versions, repository="source", versions=["1.0.0"], expectedStatus="Gone", **generic)

    # CopyPackageVersions: from source to dest, ALREADY_EXISTS without allowOverwrite,
    # NOT_ALLOWED for a disposed version, versions found only upstream with includeFromUpstream.
    copy = {"domain": domain, "format": "generic", "namespace": "ns", "package": "tool"}
    copied = validated(
        "CopyPackageVersions",
        ca.copy_package_versions(sourceRepository="source", destinationRepository="dest", versions=["1.1.0", "1.0.0", "3.0.0"], **copy),
    )
    check(copied["successfulVersions"]["1.1.0"]["status"] == "Published", copied)
    check(copied["failedVersions"]["1.0.0"]["errorCode"] == "NOT_ALLOWED", copied)
    check(copied["failedVersions"]["3.0.0"]["errorCode"] == "NOT_FOUND", copied)
    body = ca.get_package_version_asset(repository="dest", packageVersion="1.1.0", asset="file.bin", **generic)["asset"].read()
    check(body == b"1.1.0", body)
    twice = validated("CopyPackageVersions", ca.copy_package_versions(sourceRepository="source", destinationRepository="dest", versions=["1.1.0"], **copy))
    check(twice["failedVersions"]["1.1.0"]["errorCode"] == "ALREADY_EXISTS", twice)
    overwritten = validated("CopyPackageVersions", ca.copy_package_versions(sourceRepository="source", destinationRepository="dest", versions=["1.1.0"], allowOverwrite=True, **copy))
    check("1.1.0" in overwritten["successfulVersions"], overwritten)
    expect_error("ValidationException", ca.copy_package_versions, sourceRepository="source", destinationRepository="dest", **copy)
    revision = ca.describe_package_version(repository="source", packageVersion="2.0.0", **generic)["packageVersion"]["revision"]
    wrong = validated("CopyPackageVersions", ca.copy_package_versions(sourceRepository="source", destinationRepository="dest", versionRevisions={"2.0.0": "not-" + revision}, **copy))
    check(wrong["failedVersions"]["2.0.0"]["errorCode"] == "MISMATCHED_REVISION", wrong)
    # The package is only upstream of `team`: not found there unless includeFromUpstream.
    expect_error("ResourceNotFoundException", ca.copy_package_versions, sourceRepository="team", destinationRepository="dest", versions=["2.0.0"], **copy)
    upstream_only = validated(
        "CopyPackageVersions",
        ca.copy_package_versions(sourceRepository="team", destinationRepository="dest", versions=["2.0.0"], includeFromUpstream=True, **copy),
    )
    check("2.0.0" in upstream_only["successfulVersions"], upstream_only)
    expect_error("ResourceNotFoundException", ca.copy_package_versions, sourceRepository="source", destinationRepository="nowhere", versions=["1.1.0"], **copy)

    # GetPackageVersionReadme and ListPackageVersionDependencies from npm's manifest.
    npm_publish(
        ca,
        domain,
        "source",
        "@acme/widget",
        "1.2.3",
        {"readme": "# widget\n", "dependencies": {"@acme/base": "^1.0.0", "left-pad": "1.3.0"}, "devDependencies": {"tap": "^16"}},
    )
    npm = {"domain": domain, "repository": "source", "format": "npm", "namespace": "acme", "package": "widget", "packageVersion": "1.2.3"}
    readme = validated("GetPackageVersionReadme", ca.get_package_version_readme(**npm))
    check(readme["readme"] == "# widget\n" and readme["version"] == "1.2.3" and readme["namespace"] == "acme", readme)
    dependencies = validated("ListPackageVersionDependencies", ca.list_package_version_dependencies(**npm))
    found = {(item.get("namespace"), item["package"], item["dependencyType"], item["versionRequirement"]) for item in dependencies["dependencies"]}
    check(found == {("acme", "base", "regular", "^1.0.0"), (None, "left-pad", "regular", "1.3.0"), (None, "tap", "dev", "^16")}, found)
    expect_error("ResourceNotFoundException", ca.get_package_version_readme, **(npm | {"packageVersion": "0.0.1"}))
    none = validated("GetPackageVersionReadme", ca.get_package_version_readme(repository="source", packageVersion="2.0.0", **generic))
    check("readme" not in none, none)


def lifecycle():
    """The refusals of DeleteDomain and DeleteRepository; the test then deletes with the CLI."""
    ca = client()
    domain = "doomed"
    ca.create_domain(domain=domain)
    ca.create_repository(domain=domain, repository="base")
    ca.create_repository(domain=domain, repository="team", description="the team's", upstreams=[{"repositoryName": "base"}])
    publish_generic(ca, domain, "team", "tool", "1.0.0")
    error = expect_error("ConflictException", ca.delete_domain, domain=domain)
    check("base, team" in str(error), error)
    error = expect_error("ConflictException", ca.delete_repository, domain=domain, repository="base")
    check("upstream of team" in str(error), error)
    expect_error("ResourceNotFoundException", ca.delete_repository, domain=domain, repository="nothing")
    expect_error("ResourceNotFoundException", ca.delete_domain, domain="no-such-domain")
    expect_error("ValidationException", ca.delete_domain, domain="Not_A_Domain")


def tags():
    """Tags on a repository created (with `--tags`) by the CLI in domain `tagged`."""
    ca = client()
    owner = ca.describe_domain(domain="tagged")["domain"]["owner"]
    domain_arn = f"arn:aws:codeartifact:{REGION}:{owner}:domain/tagged"
    arn = f"arn:aws:codeartifact:{REGION}:{owner}:repository/tagged/shelf"
    listed = validated("ListTagsForResource", ca.list_tags_for_resource(resourceArn=arn))
    check(listed["tags"] == [{"key": "team", "value": "platform"}], listed)
    validated("TagResource", ca.tag_resource(resourceArn=arn, tags=[{"key": "team", "value": "infra"}, {"key": "cost", "value": ""}]))
    listed = validated("ListTagsForResource", ca.list_tags_for_resource(resourceArn=arn))
    check(listed["tags"] == [{"key": "cost", "value": ""}, {"key": "team", "value": "infra"}], listed)
    validated("UntagResource", ca.untag_resource(resourceArn=arn, tagKeys=["team", "absent"]))
    listed = validated("ListTagsForResource", ca.list_tags_for_resource(resourceArn=arn))
    check(listed["tags"] == [{"key": "cost", "value": ""}], listed)
    # The domain's tags are its own; another region's ARN names the same resource.
    other_region = domain_arn.replace(REGION, "eu-west-1")
    listed = validated("ListTagsForResource", ca.list_tags_for_resource(resourceArn=other_region))
    check(listed["tags"] == [{"key": "env", "value": "test"}], listed)
    expect_error("ResourceNotFoundException", ca.list_tags_for_resource, resourceArn=arn.replace("shelf", "nothing"))
    expect_error("ValidationException", ca.list_tags_for_resource, resourceArn="arn:aws:s3:::bucket")
    expect_error("ValidationException", ca.tag_resource, resourceArn=arn, tags=[{"key": "aws:reserved", "value": "x"}])
    expect_error("ServiceQuotaExceededException", ca.tag_resource, resourceArn=arn, tags=[{"key": f"k{n}", "value": "v"} for n in range(50)])
    # Deleting the repository drops its tags: a new one of that name starts untagged.
    ca.delete_repository(domain="tagged", repository="shelf")
    ca.create_repository(domain="tagged", repository="shelf")
    listed = validated("ListTagsForResource", ca.list_tags_for_resource(resourceArn=arn))
    check(listed["tags"] == [], listed)


def http_status(method, url, token, data=None):
    request = urllib.request.Request(url, data=data, method=method, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def policies():
    """Domain and repository policies in domain `local` (repositories main and other)."""
    admin = client()
    outsider = client(
        aws_access_key_id="LKIAOUTSIDER00000001",
        aws_secret_access_key="outsider-secret-00000000000000000000000",
    )
    owner = admin.describe_domain(domain="local")["domain"]["owner"]
    outsider_arn = f"arn:aws:iam::{owner}:user/outsider"
    publish_generic(admin, "local", "main", "tool", "1.0.0")
    publish_generic(admin, "local", "other", "tool", "1.0.0")
    asset_url = URL + "/d/local/generic/{}/ns/tool/1.0.0/file.bin"

    # No grant: refused.
    expect_error("AccessDeniedException", outsider.get_authorization_token, domain="local")
    expect_error("AccessDeniedException", outsider.describe_repository, domain="local", repository="main")
    expect_error("ResourceNotFoundException", admin.get_repository_permissions_policy, domain="local", repository="main")

    domain_policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": outsider_arn}, "Action": "codeartifact:GetAuthorizationToken", "Resource": "*"},
    ]})
    put = validated("PutDomainPermissionsPolicy", admin.put_domain_permissions_policy(domain="local", policyDocument=domain_policy))
    check(put["policy"]["resourceArn"].endswith(":domain/local") and put["policy"]["document"] == domain_policy, put)
    read_policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": outsider_arn}, "Action": ["codeartifact:ReadFromRepository", "codeartifact:Describe*"], "Resource": "*"},
    ]})
    put = validated("PutRepositoryPermissionsPolicy", admin.put_repository_permissions_policy(domain="local", repository="main", policyDocument=read_policy))
    revision = put["policy"]["revision"]
    got = validated("GetRepositoryPermissionsPolicy", admin.get_repository_permissions_policy(domain="local", repository="main"))
    check(got["policy"]["revision"] == revision and got["policy"]["resourceArn"].endswith(":repository/local/main"), got)
    got = validated("GetDomainPermissionsPolicy", admin.get_domain_permissions_policy(domain="local"))
    check(got["policy"]["document"] == domain_policy, got)

    # Allowed by the policies, with no lading grant: a token, the control plane, the data plane.
    token = validated("GetAuthorizationToken", outsider.get_authorization_token(domain="local"))["authorizationToken"]
    validated("DescribeRepository", outsider.describe_repository(domain="local", repository="main"))
    expect_error("AccessDeniedException", outsider.describe_repository, domain="local", repository="other")
    status, body = http_status("GET", asset_url.format("main"), token)
    check(status == 200 and body == b"asset", (status, body))
    status, _ = http_status("GET", asset_url.format("other"), token)
    check(status == 403, status)
    status, _ = http_status("PUT", URL + "/d/local/generic/main/ns/tool/2.0.0/file.bin", token, data=b"new")
    check(status == 403, status)

    # An explicit deny wins over the admin's grant, on both planes.
    deny = json.dumps({"Version": "2012-10-17", "Statement": [
        json.loads(read_policy)["Statement"][0],
        {"Effect": "Deny", "Principal": "*", "Action": "codeartifact:PublishPackageVersion", "Resource": "*"},
    ]})
    expect_error("ConflictException", admin.put_repository_permissions_policy, domain="local", repository="main", policyDocument=deny, policyRevision="stale")
    put = validated("PutRepositoryPermissionsPolicy", admin.put_repository_permissions_policy(domain="local", repository="main", policyDocument=deny, policyRevision=revision))
    check(put["policy"]["revision"] != revision, put)
    expect_error("AccessDeniedException", publish_generic, admin, "local", "main", "tool", "3.0.0")
    admin_token = admin.get_authorization_token(domain="local")["authorizationToken"]
    status, _ = http_status("PUT", URL + "/d/local/generic/main/ns/tool/3.0.0/file.bin", admin_token, data=b"new")
    check(status == 403, status)
    publish_generic(admin, "local", "other", "tool", "3.0.0")

    expect_error("ValidationException", admin.put_repository_permissions_policy, domain="local", repository="main", policyDocument="{not json")
    expect_error("ValidationException", admin.put_domain_permissions_policy, domain="local", policyDocument=json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]}))
    expect_error("ResourceNotFoundException", admin.put_repository_permissions_policy, domain="local", repository="nothing", policyDocument=deny)

    expect_error("ConflictException", admin.delete_repository_permissions_policy, domain="local", repository="main", policyRevision="stale")
    deleted = validated("DeleteRepositoryPermissionsPolicy", admin.delete_repository_permissions_policy(domain="local", repository="main", policyRevision=put["policy"]["revision"]))
    check(deleted["policy"]["document"] == deny, deleted)
    validated("DeleteDomainPermissionsPolicy", admin.delete_domain_permissions_policy(domain="local"))
    expect_error("ResourceNotFoundException", admin.get_domain_permissions_policy, domain="local")
    expect_error("ResourceNotFoundException", admin.delete_domain_permissions_policy, domain="local")
    # Without the policies the outsider's token no longer reads, and the admin publishes again.
    status, _ = http_status("GET", asset_url.format("main"), token)
    check(status == 403, status)
    publish_generic(admin, "local", "main", "tool", "3.0.0")


SCENARIOS = {"versions": versions, "lifecycle": lifecycle, "tags": tags, "policies": policies}

if __name__ == "__main__":
    run_scenario(SCENARIOS)
