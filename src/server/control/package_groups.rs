//! The package-group operations: `CreatePackageGroup`, `UpdatePackageGroup`,
//! `DeletePackageGroup`, `DescribePackageGroup`, `ListPackageGroups`,
//! `ListSubPackageGroups`, `UpdatePackageGroupOriginConfiguration`,
//! `GetAssociatedPackageGroup`, `ListAllowedRepositoriesForGroup` and
//! `ListAssociatedPackages`, with the model's routes, members and errors.
//!
//! Pattern syntax, association and inheritance are [`super::super::groups`]'s, which
//! publishing and pull-through consult too. Every domain has the root group `/*` (all
//! origins allowed until changed); it can be updated but not deleted, and it is stored only
//! once it is changed. A group's parent is computed, never stored: deleting a group makes
//! its children the children of its parent, as CodeArtifact documents.

use std::collections::BTreeMap;

use axum::response::Response;
use serde_json::{Value, json};

use super::super::access::Permission;
use super::super::error::ApiError;
use super::super::groups::{self, Group, Groups, Mode, Pattern, RestrictionType};
use super::super::store::{self, PackageGroupRow};
use super::{Context, constraint, ok, paginate, tags, with_next_token};

/// What a response needs to describe a domain's groups.
struct Snapshot {
    groups: Groups,
    /// `(pattern, restriction)` → allowed repositories.
    allowed: BTreeMap<(String, String), Vec<String>>,
    /// The domain's creation time, which a root group never changed (not stored) has.
    domain_created: f64,
}

impl Snapshot {
    /// The domain's groups, or `None` when the domain does not exist.
    fn load(
        connection: &crate::server::index::Connection,
        domain: &str,
    ) -> Result<Option<Self>, ApiError> {
        let Some(found) = store::domain(connection, domain)? else {
            return Ok(None);
        };
        let mut allowed: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for (pattern, restriction, repository) in
            store::package_group_repository_entries(connection, domain)?
        {
            allowed
                .entry((pattern, restriction))
                .or_default()
                .push(repository);
        }
        Ok(Some(Self {
            groups: Groups::load(connection, domain)?,
            allowed,
            domain_created: found.created,
        }))
    }

    fn allowed(&self, pattern: &str, kind: RestrictionType) -> &[String] {
        self.allowed
            .get(&(pattern.to_owned(), kind.name().to_owned()))
            .map_or(&[], Vec::as_slice)
    }
}

fn group_arn(context: &Context<'_>, domain: &str, pattern: &str) -> String {
    format!(
        "arn:aws:codeartifact:{}:{}:package-group/{domain}{pattern}",
        context.region,
        context.account()
    )
}

fn reference(context: &Context<'_>, group: &Group) -> Value {
    json!({
        "arn": group_arn(context, &group.row.domain, &group.row.pattern),
        "pattern": group.row.pattern,
    })
}

/// `PackageGroupDescription` (and `PackageGroupSummary`, which has the same members).
fn description(context: &Context<'_>, snapshot: &Snapshot, group: &Group) -> Value {
    let mut restrictions = serde_json::Map::new();
    for kind in RestrictionType::ALL {
        let effective = snapshot.groups.effective(group, kind);
        let mode = kind.mode_of(&group.row);
        let mut restriction = json!({
            "mode": mode.name(),
            "effectiveMode": effective.mode.name(),
            "repositoriesCount": snapshot.allowed(&group.row.pattern, kind).len(),
        });
        if mode == Mode::Inherit {
            restriction["inheritedFrom"] = reference(context, effective.source);
        }
        restrictions.insert(kind.name().to_owned(), restriction);
    }
    let created = if group.pattern == Pattern::All && group.row.created == 0.0 {
        snapshot.domain_created
    } else {
        group.row.created
    };
    let mut value = json!({
        "arn": group_arn(context, &group.row.domain, &group.row.pattern),
        "pattern": group.row.pattern,
        "domainName": group.row.domain,
        "domainOwner": context.account(),
        "createdTime": created,
        "originConfiguration": { "restrictions": restrictions },
    });
    if let Some(contact) = &group.row.contact_info {
        value["contactInfo"] = json!(contact);
    }
    if let Some(text) = &group.row.description {
        value["description"] = json!(text);
    }
    if let Some(parent) = snapshot.groups.parent_of(&group.pattern) {
        value["parent"] = reference(context, parent);
    }
    value
}

