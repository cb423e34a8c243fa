//! `lading serve --blobs s3://…`: blobs in an S3-compatible object store (moto's server, a
//! peer this project did not write), driven by the AWS CLI on both sides: `codeartifact`
//! against lading, `s3api` against the object store.

use std::path::Path;

use crate::require_tool;
use crate::support::client::{self, curl_status};
use crate::support::peers::S3Server;
use crate::support::{self, LadingServer, ServerSpec};

/// A lading server over `dir/data` with its blobs in `s3://bucket/node/`.
fn serve_on(dir: &Path, s3: &S3Server, bucket: &str) -> LadingServer {
    let blobs = format!("s3://{bucket}/node");
    LadingServer::start(
        &dir.join("data"),
        ServerSpec {
            args: vec!["--blobs", &blobs],
            env: s3.env(),
            ..ServerSpec::default()
        },
    )
}

/// Publish `content` as generic `ns/report@version` asset `report.txt` with the AWS CLI.
fn publish(
    server: &LadingServer,
    dir: &Path,
    version: &str,
    content: &str,
) -> std::process::Output {
    let file = dir.join(format!("report-{version}.txt"));
    fs_err::write(&file, content).unwrap();
    let sha256 = lading::server::store::Digests::of(content.as_bytes()).sha256;
    let file = file.display().to_string();
    let mut command = server.aws_command_on(
        dir,
        "main",
        &support::generic_publish_args("report", version, "report.txt", &file, &sha256),
    );
    // One attempt: the CLI would retry a 503 on its own, and the test wants to see it.
    support::run(command.env("AWS_MAX_ATTEMPTS", "1"))
}

/// [`publish`], which must succeed.
fn publish_ok(server: &LadingServer, dir: &Path, version: &str, content: &str) {
    let published = publish(server, dir, version, content);
    assert!(
        published.status.success(),
        "{}",
        support::describe(&published)
    );
}

/// Download the asset with the AWS CLI; its bytes, or the failed output.
fn download(
    server: &LadingServer,
    dir: &Path,
    version: &str,
) -> Result<String, std::process::Output> {
    let out = dir.join(format!("downloaded-{version}.txt"));
    let _ = fs_err::remove_file(&out);
    let output = support::run(&mut server.aws_command_on(
        dir,
        "main",
        &[
            "get-package-version-asset",
            "--format",
            "generic",
            "--namespace",
            "ns",
            "--package",
            "report",
            "--package-version",
            version,
            "--asset",
            "report.txt",
            &out.display().to_string(),
        ],
    ));
    if output.status.success() {
        Ok(fs_err::read_to_string(&out).unwrap())
    } else {
        Err(output)
    }
}

/// moto with `bucket` made, and a lading server over `dir/data` keeping its blobs there
/// that holds `content` (version 1.0.0, published with the AWS CLI): the server and the
/// content's sha256.
fn published_to_bucket(
    aws: &Path,
    s3: &S3Server,
    dir: &Path,
    bucket: &str,
    content: &str,
) -> (LadingServer, String) {
    s3.create_bucket(aws, dir, bucket);
    let server = serve_on(dir, s3, bucket);
    publish_ok(&server, dir, "1.0.0", content);
    (
        server,
        lading::server::store::Digests::of(content.as_bytes()).sha256,
    )
}

fn local_blobs(data: &Path) -> Vec<String> {
    let mut names = Vec::new();
    let root = data.join("blobs-v1").join("sha256");
    for shard in fs_err::read_dir(&root).into_iter().flatten().flatten() {
        for blob in fs_err::read_dir(shard.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            names.push(blob.file_name().to_string_lossy().into_owned());
        }
    }
    names
}

