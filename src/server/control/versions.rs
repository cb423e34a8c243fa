//! Package-version operations beyond publish, status and delete: `DisposePackageVersions`,
//! `CopyPackageVersions`, `GetPackageVersionReadme` and `ListPackageVersionDependencies`.
//!
//! Readmes and dependencies come from the version metadata each data plane stored when the
//! version arrived (the npm version manifest, the PyPI upload's core metadata, the NuGet
//! nuspec); a format that stores none (Maven, generic) has no readme and no dependencies,
//! which the service model allows (both members are optional).

use std::collections::HashMap;

use axum::response::Response;
use serde_json::{Map, Value, json};

use super::super::access::Permission;
use super::super::error::ApiError;
use super::super::packages::{self, Origin, Restrictions};
use super::super::store::{self, PackageKey, VersionRow};
use super::{Context, constraint, insert_namespace, ok, package_key, string_list, validate_field};

/// `versionRevisions`: version to the revision the caller expects.
fn version_revisions(body: &Value) -> Result<Option<HashMap<String, String>>, ApiError> {
    let Some(value) = body.get("versionRevisions") else {
        return Ok(None);
    };
    let object = value
        .as_object()
        .ok_or_else(|| ApiError::cannot_parse("`versionRevisions` must be a map"))?;
    object
        .iter()
        .map(|(version, revision)| {
            validate_field("versions", version)?;
            revision
                .as_str()
                .map(|revision| (version.clone(), revision.to_owned()))
                .ok_or_else(|| ApiError::cannot_parse("`versionRevisions` values must be strings"))
        })
        .collect::<Result<HashMap<_, _>, _>>()
        .map(Some)
}

fn expected_status(body: &Value) -> Result<Option<String>, ApiError> {
    const STATUSES: [&str; 6] = [
        "Published",
        "Unfinished",
        "Unlisted",
        "Archived",
        "Disposed",
        "Deleted",
    ];
    match body.get("expectedStatus").and_then(Value::as_str) {
        None => Ok(None),
        Some(status) if STATUSES.contains(&status) => Ok(Some(status.to_owned())),
        Some(other) => Err(constraint(
            "expectedStatus",
            other,
            "Member must satisfy enum value set: [Published, Unfinished, Unlisted, Archived, Disposed, Deleted]",
        )),
    }
}

fn failure(code: &str, message: &str) -> Value {
    json!({ "errorCode": code, "errorMessage": message })
}

pub(super) async fn dispose_package_versions(context: Context<'_>) -> Result<Response, ApiError> {
    let key = package_key(&context)?;
    let body = context.json_body()?;
    let versions = string_list(&body, "versions")?;
    for version in &versions {
        validate_field("versions", version)?;
    }
    let revisions = version_revisions(&body)?.unwrap_or_default();
    let expected = expected_status(&body)?;
    context.authorize(
        "DisposePackageVersions",
        &key.domain,
        Some(&key.repository),
        Permission::Admin,
    )?;
    super::require_package(&context, &key).await?;
    let lookup = key.clone();
    let (successful, failed) = context
        .state
        .store
        .with(move |connection| -> Result<_, ApiError> {
            let transaction = store::write_transaction(connection)?;
            let mut successful = Map::new();
            let mut failed = Map::new();
            for version in versions {
                let Some(row) = store::version(&transaction, &lookup, &version)? else {
                    failed.insert(
                        version.clone(),
                        failure("NOT_FOUND", &format!("version {version} not found")),
                    );
                    continue;
                };
                if let Some(expected) = &expected
                    && expected != &row.status
                {
                    failed.insert(
                        version,
                        failure(
                            "MISMATCHED_STATUS",
                            &format!("expected status {expected}, found {}", row.status),
                        ),
                    );
                    continue;
                }
                if let Some(revision) = revisions.get(&version)
                    && revision != &row.revision
                {
                    failed.insert(
                        version,
                        failure(
                            "MISMATCHED_REVISION",
                            &format!("expected revision {revision}, found {}", row.revision),
                        ),
                    );
                    continue;
                }
                if row.status == "Disposed" {
                    failed.insert(version, failure("SKIPPED", "already Disposed"));
                    continue;
                }
                // The version stays listed (status Disposed); its assets are gone.
                store::delete_assets(&transaction, row.id)?;
                store::update_version_status(&transaction, row.id, "Disposed", &row.revision)?;
                successful.insert(
                    version,
                    json!({ "revision": row.revision, "status": "Disposed" }),
                );
            }
            transaction.commit()?;
            Ok((successful, failed))
        })
        .await?;
    tracing::info!(package = %super::display_package(&key), disposed = successful.len(), "disposed package versions");
    ok(json!({ "successfulVersions": successful, "failedVersions": failed }))
}