fn domain_not_found(domain: &str) -> ApiError {
    ApiError::not_found(format!("Domain {domain} does not exist"), domain, "domain")
}

fn group_not_found(domain: &str, pattern: &str) -> ApiError {
    ApiError::not_found(
        format!("Package group {pattern} does not exist in domain {domain}"),
        pattern,
        "package",
    )
}

fn null_member(member: &str) -> ApiError {
    ApiError::validation(format!(
        "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
    ))
}

/// The request's domain, validated and authorized for `operation`.
fn domain(
    context: &Context<'_>,
    operation: &str,
    permission: Permission,
) -> Result<String, ApiError> {
    let domain = context.query.required("domain")?.to_owned();
    super::validate_domain_name(&domain)?;
    context.check_owner()?;
    context.authorize(operation, &domain, None, permission)?;
    Ok(domain)
}

fn parse_pattern(pattern: &str) -> Result<Pattern, ApiError> {
    Pattern::parse(pattern).map_err(|error| ApiError::validation(error.to_string()))
}

/// The pattern in the `package-group` query parameter.
fn pattern_in_query(context: &Context<'_>) -> Result<String, ApiError> {
    let pattern = context.query.required("package-group")?.to_owned();
    parse_pattern(&pattern)?;
    Ok(pattern)
}

/// The pattern in the body's `packageGroup` member.
fn pattern_in_body(body: &Value) -> Result<String, ApiError> {
    let pattern = body
        .get("packageGroup")
        .and_then(Value::as_str)
        .ok_or_else(|| null_member("packageGroup"))?
        .to_owned();
    parse_pattern(&pattern)?;
    Ok(pattern)
}

/// An optional free-text member (`contactInfo`, `description`): at most 1000 characters,
/// none a control character.
fn text_member(body: &Value, member: &str) -> Result<Option<String>, ApiError> {
    let Some(value) = body.get(member) else {
        return Ok(None);
    };
    let text = value
        .as_str()
        .ok_or_else(|| ApiError::cannot_parse(format!("`{member}` must be a string")))?;
    if text.chars().count() > 1000 || text.chars().any(char::is_control) {
        return Err(constraint(
            member,
            text,
            "Member must have length less than or equal to 1000 and satisfy regular expression pattern: \\P{C}*",
        ));
    }
    Ok(Some(text.to_owned()))
}

/// Run `operation` over the domain's groups (`None`: the domain does not exist).
async fn with_snapshot<T: Send + 'static>(
    context: &Context<'_>,
    domain: &str,
    operation: impl FnOnce(
        &mut crate::server::index::Connection,
        Option<Snapshot>,
    ) -> Result<T, ApiError>
    + Send
    + 'static,
) -> Result<T, ApiError> {
    let domain = domain.to_owned();
    context
        .state
        .store
        .with(move |connection| {
            let snapshot = Snapshot::load(connection, &domain)?;
            operation(connection, snapshot)
        })
        .await
}

/// Describe `pattern` in a fresh snapshot (after a write).
async fn describe_now(
    context: &Context<'_>,
    domain: &str,
    pattern: &str,
) -> Result<Value, ApiError> {
    let (lookup_domain, lookup) = (domain.to_owned(), pattern.to_owned());
    let snapshot = with_snapshot(context, domain, move |_, snapshot| {
        snapshot.ok_or_else(|| domain_not_found(&lookup_domain))
    })
    .await?;
    let group = snapshot
        .groups
        .get(&lookup)
        .ok_or_else(|| group_not_found(domain, pattern))?;
    Ok(description(context, &snapshot, group))
}

