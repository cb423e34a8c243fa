//! `lading serve`'s Swift package registry, request by request with curl against the cases of
//! the "Swift Package Registry Service" specification (swift-package-manager
//! `Documentation/PackageRegistry/Registry.md`; its example package `mona.LinkedList`): no
//! Swift toolchain runs here, so the client side of each exchange is what the specification
//! says SwiftPM sends.

use std::path::Path;

use base64::Engine as _;
use sha2::Digest as _;

use crate::require_tool;
use crate::support::{self, ServerSpec};

/// One answer: status, headers (lowercased names) and body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(&self.body)))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A problem details answer (section 3.3) with `status` and `detail`.
    fn assert_problem(&self, status: u16, detail: &str) {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{:?}",
            self.headers
        );
        assert_eq!(self.header("content-version"), Some("1"));
        assert_eq!(self.header("content-language"), Some("en"));
        assert_eq!(self.json()["detail"], detail);
    }
}

/// `curl -s ARGS`, keeping the headers and the body apart.
fn curl(dir: &Path, args: &[&str]) -> Answer {
    let headers_file = dir.join("headers");
    let body_file = dir.join("body");
    let mut command = support::clean_command("curl", dir);
    command
        .args(["-s", "-D"])
        .arg(&headers_file)
        .arg("-o")
        .arg(&body_file)
        .args(["-w", "%{http_code}"])
        .args(args);
    let output = support::run(&mut command);
    let status = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{}", support::describe(&output)));
    let headers = fs_err::read_to_string(&headers_file)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            Some((name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        })
        .collect();
    let body = fs_err::read(&body_file).unwrap_or_default();
    let _ = fs_err::remove_file(&body_file);
    Answer {
        status,
        headers,
        body,
    }
}

const MANIFEST: &str = "// swift-tools-version:5.0\nimport PackageDescription\n\nlet package = Package(\n    name: \"LinkedList\",\n    products: [\n        .library(name: \"LinkedList\", targets: [\"LinkedList\"])\n    ],\n    targets: [\n        .target(name: \"LinkedList\"),\n        .testTarget(name: \"LinkedListTests\", dependencies: [\"LinkedList\"]),\n    ],\n    swiftLanguageVersions: [.v4, .v5]\n)\n";
const MANIFEST_4_2: &str = "// swift-tools-version:4.2\nimport PackageDescription\n\nlet package = Package(\n    name: \"LinkedList\",\n    swiftLanguageVersions: [.v3, .v4]\n)\n";
/// Section 4.6.2's example metadata.
const METADATA: &str = r#"{
  "description": "One thing links to another.",
  "repositoryURLs": ["https://github.com/mona/LinkedList"],
  "licenseURL": "https://www.apache.org/licenses/LICENSE-2.0",
  "author": {
      "name": "Mona Lisa Octocat"
  }
}"#;

/// A source archive as `swift package archive-source` lays it out (one top-level directory).
fn archive(version: &str) -> Vec<u8> {
    let source =
        format!("public struct LinkedList {{ public static let version = \"{version}\" }}\n");
    support::zip_of(&[
        ("LinkedList/Package.swift", MANIFEST.as_bytes()),
        (
            "LinkedList/Package@swift-4.2.swift",
            MANIFEST_4_2.as_bytes(),
        ),
        (
            "LinkedList/Sources/LinkedList/LinkedList.swift",
            source.as_bytes(),
        ),
    ])
}

/// `PUT {scope}/{name}/{version}` with the multipart form of section 4.6.
fn publish(dir: &Path, url: &str, auth: &str, zip: &[u8], metadata: Option<&str>) -> Answer {
    let zip_file = dir.join("source.zip");
    fs_err::write(&zip_file, zip).unwrap();
    let metadata_file = dir.join("metadata.json");
    let archive_part = format!(
        "source-archive=@{};type=application/zip",
        zip_file.display()
    );
    let mut args = vec![
        "-X",
        "PUT",
        "-H",
        auth,
        "-H",
        "Accept: application/vnd.swift.registry.v1+json",
        "-F",
        &archive_part,
    ];
    let metadata_part = format!(
        "metadata=<{};type=application/json",
        metadata_file.display()
    );
    if let Some(metadata) = metadata {
        fs_err::write(&metadata_file, metadata).unwrap();
        args.extend(["-F", &metadata_part]);
    }
    args.push(url);
    curl(dir, &args)
}

