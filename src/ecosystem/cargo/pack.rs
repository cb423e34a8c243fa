//! `lading pack --format cargo`: the `.crate` `cargo package` builds, with its checksums
//! and provenance (written by `commands/pack.rs` like every format's).
//!
//! With no patterns and a `Cargo.toml` in `--base`, lading runs `cargo package
//! --no-verify` there (into a private target directory) and takes the one `.crate` it
//! wrote: cargo is the only tool that knows what a crate contains (`include` / `exclude`,
//! `.gitignore`, the normalized `Cargo.toml` with workspace inheritance resolved, the
//! lockfile it adds), and its archives are reproducible (fixed mtimes), so the bytes are
//! those `cargo publish` would upload. `--no-verify` because the build step already built
//! the crate; cargo's other checks (a clean git tree, a resolvable lockfile) still apply.
//! With patterns (default `*.crate`), an already-built `.crate` is taken as it is. Either
//! way the `.crate` is checked: one `{name}-{version}/` tree holding a `Cargo.toml` that
//! names that crate and version (and `--name` / `--version` when given).

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use crate::diagnostics::HintedError;
use crate::ecosystem::pack::{PackRequest, select_or_default};
use crate::ecosystem::{Packed, PackedContents, PackedFile};

/// Largest `Cargo.toml` or readme read from a `.crate`.
const MAX_TEXT_BYTES: u64 = 8 * 1024 * 1024;
/// Bytes of a `.crate` decompressed while reading it.
const MAX_SCAN_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// What lading reads from a `.crate` (a gzipped tar of `{name}-{version}/…`).
#[derive(Debug, Clone)]
pub struct CrateFile {
    /// `package.name`.
    pub name: String,
    /// `package.version`.
    pub version: String,
    /// The normalized `Cargo.toml` `cargo package` wrote.
    pub manifest: toml_edit::DocumentMut,
    /// The readme's text, when the manifest names one (`package.readme`).
    pub readme: Option<String>,
    /// Every entry's path below `{name}-{version}/`.
    pub entries: Vec<String>,
}

