//! Provenance: an in-toto Statement v1 with an SLSA Provenance v1 predicate, and DSSE
//! envelopes that sign it ([`dsse`]).
//!
//! Subjects are the packages with their digests (named by purl where the format has one);
//! the build definition comes from the detected CI ([`crate::ci::RunIdentity`]); resolved
//! dependencies are the source commit plus every locked dependency with its digest, which is
//! what the GitHub attestation actions leave out.

pub mod dsse;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::ci::RunIdentity;

/// `_type` of an in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// `predicateType` of SLSA Provenance v1.
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
/// DSSE `payloadType` of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// An in-toto ResourceDescriptor (subject or resolved dependency).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceDescriptor {
    /// Name (file name or purl).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// URI (purl, `git+https://…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Algorithm → lowercase hex.
    #[serde(default)]
    pub digest: BTreeMap<String, String>,
    /// Extra annotations (`lading_file`: the output file name).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, Value>,
}

/// An in-toto Statement v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    /// Always [`STATEMENT_TYPE`].
    #[serde(rename = "_type")]
    pub statement_type: String,
    /// The artifacts this statement is about.
    pub subject: Vec<ResourceDescriptor>,
    /// Always [`SLSA_PROVENANCE_V1`] here.
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The SLSA provenance predicate.
    pub predicate: Value,
}

/// What the build consumed and when it ran, besides the CI identity.
#[derive(Debug, Clone, Default)]
pub struct BuildFacts {
    /// lading's version, recorded as `builder.version.lading`.
    pub lading_version: String,
    /// Parameters the user chose (package name, version, format, patterns).
    pub package_parameters: Value,
    /// Locked dependencies, as ResourceDescriptors.
    pub dependencies: Vec<ResourceDescriptor>,
    /// RFC 3339 `startedOn`: the source date (`SOURCE_DATE_EPOCH`, else the commit time),
    /// not the wall clock, so that a rerun of the same inputs writes the same statement.
    pub started_on: Option<String>,
    /// RFC 3339 `finishedOn` (not recorded by `lading pack`: it would be the wall clock).
    pub finished_on: Option<String>,
}

impl Statement {
    /// Build the statement for `subjects` produced by the run `identity`.
    #[must_use]
    pub fn new(
        subjects: Vec<ResourceDescriptor>,
        identity: &RunIdentity,
        facts: &BuildFacts,
    ) -> Self {
        let mut external = identity.external_parameters.clone();
        if let Some(object) = external.as_object_mut() {
            object.insert("package".to_owned(), facts.package_parameters.clone());
        }
        let mut resolved: Vec<Value> = identity.source.resolved_dependency().into_iter().collect();
        resolved.extend(
            facts
                .dependencies
                .iter()
                .filter_map(|dependency| serde_json::to_value(dependency).ok()),
        );
        let mut metadata = serde_json::Map::new();
        if let Some(invocation) = &identity.invocation_id {
            metadata.insert("invocationId".to_owned(), json!(invocation));
        }
        if let Some(started) = &facts.started_on {
            metadata.insert("startedOn".to_owned(), json!(started));
        }
        if let Some(finished) = &facts.finished_on {
            metadata.insert("finishedOn".to_owned(), json!(finished));
        }
        let mut build_definition = json!({
            "buildType": identity.build_type,
            "externalParameters": external,
            "resolvedDependencies": resolved,
        });
        if identity
            .internal_parameters
            .as_object()
            .is_some_and(|object| !object.is_empty())
        {
            build_definition["internalParameters"] = identity.internal_parameters.clone();
        }
        Self {
            statement_type: STATEMENT_TYPE.to_owned(),
            subject: subjects,
            predicate_type: SLSA_PROVENANCE_V1.to_owned(),
            predicate: json!({
                "buildDefinition": build_definition,
                "runDetails": {
                    "builder": {
                        "id": identity.builder_id,
                        "version": {"lading": facts.lading_version},
                    },
                    "metadata": metadata,
                }
            }),
        }
    }

    /// The `resolvedDependencies` of the predicate.
    #[must_use]
    pub fn resolved_dependencies(&self) -> Vec<ResourceDescriptor> {
        self.predicate
            .pointer("/buildDefinition/resolvedDependencies")
            .and_then(|value| serde_json::from_value(value.clone()).ok())
            .unwrap_or_default()
    }
}

/// A subject as provenance comparisons see it: its name and its digests.
pub type SubjectKey = (Option<String>, BTreeMap<String, String>);