#[test]
fn the_specification_cases_publish_list_fetch_and_look_up_a_release() {
    require_tool!(support::find_tool("LADING_TEST_CURL", None, Some("curl")));
    let (dir, server) = support::serve(ServerSpec::default());
    let home = dir.path().join("home");
    fs_err::create_dir_all(&home).unwrap();
    // The endpoint as CodeArtifact's GetRepositoryEndpoint gives it (what `lading login --tool
    // swift` writes into registries.json).
    let base = server.repository_endpoint(&home, "swift");
    assert_eq!(base, format!("{}/d/local/swift/main/", server.url));
    let token = server.token();
    let auth = format!("Authorization: Bearer {token}");
    let json = "Accept: application/vnd.swift.registry.v1+json";
    let release = |version: &str| format!("{base}mona/LinkedList/{version}");

    // 4.6: publish, synchronously (201 with the release's location); twice is a conflict.
    let zip_1_1_1 = archive("1.1.1");
    let created = publish(&home, &release("1.1.1"), &auth, &zip_1_1_1, Some(METADATA));
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.header("location"), Some(release("1.1.1").as_str()));
    assert_eq!(created.header("content-version"), Some("1"));
    publish(&home, &release("1.1.1"), &auth, &zip_1_1_1, Some(METADATA))
        .assert_problem(409, "a release with version 1.1.1 already exists");
    for version in ["1.0.0", "1.1.0-beta.1"] {
        let answer = publish(&home, &release(version), &auth, &archive(version), None);
        assert_eq!(answer.status, 201, "{}", answer.text());
    }
    // 4.6.1 / 4.6.2: what the server refuses, as 422 problems.
    let no_manifest = support::zip_of(&[("LinkedList/README.md", b"no manifest".as_slice())]);
    publish(&home, &release("2.0.0"), &auth, &no_manifest, None).assert_problem(
        422,
        "package doesn't contain a valid manifest (Package.swift) file",
    );
    publish(
        &home,
        &release("2.0.0"),
        &auth,
        &archive("2.0.0"),
        Some("{not json"),
    )
    .assert_problem(422, "invalid JSON provided for release metadata");
    let anonymous = publish(
        &home,
        &release("2.0.0"),
        "X-None: 1",
        &archive("2.0.0"),
        None,
    );
    assert_eq!(anonymous.status, 401, "{}", anonymous.text());
    assert!(anonymous.header("www-authenticate").is_some());

    // 4.1: the releases, highest precedence first, each with its URL, and the latest linked.
    let list = curl(
        &home,
        &["-H", &auth, "-H", json, &format!("{base}mona/LinkedList")],
    );
    assert_eq!(list.status, 200, "{}", list.text());
    assert_eq!(list.header("content-type"), Some("application/json"));
    assert_eq!(list.header("content-version"), Some("1"));
    let text = list.text();
    let order: Vec<usize> = ["\"1.1.1\"", "\"1.1.0-beta.1\"", "\"1.0.0\""]
        .iter()
        .map(|version| text.find(version).unwrap())
        .collect();
    assert!(order.windows(2).all(|pair| pair[0] < pair[1]), "{text}");
    assert_eq!(
        list.json()["releases"]["1.0.0"]["url"],
        release("1.0.0").as_str()
    );
    assert_eq!(
        list.header("link"),
        Some(format!("<{}>; rel=\"latest-version\"", release("1.1.1")).as_str())
    );
    // Scopes and names are case-insensitive (3.6); `.json` may be appended (4.1).
    let upper = curl(
        &home,
        &["-H", &auth, &format!("{base}MONA/linkedlist.json")],
    );
    assert_eq!(upper.status, 200, "{}", upper.text());

    // 4.2: release metadata, with the archive's checksum.
    let info = curl(&home, &["-H", &auth, "-H", json, &release("1.1.1")]);
    assert_eq!(info.status, 200, "{}", info.text());
    let body = info.json();
    assert_eq!(body["id"], "mona.LinkedList");
    assert_eq!(body["version"], "1.1.1");
    let checksum = hex::encode(sha2::Sha256::digest(&zip_1_1_1));
    assert_eq!(
        body["resources"],
        serde_json::json!([{ "name": "source-archive", "type": "application/zip", "checksum": checksum }])
    );
    assert_eq!(
        body["metadata"],
        serde_json::from_str::<serde_json::Value>(METADATA).unwrap()
    );
    assert!(
        body["publishedAt"].as_str().unwrap().ends_with('Z'),
        "{body}"
    );
    let links = info.header("link").unwrap();
    assert!(
        links.contains(&format!("<{}>; rel=\"latest-version\"", release("1.1.1"))),
        "{links}"
    );
    assert!(
        links.contains(&format!(
            "<{}>; rel=\"predecessor-version\"",
            release("1.1.0-beta.1")
        )),
        "{links}"
    );
    let middle = curl(&home, &["-H", &auth, &release("1.1.0-beta.1")]);
    let links = middle.header("link").unwrap();
    assert!(links.contains("rel=\"successor-version\""), "{links}");
    curl(&home, &["-H", &auth, "-H", json, &release("9.9.9")])
        .assert_problem(404, "release not found");

    // 4.3: the manifest, a link per version-specific manifest, `swift-version`.
    let swift = "Accept: application/vnd.swift.registry.v1+swift";
    let manifest_url = format!("{}/Package.swift", release("1.1.1"));
    let manifest = curl(&home, &["-H", &auth, "-H", swift, &manifest_url]);
    assert_eq!(manifest.status, 200, "{}", manifest.text());
    assert_eq!(manifest.text(), MANIFEST);
    assert_eq!(manifest.header("content-type"), Some("text/x-swift"));
    assert_eq!(
        manifest.header("content-disposition"),
        Some("attachment; filename=\"Package.swift\"")
    );
    assert_eq!(
        manifest.header("link"),
        Some(
            format!(
                "<{manifest_url}?swift-version=4.2>; rel=\"alternate\"; filename=\"Package@swift-4.2.swift\"; swift-tools-version=\"4.2\""
            )
            .as_str()
        )
    );
    let specific = curl(
        &home,
        &[
            "-H",
            &auth,
            "-H",
            swift,
            &format!("{manifest_url}?swift-version=4.2"),
        ],
    );
    assert_eq!(specific.text(), MANIFEST_4_2);
    assert_eq!(
        specific.header("content-disposition"),
        Some("attachment; filename=\"Package@swift-4.2.swift\"")
    );
    let other = curl(
        &home,
        &[
            "-H",
            &auth,
            "-H",
            swift,
            &format!("{manifest_url}?swift-version=6.0"),
        ],
    );
    assert_eq!(other.status, 303);
    assert_eq!(other.header("location"), Some(manifest_url.as_str()));

    // 4.4: the source archive, its length and `Digest`, as the integrity check reads them.
    let zip = curl(
        &home,
        &[
            "-H",
            &auth,
            "-H",
            "Accept: application/vnd.swift.registry.v1+zip",
            &format!("{}.zip", release("1.1.1")),
        ],
    );
    assert_eq!(zip.status, 200, "{}", zip.text());
    assert_eq!(zip.body, zip_1_1_1);
    assert_eq!(zip.header("content-type"), Some("application/zip"));
    assert_eq!(
        zip.header("content-length"),
        Some(zip_1_1_1.len().to_string().as_str())
    );
    assert_eq!(
        zip.header("content-disposition"),
        Some("attachment; filename=\"LinkedList-1.1.1.zip\"")
    );
    let digest = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&zip_1_1_1));
    assert_eq!(
        zip.header("digest"),
        Some(format!("sha-256={digest}").as_str())
    );

    // 4.5: identifiers for a repository URL (from the release metadata's `repositoryURLs`).
    let lookup = curl(
        &home,
        &[
            "-H",
            &auth,
            "-H",
            "Accept: application/vnd.swift.registry.v1",
            "-G",
            "--data-urlencode",
            "url=https://github.com/mona/LinkedList",
            &format!("{base}identifiers"),
        ],
    );
    assert_eq!(lookup.status, 200, "{}", lookup.text());
    assert_eq!(
        lookup.json(),
        serde_json::json!({ "identifiers": ["mona.LinkedList"] })
    );
    let git = curl(
        &home,
        &[
            "-H",
            &auth,
            "-G",
            "--data-urlencode",
            "url=https://github.com/mona/LinkedList.git",
            &format!("{base}identifiers"),
        ],
    );
    assert_eq!(git.status, 200, "{}", git.text());
    let none = curl(
        &home,
        &[
            "-H",
            &auth,
            "-G",
            "--data-urlencode",
            "url=https://github.com/mona/Other",
            &format!("{base}identifiers"),
        ],
    );
    assert_eq!(none.status, 404);
    curl(&home, &["-H", &auth, &format!("{base}identifiers")])
        .assert_problem(400, "the `url` query parameter is required");

    // 3.5: API versions in `Accept`.
    curl(
        &home,
        &[
            "-H",
            &auth,
            "-H",
            "Accept: application/vnd.swift.registry.v2+json",
            &release("1.1.1"),
        ],
    )
    .assert_problem(415, "unsupported API version");
    curl(
        &home,
        &[
            "-H",
            &auth,
            "-H",
            "Accept: application/vnd.swift.registry.vX+json",
            &release("1.1.1"),
        ],
    )
    .assert_problem(400, "invalid API version");

    // 3.2: reads need a token; SE-0378's login API says whether one is good.
    assert_eq!(curl(&home, &[&release("1.1.1")]).status, 401);
    let login = curl(&home, &["-X", "POST", "-H", &auth, &format!("{base}login")]);
    assert_eq!(login.status, 200, "{}", login.text());
    let refused = curl(
        &home,
        &[
            "-X",
            "POST",
            "-H",
            "Authorization: Bearer not-a-token",
            &format!("{base}login"),
        ],
    );
    assert_eq!(refused.status, 401);
}

