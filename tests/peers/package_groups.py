"""Drive the package-group operations of `lading serve` with boto3.

Usage: package_groups.py SCENARIO (one per Rust test, each on its own server and domain).
Every response is validated against botocore's own service model, as codeartifact_ops.py
does, so a wrong member name or type fails the run.

Environment: LADING_URL (server), AWS_SHARED_CREDENTIALS_FILE (admin keys).
Prints `SCENARIO: N checks passed`.
"""

import hashlib

from codeartifact_common import REGION, check, client, expect_error, run_scenario, validated


def restriction(group, kind):
    return group["originConfiguration"]["restrictions"][kind]


def patterns(listed):
    return [group["pattern"] for group in listed["packageGroups"]]


def publish_generic(ca, domain, namespace, package, version):
    content = f"{namespace}/{package}@{version}".encode()
    return ca.publish_package_version(
        domain=domain,
        repository="main",
        format="generic",
        namespace=namespace,
        package=package,
        packageVersion=version,
        assetName="file.bin",
        assetContent=content,
        assetSHA256=hashlib.sha256(content).hexdigest(),
    )


def operations():
    ca = client()
    domain = "groups"
    ca.create_domain(domain=domain)
    ca.create_repository(domain=domain, repository="main")
    ca.create_repository(domain=domain, repository="team", upstreams=[{"repositoryName": "main"}])

    # Every domain has the root group, which allows every origin.
    listed = validated("ListPackageGroups", ca.list_package_groups(domain=domain))
    check(patterns(listed) == ["/*"], f"a new domain has only the root group: {listed}")
    root = listed["packageGroups"][0]
    for kind in ["PUBLISH", "EXTERNAL_UPSTREAM", "INTERNAL_UPSTREAM"]:
        check(restriction(root, kind)["mode"] == "ALLOW", f"root {kind}: {root}")
    check("parent" not in root, f"the root has no parent: {root}")
    check(root["arn"] == f"arn:aws:codeartifact:{REGION}:{root['domainOwner']}:package-group/{domain}/*", root["arn"])

    created = validated(
        "CreatePackageGroup",
        ca.create_package_group(
            domain=domain,
            packageGroup="/npm/*",
            contactInfo="npm-owners@example.com",
            description="every npm package",
            tags=[{"key": "team", "value": "web"}],
        ),
    )["packageGroup"]
    check(created["pattern"] == "/npm/*" and created["parent"]["pattern"] == "/*", f"created: {created}")
    check(created["contactInfo"] == "npm-owners@example.com" and created["description"] == "every npm package", created)
    publish = restriction(created, "PUBLISH")
    check(publish["mode"] == "INHERIT" and publish["effectiveMode"] == "ALLOW", f"a new group inherits: {publish}")
    check(publish["inheritedFrom"]["pattern"] == "/*", f"inherited from the root: {publish}")
    tags = validated("ListTagsForResource", ca.list_tags_for_resource(resourceArn=created["arn"]))["tags"]
    check(tags == [{"key": "team", "value": "web"}], f"create's tags: {tags}")
    for pattern in ["/npm/acme/*", "/npm/acme/widget~", "/npm//left-pad$", "/generic/ns/*"]:
        validated("CreatePackageGroup", ca.create_package_group(domain=domain, packageGroup=pattern))

    expect_error("ConflictException", ca.create_package_group, domain=domain, packageGroup="/npm/acme/*")
    expect_error("ConflictException", ca.create_package_group, domain=domain, packageGroup="/*")
    for invalid in ["/npm/acme", "npm/*", "/npm/foo*", "/pypi/ns/*", "/maven//name$", "/nope/*"]:
        error = expect_error("ValidationException", ca.create_package_group, domain=domain, packageGroup=invalid)
        check(invalid in str(error), f"the refusal names the pattern: {error}")
    expect_error("ResourceNotFoundException", ca.create_package_group, domain="no-such-domain", packageGroup="/npm/*")

    # The hierarchy is computed from the patterns.
    widget = validated("DescribePackageGroup", ca.describe_package_group(domain=domain, packageGroup="/npm/acme/widget~"))
    check(widget["packageGroup"]["parent"]["pattern"] == "/npm/acme/*", f"parent: {widget}")
    children = validated("ListSubPackageGroups", ca.list_sub_package_groups(domain=domain, packageGroup="/npm/*"))
    check(patterns(children) == ["/npm//left-pad$", "/npm/acme/*"], f"direct children of /npm/*: {children}")
    expect_error("ResourceNotFoundException", ca.describe_package_group, domain=domain, packageGroup="/npm/other/*")
    expect_error("ResourceNotFoundException", ca.list_sub_package_groups, domain=domain, packageGroup="/npm/other/*")

    # Listing: by prefix, and paged.
    prefixed = validated("ListPackageGroups", ca.list_package_groups(domain=domain, prefix="/npm/acme"))
    check(patterns(prefixed) == ["/npm/acme/*", "/npm/acme/widget~"], f"prefix: {prefixed}")
    first = validated("ListPackageGroups", ca.list_package_groups(domain=domain, maxResults=2))
    check(len(first["packageGroups"]) == 2 and "nextToken" in first, f"page 1: {first}")
    rest = validated("ListPackageGroups", ca.list_package_groups(domain=domain, maxResults=10, nextToken=first["nextToken"]))
    check(patterns(first) + patterns(rest) == ["/*", "/generic/ns/*", "/npm/*", "/npm//left-pad$", "/npm/acme/*", "/npm/acme/widget~"], f"pages: {first} {rest}")

    updated = validated("UpdatePackageGroup", ca.update_package_group(domain=domain, packageGroup="/npm/*", description="npm, reviewed"))
    check(updated["packageGroup"]["description"] == "npm, reviewed", f"updated: {updated}")
    check(updated["packageGroup"]["contactInfo"] == "npm-owners@example.com", f"contact kept: {updated}")

    # Origin configuration, inherited down the hierarchy.
    origin = validated(
        "UpdatePackageGroupOriginConfiguration",
        ca.update_package_group_origin_configuration(
            domain=domain,
            packageGroup="/npm/*",
            restrictions={"PUBLISH": "BLOCK", "EXTERNAL_UPSTREAM": "ALLOW_SPECIFIC_REPOSITORIES"},
            addAllowedRepositories=[{"repositoryName": "main", "originRestrictionType": "EXTERNAL_UPSTREAM"}],
        ),
    )
    check(origin["allowedRepositoryUpdates"] == {"EXTERNAL_UPSTREAM": {"ADDED": ["main"]}}, f"updates: {origin}")
    external = restriction(origin["packageGroup"], "EXTERNAL_UPSTREAM")
    check(external["mode"] == "ALLOW_SPECIFIC_REPOSITORIES" and external["repositoriesCount"] == 1, f"external: {external}")
    acme = validated("DescribePackageGroup", ca.describe_package_group(domain=domain, packageGroup="/npm/acme/*"))["packageGroup"]
    check(restriction(acme, "PUBLISH")["effectiveMode"] == "BLOCK", f"inherited BLOCK: {acme}")
    check(restriction(acme, "PUBLISH")["inheritedFrom"]["pattern"] == "/npm/*", f"inherited from /npm/*: {acme}")
    allowed = validated(
        "ListAllowedRepositoriesForGroup",
        ca.list_allowed_repositories_for_group(domain=domain, packageGroup="/npm/*", originRestrictionType="EXTERNAL_UPSTREAM"),
    )
    check(allowed["allowedRepositories"] == ["main"], f"allowed: {allowed}")
    none = validated(
        "ListAllowedRepositoriesForGroup",
        ca.list_allowed_repositories_for_group(domain=domain, packageGroup="/npm/*", originRestrictionType="PUBLISH"),
    )
    check(none["allowedRepositories"] == [], f"none for PUBLISH: {none}")
    expect_error(
        "ResourceNotFoundException",
        ca.update_package_group_origin_configuration,
        domain=domain,
        packageGroup="/npm/*",
        addAllowedRepositories=[{"repositoryName": "nowhere", "originRestrictionType": "PUBLISH"}],
    )
    expect_error(
        "ValidationException",
        ca.update_package_group_origin_configuration,
        domain=domain,
        packageGroup="/*",
        restrictions={"PUBLISH": "INHERIT"},
    )
    expect_error("ValidationException", ca.delete_package_group, domain=domain, packageGroup="/*")
    # The root can be changed like any group.
    root = validated(
        "UpdatePackageGroupOriginConfiguration",
        ca.update_package_group_origin_configuration(domain=domain, packageGroup="/*", restrictions={"INTERNAL_UPSTREAM": "BLOCK"}),
    )["packageGroup"]
    check(restriction(root, "INTERNAL_UPSTREAM")["mode"] == "BLOCK", f"root: {root}")
    ca.update_package_group_origin_configuration(domain=domain, packageGroup="/*", restrictions={"INTERNAL_UPSTREAM": "ALLOW"})

    # Which group a package belongs to: the most specific; variations match weakly.
    for (namespace, package, expected, strength) in [
        ("acme", "widget-core", "/npm/acme/widget~", "STRONG"),
        ("acme", "widgets", "/npm/acme/*", "STRONG"),
        ("acme", "Widget_Core", "/npm/acme/widget~", "WEAK"),
        (None, "left-pad", "/npm//left-pad$", "STRONG"),
        (None, "Left.Pad", "/npm//left-pad$", "WEAK"),
        (None, "react", "/npm/*", "STRONG"),
    ]:
        arguments = {"domain": domain, "format": "npm", "package": package}
        if namespace:
            arguments["namespace"] = namespace
        associated = validated("GetAssociatedPackageGroup", ca.get_associated_package_group(**arguments))
        check(associated["packageGroup"]["pattern"] == expected, f"{namespace}/{package}: {associated}")
        check(associated["associationType"] == strength, f"{namespace}/{package}: {associated}")
    pypi = validated("GetAssociatedPackageGroup", ca.get_associated_package_group(domain=domain, format="pypi", package="requests"))
    check(pypi["packageGroup"]["pattern"] == "/*", f"pypi: {pypi}")

    # Packages associated with a group, and those a group not yet created would take.
    publish_generic(ca, domain, "ns", "tool", "1.0")
    publish_generic(ca, domain, "ns2", "other", "1.0")
    associated = validated("ListAssociatedPackages", ca.list_associated_packages(domain=domain, packageGroup="/generic/ns/*"))
    check(associated["packages"] == [{"format": "generic", "namespace": "ns", "package": "tool", "associationType": "STRONG"}], f"associated: {associated}")
    expect_error("ResourceNotFoundException", ca.list_associated_packages, domain=domain, packageGroup="/generic/ns2/*")
    preview = validated("ListAssociatedPackages", ca.list_associated_packages(domain=domain, packageGroup="/generic/ns2/*", preview=True))
    check([package["package"] for package in preview["packages"]] == ["other"], f"preview: {preview}")
    root_packages = validated("ListAssociatedPackages", ca.list_associated_packages(domain=domain, packageGroup="/*"))
    check([package["package"] for package in root_packages["packages"]] == ["other"], f"root keeps the rest: {root_packages}")

    # PUBLISH applies to PublishPackageVersion too.
    ca.update_package_group_origin_configuration(domain=domain, packageGroup="/generic/ns/*", restrictions={"PUBLISH": "BLOCK"})
    error = expect_error("ValidationException", publish_generic, ca, domain, "ns", "tool", "2.0")
    check("/generic/ns/*" in str(error) and "PUBLISH" in str(error), f"the refusal names the group: {error}")
    ca.update_package_group_origin_configuration(
        domain=domain,
        packageGroup="/generic/ns/*",
        restrictions={"PUBLISH": "ALLOW_SPECIFIC_REPOSITORIES"},
        addAllowedRepositories=[{"repositoryName": "main", "originRestrictionType": "PUBLISH"}],
    )
    validated("PublishPackageVersion", publish_generic(ca, domain, "ns", "tool", "2.0"))
    removed = validated(
        "UpdatePackageGroupOriginConfiguration",
        ca.update_package_group_origin_configuration(
            domain=domain,
            packageGroup="/generic/ns/*",
            removeAllowedRepositories=[{"repositoryName": "main", "originRestrictionType": "PUBLISH"}],
        ),
    )
    check(removed["allowedRepositoryUpdates"] == {"PUBLISH": {"REMOVED": ["main"]}}, f"removed: {removed}")
    expect_error("ValidationException", publish_generic, ca, domain, "ns", "tool", "3.0")

    # Deleting a group hands its children to its parent, and returns what it deleted.
    deleted = validated("DeletePackageGroup", ca.delete_package_group(domain=domain, packageGroup="/npm/acme/*"))
    check(deleted["packageGroup"]["pattern"] == "/npm/acme/*", f"deleted: {deleted}")
    children = validated("ListSubPackageGroups", ca.list_sub_package_groups(domain=domain, packageGroup="/npm/*"))
    check(patterns(children) == ["/npm//left-pad$", "/npm/acme/widget~"], f"re-parented: {children}")
    expect_error("ResourceNotFoundException", ca.delete_package_group, domain=domain, packageGroup="/npm/acme/*")
    expect_error("ResourceNotFoundException", ca.list_tags_for_resource, resourceArn=deleted["packageGroup"]["arn"])


SCENARIOS = {"operations": operations}

if __name__ == "__main__":
    run_scenario(SCENARIOS)
