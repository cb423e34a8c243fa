//! The NuGet v3 data plane of `lading serve`, driven by the real nuget.exe 5.8 on mono (pack,
//! `sources add`, push, search, install) and the real AWS CLI (token, package listings):
//! push two packages where A depends on B, find them, install A with B into a fresh folder,
//! refuse a duplicate push, let a read-only principal install but not push, and refuse a
//! malformed package without storing anything.
//!
//! nuget.exe caches the service index and registration responses under
//! `~/.local/share/NuGet/v3-cache`, so every role gets its own `HOME`; each call costs 1-3 s
//! on mono, so the test keeps their number small.

use std::path::{Path, PathBuf};
use std::process::Output;

use sha2::Digest as _;

use crate::require_tool;
use crate::support::{self, LadingServer, ServerSpec};

/// nuget.exe 5.8 (never Debian's `/usr/bin/nuget` 2.8.7, which hangs when piped).
pub(crate) fn nuget_exe() -> Option<PathBuf> {
    support::find_tool(
        "LADING_TEST_NUGET_EXE",
        Some("node/node_modules/nuget-exe/nuget-5.8.0.exe"),
        None,
    )
}

pub(crate) fn mono() -> Option<PathBuf> {
    support::find_tool("LADING_TEST_MONO", None, Some("mono"))
}

/// One nuget.exe user: a private `HOME` and a `nuget.config` in `work/` (nuget.exe also
/// reads a `nuget.config` in its working directory, which `search` needs: it has no
/// `-ConfigFile`).
pub(crate) struct NuGetUser {
    pub(crate) home: PathBuf,
    work: PathBuf,
}

impl NuGetUser {
    pub(crate) fn new(root: &Path, name: &str) -> Self {
        let home = root.join(name);
        let work = home.join("work");
        fs_err::create_dir_all(&work).unwrap();
        fs_err::write(
            work.join("nuget.config"),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration>\n  <packageSources>\n    <clear />\n  </packageSources>\n</configuration>\n",
        )
        .unwrap();
        Self { home, work }
    }

    pub(crate) fn config(&self) -> String {
        self.work.join("nuget.config").display().to_string()
    }

    pub(crate) fn nuget(&self, args: &[&str]) -> Output {
        let mut command = support::clean_command(mono().unwrap(), &self.home);
        command
            .current_dir(&self.work)
            .arg(nuget_exe().unwrap())
            .args(args)
            .arg("-NonInteractive");
        support::run(&mut command)
    }