pub(super) async fn create_package_group(context: Context<'_>) -> Result<Response, ApiError> {
    let domain = domain(&context, "CreatePackageGroup", Permission::Admin)?;
    let body = context.json_body()?;
    let pattern = pattern_in_body(&body)?;
    let row = PackageGroupRow {
        domain: domain.clone(),
        pattern: pattern.clone(),
        description: text_member(&body, "description")?,
        contact_info: text_member(&body, "contactInfo")?,
        created: context.state.clock.now(),
        publish: Mode::Inherit.name().to_owned(),
        external_upstream: Mode::Inherit.name().to_owned(),
        internal_upstream: Mode::Inherit.name().to_owned(),
    };
    let tags = tags::from_body(&body, "tags")?;
    let (lookup_domain, lookup_pattern) = (domain.clone(), pattern.clone());
    with_snapshot(&context, &domain, move |connection, snapshot| {
        if snapshot.is_none() {
            return Err(domain_not_found(&lookup_domain));
        }
        let transaction = store::write_transaction(connection)?;
        if lookup_pattern == groups::ROOT
            || store::package_group(&transaction, &lookup_domain, &lookup_pattern)?.is_some()
        {
            return Err(ApiError::conflict(
                format!("Package group {lookup_pattern} already exists in domain {lookup_domain}"),
                &lookup_pattern,
                "package",
            ));
        }
        store::put_package_group(&transaction, &row)?;
        tags::add(
            &transaction,
            &format!("package-group/{lookup_domain}{lookup_pattern}"),
            &tags,
        )?;
        transaction.commit()?;
        Ok(())
    })
    .await?;
    ok(json!({ "packageGroup": describe_now(&context, &domain, &pattern).await? }))
}

/// Change a stored group (materializing the root when it was never stored) with `change`.
async fn change_group(
    context: &Context<'_>,
    domain: &str,
    pattern: &str,
    change: impl FnOnce(&crate::server::index::Connection, &mut PackageGroupRow) -> Result<(), ApiError>
    + Send
    + 'static,
) -> Result<(), ApiError> {
    let (lookup_domain, lookup_pattern) = (domain.to_owned(), pattern.to_owned());
    with_snapshot(context, domain, move |connection, snapshot| {
        let snapshot = snapshot.ok_or_else(|| domain_not_found(&lookup_domain))?;
        let transaction = store::write_transaction(connection)?;
        let mut row = match store::package_group(&transaction, &lookup_domain, &lookup_pattern)? {
            Some(row) => row,
            None if lookup_pattern == groups::ROOT => {
                groups::root_row(&lookup_domain, snapshot.domain_created)
            }
            None => return Err(group_not_found(&lookup_domain, &lookup_pattern)),
        };
        change(&transaction, &mut row)?;
        store::put_package_group(&transaction, &row)?;
        transaction.commit()?;
        Ok(())
    })
    .await
}

pub(super) async fn update_package_group(context: Context<'_>) -> Result<Response, ApiError> {
    let domain = domain(&context, "UpdatePackageGroup", Permission::Admin)?;
    let body = context.json_body()?;
    let pattern = pattern_in_body(&body)?;
    let contact_info = text_member(&body, "contactInfo")?;
    let description = text_member(&body, "description")?;
    change_group(&context, &domain, &pattern, move |_, row| {
        if contact_info.is_some() {
            row.contact_info = contact_info;
        }
        if description.is_some() {
            row.description = description;
        }
        Ok(())
    })
    .await?;
    ok(json!({ "packageGroup": describe_now(&context, &domain, &pattern).await? }))
}

pub(super) async fn delete_package_group(context: Context<'_>) -> Result<Response, ApiError> {
    let domain = domain(&context, "DeletePackageGroup", Permission::Admin)?;
    let pattern = pattern_in_query(&context)?;
    if pattern == groups::ROOT {
        return Err(ApiError::validation(format!(
            "The root package group {} of domain {domain} cannot be deleted; change its origin configuration instead",
            groups::ROOT
        )));
    }
    let described = describe_now(&context, &domain, &pattern).await?;
    let (lookup_domain, lookup_pattern) = (domain.clone(), pattern.clone());
    let deleted = context
        .state
        .store
        .with(move |connection| -> Result<bool, ApiError> {
            let transaction = store::write_transaction(connection)?;
            if store::package_group(&transaction, &lookup_domain, &lookup_pattern)?.is_none() {
                return Ok(false);
            }
            store::delete_package_group(&transaction, &lookup_domain, &lookup_pattern)?;
            transaction.commit()?;
            Ok(true)
        })
        .await?;
    if !deleted {
        return Err(group_not_found(&domain, &pattern));
    }
    ok(json!({ "packageGroup": described }))
}

