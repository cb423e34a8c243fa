//! Limits of `lading serve` as tested properties (issue #15, items 2, 3 and 12): a body is
//! read only once the request is authenticated; accepted bodies stream to disk, so resident
//! memory does not grow with upload size; stalled bodies time out; connections are capped in
//! total and per address, so slow clients cannot lock others out; and neither a crash nor a
//! refused upload leaves temp files or orphan blobs behind.
//!
//! See: issue #15 (security), items 2, 3 and 12.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::client::{bearer, curl_timed as curl};
use crate::support::{self, LadingServer, ServerSpec, TarGz, clean_command, sha256_hex};

const MIB: u64 = 1024 * 1024;

/// A file of `size` zero bytes that takes no disk space (sparse).
fn sparse_file(path: &Path, size: u64) -> PathBuf {
    let file = fs_err::File::create(path).unwrap();
    file.set_len(size).unwrap();
    path.to_path_buf()
}

/// Files left in the data directory's `tmp/`.
fn temp_files(data: &Path) -> Vec<String> {
    fs_err::read_dir(data.join("tmp"))
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Every blob file in the data directory, by name (its sha256).
fn blobs(data: &Path) -> Vec<String> {
    let mut names = Vec::new();
    let Ok(shards) = fs_err::read_dir(data.join("blobs-v1/sha256")) else {
        return names;
    };
    for shard in shards.flatten() {
        for entry in fs_err::read_dir(shard.path()).unwrap().flatten() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    names
}

/// Every upload route, unauthenticated, with a 1 GiB body that curl would send at 1 MB/s:
/// each is answered at once (no 100 Continue is ever asked for), so curl never sends it.
#[test]
fn unauthenticated_uploads_are_refused_before_their_body_is_read() {
    let (dir, server) = support::serve(ServerSpec::default());
    let body = sparse_file(&dir.path().join("gigabyte.bin"), 1024 * MIB);
    let body = body.to_str().unwrap();
    let routes = [
        ("PUT", "/d/local/npm/main/big", 401),
        ("PUT", "/d/local/nuget/main/v2/package", 401),
        ("POST", "/d/local/pypi/main/", 401),
        (
            "PUT",
            "/d/local/maven/main/com/acme/big/1.0/big-1.0.jar",
            401,
        ),
        ("PUT", "/d/local/generic/main/ns/big/1.0/big.bin", 401),
        (
            "POST",
            "/v1/package/version/publish?domain=local&repository=main&format=generic&namespace=ns&package=big&version=1.0&asset=big.bin",
            403,
        ),
        ("POST", "/v1/domain?domain=other", 403),
    ];
    let mut failures = Vec::new();
    for (method, path, expected) in routes {
        let url = format!("{}{path}", server.url);
        let (status, seconds) = curl(
            dir.path(),
            &[
                "-X",
                method,
                "-T",
                body,
                "--limit-rate",
                "1M",
                "--max-time",
                "20",
                &url,
            ],
        );
        if status != expected {
            failures.push(format!(
                "{method} {path}: {status} after {seconds} s, expected {expected} before the body"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(temp_files(&server.data).is_empty());
}

/// Samples the resident memory of a process until stopped; reports the peak.
struct RssProbe {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
}

fn rss_kib(pid: u32) -> u64 {
    fs_err::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap()
}

impl RssProbe {
    fn start(pid: u32) -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = std::sync::Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut peak = 0;
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_kib(pid));
                std::thread::sleep(Duration::from_millis(20));
            }
            peak.max(rss_kib(pid))
        });
        Self { stop, thread }
    }

    fn peak_kib(self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

/// An npm tarball (`package/package.json` and `size` zero bytes, gzip without compression,
/// so it is as large as its content).
fn npm_tarball(name: &str, size: u64) -> Vec<u8> {
    let manifest = format!(r#"{{"name":"{name}","version":"1.0.0"}}"#);
    TarGz::new(flate2::Compression::none())
        .file("package/package.json", manifest.as_bytes())
        .file_from("package/zeros.bin", size, std::io::repeat(0).take(size))
        .finish()
}

/// An npm publish document for `name@1.0.0` with a tarball of about `size` bytes.
fn npm_document(path: &Path, name: &str, size: u64) {
    use base64::Engine as _;
    let tarball = npm_tarball(name, size);
    let data = base64::engine::general_purpose::STANDARD.encode(&tarball);
    let mut file = std::io::BufWriter::new(fs_err::File::create(path).unwrap());
    write!(
        file,
        r#"{{"name":"{name}","dist-tags":{{"latest":"1.0.0"}},"versions":{{"1.0.0":{{"name":"{name}","version":"1.0.0","dist":{{}}}}}},"_attachments":{{"{name}-1.0.0.tgz":{{"content_type":"application/octet-stream","length":{},"data":"{data}"}}}}}}"#,
        tarball.len()
    )
    .unwrap();
    file.flush().unwrap();
}

/// curl `PUT`s the npm publish document at `document` to `url`: the status.
fn put_npm_document(home: &Path, authorization: &str, document: &Path, url: &str) -> u16 {
    let content_type = "Content-Type: application/json";
    let document = document.to_str().unwrap();
    curl(
        home,
        &["-H", authorization, "-H", content_type, "-T", document, url],
    )
    .0
}

/// A `.nupkg` with a `size`-byte stored entry of zeros, written as a stream.
fn nupkg(path: &Path, id: &str, size: u64) {
    let file = fs_err::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true);
    zip.start_file(format!("{id}.nuspec"), options).unwrap();
    write!(
        zip,
        "<package><metadata><id>{id}</id><version>1.0.0</version><authors>x</authors><description>x</description></metadata></package>"
    )
    .unwrap();
    zip.start_file("content/zeros.bin", options).unwrap();
    let zeros = vec![0_u8; 1024 * 1024];
    let mut left = size;
    while left > 0 {
        let count = left.min(zeros.len() as u64);
        zip.write_all(&zeros[..usize::try_from(count).unwrap()])
            .unwrap();
        left -= count;
    }
    zip.finish().unwrap();
}

/// The issue's measurement: 20 parallel uploads of 200 MiB (generic `PUT`), then one upload each through npm `PUT`, NuGet push,
/// twine's upload and Maven `PUT`. Before, every body was held whole in memory (20 of them:
/// over 1 GiB); now the server's resident memory grows by less than 50 MiB.
#[test]
fn uploads_stream_to_disk_and_resident_memory_stays_flat() {
    const PARALLEL: usize = 20;
    const SIZE: u64 = 200 * MIB;
    let (dir, server) = support::serve(ServerSpec::default());
    let token = server.token();
    let authorization = bearer(&token);
    let zeros = sparse_file(&dir.path().join("zeros.bin"), SIZE);
    let zeros = zeros.to_str().unwrap();
    // Warm up: the first upload sets up pools and caches that later ones reuse.
    let warm = sparse_file(&dir.path().join("warm.bin"), 4 * MIB);
    let url = format!("{}/d/local/generic/main/ns/warm/1.0/warm.bin", server.url);
    let (status, _) = curl(
        dir.path(),
        &["-H", &authorization, "-T", warm.to_str().unwrap(), &url],
    );
    assert_eq!(status, 201);
    let before = rss_kib(server.pid());
    let probe = RssProbe::start(server.pid());

    let children: Vec<std::process::Child> = (0..PARALLEL)
        .map(|index| {
            let url = format!(
                "{}/d/local/generic/main/ns/parallel/1.{index}/zeros.bin",
                server.url
            );
            clean_command("curl", dir.path())
                .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}"])
                .args(["-H", &authorization, "-T", zeros, &url])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert_eq!(String::from_utf8_lossy(&output.stdout), "201");
    }

    let npm = dir.path().join("npm.json");
    npm_document(&npm, "big-npm", SIZE);
    let url = format!("{}/d/local/npm/main/big-npm", server.url);
    assert_eq!(
        put_npm_document(dir.path(), &authorization, &npm, &url),
        201,
        "npm publish"
    );

    let package = dir.path().join("Big.Probe.1.0.0.nupkg");
    nupkg(&package, "Big.Probe", SIZE);
    let url = format!("{}/d/local/nuget/main/v2/package", server.url);
    let form = format!("package=@{}", package.display());
    let api_key = format!("X-NuGet-ApiKey: {token}");
    let nuget_args = ["-X", "PUT", "-H", &api_key, "-F", &form, &url];
    assert_eq!(curl(dir.path(), &nuget_args).0, 201, "nuget push");

    let sha256 = {
        let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        let zeros = vec![0_u8; 1024 * 1024];
        for _ in 0..SIZE / MIB {
            context.update(&zeros);
        }
        hex::encode(context.finish())
    };
    let url = format!("{}/d/local/pypi/main/", server.url);
    let content = format!("content=@{zeros};filename=big_probe-1.0.tar.gz");
    let digest = format!("sha256_digest={sha256}");
    let twine_args = [
        "-H",
        authorization.as_str(),
        "-F",
        ":action=file_upload",
        "-F",
        "protocol_version=1",
        "-F",
        "name=big-probe",
        "-F",
        "version=1.0",
        "-F",
        "filetype=sdist",
        "-F",
        "pyversion=source",
        "-F",
        &digest,
        "-F",
        &content,
        &url,
    ];
    assert_eq!(curl(dir.path(), &twine_args).0, 200, "twine upload");

    let url = format!(
        "{}/d/local/maven/main/com/acme/big/1.0/big-1.0.jar",
        server.url
    );
    let maven_args = ["-H", authorization.as_str(), "-T", zeros, url.as_str()];
    assert_eq!(curl(dir.path(), &maven_args).0, 201, "maven deploy");

    let peak = probe.peak_kib();
    let growth_mib = peak.saturating_sub(before) / 1024;
    assert!(
        growth_mib < 50,
        "resident memory grew by {growth_mib} MiB ({before} KiB before, {peak} KiB at peak) for {PARALLEL} parallel uploads of {} MiB",
        SIZE / MIB
    );
    assert!(temp_files(&server.data).is_empty());
    // What was stored is what was sent.
    let url = format!(
        "{}/d/local/generic/main/ns/parallel/1.3/zeros.bin",
        server.url
    );
    let output = clean_command("curl", dir.path())
        .args(["-sS", "-f", "-H", &authorization, &url])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(output.stdout.len() as u64, SIZE);
    assert!(output.stdout.iter().all(|byte| *byte == 0));
}

/// The python side of the slowloris test: `count` connections from `source`, each an
/// authenticated upload that announces 1 MB and sends a byte a second; prints `ready` once
/// all are open, and stops when its stdin closes.
const SLOWLORIS: &str = r#"
import socket, sys, threading, time
host, port, source, count, token = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
sockets = []
# A server that stops accepting leaves connects hanging: give up on them after a while.
deadline = time.time() + 15
for index in range(count):
    if time.time() > deadline:
        break
    try:
        s = socket.socket()
        s.settimeout(2)
        s.bind((source, 0))
        s.connect((host, port))
        s.settimeout(None)
        s.sendall(("PUT /d/local/generic/main/ns/slow/1.%d/a.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 1000000\r\n\r\nx" % (index, token)).encode())
        sockets.append(s)
    except OSError:
        pass
print("ready", len(sockets), flush=True)
stop = threading.Event()
def trickle():
    while not stop.is_set():
        for s in list(sockets):
            try:
                s.send(b"x")
            except OSError:
                sockets.remove(s)
        stop.wait(1)
threading.Thread(target=trickle, daemon=True).start()
sys.stdin.read()
stop.set()
"#;

/// About 1,100 slow uploads used to take every file descriptor (the server's limit is
/// 1024 here, a common default), and then nobody else got in. Now connections past the
/// per-address cap are turned away at once, and a normal client gets its packument in under
/// a second while 2,000 slow uploads are open.
#[test]
fn a_normal_client_is_served_while_2000_slow_uploads_are_open() {
    let (dir, server) = support::serve(ServerSpec {
        open_file_limit: Some(1024),
        ..ServerSpec::default()
    });
    let token = server.token();
    let authorization = bearer(&token);
    let document = dir.path().join("pkg.json");
    npm_document(&document, "lading-slowloris", 3);
    let packument = format!("{}/d/local/npm/main/lading-slowloris", server.url);
    assert_eq!(
        put_npm_document(dir.path(), &authorization, &document, &packument),
        201
    );

    let address = server.url.trim_start_matches("http://").to_owned();
    let (host, port) = address.rsplit_once(':').unwrap();
    // The attacker's connections come from another loopback address than the client's.
    let (mut slowloris, line) = spawn_until_first_line(
        Command::new("prlimit")
            .args(["--nofile=4096:4096", "--", "python3", "-c", SLOWLORIS])
            .args([host, port, "127.0.0.2", "2000", token.as_str()]),
    );
    assert!(line.starts_with("ready"), "{line}");
    // Let the server take in what it will.
    std::thread::sleep(Duration::from_millis(500));
    let mut timings = Vec::new();
    for _ in 0..3 {
        let (status, seconds) = curl(
            dir.path(),
            &["-H", &authorization, "--max-time", "10", &packument],
        );
        assert_eq!(
            status, 200,
            "packument while slow uploads are open ({line})"
        );
        timings.push(seconds);
    }
    drop(slowloris.stdin.take());
    let _ = slowloris.wait();
    let fastest = timings.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(
        fastest < 1.0,
        "the packument took {timings:?} s with 2,000 slow uploads open ({line})"
    );
}

/// Start a python script that holds connections open until its stdin closes, and wait for
/// the line it prints once they are open.
fn spawn_until_first_line(command: &mut Command) -> (std::process::Child, String) {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run python3");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    (child, line)
}

/// Holds idle connections to `address`, one from each of `sources`, until dropped.
struct Held(std::process::Child);

impl Held {
    fn open(address: std::net::SocketAddr, sources: &[&str]) -> Self {
        const HOLD: &str = "import socket, sys\nsockets = []\nfor source in sys.argv[3:]:\n    s = socket.socket()\n    s.bind((source, 0))\n    s.connect((sys.argv[1], int(sys.argv[2])))\n    sockets.append(s)\nprint('ready', flush=True)\nsys.stdin.read()\n";
        let (child, line) = spawn_until_first_line(
            Command::new("python3")
                .args(["-c", HOLD])
                .arg(address.ip().to_string())
                .arg(address.port().to_string())
                .args(sources),
        );
        assert_eq!(line.trim(), "ready");
        // Let the server accept them.
        std::thread::sleep(Duration::from_millis(300));
        Self(child)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.wait();
    }
}

/// Per-address and total caps turn extra connections away with a 503 (and free their slot
/// when a connection closes), and a keep-alive connection left idle after a response is
/// closed once the header timeout passes.
#[test]
fn connection_caps_and_the_idle_timeout_hold() {
    let (dir, server) = support::serve(ServerSpec::with_args(vec![
        "--max-connections-per-address",
        "3",
        "--max-connections",
        "5",
        "--header-timeout-seconds",
        "2",
    ]));
    let address: std::net::SocketAddr = server.url.trim_start_matches("http://").parse().unwrap();
    let health = format!("{}/health", server.url);
    let from = |source: &str| {
        curl(
            dir.path(),
            &["--interface", source, "--max-time", "5", &health],
        )
        .0
    };
    let three = Held::open(address, &["127.0.0.3"; 3]);
    assert_eq!(from("127.0.0.3"), 503, "a 4th connection from one address");
    assert_eq!(from("127.0.0.4"), 200, "another address still gets in");
    let two = Held::open(address, &["127.0.0.4"; 2]);
    assert_eq!(from("127.0.0.5"), 503, "a 6th connection in all");
    drop(three);
    drop(two);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        from("127.0.0.3"),
        200,
        "closed connections free their slots"
    );

    // Idle keep-alive: after one complete exchange, the server closes the connection once
    // the header timeout passes without a next request.
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(stream, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let mut response = [0_u8; 512];
    let read = stream.read(&mut response).unwrap();
    assert!(response[..read].starts_with(b"HTTP/1.1 200"));
    let started = Instant::now();
    let closed = matches!(stream.read(&mut response), Ok(0) | Err(_));
    assert!(
        closed && started.elapsed() < Duration::from_secs(10),
        "the idle keep-alive connection stayed open {:?}",
        started.elapsed()
    );
}

/// A body that stops arriving is answered 408 and its temp file is removed.
#[test]
fn a_stalled_body_is_answered_408_and_leaves_no_temp_file() {
    let (_dir, server) = support::serve(ServerSpec::with_args(vec!["--body-timeout-seconds", "1"]));
    let token = server.token();
    let address = server.url.trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    write!(
        stream,
        "PUT /d/local/generic/main/ns/stall/1.0/a.bin HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nContent-Length: 1000\r\n\r\nonly ten b"
    )
    .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("stalled"), "{text}");
    assert!(temp_files(&server.data).is_empty());
}

/// A crash mid-upload leaves a temp file that the next start removes, without touching an
/// upload another running server is writing into the same directory; and refused uploads
/// (a digest mismatch, a conflict found after the blob was placed, a tarball that does not
/// match its manifest) leave no temp file and no blob.
#[test]
fn crashes_and_refusals_leave_no_temp_file_or_orphan_blob() {
    let (dir, server) = support::serve(ServerSpec::default());
    let data = server.data.clone();
    let token = server.token();
    let start_upload = |server: &LadingServer, name: &str| {
        let address = server.url.trim_start_matches("http://").to_owned();
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        write!(
            stream,
            "PUT /d/local/generic/main/ns/{name}/1.0/payload.bin HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\n\r\n",
            2 * MIB
        )
        .unwrap();
        stream
            .write_all(&vec![b'a'; usize::try_from(MIB).unwrap()])
            .unwrap();
        stream
    };
    let wait_for_temp_file = |what: &str| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while temp_files(&data).is_empty() {
            assert!(Instant::now() < deadline, "no temp file for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let crashed = start_upload(&server, "crash");
    wait_for_temp_file("the crashed upload");
    let _ = server.kill();
    drop(crashed);
    assert!(
        !temp_files(&data).is_empty(),
        "the crash left its temp file"
    );
    let server = LadingServer::start(&data, ServerSpec::default());
    assert!(temp_files(&data).is_empty(), "{:?}", temp_files(&data));

    // An upload in progress on this server survives another server starting on the same
    // data directory (a second node), and completes.
    let mut in_progress = start_upload(&server, "in-progress");
    wait_for_temp_file("the upload in progress");
    let second = LadingServer::start(&data, ServerSpec::default());
    assert_eq!(temp_files(&data).len(), 1, "the second start kept it");
    drop(second);
    in_progress
        .write_all(&vec![b'a'; usize::try_from(MIB).unwrap()])
        .unwrap();
    in_progress
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut response = [0_u8; 64];
    let read = in_progress.read(&mut response).unwrap();
    assert!(
        response[..read].starts_with(b"HTTP/1.1 201"),
        "{}",
        String::from_utf8_lossy(&response[..read])
    );
    let kept = blobs(&data);
    assert_eq!(kept.len(), 1, "{kept:?}");

    let authorization = bearer(&token);
    let body = dir.path().join("body.bin");
    fs_err::write(&body, b"refused content").unwrap();
    let body = body.to_str().unwrap();
    // A digest that does not match the body.
    let url = format!("{}/d/local/generic/main/ns/refused/1.0/a.bin", server.url);
    let wrong = format!("x-checksum-sha256: {}", "0".repeat(64));
    let (status, _) = curl(
        dir.path(),
        &["-H", &authorization, "-H", &wrong, "-T", body, &url],
    );
    assert_eq!(status, 400);
    // Other content for an asset that exists: refused after its blob was placed.
    let url = format!(
        "{}/d/local/generic/main/ns/in-progress/1.0/payload.bin",
        server.url
    );
    let (status, _) = curl(dir.path(), &["-H", &authorization, "-T", body, &url]);
    assert_eq!(status, 409);
    // An npm publish whose tarball does not match its `dist.shasum`.
    let document = dir.path().join("npm.json");
    fs_err::write(
        &document,
        format!(
            r#"{{"name":"refused","versions":{{"1.0.0":{{"dist":{{"shasum":"{}"}}}}}},"_attachments":{{"refused-1.0.0.tgz":{{"data":"aGk="}}}}}}"#,
            sha256_hex(b"x")
        ),
    )
    .unwrap();
    let url = format!("{}/d/local/npm/main/refused", server.url);
    assert_eq!(
        put_npm_document(dir.path(), &authorization, &document, &url),
        400
    );
    assert!(temp_files(&data).is_empty(), "{:?}", temp_files(&data));
    assert_eq!(blobs(&data), kept, "refusals left no blob");
}

/// A blob that a crash left between its rename into the store and its index row's commit is
/// swept at the next start once it is old, and nothing an index row names goes with it: not
/// the assets, and not the NuGet `.nuspec` that only version metadata names.
#[test]
fn a_blob_a_crash_left_unnamed_is_swept_at_start_and_named_ones_are_kept() {
    let (dir, server) = support::serve(ServerSpec::default());
    let data = server.data.clone();
    let token = server.token();
    let authorization = bearer(&token);
    let package = dir.path().join("Swept.Probe.1.0.0.nupkg");
    nupkg(&package, "Swept.Probe", 4096);
    let form = format!("package=@{}", package.display());
    let api_key = format!("X-NuGet-ApiKey: {token}");
    let push = format!("{}/d/local/nuget/main/v2/package", server.url);
    assert_eq!(
        curl(
            dir.path(),
            &["-X", "PUT", "-H", &api_key, "-F", &form, &push]
        )
        .0,
        201
    );
    let body = dir.path().join("asset.bin");
    fs_err::write(&body, b"a named generic asset").unwrap();
    let asset = format!("{}/d/local/generic/main/ns/named/1.0/asset.bin", server.url);
    assert_eq!(
        curl(
            dir.path(),
            &["-H", &authorization, "-T", body.to_str().unwrap(), &asset]
        )
        .0,
        201
    );
    let _ = server.kill();
    let named = blobs(&data);
    assert_eq!(named.len(), 3, "package, its .nuspec, the asset: {named:?}");

    // What a crash leaves: a blob file no row names. One old, one just written.
    let place = |content: &[u8]| {
        let sha256 = sha256_hex(content);
        let path = data
            .join("blobs-v1/sha256")
            .join(&sha256[..2])
            .join(&sha256);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(&path, content).unwrap();
        (sha256, path)
    };
    let (old_orphan, _) = place(b"left by a crash two hours ago");
    let (young_orphan, _) = place(b"left a moment ago, maybe still being committed");
    // Everything but the young orphan is old, so only references can keep the named blobs.
    let two_hours_ago = std::time::SystemTime::now() - Duration::from_secs(2 * 3600);
    for sha256 in named.iter().chain([&old_orphan]) {
        let path = data.join("blobs-v1/sha256").join(&sha256[..2]).join(sha256);
        let file = fs_err::File::options().write(true).open(&path).unwrap();
        file.file().set_modified(two_hours_ago).unwrap();
    }

    let server = LadingServer::start(&data, ServerSpec::default());
    let deadline = Instant::now() + Duration::from_secs(30);
    while blobs(&data).contains(&old_orphan) {
        assert!(Instant::now() < deadline, "the old orphan was not swept");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut kept = named.clone();
    kept.push(young_orphan);
    kept.sort();
    assert_eq!(blobs(&data), kept);
    let token = server.token();
    let authorization = bearer(&token);
    for url in [
        format!(
            "{}/d/local/nuget/main/v3/package/swept.probe/1.0.0/swept.probe.nuspec",
            server.url
        ),
        format!(
            "{}/d/local/nuget/main/v3/package/swept.probe/1.0.0/swept.probe.1.0.0.nupkg",
            server.url
        ),
        format!("{}/d/local/generic/main/ns/named/1.0/asset.bin", server.url),
    ] {
        let (status, _) = curl(dir.path(), &["-H", &authorization, &url]);
        assert_eq!(status, 200, "{url}");
    }
}
