//! Third-party servers started for tests: Verdaccio (npm) and a static HTTP server
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
    pub fn start(binary: &Path, dir: &Path) -> Self {
        fs_err::create_dir_all(dir.join("storage")).unwrap();
        let config = dir.join("config.yaml");
        fs_err::write(
            &config,
            format!(
                "storage: {storage}\nauth:\n  htpasswd:\n    file: {storage}/htpasswd\n    max_users: 1000\nuplinks: {{}}\npackages:\n  '@*/*':\n    access: $authenticated\n    publish: $authenticated\n  '**':\n    access: $authenticated\n    publish: $authenticated\nsecurity:\n  api:\n    legacy: true\nlog: {{ type: stdout, format: pretty, level: warn }}\n",
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