pub(super) async fn describe_package_group(context: Context<'_>) -> Result<Response, ApiError> {
    let domain = domain(&context, "DescribePackageGroup", Permission::Read)?;
    let pattern = pattern_in_query(&context)?;
    ok(json!({ "packageGroup": describe_now(&context, &domain, &pattern).await? }))
}

pub(super) async fn list_package_groups(context: Context<'_>) -> Result<Response, ApiError> {
    let domain = domain(&context, "ListPackageGroups", Permission::Read)?;
    let prefix = context
        .query
        .optional("prefix")
        .unwrap_or_default()
        .to_owned();
    if prefix.chars().count() > 520 || prefix.chars().any(char::is_control) {
        return Err(constraint(
            "prefix",
            &prefix,
            "Member must have length less than or equal to 520 and satisfy regular expression pattern: \\P{C}*",
        ));
    }
    let lookup = domain.clone();
    let snapshot = with_snapshot(&context, &domain, move |_, snapshot| {
        snapshot.ok_or_else(|| domain_not_found(&lookup))
    })
    .await?;
    let matching: Vec<&Group> = snapshot
        .groups
        .all()
        .iter()
        .filter(|group| group.row.pattern.starts_with(&prefix))
        .collect();
    let tokens = context.page_tokens("ListPackageGroups");
    let (page, next) = paginate(
        matching,
        context.query.optional("max-results"),
        context.query.optional("next-token"),
        1000,
        &tokens,
    )?;
    let items: Vec<Value> = page
        .into_iter()
        .map(|group| description(&context, &snapshot, group))
        .collect();
    ok(with_next_token(json!({ "packageGroups": items }), next))
}

pub(super) async fn list_sub_package_groups(context: Context<'_>) -> Result<Response, ApiError> {
    let domain = domain(&context, "ListSubPackageGroups", Permission::Read)?;
    let pattern = pattern_in_query(&context)?;
    let lookup = domain.clone();
    let snapshot = with_snapshot(&context, &domain, move |_, snapshot| {
        snapshot.ok_or_else(|| domain_not_found(&lookup))
    })
    .await?;
    let parent = snapshot
        .groups
        .get(&pattern)
        .ok_or_else(|| group_not_found(&domain, &pattern))?;
    let children: Vec<&Group> = snapshot
        .groups
        .all()
        .iter()
        .filter(|group| {
            snapshot
                .groups
                .parent_of(&group.pattern)
                .is_some_and(|found| found.row.pattern == parent.row.pattern)
        })
        .collect();
    let tokens = context.page_tokens("ListSubPackageGroups");
    let (page, next) = paginate(
        children,
        context.query.optional("max-results"),
        context.query.optional("next-token"),
        1000,
        &tokens,
    )?;
    let items: Vec<Value> = page
        .into_iter()
        .map(|group| description(&context, &snapshot, group))
        .collect();
    ok(with_next_token(json!({ "packageGroups": items }), next))
}

/// `addAllowedRepositories` / `removeAllowedRepositories`: `(restriction, repository)`.
fn allowed_repository_list(
    body: &Value,
    member: &str,
) -> Result<Vec<(RestrictionType, String)>, ApiError> {
    let Some(list) = body.get(member) else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| ApiError::cannot_parse(format!("`{member}` must be a list")))?;
    list.iter()
        .map(|entry| {
            let repository = entry
                .get("repositoryName")
                .and_then(Value::as_str)
                .ok_or_else(|| null_member(&format!("{member}.member.repositoryName")))?;
            super::validate_repository_name(repository)?;
            let kind = entry
                .get("originRestrictionType")
                .and_then(Value::as_str)
                .ok_or_else(|| null_member(&format!("{member}.member.originRestrictionType")))?;
            let kind = RestrictionType::parse(kind).ok_or_else(|| {
                constraint(
                    &format!("{member}.member.originRestrictionType"),
                    kind,
                    "Member must satisfy enum value set: [EXTERNAL_UPSTREAM, INTERNAL_UPSTREAM, PUBLISH]",
                )
            })?;
            Ok((kind, repository.to_owned()))
        })
        .collect()
}