/// Visit each file of a `.crate` with its path and a reader of its bytes (at most
/// [`MAX_SCAN_BYTES`] decompressed in all).
fn scan(
    bytes: &[u8],
    mut visit: impl FnMut(&str, &mut dyn std::io::Read) -> Result<(), String>,
) -> Result<(), String> {
    let decoder = flate2::read::GzDecoder::new(bytes).take(MAX_SCAN_BYTES);
    let mut archive = tar::Archive::new(decoder);
    let entries = archive
        .entries()
        .map_err(|error| format!("not a gzipped tar archive: {error}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|error| format!("unreadable tar archive: {error}"))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry
            .path()
            .map_err(|error| format!("unreadable entry name: {error}"))?
            .to_string_lossy()
            .into_owned();
        visit(&path, &mut entry)?;
    }
    Ok(())
}

fn read_text(path: &str, reader: &mut dyn std::io::Read) -> Result<String, String> {
    let mut text = String::new();
    reader
        .take(MAX_TEXT_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|error| format!("unreadable `{path}`: {error}"))?;
    if text.len() as u64 > MAX_TEXT_BYTES {
        return Err(format!("`{path}` is over 8 MiB"));
    }
    Ok(text)
}

/// Read a `.crate`: its top directory, normalized `Cargo.toml` and readme.
///
/// # Errors
/// A message saying what is wrong with it.
pub fn read_crate(bytes: &[u8]) -> Result<CrateFile, String> {
    let mut top: Option<String> = None;
    let mut manifest_text = None;
    let mut entries = Vec::new();
    scan(bytes, |path, reader| {
        let (first, rest) = path
            .split_once('/')
            .ok_or_else(|| format!("`{path}` is not inside a `{{name}}-{{version}}/` directory"))?;
        match &top {
            Some(top) if top != first => {
                return Err(format!(
                    "it holds both `{top}/` and `{first}/`: a `.crate` has one top directory"
                ));
            }
            Some(_) => {}
            None => top = Some(first.to_owned()),
        }
        if rest == "Cargo.toml" {
            manifest_text = Some(read_text(path, reader)?);
        }
        entries.push(rest.to_owned());
        Ok(())
    })?;
    let top = top.ok_or("it is empty")?;
    let manifest_text = manifest_text.ok_or_else(|| format!("it has no `{top}/Cargo.toml`"))?;
    let manifest = manifest_text
        .parse::<toml_edit::DocumentMut>()
        .map_err(|error| format!("`{top}/Cargo.toml` is not valid TOML: {error}"))?;
    let field = |name: &str| {
        manifest
            .get("package")
            .and_then(|package| package.get(name))
            .and_then(toml_edit::Item::as_str)
            .map(ToOwned::to_owned)
            .ok_or_else(|| format!("`{top}/Cargo.toml` has no `package.{name}`"))
    };
    let (name, version) = (field("name")?, field("version")?);
    if top != format!("{name}-{version}") {
        return Err(format!(
            "its top directory is `{top}/`, but its `Cargo.toml` names `{name}` `{version}`"
        ));
    }
    let readme_path = manifest
        .get("package")
        .and_then(|package| package.get("readme"))
        .and_then(toml_edit::Item::as_str)
        .map(|path| path.trim_start_matches("./").to_owned());
    let mut readme = None;
    if let Some(readme_path) = readme_path {
        let wanted = format!("{top}/{readme_path}");
        scan(bytes, |path, reader| {
            if path == wanted {
                readme = Some(read_text(path, reader)?);
            }
            Ok(())
        })?;
        if readme.is_none() {
            return Err(format!(
                "its `Cargo.toml` names the readme `{readme_path}`, which it does not hold"
            ));
        }
    }
    Ok(CrateFile {
        name,
        version,
        manifest,
        readme,
        entries,
    })
}

/// `cargo package --no-verify` of the crate whose manifest is `manifest`, into a private
/// target directory; the `.crate` it wrote.
fn cargo_package(manifest: &Path) -> anyhow::Result<(String, Vec<u8>)> {
    let target = tempfile::Builder::new()
        .prefix("lading-cargo-package-")
        .tempdir()
        .context("failed to create a temp dir for `cargo package`")?;
    let mut command = std::process::Command::new("cargo");
    command
        .arg("package")
        .arg("--no-verify")
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--target-dir")
        .arg(target.path())
        .stdin(std::process::Stdio::null());
    let shown = format!(
        "cargo package --no-verify --manifest-path {}",
        manifest.display()
    );
    let output = command.output().map_err(|error| {
        anyhow::Error::new(HintedError::new(
            format!("failed to run `{shown}`: {error}"),
            "install cargo (rustup) or put it on PATH; or run `cargo package` yourself and pass the `.crate` as a pattern",
        ))
    })?;
    if !output.status.success() {
        bail!(HintedError::new(
            format!(
                "`{shown}` failed ({})\n{}\n{}\n{}",
                output.status,
                "-".repeat(60),
                String::from_utf8_lossy(&output.stderr).trim_end(),
                "-".repeat(60)
            ),
            "fix what cargo reports (e.g. commit or `.gitignore` uncommitted files); or run `cargo package` yourself and pass the `.crate` as a pattern",
        ));
    }
    let dir = target.path().join("package");
    let mut crates: Vec<PathBuf> = fs_err::read_dir(&dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension.eq_ignore_ascii_case("crate"))
        })
        .collect();
    crates.sort();
    match crates.as_slice() {
        [one] => {
            let file_name = one
                .file_name()
                .and_then(|name| name.to_str())
                .unwrap_or_default()
                .to_owned();
            Ok((file_name, fs_err::read(one)?))
        }
        [] => bail!("`{shown}` wrote no `.crate`"),
        several => bail!(HintedError::new(
            format!(
                "`{shown}` wrote {} crates (a workspace): lading packs one crate at a time",
                several.len()
            ),
            "pass the member's directory as `--base`",
        )),
    }
}

/// The `.crate` selected under `base`: exactly one.
fn selected_crate(request: &PackRequest<'_>) -> anyhow::Result<(String, Vec<u8>)> {
    let files = select_or_default(
        request.base,
        request.patterns,
        &["*.crate"],
        request.allow_empty,
    )?;
    let crates: Vec<_> = files
        .iter()
        .filter(|file| {
            Path::new(&file.relative)
                .extension()
                .is_some_and(|extension| extension.eq_ignore_ascii_case("crate"))
        })
        .collect();
    match crates.as_slice() {
        [one] => {
            let file_name = one
                .relative
                .rsplit('/')
                .next()
                .unwrap_or(&one.relative)
                .to_owned();
            Ok((file_name, fs_err::read(&one.path)?))
        }
        [] => bail!(HintedError::new(
            format!("no `.crate` selected under `{}`", request.base.display()),
            "run `cargo package` first and select its `.crate` (e.g. `target/package/*.crate`), or pass no pattern and a `--base` holding `Cargo.toml`",
        )),
        several => bail!(HintedError::new(
            format!(
                "{} `.crate` files selected: lading packs one crate at a time",
                several.len()
            ),
            "select one `.crate` (e.g. `target/package/NAME-VERSION.crate`)",
        )),
    }
}

