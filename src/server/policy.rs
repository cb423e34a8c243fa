//! Domain and repository permissions policies: IAM resource-policy documents, parsed and
//! evaluated as IAM evaluates them for one request (principal, action, resource).
//!
//! The supported grammar is what CodeArtifact's examples use: `Version`, `Statement` (one
//! or a list) of `Effect` (`Allow` / `Deny`), `Principal` (`"*"` or `{"AWS": ARN | [ARN]}`,
//! wildcards allowed), `Action` (string or list, `*` and `?` wildcards, case-insensitive)
//! and optional `Resource` (ARN globs; the region field is not compared, since a client may
//! sign for any region). Anything else (`NotAction`, `NotPrincipal`, `NotResource`,
//! `Condition`) is refused when the policy is put rather than ignored, so a policy never
//! means less than it says. An account principal (`ACCOUNT` or `arn:aws:iam::ACCOUNT:root`)
//! delegates to the account's own permissions, as in IAM: it denies when it denies, and an
//! `Allow` to it adds nothing to a principal's grants.

use std::collections::HashMap;

use serde_json::Value;

/// Why a policy document was refused.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// Not JSON.
    #[error("the policy document is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON, but not a policy this server evaluates.
    #[error("invalid policy document: {0}")]
    Invalid(String),
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Grants.
    Allow,
    /// Refuses, whatever else grants.
    Deny,
}

/// One statement.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Statement {
    effect: Effect,
    principals: Vec<String>,
    actions: Vec<String>,
    resources: Option<Vec<String>>,
}

/// A parsed policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    statements: Vec<Statement>,
}

fn strings(value: &Value, member: &str) -> Result<Vec<String>, PolicyError> {
    match value {
        Value::String(text) => Ok(vec![text.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(ToOwned::to_owned)
                    .ok_or_else(|| PolicyError::Invalid(format!("`{member}` must hold strings")))
            })
            .collect(),
        _ => Err(PolicyError::Invalid(format!(
            "`{member}` must be a string or a list of strings"
        ))),
    }
}

