//! `lading pack --format ruby`: the `.gem` `gem build` builds, with its checksums and
//! provenance (written by `commands/pack.rs` like every format's).
//!
//! With no patterns and one `*.gemspec` in `--base`, lading runs `gem build` on it there,
//! with `SOURCE_DATE_EPOCH` set to the source date: RubyGems then stamps every tar entry
//! and the gemspec's `date` with it, so packing the same commit again gives the same bytes
//! and a re-run of the job is a no-op publish instead of a conflict. With patterns
//! (default `*.gem`), an already-built `.gem` is taken as it is. Either way the gemspec in
//! its `metadata.gz` is read: the file is named as RubyGems names it, and `--name` /
//! `--version` must agree with it.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use super::gem::GemSpec;
use crate::diagnostics::HintedError;
use crate::ecosystem::pack::{PackRequest, select_or_default};
use crate::ecosystem::{Packed, PackedContents, PackedFile};

/// The files in `dir` whose extension is `extension`, sorted.
fn with_extension(dir: &Path, extension: &str) -> anyhow::Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = fs_err::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.is_file()
                && path
                    .extension()
                    .is_some_and(|found| found.eq_ignore_ascii_case(extension))
        })
        .collect();
    found.sort();
    Ok(found)
}

/// `gem build GEMSPEC` in the gemspec's directory with `SOURCE_DATE_EPOCH`; the gem's bytes.
fn gem_build(gemspec: &Path, epoch: i64) -> anyhow::Result<Vec<u8>> {
    let dir = gemspec.parent().unwrap_or(Path::new("."));
    let file_name = gemspec
        .file_name()
        .and_then(|name| name.to_str())
        .context("the gemspec has no usable file name")?;
    let output_dir = tempfile::Builder::new()
        .prefix("lading-gem-build-")
        .tempdir()
        .context("failed to create a temp dir for `gem build`")?;
    let output = output_dir.path().join("built.gem");
    let shown = format!("gem build {file_name}");
    let result = std::process::Command::new("gem")
        .arg("build")
        .arg(file_name)
        .arg("--output")
        .arg(&output)
        .current_dir(dir)
        .env("SOURCE_DATE_EPOCH", epoch.to_string())
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|error| {
            anyhow::Error::new(HintedError::new(
                format!("failed to run `{shown}` in `{}`: {error}", dir.display()),
                "install RubyGems (`gem`) or put it on PATH; or run `gem build` yourself and pass the `.gem` as a pattern",
            ))
        })?;
    if !result.status.success() {
        bail!(HintedError::new(
            format!(
                "`{shown}` failed ({})\n{}\n{}\n{}",
                result.status,
                "-".repeat(60),
                String::from_utf8_lossy(&result.stderr).trim_end(),
                "-".repeat(60)
            ),
            "fix what gem reports; or run `gem build` yourself and pass the `.gem` as a pattern",
        ));
    }
    Ok(fs_err::read(&output)?)
}

/// The `.gem` selected under `base`: exactly one.
fn selected_gem(request: &PackRequest<'_>) -> anyhow::Result<(String, Vec<u8>)> {
    let files = select_or_default(
        request.base,
        request.patterns,
        &["*.gem"],
        request.allow_empty,
    )?;
    let gems: Vec<_> = files
        .iter()
        .filter(|file| {
            Path::new(&file.relative)
                .extension()
                .is_some_and(|extension| extension.eq_ignore_ascii_case("gem"))
        })
        .collect();
    match gems.as_slice() {
        [one] => Ok((one.relative.clone(), fs_err::read(&one.path)?)),
        [] => bail!(HintedError::new(
            format!("no `.gem` selected under `{}`", request.base.display()),
            "run `gem build` first and select its `.gem`, or pass no pattern and a `--base` holding one `*.gemspec`",
        )),
        several => bail!(HintedError::new(
            format!(
                "{} `.gem` files selected: lading packs one gem at a time",
                several.len()
            ),
            "select one `.gem`",
        )),
    }
}

impl crate::ecosystem::pack::Pack for super::Ruby {
    fn pack(&self, request: &PackRequest<'_>) -> anyhow::Result<Packed> {
        let gemspecs = if request.patterns.is_empty() {
            with_extension(request.base, "gemspec")?
        } else {
            Vec::new()
        };
        let (source, bytes) = match gemspecs.as_slice() {
            [] => selected_gem(request)?,
            [gemspec] => (
                gemspec.display().to_string(),
                gem_build(gemspec, request.date.epoch)?,
            ),
            several => bail!(HintedError::new(
                format!(
                    "`{}` holds {} gemspecs: lading packs one gem at a time",
                    request.base.display(),
                    several.len()
                ),
                "pass the directory of one gemspec as `--base`, or select a built `.gem`",
            )),
        };
        let spec = GemSpec::from_gem(bytes.as_slice()).map_err(|error| {
            anyhow::Error::new(HintedError::new(
                format!("`{source}` is not a usable `.gem`: {error}"),
                "build it with `gem build`",
            ))
        })?;
        for (flag, expected, found) in [
            ("name", request.name, &spec.name),
            ("version", request.version, &spec.version),
        ] {
            if let Some(expected) = expected
                && expected != found
            {
                bail!(HintedError::new(
                    format!(
                        "`{source}` is {} {}, but `--{flag}` says `{expected}`",
                        spec.name, spec.version
                    ),
                    "set the gem's name and version in its gemspec, or drop the flag",
                ));
            }
        }
        let purl = if spec.platform == "ruby" {
            format!("pkg:gem/{}@{}", spec.name, spec.version)
        } else {
            format!(
                "pkg:gem/{}@{}?platform={}",
                spec.name, spec.version, spec.platform
            )
        };
        Ok(Packed {
            name: spec.name.clone(),
            version: spec.version.clone(),
            stem: spec.full_name(),
            files: vec![PackedFile {
                file_name: spec.file_name(),
                contents: PackedContents::Bytes(bytes),
                purl: Some(purl),
            }],
        })
    }
}