/// Whether a crate entry lies in lading's own output directory (`--out` inside the crate,
/// neither ignored nor excluded, so cargo packaged it).
fn packs_the_output(crate_file: &CrateFile, base: &Path, staging: &Path) -> Option<String> {
    let out = staging.parent()?;
    let (Ok(base), Ok(out)) = (base.canonicalize(), out.canonicalize()) else {
        return None;
    };
    let relative = out.strip_prefix(&base).ok()?.to_str()?.replace('\\', "/");
    let prefix = format!("{relative}/");
    crate_file
        .entries
        .iter()
        .any(|entry| entry.starts_with(&prefix))
        .then_some(relative)
}

impl crate::ecosystem::pack::Pack for super::Cargo {
    fn pack(&self, request: &PackRequest<'_>) -> anyhow::Result<Packed> {
        let manifest = request.base.join("Cargo.toml");
        let run_cargo = request.patterns.is_empty() && manifest.is_file();
        let (file_name, bytes) = if run_cargo {
            cargo_package(&manifest)?
        } else {
            selected_crate(request)?
        };
        let crate_file = read_crate(&bytes).map_err(|message| {
            anyhow::Error::new(HintedError::new(
                format!("`{file_name}` is not a usable `.crate`: {message}"),
                "build it with `cargo package`",
            ))
        })?;
        if run_cargo && let Some(out) = packs_the_output(&crate_file, request.base, request.staging)
        {
            bail!(HintedError::new(
                format!("`cargo package` put lading's output directory `{out}` into the crate"),
                format!(
                    "pass an `--out` outside the crate, or list `{out}` in `.gitignore` or the manifest's `exclude`"
                ),
            ));
        }
        for (flag, expected, found) in [
            ("name", request.name, &crate_file.name),
            ("version", request.version, &crate_file.version),
        ] {
            if let Some(expected) = expected
                && expected != found
            {
                bail!(HintedError::new(
                    format!(
                        "`{file_name}` is {} {}, but `--{flag}` says `{expected}`",
                        crate_file.name, crate_file.version
                    ),
                    "set the crate's name and version in `Cargo.toml`, or drop the flag",
                ));
            }
        }
        let stem = format!("{}-{}", crate_file.name, crate_file.version);
        Ok(Packed {
            name: crate_file.name.clone(),
            version: crate_file.version.clone(),
            files: vec![PackedFile {
                file_name: format!("{stem}.crate"),
                contents: PackedContents::Bytes(bytes),
                purl: Some(format!(
                    "pkg:cargo/{}@{}",
                    crate_file.name, crate_file.version
                )),
            }],
            stem,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crate_of(entries: &[(&str, &str)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::default(),
        ));
        for (path, text) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(text.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, path, text.as_bytes())
                .unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn a_crate_names_its_package_and_readme() {
        let bytes = crate_of(&[
            (
                "demo-1.2.3/Cargo.toml",
                "[package]\nname = \"demo\"\nversion = \"1.2.3\"\nreadme = \"README.md\"\n",
            ),
            ("demo-1.2.3/README.md", "# demo\n"),
            ("demo-1.2.3/src/lib.rs", ""),
        ]);
        let crate_file = read_crate(&bytes).unwrap();
        assert_eq!(
            (crate_file.name.as_str(), crate_file.version.as_str()),
            ("demo", "1.2.3")
        );
        assert_eq!(crate_file.readme.as_deref(), Some("# demo\n"));
        assert_eq!(
            crate_file.entries,
            ["Cargo.toml", "README.md", "src/lib.rs"]
        );
    }

    #[test]
    fn a_crate_whose_directory_and_manifest_disagree_is_refused() {
        let bytes = crate_of(&[(
            "demo-1.0.0/Cargo.toml",
            "[package]\nname = \"demo\"\nversion = \"2.0.0\"\n",
        )]);
        assert!(
            read_crate(&bytes)
                .unwrap_err()
                .contains("names `demo` `2.0.0`")
        );
        let bytes = crate_of(&[("a-1.0.0/Cargo.toml", ""), ("b-1.0.0/x", "")]);
        assert!(
            read_crate(&bytes)
                .unwrap_err()
                .contains("one top directory")
        );
    }
}