impl Policy {
    /// Parse and check a document.
    ///
    /// # Errors
    /// [`PolicyError`] for anything outside the supported grammar.
    pub fn parse(document: &str) -> Result<Self, PolicyError> {
        let value: Value = serde_json::from_str(document)?;
        let object = value
            .as_object()
            .ok_or_else(|| PolicyError::Invalid("the document must be a JSON object".into()))?;
        let statements = match object.get("Statement") {
            Some(Value::Array(items)) => items.clone(),
            Some(item @ Value::Object(_)) => vec![item.clone()],
            _ => return Err(PolicyError::Invalid("`Statement` is required".into())),
        };
        let statements = statements
            .iter()
            .map(|statement| {
                let statement = statement.as_object().ok_or_else(|| {
                    PolicyError::Invalid("each statement must be an object".into())
                })?;
                for unsupported in ["NotAction", "NotPrincipal", "NotResource", "Condition"] {
                    if statement.contains_key(unsupported) {
                        return Err(PolicyError::Invalid(format!(
                            "`{unsupported}` is not supported by lading serve"
                        )));
                    }
                }
                let effect = match statement.get("Effect").and_then(Value::as_str) {
                    Some("Allow") => Effect::Allow,
                    Some("Deny") => Effect::Deny,
                    _ => {
                        return Err(PolicyError::Invalid(
                            "`Effect` must be `Allow` or `Deny`".into(),
                        ));
                    }
                };
                let principals = match statement.get("Principal") {
                    Some(Value::String(star)) if star == "*" => vec!["*".to_owned()],
                    Some(Value::Object(map)) => match map.get("AWS") {
                        Some(value) if map.len() == 1 => strings(value, "Principal.AWS")?,
                        _ => {
                            return Err(PolicyError::Invalid(
                                "`Principal` must be `*` or `{\"AWS\": ...}`".into(),
                            ));
                        }
                    },
                    _ => return Err(PolicyError::Invalid("`Principal` is required".into())),
                };
                let actions = strings(
                    statement
                        .get("Action")
                        .ok_or_else(|| PolicyError::Invalid("`Action` is required".into()))?,
                    "Action",
                )?;
                let resources = statement
                    .get("Resource")
                    .map(|value| strings(value, "Resource"))
                    .transpose()?;
                Ok(Statement {
                    effect,
                    principals,
                    actions,
                    resources,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { statements })
    }

    /// The effect this policy has on `action` by `principal_arn` on `resource_arn`: `Deny`
    /// when a matching statement denies, else `Allow` when one allows, else `None`.
    #[must_use]
    pub fn decide(
        &self,
        account: &str,
        principal_arn: &str,
        action: &str,
        resource_arn: &str,
    ) -> Option<Effect> {
        let mut decision = None;
        for statement in &self.statements {
            let named = statement.principals.iter().any(|pattern| {
                let account_principal =
                    pattern == account || pattern == &format!("arn:aws:iam::{account}:root");
                if account_principal {
                    // Delegation to the account: only a Deny takes effect here.
                    statement.effect == Effect::Deny
                } else {
                    glob(pattern, principal_arn, false)
                }
            });
            let acts = statement
                .actions
                .iter()
                .any(|pattern| glob(pattern, action, true));
            let on = statement.resources.as_ref().is_none_or(|resources| {
                resources
                    .iter()
                    .any(|pattern| arn_matches(pattern, resource_arn))
            });
            if named && acts && on {
                match statement.effect {
                    Effect::Deny => return Some(Effect::Deny),
                    Effect::Allow => decision = Some(Effect::Allow),
                }
            }
        }
        decision
    }
}

/// ARN glob match, field by field, skipping the region.
fn arn_matches(pattern: &str, arn: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let pattern_parts: Vec<&str> = pattern.splitn(6, ':').collect();
    let arn_parts: Vec<&str> = arn.splitn(6, ':').collect();
    pattern_parts.len() == 6
        && arn_parts.len() == 6
        && pattern_parts
            .iter()
            .zip(&arn_parts)
            .enumerate()
            .all(|(index, (pattern, value))| index == 3 || glob(pattern, value, false))
}

/// `*` (any run) and `?` (one character) glob.
fn glob(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let fold = |text: &str| {
        if ignore_case {
            text.to_ascii_lowercase().chars().collect::<Vec<_>>()
        } else {
            text.chars().collect()
        }
    };
    let (pattern, text) = (fold(pattern), fold(text));
    let (mut p, mut t, mut star, mut mark) = (0, 0, None, 0);
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some(p);
            mark = t;
            p += 1;
        } else if let Some(position) = star {
            p = position + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|character| *character == '*')
}

/// Every domain and repository policy of the index, as of one index generation.
#[derive(Debug, Clone, Default)]
pub struct Policies {
    /// The account the server's ARNs are in.
    account: String,
    /// By `(domain, repository)`, `repository` empty for a domain policy.
    by_resource: HashMap<(String, String), Policy>,
}

impl Policies {
    /// Build from stored `(domain, repository, document)` rows; a document that no longer
    /// parses (stored by an older version) is skipped with a warning.
    #[must_use]
    pub fn new(account: &str, rows: Vec<(String, String, String)>) -> Self {
        let mut by_resource = HashMap::new();
        for (domain, repository, document) in rows {
            match Policy::parse(&document) {
                Ok(policy) => {
                    by_resource.insert((domain, repository), policy);
                }
                Err(error) => {
                    tracing::warn!(%domain, %repository, %error, "ignoring a stored permissions policy");
                }
            }
        }
        Self {
            account: account.to_owned(),
            by_resource,
        }
    }

    /// Whether there are no policies at all (the common case: nothing to evaluate).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_resource.is_empty()
    }

    /// The combined effect of the domain's policy and (for a repository) the repository's
    /// on `action` by `principal_name`: any `Deny` wins, then any `Allow`.
    #[must_use]
    pub fn decide(
        &self,
        principal_name: &str,
        action: &str,
        domain: &str,
        repository: Option<&str>,
    ) -> Option<Effect> {
        if self.by_resource.is_empty() {
            return None;
        }
        let account = &self.account;
        let principal_arn = format!("arn:aws:iam::{account}:user/{principal_name}");
        let resource_arn = match repository {
            Some(repository) => {
                format!("arn:aws:codeartifact:*:{account}:repository/{domain}/{repository}")
            }
            None => format!("arn:aws:codeartifact:*:{account}:domain/{domain}"),
        };
        let mut decision = None;
        let mut keys = vec![(domain.to_owned(), String::new())];
        if let Some(repository) = repository {
            keys.push((domain.to_owned(), repository.to_owned()));
        }
        for key in keys {
            let Some(policy) = self.by_resource.get(&key) else {
                continue;
            };
            match policy.decide(account, &principal_arn, action, &resource_arn) {
                Some(Effect::Deny) => return Some(Effect::Deny),
                Some(Effect::Allow) => decision = Some(Effect::Allow),
                None => {}
            }
        }
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "000000000000";

    fn policies(rows: &[(&str, &str, &str)]) -> Policies {
        Policies::new(
            ACCOUNT,
            rows.iter()
                .map(|(domain, repository, document)| {
                    ((*domain).into(), (*repository).into(), (*document).into())
                })
                .collect(),
        )
    }

    #[test]
    fn deny_wins_and_allow_names_principals_actions_and_resources() {
        let repository = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/reader"},"Action":["codeartifact:ReadFromRepository","codeartifact:Describe*"],"Resource":"*"},
            {"Effect":"Deny","Principal":"*","Action":"codeartifact:PublishPackageVersion"}]}"#;
        let domain = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":{"AWS":"000000000000"},"Action":"codeartifact:DeleteRepository","Resource":"arn:aws:codeartifact:us-east-1:000000000000:repository/local/*"}}"#;
        let set = policies(&[("local", "main", repository), ("local", "", domain)]);
        let decide = |who: &str, action: &str, repository: Option<&str>| {
            set.decide(who, action, "local", repository)
        };
        assert_eq!(
            decide("reader", "codeartifact:ReadFromRepository", Some("main")),
            Some(Effect::Allow)
        );
        assert_eq!(
            decide("reader", "codeartifact:describepackage", Some("main")),
            Some(Effect::Allow)
        );
        assert_eq!(
            decide("other", "codeartifact:ReadFromRepository", Some("main")),
            None
        );
        assert_eq!(
            decide("admin", "codeartifact:PublishPackageVersion", Some("main")),
            Some(Effect::Deny)
        );
        assert_eq!(
            decide("admin", "codeartifact:DeleteRepository", Some("other")),
            Some(Effect::Deny)
        );
        assert_eq!(decide("admin", "codeartifact:DeleteDomain", None), None);
        assert_eq!(
            decide("reader", "codeartifact:ReadFromRepository", Some("other")),
            None
        );
    }

    #[test]
    fn unsupported_grammar_is_refused() {
        for document in [
            "not json",
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Condition":{}}]}"#,
            r#"{"Statement":[{"Effect":"Maybe","Principal":"*","Action":"*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","NotPrincipal":"*","Action":"*"}]}"#,
            r#"{"Version":"2012-10-17"}"#,
        ] {
            assert!(Policy::parse(document).is_err(), "{document}");
        }
        assert!(glob("codeartifact:*", "CodeArtifact:ListPackages", true));
        assert!(!glob(
            "codeartifact:List?",
            "codeartifact:ListPackages",
            true
        ));
    }
}
