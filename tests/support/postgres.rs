//! PostgreSQL for the tests of `lading serve --index postgres://…`: the cluster `.ci/run`
//! started (`LADING_TEST_POSTGRES_URL`), or one this test process starts and stops itself
//! (`initdb` and `pg_ctl` from `LADING_TEST_POSTGRES_BIN`, default
//! `/usr/lib/postgresql/15/bin`; as the `postgres` user through `runuser` when the tests run
//! as root, since PostgreSQL refuses to run as root). Never kept in a static: nextest runs
//! each test in its own process, which would outlive nothing.
//!
//! Each test takes a database of its own ([`Postgres::create_database`]).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::peers::free_port;
use super::skip;

#[expect(
    clippy::disallowed_methods,
    reason = "tests read the runner's environment directly"
)]
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// Where `initdb` and `pg_ctl` are.
fn bin_dir() -> Option<PathBuf> {
    let dir = env("LADING_TEST_POSTGRES_BIN").map_or_else(
        || PathBuf::from("/usr/lib/postgresql/15/bin"),
        PathBuf::from,
    );
    (dir.join("initdb").is_file() && dir.join("pg_ctl").is_file()).then_some(dir)
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    fs_err::metadata("/proc/self").is_ok_and(|metadata| metadata.uid() == 0)
}

/// A PostgreSQL cluster of this test process, stopped (and removed) on drop.
pub struct Cluster {
    /// Its port on 127.0.0.1.
    pub port: u16,
    bin: PathBuf,
    data: PathBuf,
    dir: tempfile::TempDir,
}

impl Cluster {
    /// A new cluster, started; `None` (the test skips, or fails under
    /// `LADING_TEST_REQUIRE_TOOLS=1`) when PostgreSQL is not installed.
    pub fn start() -> Option<Self> {
        let Some(bin) = bin_dir() else {
            skip(
                "PostgreSQL not found: set `LADING_TEST_POSTGRES_BIN` to the directory of `initdb` and `pg_ctl`, or run `.ci/install-peers` (apt package `postgresql`)",
            );
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        if running_as_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success(), "chown of the cluster directory failed");
        }
        let cluster = Self {
            port: free_port(),
            bin,
            data: dir.path().join("data"),
            dir,
        };
        cluster.run(
            "initdb",
            &[
                "-D",
                &cluster.data.display().to_string(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        cluster.start_again();
        Some(cluster)
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let program = self.bin.join(tool);
        let mut command = if running_as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&program);
            command
        } else {
            Command::new(&program)
        };
        command.args(args).current_dir(self.dir.path());
        let output = command.output().unwrap();
        assert!(
            output.status.success(),
            "{tool} {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Start (again) on the same port, waiting until it accepts connections.
    pub fn start_again(&self) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -c unix_socket_directories={} -c fsync=off -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data.display().to_string(),
                "-o",
                &options,
                "-l",
                &self.dir.path().join("log").display().to_string(),
                "-w",
                "start",
            ],
        );
    }

    /// Stop it (`pg_ctl stop -m fast`: connections are closed), waiting until it is down.
    pub fn stop(&self) {
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data.display().to_string(),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
        );
    }

    /// The URL of the maintenance database `postgres`.
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The cluster's directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let program = self.bin.join("pg_ctl");
        let data = self.data.display().to_string();
        let args = ["-D", data.as_str(), "-m", "immediate", "-w", "stop"];
        let _ = if running_as_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&program)
                .args(args)
                .output()
        } else {
            Command::new(&program).args(args).output()
        };
    }
}

/// A PostgreSQL to create test databases in.
pub struct Postgres {
    admin_url: String,
    /// This process's own cluster, when it started one.
    pub cluster: Option<Cluster>,
}

impl Postgres {
    /// The cluster of the run (`LADING_TEST_POSTGRES_URL`), else one of this process.
    pub fn get() -> Option<Self> {
        if let Some(url) = env("LADING_TEST_POSTGRES_URL") {
            return Some(Self {
                admin_url: url,
                cluster: None,
            });
        }
        Self::own()
    }

    /// A cluster of this process (to stop and start it).
    pub fn own() -> Option<Self> {
        let cluster = Cluster::start()?;
        Some(Self {
            admin_url: cluster.admin_url(),
            cluster: Some(cluster),
        })
    }

    /// A client on the maintenance database.
    pub fn admin(&self) -> postgres::Client {
        postgres::Client::connect(&self.admin_url, postgres::NoTls).unwrap()
    }

    /// A new empty database; its URL.
    pub fn create_database(&self) -> String {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "t_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            rand::random::<u32>()
        );
        self.admin()
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let base = self
            .admin_url
            .rsplit_once('/')
            .map_or(self.admin_url.as_str(), |(base, _)| base);
        format!("{base}/{name}")
    }
}