#[test]
fn a_release_that_is_no_longer_published_is_listed_as_a_problem_and_gone() {
    require_tool!(support::find_tool("LADING_TEST_CURL", None, Some("curl")));
    let (dir, server) = support::serve(ServerSpec::default());
    let home = dir.path().join("home");
    fs_err::create_dir_all(&home).unwrap();
    let base = server.repository_endpoint(&home, "swift");
    let auth = format!("Authorization: Bearer {}", server.token());
    for version in ["1.0.0", "1.1.0"] {
        let answer = publish(
            &home,
            &format!("{base}mona/LinkedList/{version}"),
            &auth,
            &archive(version),
            None,
        );
        assert_eq!(answer.status, 201, "{}", answer.text());
    }
    // The CodeArtifact API archives a version (the AWS CLI, against the control plane).
    server.aws_json_on(
        &home,
        "main",
        &[
            "update-package-versions-status",
            "--format",
            "swift",
            "--namespace",
            "mona",
            "--package",
            "linkedlist",
            "--versions",
            "1.1.0",
            "--target-status",
            "Archived",
        ],
    );
    let list = curl(&home, &["-H", &auth, &format!("{base}mona/LinkedList")]);
    assert_eq!(list.status, 200, "{}", list.text());
    let releases = &list.json()["releases"];
    assert_eq!(releases["1.1.0"]["problem"]["status"], 410, "{releases}");
    assert!(releases["1.0.0"].get("problem").is_none(), "{releases}");
    assert_eq!(
        list.header("link"),
        Some(format!("<{base}mona/LinkedList/1.0.0>; rel=\"latest-version\"").as_str())
    );
    curl(
        &home,
        &["-H", &auth, &format!("{base}mona/LinkedList/1.1.0")],
    )
    .assert_problem(410, "this release is archived");
}