/// The subjects of a provenance file (a `.intoto.jsonl`: one DSSE envelope per line), as a
/// sorted set of (name, algorithm → digest): what decides whether two provenance files
/// describe the same publish.
///
/// # Errors
/// A line that is not a DSSE envelope with an in-toto statement.
pub fn subjects_of(bytes: &[u8]) -> Result<Vec<SubjectKey>, dsse::DsseError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|error| dsse::DsseError::Malformed(format!("not UTF-8: {error}")))?;
    let mut subjects = Vec::new();
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        let envelope = dsse::Envelope::parse(line)?;
        let statement: Statement =
            serde_json::from_slice(&envelope.payload_bytes()?).map_err(|error| {
                dsse::DsseError::Malformed(format!("not an in-toto statement: {error}"))
            })?;
        subjects.extend(
            statement
                .subject
                .into_iter()
                .map(|subject| (subject.name, subject.digest)),
        );
    }
    subjects.sort();
    subjects.dedup();
    Ok(subjects)
}

/// Whether the provenance `existing` (what a repository holds) and `local` describe the same
/// artifacts: the same subjects, names and every digest, whatever their run metadata
/// (`invocationId`, times, builder, a retried CI attempt's parameters) or signatures. An
/// unreadable file describes nothing: never the same.
#[must_use]
pub fn same_subjects(existing: &[u8], local: &[u8]) -> bool {
    match (subjects_of(existing), subjects_of(local)) {
        (Ok(existing), Ok(local)) => !local.is_empty() && existing == local,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_has_slsa_required_fields() {
        let identity = RunIdentity::from_env(&|_| None);
        let subject = ResourceDescriptor {
            name: Some("pkg:npm/x@1.0.0".to_owned()),
            uri: None,
            digest: [("sha256".to_owned(), "ab".repeat(32))]
                .into_iter()
                .collect(),
            annotations: BTreeMap::new(),
        };
        let statement = Statement::new(
            vec![subject],
            &identity,
            &BuildFacts {
                lading_version: "0.1.0".to_owned(),
                package_parameters: json!({"name": "x"}),
                ..BuildFacts::default()
            },
        );
        let value = serde_json::to_value(&statement).unwrap();
        assert_eq!(value["_type"], STATEMENT_TYPE);
        assert_eq!(value["predicateType"], SLSA_PROVENANCE_V1);
        assert_eq!(
            value["predicate"]["buildDefinition"]["buildType"],
            crate::ci::LOCAL_BUILD_TYPE
        );
        assert_eq!(
            value["predicate"]["buildDefinition"]["externalParameters"]["package"]["name"],
            "x"
        );
        assert_eq!(
            value["predicate"]["runDetails"]["builder"]["id"],
            crate::ci::LOCAL_BUILDER_ID
        );
    }

    fn envelope_line(subjects: Vec<ResourceDescriptor>, invocation: &str) -> Vec<u8> {
        let identity = RunIdentity::from_env(&|name| match name {
            "GITHUB_ACTIONS" => Some("true".to_owned()),
            "GITHUB_RUN_ID" => Some("7".to_owned()),
            "GITHUB_RUN_ATTEMPT" => Some(invocation.to_owned()),
            "GITHUB_REPOSITORY" => Some("acme/tool".to_owned()),
            "GITHUB_SERVER_URL" => Some("https://github.com".to_owned()),
            _ => None,
        });
        let statement = Statement::new(subjects, &identity, &BuildFacts::default());
        let payload = serde_json::to_vec(&statement).unwrap();
        let mut line =
            serde_json::to_vec(&dsse::Envelope::unsigned(PAYLOAD_TYPE, &payload)).unwrap();
        line.push(b'\n');
        line
    }

    fn subject(name: &str, sha256: &str) -> ResourceDescriptor {
        ResourceDescriptor {
            name: Some(name.to_owned()),
            uri: None,
            digest: [("sha256".to_owned(), sha256.to_owned())]
                .into_iter()
                .collect(),
            annotations: BTreeMap::new(),
        }
    }

    #[test]
    fn provenance_of_a_retried_run_is_the_same_only_when_the_subjects_are() {
        let first = envelope_line(vec![subject("a.tgz", "aa"), subject("b.tgz", "bb")], "1");
        let retried = envelope_line(vec![subject("b.tgz", "bb"), subject("a.tgz", "aa")], "2");
        assert_ne!(first, retried, "the attempt is recorded");
        assert!(same_subjects(&first, &retried));
        let rebuilt = envelope_line(vec![subject("a.tgz", "aa"), subject("b.tgz", "cc")], "2");
        assert!(!same_subjects(&first, &rebuilt));
        let fewer = envelope_line(vec![subject("a.tgz", "aa")], "2");
        assert!(!same_subjects(&first, &fewer));
        assert!(!same_subjects(b"not json\n", &first));
    }
}