fn boolean(body: &Value, member: &str) -> Result<bool, ApiError> {
    match body.get(member) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(value)) => Ok(*value),
        Some(_) => Err(ApiError::cannot_parse(format!(
            "`{member}` must be a boolean"
        ))),
    }
}

pub(super) async fn copy_package_versions(context: Context<'_>) -> Result<Response, ApiError> {
    let domain = context.query.required("domain")?.to_owned();
    super::validate_domain_name(&domain)?;
    let source = context.query.required("source-repository")?.to_owned();
    let destination = context.query.required("destination-repository")?.to_owned();
    super::validate_repository_name(&source)?;
    super::validate_repository_name(&destination)?;
    context.check_owner()?;
    let format = context.query.required("format")?.to_owned();
    super::validate_format(&format)?;
    let package = context.query.required("package")?.to_owned();
    validate_field("package", &package)?;
    let namespace = context
        .query
        .optional("namespace")
        .unwrap_or_default()
        .to_owned();
    if !namespace.is_empty() {
        validate_field("namespace", &namespace)?;
    }
    let body = context.json_body()?;
    let versions = match body.get("versions") {
        Some(_) => Some(string_list(&body, "versions")?),
        None => None,
    };
    let revisions = version_revisions(&body)?;
    let wanted: Vec<String> = match (&versions, &revisions) {
        (Some(versions), None) => versions.clone(),
        (None, Some(revisions)) => {
            let mut versions: Vec<String> = revisions.keys().cloned().collect();
            versions.sort();
            versions
        }
        _ => {
            return Err(ApiError::validation(
                "Exactly one of versions or versionRevisions must be specified",
            ));
        }
    };
    for version in &wanted {
        validate_field("versions", version)?;
    }
    if source == destination {
        return Err(ApiError::validation(
            "The source and destination repositories must be different",
        ));
    }
    let allow_overwrite = boolean(&body, "allowOverwrite")?;
    let include_from_upstream = boolean(&body, "includeFromUpstream")?;
    context.authorize(
        "ReadFromRepository",
        &domain,
        Some(&source),
        Permission::Read,
    )?;
    context.authorize(
        "CopyPackageVersions",
        &domain,
        Some(&destination),
        Permission::Publish,
    )?;
    super::require_repository(&context, &domain, &destination).await?;
    let from = PackageKey {
        domain: domain.clone(),
        repository: source.clone(),
        format,
        namespace,
        package,
    };
    if include_from_upstream {
        super::require_repository(&context, &domain, &source).await?;
    } else {
        super::require_package(&context, &from).await?;
    }
    let to = PackageKey {
        repository: destination,
        ..from.clone()
    };
    let reader = context.principal.clone();
    let copy = CopyRequest {
        from: from.clone(),
        to,
        versions: wanted,
        revisions: revisions.unwrap_or_default(),
        allow_overwrite,
        include_from_upstream,
    };
    let (successful, failed) = context
        .state
        .store
        .with(move |connection| -> Result<_, ApiError> { copy.run(connection, &reader) })
        .await?;
    tracing::info!(package = %super::display_package(&from), %source, copied = successful.len(), "copied package versions");
    ok(json!({ "successfulVersions": successful, "failedVersions": failed }))
}

/// `successfulVersions` and `failedVersions`.
type Outcomes = (Map<String, Value>, Map<String, Value>);

