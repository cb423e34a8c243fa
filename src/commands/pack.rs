//! `lading pack`: ask the format of `--format` to build the package (its `Pack`
//! capability, from the registry), then hash, attest, and write everything at once.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use serde_json::json;

use crate::archive::{Digests, SourceDate};
use crate::ci::RunIdentity;
use crate::cli::PackArgs;
use crate::config::template;
use crate::diagnostics::HintedError;
use crate::ecosystem::pack::PackRequest;
use crate::ecosystem::{Packed, PackedContents, npm, registry};
use crate::env_vars::EnvVars;
use crate::printer::Printer;
use crate::provenance::dsse::{Envelope, SigningKey};
use crate::provenance::{BuildFacts, PAYLOAD_TYPE, ResourceDescriptor, Statement};
use crate::secret::Secret;

/// `{{ env.NAME }}` in templates: reads the variable when used; unset is undefined (an error).
#[derive(Debug)]
struct EnvObject;

impl minijinja::value::Object for EnvObject {
    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        EnvVars::get(key.as_str()?).map(minijinja::Value::from)
    }
}

fn template_context(identity: &RunIdentity) -> BTreeMap<String, minijinja::Value> {
    let mut context = BTreeMap::new();
    if let serde_json::Value::Object(object) = identity.template_context() {
        for (key, value) in object {
            context.insert(key, minijinja::Value::from_serialize(value));
        }
    }
    context.insert("env".to_owned(), minijinja::Value::from_object(EnvObject));
    context
}

fn render(
    field: &str,
    value: Option<&str>,
    context: &BTreeMap<String, minijinja::Value>,
) -> anyhow::Result<Option<String>> {
    value
        .map(|value| {
            template::render(value, context)
                .with_context(|| format!("failed to render `--{field}`"))
                .map(|rendered| rendered.trim().to_owned())
        })
        .transpose()
}

fn load_signing_key(args: &PackArgs) -> anyhow::Result<Option<SigningKey>> {
    let pem = match &args.signing_key {
        Some(path) => Some((
            Secret::new(fs_err::read_to_string(path).context("failed to read the signing key")?),
            format!("`{}`", path.display()),
        )),
        None => EnvVars::get(EnvVars::LADING_SIGNING_KEY).map(|pem| {
            (
                Secret::new(pem),
                format!("`{}`", EnvVars::LADING_SIGNING_KEY),
            )
        }),
    };
    pem.map(|(pem, source)| {
        SigningKey::from_pem(&pem).map_err(|error| {
            anyhow::Error::new(HintedError::new(
                format!("the signing key in {source} is not usable: {error}"),
                "create one with `openssl genpkey -algorithm ed25519 -out key.pem` (or `-algorithm EC -pkeyopt ec_paramgen_curve:P-256`)",
            ))
        })
    })
    .transpose()
}

/// Ask the format of `--format` to build the package (the registry's packer).
fn build(
    args: &PackArgs,
    name: Option<&str>,
    version: Option<&str>,
    date: SourceDate,
    staging: &Path,
) -> anyhow::Result<Packed> {
    registry::packer(args.format.format())?.pack(&PackRequest {
        format: args.format,
        base: &args.base,
        patterns: &args.patterns,
        allow_empty: args.allow_empty,
        name,
        version,
        date,
        staging,
        nuspec: args.nuspec.as_deref(),
        pom: args.pom.as_deref(),
        sources: args.sources.as_deref(),
        javadoc: args.javadoc.as_deref(),
    })
}