#[test]
fn blobs_live_in_the_bucket_and_a_node_without_them_fetches_and_verifies_them() {
    let aws = require_tool!(support::aws());
    let moto = require_tool!(S3Server::find());
    let dir = tempfile::tempdir().unwrap();
    let s3 = &S3Server::start(&moto, dir.path());
    let content = "bytes that live in the bucket\n";
    let (server, sha256) = published_to_bucket(&aws, s3, dir.path(), "lading-blobs", content);
    let key = format!("node/sha256/{}/{sha256}", &sha256[..2]);
    assert!(
        s3.keys(&aws, dir.path(), "lading-blobs").contains(&key),
        "the asset is in the bucket under `{key}`"
    );
    let stored = dir.path().join("from-bucket.txt");
    support::run_ok(&mut s3.s3api(
        &aws,
        dir.path(),
        &[
            "get-object",
            "--bucket",
            "lading-blobs",
            "--key",
            &key,
            &stored.display().to_string(),
        ],
    ));
    assert_eq!(fs_err::read_to_string(&stored).unwrap(), content);
    server.stop();

    // A node whose local blob cache is empty (a new machine with the same index) reads it
    // back from the bucket, and keeps the verified copy.
    fs_err::remove_dir_all(dir.path().join("data/blobs-v1")).unwrap();
    let server = serve_on(dir.path(), s3, "lading-blobs");
    assert_eq!(download(&server, dir.path(), "1.0.0").unwrap(), content);
    assert_eq!(local_blobs(&server.data), vec![sha256]);
}

#[test]
fn an_object_changed_in_the_bucket_is_refused_not_served() {
    let aws = require_tool!(support::aws());
    let moto = require_tool!(S3Server::find());
    let dir = tempfile::tempdir().unwrap();
    let s3 = &S3Server::start(&moto, dir.path());
    let (server, sha256) =
        published_to_bucket(&aws, s3, dir.path(), "tampered", "the published bytes\n");
    server.stop();

    let other = dir.path().join("other.txt");
    fs_err::write(&other, "not the published bytes\n").unwrap();
    support::run_ok(&mut s3.s3api(
        &aws,
        dir.path(),
        &[
            "put-object",
            "--bucket",
            "tampered",
            "--key",
            &format!("node/sha256/{}/{sha256}", &sha256[..2]),
            "--body",
            &other.display().to_string(),
        ],
    ));
    fs_err::remove_dir_all(dir.path().join("data/blobs-v1")).unwrap();
    let server = serve_on(dir.path(), s3, "tampered");
    let refused = download(&server, dir.path(), "1.0.0").expect_err("a wrong byte was served");
    assert!(
        support::describe(&refused).contains("InternalServerException"),
        "{}",
        support::describe(&refused)
    );
    assert!(
        local_blobs(&server.data).is_empty(),
        "nothing unverified is cached"
    );
    assert!(
        server.log().contains("corrupt"),
        "the server log names the corrupt object:\n{}",
        server.log()
    );
}

#[test]
fn the_object_store_away_answers_503_with_retry_after_and_service_resumes() {
    let aws = require_tool!(support::aws());
    let moto = require_tool!(S3Server::find());
    require_tool!(client::curl());
    let dir = tempfile::tempdir().unwrap();
    let mut s3 = S3Server::start(&moto, dir.path());
    s3.create_bucket(&aws, dir.path(), "flaky");
    let server = serve_on(dir.path(), &s3, "flaky");
    let readyz = format!("{}/readyz", server.url);
    let healthz = format!("{}/healthz", server.url);
    assert_eq!(curl_status(dir.path(), &[&readyz]).0, 200);

    s3.stop();
    let (status, answer) = curl_status(dir.path(), &["-i", &readyz]);
    assert_eq!(status, 503, "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 5"),
        "{answer}"
    );
    assert!(
        answer.contains("object store `s3://flaky/node/`"),
        "{answer}"
    );
    // `/healthz` is the process, which is fine.
    assert_eq!(curl_status(dir.path(), &[&healthz]).0, 200);
    let refused = publish(&server, dir.path(), "1.0.0", "while the store is away\n");
    assert!(!refused.status.success());
    assert!(
        support::describe(&refused).contains("ServiceUnavailable")
            || support::describe(&refused).contains("503"),
        "{}",
        support::describe(&refused)
    );
    // The refused publish left no version behind.
    assert!(download(&server, dir.path(), "1.0.0").is_err());

    // The store comes back (moto starts empty: the bucket is made again): no restart of
    // lading needed.
    s3.restart();
    s3.create_bucket(&aws, dir.path(), "flaky");
    assert_eq!(curl_status(dir.path(), &[&readyz]).0, 200);
    publish_ok(&server, dir.path(), "1.0.0", "after the store came back\n");
    assert_eq!(
        download(&server, dir.path(), "1.0.0").unwrap(),
        "after the store came back\n"
    );
}