/// One `CopyPackageVersions` request, run in one transaction.
struct CopyRequest {
    from: PackageKey,
    to: PackageKey,
    versions: Vec<String>,
    revisions: HashMap<String, String>,
    allow_overwrite: bool,
    include_from_upstream: bool,
}

impl CopyRequest {
    /// Where a version is looked for: the source repository, then (with
    /// `includeFromUpstream`) its upstreams the caller may read, in search order.
    fn sources(
        &self,
        connection: &crate::server::index::Connection,
        reader: &super::super::access::Principal,
    ) -> Result<Vec<String>, crate::server::index::Error> {
        if !self.include_from_upstream {
            return Ok(vec![self.from.repository.clone()]);
        }
        let mut order =
            packages::search_order(connection, &self.from.domain, &self.from.repository)?;
        order.retain(|repository| {
            repository == &self.from.repository
                || reader.allows(&self.from.domain, Some(repository), Permission::Read)
        });
        Ok(order)
    }

    fn run(
        &self,
        connection: &mut crate::server::index::Connection,
        reader: &super::super::access::Principal,
    ) -> Result<Outcomes, ApiError> {
        let transaction = store::write_transaction(connection)?;
        let sources = self.sources(&transaction, reader)?;
        let mut successful = Map::new();
        let mut failed = Map::new();
        for version in &self.versions {
            let mut found: Option<(PackageKey, VersionRow)> = None;
            for repository in &sources {
                let key = PackageKey {
                    repository: repository.clone(),
                    ..self.from.clone()
                };
                if let Some(row) = store::version(&transaction, &key, version)? {
                    found = Some((key, row));
                    break;
                }
            }
            let Some((from, row)) = found else {
                failed.insert(
                    version.clone(),
                    failure(
                        "NOT_FOUND",
                        &format!("version {version} not found in {}", self.from.repository),
                    ),
                );
                continue;
            };
            if let Some(revision) = self.revisions.get(version)
                && revision != &row.revision
            {
                failed.insert(
                    version.clone(),
                    failure(
                        "MISMATCHED_REVISION",
                        &format!("expected revision {revision}, found {}", row.revision),
                    ),
                );
                continue;
            }
            if row.status == "Disposed" || row.status == "Deleted" {
                failed.insert(
                    version.clone(),
                    failure(
                        "NOT_ALLOWED",
                        &format!("a {} version cannot be copied", row.status),
                    ),
                );
                continue;
            }
            if let Some(existing) = store::version(&transaction, &self.to, version)? {
                if !self.allow_overwrite {
                    failed.insert(
                        version.clone(),
                        failure(
                            "ALREADY_EXISTS",
                            &format!("version {version} already exists in {}", self.to.repository),
                        ),
                    );
                    continue;
                }
                store::delete_version(&transaction, existing.id)?;
            }
            let origin =
                packages::version_origin(&transaction, row.id)?.unwrap_or_else(|| Origin {
                    origin_type: "INTERNAL".to_owned(),
                    entry_repository: from.repository.clone(),
                    external_connection: None,
                });
            if packages::restrictions(&transaction, &self.to)?.is_none() {
                // The destination's defaults follow how the version entered the domain.
                let internal = origin.origin_type == "INTERNAL";
                packages::set_restrictions(
                    &transaction,
                    &self.to,
                    &Restrictions {
                        publish: if internal {
                            packages::ALLOW
                        } else {
                            packages::BLOCK
                        }
                        .to_owned(),
                        upstream: if internal {
                            packages::BLOCK
                        } else {
                            packages::ALLOW
                        }
                        .to_owned(),
                    },
                )?;
            }
            let assets = store::assets(&transaction, row.id)?;
            let mut copied = VersionRow { id: 0, ..row };
            copied.id = store::insert_version(&transaction, &self.to, &copied)?;
            for asset in &assets {
                store::insert_asset(&transaction, copied.id, asset)?;
            }
            packages::set_version_origin(&transaction, copied.id, &origin)?;
            successful.insert(
                version.clone(),
                json!({ "revision": copied.revision, "status": copied.status }),
            );
        }
        transaction.commit()?;
        Ok((successful, failed))
    }
}