    pub(crate) fn nuget_ok(&self, args: &[&str]) -> String {
        let output = self.nuget(args);
        assert!(
            output.status.success(),
            "nuget {args:?} failed:\n{}",
            support::describe(&output)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// `nuget sources add` with the repository token as password, as `aws codeartifact login
    /// --tool nuget` does (source named `domain/repository`).
    pub(crate) fn add_source(&self, source: &str, token: &str) {
        self.nuget_ok(&[
            "sources",
            "add",
            "-Name",
            "local/main",
            "-Source",
            source,
            "-Username",
            "aws",
            "-Password",
            token,
            "-StorePasswordInClearText",
            "-ConfigFile",
            &self.config(),
        ]);
        let config = fs_err::read_to_string(self.work.join("nuget.config")).unwrap();
        assert!(config.contains("<local_x002F_main>"), "{config}");
    }

    /// `nuget pack` a nuspec with one content file; returns the `.nupkg` path.
    pub(crate) fn pack(&self, id: &str, version: &str, dependencies: &str) -> PathBuf {
        let dir = self.home.join(format!("src-{id}"));
        fs_err::create_dir_all(&dir).unwrap();
        fs_err::write(dir.join(format!("{id}.txt")), format!("{id} {version}\n")).unwrap();
        fs_err::write(
            dir.join(format!("{id}.nuspec")),
            format!(
                r#"<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>
    <id>{id}</id>
    <version>{version}</version>
    <authors>Lading Tests</authors>
    <description>{id} for the NuGet data plane test</description>
    <dependencies>{dependencies}</dependencies>
  </metadata>
  <files><file src="{id}.txt" target="content" /></files>
</package>
"#
            ),
        )
        .unwrap();
        let out = self.home.join("out");
        self.nuget_ok(&[
            "pack",
            &dir.join(format!("{id}.nuspec")).display().to_string(),
            "-OutputDirectory",
            &out.display().to_string(),
            "-ConfigFile",
            &self.config(),
        ]);
        let packed: Vec<PathBuf> = fs_err::read_dir(&out)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| {
                path.file_name()
                    .is_some_and(|name| name.to_string_lossy().starts_with(&format!("{id}.")))
            })
            .collect();
        assert_eq!(packed.len(), 1, "{packed:?}");
        packed[0].clone()
    }

    pub(crate) fn push(&self, package: &Path, source: &str, api_key: &str) -> Output {
        self.nuget(&[
            "push",
            &package.display().to_string(),
            "-Source",
            source,
            "-ApiKey",
            api_key,
            "-ConfigFile",
            &self.config(),
        ])
    }
}

pub(crate) fn token(server: &LadingServer, credentials: &Path) -> String {
    let aws = support::aws().unwrap();
    let mut command = support::clean_command(&aws, &server.data);
    command
        .args([
            "codeartifact",
            "get-authorization-token",
            "--domain",
            "local",
            "--query",
            "authorizationToken",
            "--output",
            "text",
            "--endpoint-url",
            &server.url,
        ])
        .envs(server.aws_env())
        .env("AWS_SHARED_CREDENTIALS_FILE", credentials);
    let output = support::run_ok(&mut command);
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn aws_json(server: &LadingServer, args: &[&str]) -> serde_json::Value {
    server.aws_json(&server.data, args)
}

#[test]
fn nuget_exe_pushes_searches_and_installs_with_dependencies() {
    require_tool!(support::aws());
    require_tool!(mono());
    require_tool!(nuget_exe());
    let (dir, server) = support::serve(ServerSpec::with_config(support::PRINCIPALS_CONFIG));
    let endpoint = server.repository_endpoint(&server.data, "nuget");
    assert_eq!(endpoint, format!("{}/d/local/nuget/main/", server.url));
    let source = format!("{endpoint}v3/index.json");
    let admin_token = token(&server, &server.credentials_file());

    // Publisher: pack B and A (A depends on B), push both with the token as API key.
    let publisher = NuGetUser::new(dir.path(), "publisher");
    publisher.add_source(&source, &admin_token);
    let package_b = publisher.pack("Lading.Test.B", "2.0", "");
    let package_a = publisher.pack(
        "Lading.Test.A",
        "1.0.0",
        r#"<dependency id="Lading.Test.B" version="2.0" />"#,
    );
    for package in [&package_b, &package_a] {
        let pushed = publisher.push(package, &source, &admin_token);
        assert!(pushed.status.success(), "{}", support::describe(&pushed));
        assert!(
            String::from_utf8_lossy(&pushed.stdout).contains("Your package was pushed"),
            "{}",
            support::describe(&pushed)
        );
    }
    // The same version again is refused with 409 and the server's reason.
    let duplicate = publisher.push(&package_a, &source, &admin_token);
    assert!(
        !duplicate.status.success(),
        "{}",
        support::describe(&duplicate)
    );
    let text = support::describe(&duplicate);
    assert!(
        text.contains("409") && text.contains("already exists"),
        "{text}"
    );

    // `nuget search` (v3 SearchQueryService; `nuget list` needs a v2 feed) finds both.
    let found = publisher.nuget_ok(&["search", "Lading.Test", "-Source", "local/main"]);
    assert!(
        found.contains("> Lading.Test.A | 1.0.0") && found.contains("> Lading.Test.B | 2.0.0"),
        "{found}"
    );

    // Consumer with a fresh HOME (empty caches) installs A and its dependency B.
    let consumer = NuGetUser::new(dir.path(), "consumer");
    consumer.add_source(&source, &admin_token);
    let installed = consumer.home.join("packages");
    let output = consumer.nuget_ok(&[
        "install",
        "Lading.Test.A",
        "-OutputDirectory",
        &installed.display().to_string(),
        "-ConfigFile",
        &consumer.config(),
    ]);
    assert!(
        output.contains("Successfully installed 'Lading.Test.A 1.0.0'"),
        "{output}"
    );
    assert_eq!(
        fs_err::read_to_string(installed.join("Lading.Test.A.1.0.0/content/Lading.Test.A.txt"))
            .unwrap(),
        "Lading.Test.A 1.0.0\n"
    );
    assert_eq!(
        fs_err::read_to_string(installed.join("Lading.Test.B.2.0.0/content/Lading.Test.B.txt"))
            .unwrap(),
        "Lading.Test.B 2.0\n"
    );
    assert_eq!(
        fs_err::read(installed.join("Lading.Test.B.2.0.0/Lading.Test.B.2.0.0.nupkg")).unwrap(),
        fs_err::read(&package_b).unwrap()
    );

    // The control plane sees them as CodeArtifact names NuGet packages: lowercased id, no
    // namespace, normalized version, one .nupkg asset with its digests.
    let packages = aws_json(
        &server,
        &[
            "list-packages",
            "--domain",
            "local",
            "--repository",
            "main",
            "--format",
            "nuget",
        ],
    );
    let names: Vec<&str> = packages["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|package| package["package"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["lading.test.a", "lading.test.b"]);
    let versions = aws_json(
        &server,
        &[
            "list-package-versions",
            "--domain",
            "local",
            "--repository",
            "main",
            "--format",
            "nuget",
            "--package",
            "lading.test.b",
        ],
    );
    assert_eq!(versions["versions"][0]["version"], "2.0.0");
    assert_eq!(versions["versions"][0]["status"], "Published");
    let assets = aws_json(
        &server,
        &[
            "list-package-version-assets",
            "--domain",
            "local",
            "--repository",
            "main",
            "--format",
            "nuget",
            "--package",
            "lading.test.b",
            "--package-version",
            "2.0.0",
        ],
    );
    let bytes = fs_err::read(&package_b).unwrap();
    assert_eq!(assets["assets"][0]["name"], "lading.test.b.2.0.0.nupkg");
    assert_eq!(assets["assets"][0]["size"], bytes.len());
    assert_eq!(
        assets["assets"][0]["hashes"]["SHA-256"],
        hex::encode(sha2::Sha256::digest(&bytes))
    );
    assert_eq!(
        assets["assets"][0]["hashes"]["SHA-512"],
        hex::encode(sha2::Sha512::digest(&bytes))
    );

    // A read-only principal installs but cannot push.
    let reader_keys = support::READER.credentials(dir.path());
    let reader_token = token(&server, &reader_keys);
    let reader = NuGetUser::new(dir.path(), "reader");
    reader.add_source(&source, &reader_token);
    let reader_installed = reader.home.join("packages");
    reader.nuget_ok(&[
        "install",
        "Lading.Test.A",
        "-Version",
        "1.0.0",
        "-OutputDirectory",
        &reader_installed.display().to_string(),
        "-ConfigFile",
        &reader.config(),
    ]);
    assert!(
        reader_installed
            .join("Lading.Test.B.2.0.0/Lading.Test.B.2.0.0.nupkg")
            .is_file()
    );
    let package_c = reader.pack("Lading.Test.C", "1.0.0", "");
    let refused = reader.push(&package_c, &source, &reader_token);
    assert!(!refused.status.success(), "{}", support::describe(&refused));
    let text = support::describe(&refused);
    assert!(
        text.contains("403") && text.contains("may not publish"),
        "{text}"
    );
    let after = aws_json(
        &server,
        &[
            "list-packages",
            "--domain",
            "local",
            "--repository",
            "main",
            "--format",
            "nuget",
        ],
    );
    assert_eq!(after["packages"].as_array().unwrap().len(), 2, "{after}");
}

#[test]
fn malformed_packages_are_refused_and_nothing_is_stored() {
    require_tool!(support::aws());
    let (_dir, server) = support::serve(ServerSpec::default());
    let token = token(&server, &server.credentials_file());
    let base = format!("{}/d/local/nuget/main/", server.url);
    let nuspec = |id: &str, version: &str| {
        format!(
            "<package><metadata><id>{id}</id><version>{version}</version><authors>x</authors><description>x</description></metadata></package>"
        )
    };
    let good = nuspec("Bad.Pkg", "1.0.0");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"this is not a zip".to_vec(), "not a valid zip archive"),
        (support::zip_of(&[("lib/a.dll", b"x")]), "no `.nuspec`"),
        (
            support::zip_of(&[
                ("Bad.Pkg.nuspec", good.as_bytes()),
                ("../../evil.dll", b"x"),
            ]),
            "unsafe entry name",
        ),
        (
            support::zip_of(&[("Bad.Pkg.nuspec", nuspec("Bad.Pkg", "one").as_bytes())]),
            "not a valid NuGet version",
        ),
        (
            support::zip_of(&[(
                "Bad.Pkg.nuspec",
                b"<package><metadata><version>1.0</version></metadata></package>",
            )]),
            "no `<id>`",
        ),
    ];
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = reqwest::Client::new();
    runtime.block_on(async {
        for (package, expected) in cases {
            let (content_type, body) = support::client::nuget_multipart(&package);
            let response = client
                .put(format!("{base}v2/package"))
                .header("X-NuGet-ApiKey", &token)
                .header("Content-Type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), 400, "{expected}");
            let text = response.text().await.unwrap();
            assert!(text.contains(expected), "{expected}: {text}");
        }
        // Nothing became visible.
        let versions = client
            .get(format!("{base}v3/package/bad.pkg/index.json"))
            .basic_auth("aws", Some(&token))
            .send()
            .await
            .unwrap();
        assert_eq!(versions.status().as_u16(), 404);
        // Without credentials: a Basic challenge, which nuget answers from
        // packageSourceCredentials.
        let anonymous = client
            .get(format!("{base}v3/index.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status().as_u16(), 401);
        assert_eq!(
            anonymous.headers()["www-authenticate"],
            "Basic realm=\"lading\""
        );
        // A good package pushed as a raw body (no multipart) is accepted, and its nuspec is
        // served from the flat container.
        let package = support::zip_of(&[("Bad.Pkg.nuspec", good.as_bytes())]);
        let pushed = client
            .put(format!("{base}v2/package/"))
            .basic_auth("aws", Some(&token))
            .body(package.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(pushed.status().as_u16(), 201);
        let nuspec_response = client
            .get(format!("{base}v3/package/Bad.Pkg/1.0/bad.pkg.nuspec"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(nuspec_response.status().as_u16(), 200);
        assert_eq!(nuspec_response.text().await.unwrap(), good);
        // Flat-container versions and the registration leaf (nuget.exe's install and
        // packages.config restore do not ask for these; PackageReference restore does).
        let get_json = |path: String| {
            let request = client.get(format!("{base}{path}")).bearer_auth(&token);
            async move {
                let response = request.send().await.unwrap();
                assert_eq!(response.status().as_u16(), 200);
                response.json::<serde_json::Value>().await.unwrap()
            }
        };
        let versions = get_json("v3/package/BAD.PKG/index.json".to_owned()).await;
        assert_eq!(versions, serde_json::json!({ "versions": ["1.0.0"] }));
        let leaf = get_json("v3/registration/bad.pkg/1.0.0.json".to_owned()).await;
        assert_eq!(leaf["catalogEntry"]["id"], "Bad.Pkg");
        assert_eq!(
            leaf["packageContent"],
            format!("{base}v3/package/bad.pkg/1.0.0/bad.pkg.1.0.0.nupkg")
        );
    });
    let packages = aws_json(
        &server,
        &["list-packages", "--domain", "local", "--repository", "main"],
    );
    assert_eq!(
        packages["packages"].as_array().unwrap().len(),
        1,
        "{packages}"
    );
}