pub(super) async fn update_origin_configuration(
    context: Context<'_>,
) -> Result<Response, ApiError> {
    let domain = domain(
        &context,
        "UpdatePackageGroupOriginConfiguration",
        Permission::Admin,
    )?;
    let pattern = pattern_in_query(&context)?;
    let body = context.json_body()?;
    let mut restrictions = Vec::new();
    if let Some(map) = body.get("restrictions") {
        let map = map
            .as_object()
            .ok_or_else(|| ApiError::cannot_parse("`restrictions` must be a map"))?;
        for (kind, mode) in map {
            let parsed_kind = RestrictionType::parse(kind).ok_or_else(|| {
                constraint(
                    "restrictions",
                    kind,
                    "Map keys must satisfy enum value set: [EXTERNAL_UPSTREAM, INTERNAL_UPSTREAM, PUBLISH]",
                )
            })?;
            let mode = mode.as_str().unwrap_or_default();
            let parsed_mode = Mode::parse(mode).ok_or_else(|| {
                constraint(
                    &format!("restrictions.{kind}.member"),
                    mode,
                    "Member must satisfy enum value set: [ALLOW, ALLOW_SPECIFIC_REPOSITORIES, BLOCK, INHERIT]",
                )
            })?;
            if parsed_mode == Mode::Inherit && pattern == groups::ROOT {
                return Err(ApiError::validation(format!(
                    "The root package group {} has no parent to inherit {kind} from; set ALLOW, BLOCK or ALLOW_SPECIFIC_REPOSITORIES",
                    groups::ROOT
                )));
            }
            restrictions.push((parsed_kind, parsed_mode));
        }
    }
    let added = allowed_repository_list(&body, "addAllowedRepositories")?;
    let removed = allowed_repository_list(&body, "removeAllowedRepositories")?;
    let mut updates: BTreeMap<&str, BTreeMap<&str, Vec<String>>> = BTreeMap::new();
    for (entries, label) in [(&added, "ADDED"), (&removed, "REMOVED")] {
        for (kind, repository) in entries {
            let list = updates
                .entry(kind.name())
                .or_default()
                .entry(label)
                .or_default();
            if !list.contains(repository) {
                list.push(repository.clone());
            }
        }
    }
    let (lookup_domain, lookup_pattern) = (domain.clone(), pattern.clone());
    change_group(&context, &domain, &pattern, move |connection, row| {
        for (kind, mode) in restrictions {
            kind.set_mode(row, mode);
        }
        for (kind, repository) in &added {
            if store::repository(connection, &lookup_domain, repository)?.is_none() {
                return Err(ApiError::not_found(
                    format!("Repository {repository} does not exist in domain {lookup_domain}"),
                    repository,
                    "repository",
                ));
            }
            store::set_package_group_repository(
                connection,
                &lookup_domain,
                &lookup_pattern,
                kind.name(),
                repository,
                true,
            )?;
        }
        for (kind, repository) in &removed {
            store::set_package_group_repository(
                connection,
                &lookup_domain,
                &lookup_pattern,
                kind.name(),
                repository,
                false,
            )?;
        }
        Ok(())
    })
    .await?;
    ok(json!({
        "packageGroup": describe_now(&context, &domain, &pattern).await?,
        "allowedRepositoryUpdates": updates,
    }))
}