/// The version's stored metadata as JSON (`Null` when it has none).
pub(crate) fn manifest(row: &VersionRow) -> Value {
    row.metadata
        .as_deref()
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or(Value::Null)
}

/// A version's readme, from what its format stored: npm's `readme`, PyPI's long
/// `description`, NuGet's `description`, the `readme` `cargo publish` sent.
pub(crate) fn readme(format: &str, manifest: &Value) -> Option<String> {
    let text = match format {
        "npm" | "cargo" => manifest.get("readme"),
        "pypi" => manifest
            .get("metadata")
            .and_then(|metadata| metadata.get("description")),
        "nuget" => manifest.get("description"),
        _ => None,
    };
    text.and_then(Value::as_str).map(ToOwned::to_owned)
}

async fn described_version(
    context: &Context<'_>,
    operation: &str,
) -> Result<(PackageKey, VersionRow), ApiError> {
    let key = package_key(context)?;
    let version = context.query.required("version")?.to_owned();
    validate_field("version", &version)?;
    context.authorize(
        operation,
        &key.domain,
        Some(&key.repository),
        Permission::Read,
    )?;
    let row = super::require_version(context, &key, &version).await?;
    Ok((key, row))
}

pub(super) async fn get_package_version_readme(context: Context<'_>) -> Result<Response, ApiError> {
    let (key, row) = described_version(&context, "GetPackageVersionReadme").await?;
    let mut value = json!({
        "format": key.format,
        "package": key.package,
        "version": row.version,
        "versionRevision": row.revision,
    });
    insert_namespace(&mut value, &key.namespace);
    if let Some(readme) = readme(&key.format, &manifest(&row)) {
        value["readme"] = json!(readme);
    }
    ok(value)
}

/// One dependency as the model's `PackageDependency` has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dependency {
    pub(crate) namespace: Option<String>,
    pub(crate) package: String,
    pub(crate) kind: Option<String>,
    pub(crate) requirement: Option<String>,
}

impl Dependency {
    fn to_json(&self) -> Value {
        let mut value = json!({ "package": self.package });
        if let Some(namespace) = &self.namespace {
            value["namespace"] = json!(namespace);
        }
        if let Some(kind) = &self.kind {
            value["dependencyType"] = json!(kind);
        }
        if let Some(requirement) = &self.requirement {
            value["versionRequirement"] = json!(requirement);
        }
        value
    }
}

