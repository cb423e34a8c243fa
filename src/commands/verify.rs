//! `lading verify`: check a `lading pack` output directory offline.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context as _, bail};
use serde_json::json;

use crate::archive::Digests;
use crate::cli::VerifyArgs;
use crate::diagnostics::HintedError;
use crate::ecosystem::npm;
use crate::printer::Printer;
use crate::provenance::dsse::{Envelope, VerifyingKey};
use crate::provenance::{PAYLOAD_TYPE, SLSA_PROVENANCE_V1, STATEMENT_TYPE, Statement};

fn parse_sums(path: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let text = fs_err::read_to_string(path)?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            let (digest, file) = line
                .split_once("  ")
                .or_else(|| line.split_once(" *"))
                .filter(|(digest, _)| {
                    digest.len() == 64 && digest.bytes().all(|byte| byte.is_ascii_hexdigit())
                })
                .with_context(|| {
                    format!(
                        "{}:{}: not a `<sha256>  <file>` line",
                        path.display(),
                        index + 1
                    )
                })?;
            Ok((file.to_owned(), digest.to_ascii_lowercase()))
        })
        .collect()
}

fn check_digests(
    file: &str,
    expected: &BTreeMap<String, String>,
    actual: &Digests,
) -> anyhow::Result<()> {
    if expected.is_empty() {
        bail!("provenance subject `{file}` has no digest");
    }
    for (algorithm, digest) in expected {
        let actual_digest = match algorithm.as_str() {
            "sha256" => &actual.sha256,
            "sha512" => &actual.sha512,
            "sha1" => &actual.sha1,
            "md5" => &actual.md5,
            _ => continue,
        };
        if !actual_digest.eq_ignore_ascii_case(digest) {
            bail!("`{file}`: {algorithm} is {actual_digest}, but the provenance records {digest}");
        }
    }
    Ok(())
}

/// Run `lading verify`.
///
/// # Errors
/// Any mismatch (exit 1).
pub fn run(args: &VerifyArgs, printer: Printer) -> anyhow::Result<()> {
    let dir = &args.dir;
    let sums_path = dir.join("SHA256SUMS");
    if !sums_path.is_file() {
        bail!(HintedError::new(
            format!("`{}` has no SHA256SUMS", dir.display()),
            "point `lading verify` at the directory `lading pack --out` wrote"
        ));
    }
    let sums = parse_sums(&sums_path)?;
    let mut digests = BTreeMap::new();
    for (file, expected) in &sums {
        if file.contains('/') || file.contains('\\') || file.starts_with('.') {
            bail!(
                "SHA256SUMS names `{file}`, which is not a plain file name in `{}`",
                dir.display()
            );
        }
        let actual = Digests::of_file(&dir.join(file))
            .with_context(|| format!("failed to hash `{file}`"))?;
        if &actual.sha256 != expected {
            bail!(
                "`{file}`: sha256 is {}, but SHA256SUMS says {expected}",
                actual.sha256
            );
        }
        digests.insert(file.clone(), actual);
    }

    let public_key = args
        .public_key
        .as_deref()
        .map(|path| {
            let text = fs_err::read_to_string(path)?;
            VerifyingKey::from_pem(&text)
                .with_context(|| format!("failed to read the public key `{}`", path.display()))
        })
        .transpose()?;

    let mut provenance_files: Vec<_> = fs_err::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.to_str()
                .is_some_and(|name| name.ends_with(".intoto.jsonl"))
        })
        .collect();
    provenance_files.sort();
    if provenance_files.is_empty() {
        bail!("`{}` has no `*.intoto.jsonl` provenance", dir.display());
    }
    let mut covered = BTreeSet::new();
    let mut statements = Vec::new();
    let mut signed_by = None;
    for path in &provenance_files {
        let text = fs_err::read_to_string(path)?;
        for (index, line) in text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
        {
            let at = format!("{}:{}", path.display(), index + 1);
            let envelope = Envelope::parse(line).with_context(|| format!("{at}: bad envelope"))?;
            if envelope.payload_type != PAYLOAD_TYPE {
                bail!(
                    "{at}: payloadType is `{}`, not `{PAYLOAD_TYPE}`",
                    envelope.payload_type
                );
            }
            match &public_key {
                Some(key) => {
                    envelope
                        .verify(key)
                        .with_context(|| format!("{at}: signature check failed"))?;
                    signed_by = Some(key.keyid());
                }
                None if !envelope.signatures.is_empty() => printer.warn(&format!(
                    "{at} is signed, but no --public-key was given: the signature was not checked"
                )),
                None => {}
            }
            let payload = envelope.payload_bytes()?;
            let statement: Statement = serde_json::from_slice(&payload)
                .with_context(|| format!("{at}: the payload is not an in-toto statement"))?;
            if statement.statement_type != STATEMENT_TYPE
                || statement.predicate_type != SLSA_PROVENANCE_V1
            {
                bail!("{at}: not an in-toto v1 statement with an SLSA provenance v1 predicate");
            }
            for subject in &statement.subject {
                let file = subject
                    .annotations
                    .get("lading_file")
                    .and_then(|value| value.as_str())
                    .or(subject.name.as_deref())
                    .unwrap_or_default()
                    .to_owned();
                let actual = match digests.get(&file) {
                    Some(actual) => actual.clone(),
                    None => Digests::of_file(&dir.join(&file))
                        .with_context(|| format!("{at}: subject `{file}` cannot be read"))?,
                };
                check_digests(&file, &subject.digest, &actual)
                    .with_context(|| format!("{at}: subject mismatch"))?;
                covered.insert(file);
            }
            statements.push(statement);
        }
    }
    for (file, _) in &sums {
        if !covered.contains(file) {
            bail!("`{file}` is in SHA256SUMS but no provenance subject covers it");
        }
    }

    if let Some(lockfile) = &args.lockfile {
        let expected: BTreeSet<(Option<String>, BTreeMap<String, String>)> =
            npm::lockfile::resolved_dependencies(lockfile)?
                .into_iter()
                .map(|dependency| (dependency.uri, dependency.digest))
                .collect();
        for statement in &statements {
            let recorded: BTreeSet<(Option<String>, BTreeMap<String, String>)> = statement
                .resolved_dependencies()
                .into_iter()
                .filter(|dependency| !dependency.digest.contains_key("gitCommit"))
                .map(|dependency| (dependency.uri, dependency.digest))
                .collect();
            let missing: Vec<String> = expected
                .difference(&recorded)
                .filter_map(|(uri, _)| uri.clone())
                .collect();
            let extra: Vec<String> = recorded
                .difference(&expected)
                .filter_map(|(uri, _)| uri.clone())
                .collect();
            if !missing.is_empty() || !extra.is_empty() {
                bail!(
                    "the provenance's dependencies differ from `{}`: not recorded [{}], not in the lockfile [{}]",
                    lockfile.display(),
                    missing.join(", "),
                    extra.join(", ")
                );
            }
        }
    }

    if args.json {
        printer.data(&serde_json::to_string_pretty(&json!({
            "verified": true,
            "files": sums.iter().map(|(file, _)| file).collect::<Vec<_>>(),
            "provenance": provenance_files.iter().map(|path| path.display().to_string()).collect::<Vec<_>>(),
            "keyid": signed_by,
            "lockfile": args.lockfile,
        }))?);
    }
    printer.status(&format!(
        "verified {} file(s) against SHA256SUMS and provenance{}",
        sums.len(),
        if signed_by.is_some() {
            " (signature valid)"
        } else {
            ""
        }
    ));
    Ok(())
}
