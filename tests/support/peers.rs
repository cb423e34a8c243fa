//! Third-party servers started for tests: Verdaccio (npm), pypiserver, nginx, pynuget
//! (NuGet v2) and a static HTTP server
//! (`python3 -m http.server`) for upstreams that misbehave on purpose.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{clean_command, find_tool};

/// A free loopback port (bound and released; good enough on a test machine).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_http(url: &str, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    loop {
        let ready = runtime.block_on(async { reqwest::get(url).await.is_ok() });
        if ready {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited with {status} before answering {url}");
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not answer {url} in 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A running Verdaccio with one user; stopped on drop.
pub struct Verdaccio {
    /// Registry URL with a trailing slash.
    pub url: String,
    /// The user's token.
    pub token: String,
    child: Option<Child>,
    dir: PathBuf,
    binary: PathBuf,
    port: u16,
}

impl Verdaccio {
    /// Find the peer (`LADING_TEST_VERDACCIO` or `.peers/node/node_modules/.bin/verdaccio`).
    pub fn find() -> Option<PathBuf> {
        find_tool(
            "LADING_TEST_VERDACCIO",
            Some("node/node_modules/.bin/verdaccio"),
            None,
        )
    }

    /// Start on a free port with storage under `dir`, and create user `tester`.
    ///
    /// The htpasswd hash is SHA-1, not the default bcrypt: Verdaccio checks the password
    /// on every request made with a legacy token, and bcrypt made each one take 160 ms on
    /// Verdaccio's single thread (206 publishes and 206 tarball GETs took minutes).
    pub fn start(binary: &Path, dir: &Path) -> Self {
        fs_err::create_dir_all(dir.join("storage")).unwrap();
        let config = dir.join("config.yaml");
        fs_err::write(
            &config,
            format!(
                "storage: {storage}\nauth:\n  htpasswd:\n    file: {storage}/htpasswd\n    max_users: 1000\n    algorithm: sha1\nuplinks: {{}}\npackages:\n  '@*/*':\n    access: $authenticated\n    publish: $authenticated\n  '**':\n    access: $authenticated\n    publish: $authenticated\nsecurity:\n  api:\n    legacy: true\nlog: {{ type: stdout, format: pretty, level: warn }}\n",
                storage = dir.join("storage").display()
            ),
        )
        .unwrap();
        let port = free_port();
        let mut verdaccio = Self {
            url: format!("http://127.0.0.1:{port}/"),
            token: String::new(),
            child: None,
            dir: dir.to_path_buf(),
            binary: binary.to_path_buf(),
            port,
        };
        verdaccio.spawn();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        verdaccio.token = runtime.block_on(async {
            let response = reqwest::Client::new()
                .put(format!("{}-/user/org.couchdb.user:tester", verdaccio.url))
                .json(&serde_json::json!({"name": "tester", "password": "tester-password"}))
                .send()
                .await
                .unwrap();
            assert!(
                response.status().is_success(),
                "verdaccio adduser: {}",
                response.status()
            );
            let body: serde_json::Value = response.json().await.unwrap();
            body["token"].as_str().unwrap().to_owned()
        });
        verdaccio
    }

    fn spawn(&mut self) {
        let mut command = clean_command(&self.binary, &self.dir);
        command
            .arg("--config")
            .arg(self.dir.join("config.yaml"))
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = command.spawn().expect("start verdaccio");
        wait_for_http(&format!("{}-/ping", self.url), &mut child, "verdaccio");
        self.child = Some(child);
    }

    /// Stop the server (keeping its storage).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// An `.npmrc` pointing npm at this registry with the user's token.
    pub fn npmrc(&self) -> String {
        let host = self.url.trim_start_matches("http:");
        format!("registry={}\n{host}:_authToken={}\n", self.url, self.token)
    }
}

impl Drop for Verdaccio {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `python3 -m http.server` over a directory; stopped on drop.
pub struct StaticServer {
    /// Base URL with a trailing slash.
    pub url: String,
    child: Child,
}

impl StaticServer {
    /// Serve `dir` on a free port.
    pub fn start(dir: &Path) -> Self {
        let port = free_port();
        let mut child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
            ])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python3 -m http.server");
        let url = format!("http://127.0.0.1:{port}/");
        wait_for_http(&url, &mut child, "python3 -m http.server");
        Self { url, child }
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A static simple repository with PEP 691 content negotiation (`tests/peers/pypi_index.py`)
/// over pages a test writes; stopped on drop.
pub struct PypiIndex {
    /// Simple index URL (`.../simple/`).
    pub simple_url: String,
    /// Where the server appends each request line.
    pub log: PathBuf,
    child: Child,
}

impl PypiIndex {
    /// Serve `root` (pages under `root/simple/<project>/index.json|index.html`) on a free
    /// port; `html_only` answers every page request with the HTML page.
    pub fn start(root: &Path, html_only: bool) -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/pypi_index.py");
        let port = free_port();
        let mut command = Command::new("python3");
        command.arg(script).arg(root).arg(port.to_string());
        if html_only {
            command.arg("--html-only");
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tests/peers/pypi_index.py");
        let url = format!("http://127.0.0.1:{port}/");
        wait_for_http(&url, &mut child, "pypi_index.py");
        Self {
            simple_url: format!("{url}simple/"),
            log: root.join("requests.log"),
            child,
        }
    }

    /// The request lines served so far.
    pub fn requests(&self) -> String {
        fs_err::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for PypiIndex {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running pypiserver (`-a update,download,list`, one htpasswd user made with passlib);
/// stopped on drop.
pub struct PypiServer {
    /// Simple index URL (`.../simple/`).
    pub simple_url: String,
    /// Upload URL for twine.
    pub upload_url: String,
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
    child: Option<Child>,
}

impl PypiServer {
    /// Find the peer (`LADING_TEST_PYPISERVER` or `.peers/venv/bin/pypi-server`).
    pub fn find() -> Option<PathBuf> {
        find_tool("LADING_TEST_PYPISERVER", Some("venv/bin/pypi-server"), None)
    }

    /// Start on a free port over `dir/packages`; `python` is the peers venv's (with passlib).
    pub fn start(binary: &Path, python: &Path, dir: &Path) -> Self {
        let packages = dir.join("packages");
        fs_err::create_dir_all(&packages).unwrap();
        let htpasswd = dir.join("htpasswd");
        let mut command = clean_command(python, dir);
        command.args([
            "-c",
            "import sys\nfrom passlib.apache import HtpasswdFile\nh = HtpasswdFile(sys.argv[1], new=True)\nh.set_password('uploader', 'uploader-password')\nh.save()",
        ]);
        command.arg(&htpasswd);
        super::run_ok(&mut command);
        let port = free_port();
        let mut child = clean_command(binary, dir)
            .args(["run", "-i", "127.0.0.1", "-p", &port.to_string(), "-P"])
            .arg(&htpasswd)
            .args(["-a", "update,download,list", "--disable-fallback"])
            .arg(&packages)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pypiserver");
        let url = format!("http://127.0.0.1:{port}/");
        wait_for_http(&url, &mut child, "pypiserver");
        Self {
            simple_url: format!("{url}simple/"),
            upload_url: url,
            username: "uploader".to_owned(),
            password: "uploader-password".to_owned(),
            child: Some(child),
        }
    }

    /// Stop the server.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PypiServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// nginx serving a directory read-only (a static Maven repository); stopped on drop.
pub struct Nginx {
    /// Base URL with a trailing slash.
    pub url: String,
    /// The access log (`logs/access.log`: one line per request, written as it is answered).
    pub access_log: PathBuf,
    child: Option<Child>,
}

impl Nginx {
    /// Find the peer (`LADING_TEST_NGINX` or `nginx` on `PATH`).
    pub fn find() -> Option<PathBuf> {
        find_tool("LADING_TEST_NGINX", None, Some("nginx"))
    }

    /// Serve `root` on a free port; nginx's own files go under `dir`.
    pub fn start(binary: &Path, dir: &Path, root: &Path) -> Self {
        Self::start_with(
            binary,
            dir,
            &format!("location / {{ root {}; }}", root.display()),
        )
    }

    /// Serve `root` as a WebDAV Maven repository (TESTBED.md: `dav_methods PUT DELETE MKCOL;
    /// create_full_put_path on;`): writable without auth, or, given an `htpasswd` file
    /// (`tester:{PLAIN}secret` lines), with HTTP Basic auth for every method but GET and HEAD.
    pub fn start_webdav(binary: &Path, dir: &Path, root: &Path, htpasswd: Option<&Path>) -> Self {
        fs_err::create_dir_all(root).unwrap();
        let auth = htpasswd.map_or_else(String::new, |htpasswd| {
            format!(
                " limit_except GET HEAD {{ auth_basic \"repo\"; auth_basic_user_file {}; }}",
                htpasswd.display()
            )
        });
        Self::start_with(
            binary,
            dir,
            &format!(
                "location / {{ root {}; dav_methods PUT DELETE MKCOL; create_full_put_path on; dav_access user:rw group:r all:r; client_max_body_size 0;{auth} }}",
                root.display()
            ),
        )
    }

    /// Maven Central's stand-in: Debian's `/usr/share/maven-repo` (the plugins and libraries
    /// `.ci/install-peers` installs, with Debian's relocations of the default plugin
    /// versions) plus the `.sha1` sidecar Central publishes beside every file, which Debian's
    /// repository lacks and `lading serve` requires before it caches upstream content.
    pub fn start_maven_central(binary: &Path, dir: &Path) -> Self {
        let repo = Path::new("/usr/share/maven-repo");
        let sidecars = dir.join("sidecars");
        let output = Command::new("sh")
            .arg("-c")
            .arg(r#"cd "$0" && find -L . -type f -print0 | xargs -0 sha1sum"#)
            .arg(repo)
            .output()
            .expect("run sha1sum over /usr/share/maven-repo");
        assert!(output.status.success(), "sha1sum over {}", repo.display());
        for line in String::from_utf8(output.stdout).unwrap().lines() {
            let (hash, file) = line.split_once("  ").unwrap();
            let sidecar = sidecars.join(format!("{}.sha1", file.trim_start_matches("./")));
            fs_err::create_dir_all(sidecar.parent().unwrap()).unwrap();
            fs_err::write(sidecar, hash).unwrap();
        }
        Self::start_with(
            binary,
            dir,
            &format!(
                "location / {{ root {}; try_files $uri @debian; }}\n    location @debian {{ root {}; }}",
                sidecars.display(),
                repo.display()
            ),
        )
    }

    /// nginx as a load balancer in front of `backends` (base URLs of `lading serve` nodes),
    /// as the README's three-node deployment has it: round robin, keep-alive connections to
    /// the nodes, request bodies streamed, the client's `Host` passed on (so the URLs a node
    /// writes into metadata name the balancer), and an idempotent request that fails to
    /// reach a node (connection refused or reset) tried on the next one.
    pub fn start_balancer(binary: &Path, dir: &Path, backends: &[&str]) -> Self {
        let servers: String = backends
            .iter()
            .map(|url| {
                let address = url.trim_start_matches("http://").trim_end_matches('/');
                format!("server {address} max_fails=0;")
            })
            .collect::<Vec<_>>()
            .join(" ");
        Self::start_with_http(
            binary,
            dir,
            &format!("upstream lading {{ {servers} keepalive 32; }}"),
            "location / { proxy_pass http://lading; proxy_http_version 1.1; \
             proxy_set_header Connection \"\"; proxy_set_header Host $http_host; \
             client_max_body_size 0; proxy_request_buffering off; proxy_buffering off; \
             proxy_read_timeout 120s; proxy_next_upstream error timeout; }",
        )
    }

    /// nginx with the given `location` blocks in its one `server`.
    fn start_with(binary: &Path, dir: &Path, locations: &str) -> Self {
        Self::start_with_http(binary, dir, "", locations)
    }

    /// nginx with `http` directives at the `http` level and the given `location` blocks in
    /// its one `server`.
    fn start_with_http(binary: &Path, dir: &Path, http: &str, locations: &str) -> Self {
        fs_err::create_dir_all(dir.join("logs")).unwrap();
        let port = free_port();
        let config = dir.join("nginx.conf");
        // Under root the worker would run as `nobody`, which cannot read the test's private
        // directories; for any other user nginx ignores the directive (with a warning). One
        // process (`master_process off`), so stopping the child stops the server: a killed
        // master leaves its worker listening.
        let user = "user root;\n";
        fs_err::write(
            &config,
            format!(
                "{user}daemon off;\nmaster_process off;\nworker_processes 1;\npid {dir}/nginx.pid;\nerror_log {dir}/logs/error.log;\nevents {{ worker_connections 1024; }}\nhttp {{\n  {http}\n  access_log {dir}/logs/access.log;\n  client_body_temp_path {dir}/body;\n  proxy_temp_path {dir}/proxy;\n  fastcgi_temp_path {dir}/fastcgi;\n  uwsgi_temp_path {dir}/uwsgi;\n  scgi_temp_path {dir}/scgi;\n  server {{\n    listen 127.0.0.1:{port};\n    {locations}\n  }}\n}}\n",
                dir = dir.display(),
            ),
        )
        .unwrap();
        let mut child = Command::new(binary)
            .arg("-c")
            .arg(&config)
            .arg("-p")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        let url = format!("http://127.0.0.1:{port}/");
        wait_for_http(&url, &mut child, "nginx");
        Self {
            url,
            access_log: dir.join("logs/access.log"),
            child: Some(child),
        }
    }

    /// The requests answered so far, one access-log line each. nginx writes a request's line
    /// just after answering it, so this first sends a probe (`GET /.lading-probe-N`) and waits
    /// for its line: every request answered before the probe is then in the log. Probes are
    /// left out of the list.
    pub fn requests(&self) -> Vec<String> {
        static PROBES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let probe = format!(
            "/.lading-probe-{}",
            PROBES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let url = format!("{}{}", self.url.trim_end_matches('/'), probe);
        let _ = runtime.block_on(async { reqwest::get(&url).await.map(drop) });
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = fs_err::read_to_string(&self.access_log).unwrap_or_default();
            if log.contains(&format!("GET {probe} ")) {
                return log
                    .lines()
                    .filter(|line| !line.contains("/.lading-probe-"))
                    .map(str::to_owned)
                    .collect();
            }
            assert!(
                Instant::now() < deadline,
                "nginx did not log {probe} in 30 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stop the server.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A running pynuget 0.2.5 (a NuGet v2 server, Flask dev server) over a private directory;
/// stopped on drop. Anonymous reads; push needs the API key `ChangeThisKey`
/// (`pynuget.default_config.API_KEYS`).
pub struct Pynuget {
    /// Feed URL (the v2 root, with a trailing slash): nuget.exe pushes to
    /// `<url>api/v2/package/` and reads `<url>FindPackagesById()` and `<url>download/..`.
    pub url: String,
    /// The API key pynuget accepts for push.
    pub api_key: String,
    /// The server directory: `nuget_packages.sqlite` and `nuget_packages/`.
    pub dir: PathBuf,
    child: Option<Child>,
}

impl Pynuget {
    /// Find the peer's Python (`LADING_TEST_PYNUGET_PYTHON` or `.peers/nuget-venv/bin/python`);
    /// `flask` sits beside it.
    pub fn find() -> Option<PathBuf> {
        find_tool(
            "LADING_TEST_PYNUGET_PYTHON",
            Some("nuget-venv/bin/python"),
            None,
        )
    }

    /// Create the schema under `dir/server` and start on a free port.
    pub fn start(python: &Path, dir: &Path) -> Self {
        let server = dir.join("server");
        fs_err::create_dir_all(server.join("nuget_packages")).unwrap();
        // pynuget opens `SERVER_PATH/DB_NAME` (`nuget_packages.sqlite`) but never creates
        // the tables outside its `pynuget init` command (which insists on /var/www/pynuget).
        let mut schema = clean_command(python, dir);
        schema
            .args([
                "-c",
                "import sys\nfrom sqlalchemy import create_engine\nfrom pynuget import db\ndb.Base.metadata.create_all(create_engine('sqlite:///' + sys.argv[1]))",
            ])
            .arg(server.join("nuget_packages.sqlite"));
        super::run_ok(&mut schema);
        let flask = python.with_file_name("flask");
        let port = free_port();
        let mut child = clean_command(&flask, dir)
            .args(["run", "-h", "127.0.0.1", "-p", &port.to_string()])
            // Flask 2.1 has no `--app`.
            .env("FLASK_APP", "pynuget.app_factory:create_app")
            .env("PYNUGET_CONFIG_TYPE", "LOCAL_DEV")
            .env("PYNUGET_SERVER_PATH", &server)
            // A file, not a directory: pynuget opens it for appending.
            .env("PYNUGET_LOG_PATH", dir.join("pynuget.log"))
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pynuget (flask run)");
        let url = format!("http://127.0.0.1:{port}/");
        wait_for_http(&url, &mut child, "pynuget");
        Self {
            url,
            api_key: "ChangeThisKey".to_owned(),
            dir: server,
            child: Some(child),
        }
    }

    /// Stop the server (keeping its directory).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Pynuget {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A running S3-compatible server (moto, `moto_server`), in memory; stopped on drop. Its
/// credentials are any pair (moto checks none); [`S3Server::env`] is what a client needs.
pub struct S3Server {
    /// Endpoint URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// The port, kept so the server can come back on it after [`S3Server::stop`].
    pub port: u16,
    binary: PathBuf,
    dir: PathBuf,
    child: Option<Child>,
}

impl S3Server {
    /// Find the peer (`LADING_TEST_MOTO_SERVER` or `.peers/s3-venv/bin/moto_server`).
    pub fn find() -> Option<PathBuf> {
        find_tool(
            "LADING_TEST_MOTO_SERVER",
            Some("s3-venv/bin/moto_server"),
            None,
        )
    }

    /// Start on a free port (`dir` is its scratch `HOME`).
    pub fn start(binary: &Path, dir: &Path) -> Self {
        let mut server = Self {
            url: String::new(),
            port: free_port(),
            binary: binary.to_path_buf(),
            dir: dir.to_path_buf(),
            child: None,
        };
        server.restart();
        server
    }

    /// Start again on the same port, empty (moto keeps nothing across a restart).
    pub fn restart(&mut self) {
        self.stop();
        let mut child = clean_command(&self.binary, &self.dir)
            .args(["-H", "127.0.0.1", "-p", &self.port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        self.url = format!("http://127.0.0.1:{}", self.port);
        wait_for_http(&self.url, &mut child, "moto_server");
        self.child = Some(child);
    }

    /// What an S3 client needs to reach it through the AWS chain.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL_S3", self.url.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_DEFAULT_REGION", "us-east-1".to_owned()),
            ("AWS_CONFIG_FILE", "/dev/null".to_owned()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".to_owned()),
        ]
    }

    /// Pause the server (SIGSTOP): connections are still accepted by the kernel but nothing
    /// answers, as with a store that hangs; its contents are kept.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Resume a paused server (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("moto_server running");
        let status = Command::new("kill")
            .arg(signal)
            .arg(child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} moto_server");
    }

    /// Stop the server (its contents are lost).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The AWS CLI's `s3api` aimed at this store.
    pub fn s3api(&self, aws: &Path, home: &Path, args: &[&str]) -> Command {
        let mut command = clean_command(aws, home);
        command.envs(self.env()).arg("s3api").args(args);
        command
    }

    /// Make `bucket`.
    pub fn create_bucket(&self, aws: &Path, home: &Path, bucket: &str) {
        super::run_ok(&mut self.s3api(aws, home, &["create-bucket", "--bucket", bucket]));
    }

    /// Every key in `bucket`.
    pub fn keys(&self, aws: &Path, home: &Path, bucket: &str) -> Vec<String> {
        let output = super::run_ok(&mut self.s3api(
            aws,
            home,
            &["list-objects-v2", "--bucket", bucket, "--output", "json"],
        ));
        let listing: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
        listing["Contents"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|object| object["Key"].as_str().map(str::to_owned))
            .collect()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}