#[test]
fn a_missing_bucket_stops_serve_at_start_with_a_hint() {
    let moto = require_tool!(S3Server::find());
    let dir = tempfile::tempdir().unwrap();
    let s3 = &S3Server::start(&moto, dir.path());
    let output = support::run(
        support::clean_command(support::lading_bin(), dir.path())
            .envs(s3.env())
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--blobs",
                "s3://no-such-bucket/x",
            ])
            .arg("--data")
            .arg(dir.path().join("data")),
    );
    assert!(!output.status.success());
    let text = support::describe(&output);
    assert!(
        text.contains("failed to use the object store `s3://no-such-bucket/x`"),
        "{text}"
    );
    assert!(
        text.contains("AWS_ENDPOINT_URL_S3"),
        "the hint names the endpoint variable: {text}"
    );
}

/// `lading serve verify` over `data` (with `--blobs` when given): its output.
fn verify(
    dir: &Path,
    data: &Path,
    s3: Option<(&S3Server, &str)>,
    json: bool,
) -> std::process::Output {
    let mut command = support::clean_command(support::lading_bin(), dir);
    command.args(["serve", "verify", "--data"]).arg(data);
    if let Some((s3, blobs)) = s3 {
        command.envs(s3.env()).args(["--blobs", blobs]);
    }
    if json {
        command.arg("--json");
    }
    support::run(&mut command)
}

#[test]
fn serve_verify_finds_a_damaged_blob_and_orphans_on_disk() {
    require_tool!(support::aws());
    let (dir, server) = support::serve(ServerSpec::default());
    let content = "checked by serve verify\n";
    let sha256 = lading::server::store::Digests::of(content.as_bytes()).sha256;
    publish_ok(&server, dir.path(), "1.0.0", content);
    let data = server.data.clone();

    // Beside the running server: it only reads.
    let clean = verify(dir.path(), &data, None, false);
    assert!(clean.status.success(), "{}", support::describe(&clean));
    assert!(
        support::describe(&clean).contains("checked 1 asset(s), 1 distinct blob(s)")
            && support::describe(&clean).contains("0 problem(s); orphans: 0 local"),
        "{}",
        support::describe(&clean)
    );
    server.stop();

    let blob = data
        .join("blobs-v1/sha256")
        .join(&sha256[..2])
        .join(&sha256);
    fs_err::write(&blob, "damaged on disk\n").unwrap();
    let orphan = lading::server::store::Digests::of(b"nobody names me").sha256;
    let shard = data.join("blobs-v1/sha256").join(&orphan[..2]);
    fs_err::create_dir_all(&shard).unwrap();
    fs_err::write(shard.join(&orphan), "nobody names me").unwrap();

    let damaged = verify(dir.path(), &data, None, false);
    assert_eq!(
        damaged.status.code(),
        Some(1),
        "{}",
        support::describe(&damaged)
    );
    let text = support::describe(&damaged);
    assert!(text.contains(&format!("{sha256}: corrupt")), "{text}");
    assert!(
        text.contains("local/main generic ns/report@1.0.0 report.txt"),
        "{text}"
    );
    assert!(text.contains("1 problem(s); orphans: 1 local"), "{text}");

    let report = verify(dir.path(), &data, None, true);
    let report: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!(report["problems"].as_array().unwrap().len(), 1);
    assert_eq!(report["problems"][0]["sha256"], sha256.as_str());
    assert_eq!(report["orphans_local"], serde_json::json!([orphan]));

    fs_err::remove_file(&blob).unwrap();
    let missing = verify(dir.path(), &data, None, false);
    assert!(
        support::describe(&missing).contains(&format!("{sha256}: missing")),
        "{}",
        support::describe(&missing)
    );
}