pub(super) async fn get_associated_package_group(
    context: Context<'_>,
) -> Result<Response, ApiError> {
    let domain = domain(&context, "GetAssociatedPackageGroup", Permission::Read)?;
    let format = context.query.required("format")?.to_owned();
    super::validate_format(&format)?;
    let package = context.query.required("package")?.to_owned();
    super::validate_field("package", &package)?;
    let namespace = context
        .query
        .optional("namespace")
        .unwrap_or_default()
        .to_owned();
    if !namespace.is_empty() {
        super::validate_field("namespace", &namespace)?;
    }
    let lookup = domain.clone();
    let snapshot = with_snapshot(&context, &domain, move |_, snapshot| {
        snapshot.ok_or_else(|| domain_not_found(&lookup))
    })
    .await?;
    let (group, strength) = snapshot.groups.associated(&format, &namespace, &package);
    ok(json!({
        "packageGroup": description(&context, &snapshot, group),
        "associationType": strength.name(),
    }))
}

pub(super) async fn list_allowed_repositories(context: Context<'_>) -> Result<Response, ApiError> {
    let domain = domain(
        &context,
        "ListAllowedRepositoriesForGroup",
        Permission::Read,
    )?;
    let pattern = pattern_in_query(&context)?;
    let kind_text = context.query.required("originRestrictionType")?;
    let kind = RestrictionType::parse(kind_text).ok_or_else(|| {
        constraint(
            "originRestrictionType",
            kind_text,
            "Member must satisfy enum value set: [EXTERNAL_UPSTREAM, INTERNAL_UPSTREAM, PUBLISH]",
        )
    })?;
    let lookup = domain.clone();
    let snapshot = with_snapshot(&context, &domain, move |_, snapshot| {
        snapshot.ok_or_else(|| domain_not_found(&lookup))
    })
    .await?;
    if snapshot.groups.get(&pattern).is_none() {
        return Err(group_not_found(&domain, &pattern));
    }
    let tokens = context.page_tokens("ListAllowedRepositoriesForGroup");
    let (page, next) = paginate(
        snapshot.allowed(&pattern, kind).to_vec(),
        context.query.optional("max-results"),
        context.query.optional("next-token"),
        1000,
        &tokens,
    )?;
    ok(with_next_token(
        json!({ "allowedRepositories": page }),
        next,
    ))
}

pub(super) async fn list_associated_packages(context: Context<'_>) -> Result<Response, ApiError> {
    let domain = domain(&context, "ListAssociatedPackages", Permission::Read)?;
    let pattern = pattern_in_query(&context)?;
    let preview = match context.query.optional("preview") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(constraint("preview", other, "Member must be a boolean"));
        }
    };
    let lookup = domain.clone();
    let (mut snapshot, packages) = with_snapshot(&context, &domain, move |connection, snapshot| {
        let snapshot = snapshot.ok_or_else(|| domain_not_found(&lookup))?;
        let packages = store::domain_packages(connection, &lookup)?;
        Ok((snapshot, packages))
    })
    .await?;
    if snapshot.groups.get(&pattern).is_none() {
        if !preview {
            return Err(group_not_found(&domain, &pattern));
        }
        // What would be associated if the group existed: add it, as a creation would.
        let mut row = groups::root_row(&domain, 0.0);
        row.pattern.clone_from(&pattern);
        snapshot.groups = snapshot.groups.with(Group {
            pattern: parse_pattern(&pattern)?,
            row,
        });
    }
    let associated: Vec<Value> = packages
        .iter()
        .filter_map(|package| {
            let (group, strength) =
                snapshot
                    .groups
                    .associated(&package.format, &package.namespace, &package.package);
            (group.row.pattern == pattern).then(|| {
                let mut value = json!({
                    "format": package.format,
                    "package": package.package,
                    "associationType": strength.name(),
                });
                if !package.namespace.is_empty() {
                    value["namespace"] = json!(package.namespace);
                }
                value
            })
        })
        .collect();
    let tokens = context.page_tokens("ListAssociatedPackages");
    let (page, next) = paginate(
        associated,
        context.query.optional("max-results"),
        context.query.optional("next-token"),
        1000,
        &tokens,
    )?;
    ok(with_next_token(json!({ "packages": page }), next))
}