/// A version's dependencies from its stored metadata, in the types the service names:
/// npm `regular`, `dev`, `peer`, `optional`; PyPI `Requires-Dist`; NuGet untyped; cargo
/// its index's `kind` (`normal`, `dev`, `build`).
pub(crate) fn dependencies(format: &str, manifest: &Value) -> Vec<Dependency> {
    let mut found = Vec::new();
    match format {
        "npm" => {
            for (member, kind) in [
                ("dependencies", "regular"),
                ("devDependencies", "dev"),
                ("peerDependencies", "peer"),
                ("optionalDependencies", "optional"),
            ] {
                let Some(map) = manifest.get(member).and_then(Value::as_object) else {
                    continue;
                };
                for (name, requirement) in map {
                    let (namespace, package) = match name
                        .strip_prefix('@')
                        .and_then(|scoped| scoped.split_once('/'))
                    {
                        Some((scope, package)) => (Some(scope.to_owned()), package.to_owned()),
                        None => (None, name.clone()),
                    };
                    found.push(Dependency {
                        namespace,
                        package,
                        kind: Some(kind.to_owned()),
                        requirement: requirement.as_str().map(ToOwned::to_owned),
                    });
                }
            }
        }
        "pypi" => {
            let requirements = manifest
                .get("metadata")
                .and_then(|metadata| metadata.get("requires_dist"))
                .and_then(Value::as_array);
            for requirement in requirements.into_iter().flatten().filter_map(Value::as_str) {
                let name_end = requirement
                    .find(|character: char| {
                        !(character.is_ascii_alphanumeric() || "-_.".contains(character))
                    })
                    .unwrap_or(requirement.len());
                let (name, rest) = requirement.split_at(name_end);
                if name.is_empty() {
                    continue;
                }
                let rest = rest.trim();
                found.push(Dependency {
                    namespace: None,
                    package: name.to_owned(),
                    kind: Some("Requires-Dist".to_owned()),
                    requirement: (!rest.is_empty()).then(|| rest.to_owned()),
                });
            }
        }
        "nuget" => {
            let groups = manifest.get("dependencyGroups").and_then(Value::as_array);
            for dependency in groups
                .into_iter()
                .flatten()
                .filter_map(|group| group.get("dependencies").and_then(Value::as_array))
                .flatten()
            {
                let Some(id) = dependency.get("id").and_then(Value::as_str) else {
                    continue;
                };
                let entry = Dependency {
                    namespace: None,
                    package: id.to_owned(),
                    kind: None,
                    requirement: dependency
                        .get("range")
                        .and_then(Value::as_str)
                        .map(ToOwned::to_owned),
                };
                if !found.contains(&entry) {
                    found.push(entry);
                }
            }
        }
        "cargo" => {
            let deps = manifest
                .get("index")
                .and_then(|index| index.get("deps"))
                .and_then(Value::as_array);
            for dependency in deps.into_iter().flatten() {
                // A renamed dependency is listed under its new name, the crate in `package`.
                let Some(package) = dependency
                    .get("package")
                    .or_else(|| dependency.get("name"))
                    .and_then(Value::as_str)
                else {
                    continue;
                };
                let text = |field: &str| {
                    dependency
                        .get(field)
                        .and_then(Value::as_str)
                        .map(ToOwned::to_owned)
                };
                found.push(Dependency {
                    namespace: None,
                    package: package.to_owned(),
                    kind: text("kind"),
                    requirement: text("req"),
                });
            }
        }
        _ => {}
    }
    found
}

pub(super) async fn list_package_version_dependencies(
    context: Context<'_>,
) -> Result<Response, ApiError> {
    let (key, row) = described_version(&context, "ListPackageVersionDependencies").await?;
    let all = dependencies(&key.format, &manifest(&row));
    let (page, next) = super::paginate(
        all,
        None,
        context.query.optional("next-token"),
        1000,
        &context.page_tokens("ListPackageVersionDependencies"),
    )?;
    let mut value = json!({
        "format": key.format,
        "package": key.package,
        "version": row.version,
        "versionRevision": row.revision,
        "dependencies": page.iter().map(Dependency::to_json).collect::<Vec<_>>(),
    });
    insert_namespace(&mut value, &key.namespace);
    ok(super::with_next_token(value, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_come_from_each_formats_metadata() {
        let npm = json!({ "dependencies": { "@acme/left-pad": "^1.0.0" }, "devDependencies": { "tap": "16" } });
        let found = dependencies("npm", &npm);
        assert_eq!(found[0].namespace.as_deref(), Some("acme"));
        assert_eq!(found[0].package, "left-pad");
        assert_eq!(found[1].kind.as_deref(), Some("dev"));
        let pypi = json!({ "metadata": { "requires_dist": ["requests (>=2.0)", "idna>=3; python_version < '3.8'"] } });
        let found = dependencies("pypi", &pypi);
        assert_eq!(found[0].package, "requests");
        assert_eq!(found[0].requirement.as_deref(), Some("(>=2.0)"));
        assert_eq!(found[1].package, "idna");
        let nuget = json!({ "dependencyGroups": [
            { "dependencies": [{ "id": "Newtonsoft.Json", "range": "[13.0.1, )" }] },
            { "dependencies": [{ "id": "Newtonsoft.Json", "range": "[13.0.1, )" }] },
        ] });
        assert_eq!(dependencies("nuget", &nuget).len(), 1);
        assert!(dependencies("maven", &Value::Null).is_empty());
    }
}