/// The source date as RFC 3339: the provenance's `startedOn`. Not the wall clock: the same
/// inputs (commit, `SOURCE_DATE_EPOCH`, CI run identity) give the same provenance, so a rerun
/// of a job publishes the same bytes.
fn source_date_rfc3339(date: SourceDate) -> Option<String> {
    time::OffsetDateTime::from_unix_timestamp(date.epoch)
        .ok()?
        .format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// Run `lading pack`.
///
/// # Errors
/// Bad input (patterns, manifests, keys, templates) and I/O failures; nothing is left in
/// `--out` when it fails.
pub fn run(args: &PackArgs, printer: Printer) -> anyhow::Result<()> {
    if !args.base.is_dir() {
        bail!(HintedError::new(
            format!("base directory `{}` does not exist", args.base.display()),
            "pass `--base DIR` pointing at the build outputs"
        ));
    }
    let identity = RunIdentity::detect(&args.base);
    let context = template_context(&identity);
    let name = render("name", args.name.as_deref(), &context)?;
    let version = render("version", args.version.as_deref(), &context)?;
    let date = SourceDate::resolve(&args.base)?;

    let created_out = !args.out.exists();
    let staging = staging_dir(&args.out)?;
    let result = pack_into(args, &identity, (name, version), date, &staging);
    if result.is_err() {
        drop(staging);
        if created_out {
            // Nothing is left in `--out` when packing fails, not even the directory.
            let _ = fs_err::remove_dir(&args.out);
        }
    }
    let (manifest, written, signed) = result?;
    if args.json {
        printer.data(&serde_json::to_string_pretty(&manifest)?);
    }
    for file in &written {
        printer.status(&format!("wrote `{}`", args.out.join(file).display()));
    }
    if !signed {
        printer.status("provenance is unsigned (no --signing-key or LADING_SIGNING_KEY)");
    }
    Ok(())
}

/// Everything `run` does between choosing the output and reporting: build, hash, attest,
/// and write into `staging`, then move the files into `--out`. Returns the manifest, the
/// names written and whether the provenance is signed.
fn pack_into(
    args: &PackArgs,
    identity: &RunIdentity,
    (name, version): (Option<String>, Option<String>),
    date: SourceDate,
    staging: &tempfile::TempDir,
) -> anyhow::Result<(serde_json::Value, Vec<String>, bool)> {
    let signing_key = load_signing_key(args)?;
    let packed = build(
        args,
        name.as_deref(),
        version.as_deref(),
        date,
        staging.path(),
    )?;

    let mut lockfiles = args.lockfile.clone();
    if lockfiles.is_empty() {
        lockfiles.extend(registry::packer(args.format.format())?.default_lockfile(&args.base));
    }
    let mut dependencies = Vec::new();
    for lockfile in &lockfiles {
        let file_name = lockfile
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or_default();
        if !matches!(file_name, "package-lock.json" | "npm-shrinkwrap.json") {
            bail!(HintedError::new(
                format!(
                    "`{}` is not a lockfile lading reads yet",
                    lockfile.display()
                ),
                "pass an npm `package-lock.json` or `npm-shrinkwrap.json`"
            ));
        }
        dependencies.extend(npm::lockfile::resolved_dependencies(lockfile)?);
    }

    let mut outputs = Vec::new();
    let mut subjects = Vec::new();
    for file in &packed.files {
        let digests = match &file.contents {
            PackedContents::Bytes(bytes) => Digests::of(bytes),
            PackedContents::File(path) => Digests::of_file(path)
                .with_context(|| format!("failed to hash `{}`", path.display()))?,
        };
        subjects.push(ResourceDescriptor {
            name: Some(file.purl.clone().unwrap_or_else(|| file.file_name.clone())),
            uri: None,
            digest: digests.digest_set(),
            annotations: [("lading_file".to_owned(), json!(file.file_name))]
                .into_iter()
                .collect(),
        });
        outputs.push(json!({
            "file": file.file_name,
            "purl": file.purl,
            "size": digests.size,
            "sha256": digests.sha256,
            "sha512": digests.sha512,
            "sha1": digests.sha1,
            "md5": digests.md5,
        }));
    }
    let statement = Statement::new(
        subjects,
        identity,
        &BuildFacts {
            lading_version: env!("CARGO_PKG_VERSION").to_owned(),
            package_parameters: json!({
                "name": packed.name,
                "version": packed.version,
                "format": args.format.name(),
                "patterns": args.patterns,
            }),
            dependencies,
            started_on: source_date_rfc3339(date),
            finished_on: None,
        },
    );
    let payload = serde_json::to_vec(&statement)?;
    let envelope = match &signing_key {
        Some(key) => Envelope::sign(PAYLOAD_TYPE, &payload, key),
        None => Envelope::unsigned(PAYLOAD_TYPE, &payload),
    };
    let provenance_name = format!("{}.intoto.jsonl", packed.stem);
    let manifest_name = format!("{}.manifest.json", packed.stem);
    let mut sums: Vec<(String, String)> = outputs
        .iter()
        .filter_map(|output| {
            Some((
                output["file"].as_str()?.to_owned(),
                output["sha256"].as_str()?.to_owned(),
            ))
        })
        .collect();
    sums.sort();
    let sums_text: String = sums.iter().fold(String::new(), |mut text, (file, sha256)| {
        let _ = writeln!(text, "{sha256}  {file}");
        text
    });
    let manifest = json!({
        "name": packed.name,
        "version": packed.version,
        "format": args.format.name(),
        "files": outputs,
        "checksums": "SHA256SUMS",
        "provenance": provenance_name,
        "signed": signing_key.is_some(),
        "keyid": signing_key.as_ref().map(|key| key.verifying_key().keyid()),
        "source_date": date,
        "ci": identity.platform,
    });
    let mut written: Vec<(String, Option<Vec<u8>>)> = packed
        .files
        .into_iter()
        .map(|file| match file.contents {
            PackedContents::Bytes(bytes) => (file.file_name, Some(bytes)),
            // The packer wrote it into the staging directory already.
            PackedContents::File(_) => (file.file_name, None),
        })
        .collect();
    let mut envelope_line = serde_json::to_vec(&envelope)?;
    envelope_line.push(b'\n');
    written.push((provenance_name, Some(envelope_line)));
    written.push(("SHA256SUMS".to_owned(), Some(sums_text.into_bytes())));
    written.push((manifest_name, Some(serde_json::to_vec_pretty(&manifest)?)));
    write_all(&args.out, staging.path(), &written)?;
    Ok((
        manifest,
        written.into_iter().map(|(name, _)| name).collect(),
        signing_key.is_some(),
    ))
}

/// A temp dir inside `out` (created if missing), where every output is written before it
/// is renamed into place.
fn staging_dir(out: &Path) -> anyhow::Result<tempfile::TempDir> {
    fs_err::create_dir_all(out)?;
    tempfile::Builder::new()
        .prefix(".lading-pack-")
        .tempdir_in(out)
        .with_context(|| format!("failed to create a temp dir in `{}`", out.display()))
}

/// Write the in-memory files into `staging`, then rename every file into `out`.
fn write_all(
    out: &Path,
    staging: &Path,
    files: &[(String, Option<Vec<u8>>)],
) -> anyhow::Result<()> {
    for (name, bytes) in files {
        let Some(bytes) = bytes else { continue };
        let path = staging.join(name);
        let mut file = fs_err::File::create(&path)?;
        std::io::Write::write_all(&mut file, bytes)?;
        file.sync_all()?;
    }
    for (name, _) in files {
        fs_err::rename(staging.join(name), out.join(name))?;
    }
    Ok(())
}