#[test]
fn serve_verify_reads_every_object_back_from_the_object_store() {
    let aws = require_tool!(support::aws());
    let moto = require_tool!(S3Server::find());
    let dir = tempfile::tempdir().unwrap();
    let s3 = &S3Server::start(&moto, dir.path());
    s3.create_bucket(&aws, dir.path(), "verified");
    let server = serve_on(dir.path(), s3, "verified");
    for version in ["1.0.0", "1.0.1"] {
        publish_ok(
            &server,
            dir.path(),
            version,
            &format!("release {version}\n"),
        );
    }
    let data = server.data.clone();
    server.stop();
    // The node's cache is irrelevant: the object store is what is checked.
    fs_err::remove_dir_all(data.join("blobs-v1")).unwrap();
    let clean = verify(dir.path(), &data, Some((s3, "s3://verified/node")), true);
    assert!(clean.status.success(), "{}", support::describe(&clean));
    let report: serde_json::Value = serde_json::from_slice(&clean.stdout).unwrap();
    assert_eq!(report["blobs"], 2);
    assert_eq!(report["problems"], serde_json::json!([]));
    assert_eq!(report["location"], "s3://verified/node/");

    let sha256 = lading::server::store::Digests::of(b"release 1.0.1\n").sha256;
    support::run_ok(&mut s3.s3api(
        &aws,
        dir.path(),
        &[
            "delete-object",
            "--bucket",
            "verified",
            "--key",
            &format!("node/sha256/{}/{sha256}", &sha256[..2]),
        ],
    ));
    let missing = verify(dir.path(), &data, Some((s3, "s3://verified/node")), false);
    assert_eq!(
        missing.status.code(),
        Some(1),
        "{}",
        support::describe(&missing)
    );
    assert!(
        support::describe(&missing).contains(&format!(
            "{sha256}: missing (named by local/main generic ns/report@1.0.1 report.txt)"
        )),
        "{}",
        support::describe(&missing)
    );
}

#[test]
fn serve_migrate_moves_a_single_node_directory_into_the_bucket_resumably() {
    let aws = require_tool!(support::aws());
    let moto = require_tool!(S3Server::find());
    let (dir, server) = support::serve(ServerSpec::default());
    for version in ["1.0.0", "1.0.1"] {
        publish_ok(
            &server,
            dir.path(),
            version,
            &format!("migrated {version}\n"),
        );
    }
    let data = server.data.clone();
    server.stop();
    let s3 = &S3Server::start(&moto, dir.path());
    s3.create_bucket(&aws, dir.path(), "migrated");
    let migrate = || {
        support::run(
            support::clean_command(support::lading_bin(), dir.path())
                .envs(s3.env())
                .args([
                    "serve",
                    "migrate",
                    "--blobs",
                    "s3://migrated/node",
                    "--data",
                ])
                .arg(&data),
        )
    };
    let first = migrate();
    assert!(first.status.success(), "{}", support::describe(&first));
    assert!(
        support::describe(&first).contains("done: all 2 blob(s) are in `s3://migrated/node/`"),
        "{}",
        support::describe(&first)
    );
    assert_eq!(s3.keys(&aws, dir.path(), "migrated").len(), 2);
    // Run again (an interrupted migration is resumed this way): nothing changes.
    let again = migrate();
    assert!(again.status.success(), "{}", support::describe(&again));
    assert_eq!(s3.keys(&aws, dir.path(), "migrated").len(), 2);

    // The same data directory now runs on the bucket, with an empty node cache.
    fs_err::remove_dir_all(data.join("blobs-v1")).unwrap();
    let server = serve_on(dir.path(), s3, "migrated");
    assert_eq!(
        download(&server, dir.path(), "1.0.1").unwrap(),
        "migrated 1.0.1\n"
    );
    server.stop();
    let verified = verify(dir.path(), &data, Some((s3, "s3://migrated/node")), false);
    assert!(
        verified.status.success(),
        "{}",
        support::describe(&verified)
    );
}
