//! Blobs in an S3-compatible object store: `lading serve --blobs s3://BUCKET/PREFIX`.
//!
//! With an object store the bucket is where blobs live, and the data directory's
//! `blobs-v1/` becomes this node's cache of it. Blobs are named by their SHA-256, so a cached
//! copy can never be stale: a node that lacks a blob fetches it, checks that it hashes to
//! its name, and only then keeps it ([`super::store::Store::open_blob`]).
//!
//! Keys: `PREFIX/sha256/ab/abcdef…`, the same layout as the local directory. Writes are
//! conditional (`If-None-Match: *`), so two nodes placing the same blob at once leave one
//! object, and they carry `x-amz-checksum-sha256`, so the object store itself refuses a body
//! that does not hash to the name before the index names it.
//!
//! Endpoint, region and credentials come from the AWS chain exactly as the AWS SDKs read
//! them: `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` (or `endpoint_url` in the profile),
//! `AWS_REGION`, `AWS_PROFILE`, static keys, SSO, web identity, instance roles. When an
//! endpoint is set (a MinIO, Ceph, moto or other S3-compatible server) requests use
//! path-style addressing (`http://host/BUCKET/KEY`), which every such server accepts;
//! against AWS itself, virtual-hosted addressing.
//!
//! What is not here: the index (domains, versions, assets) stays in the data directory's
//! SQLite file, so one node per index for now.

use std::path::Path;

use aws_sdk_s3::primitives::ByteStream;
use sha2::Digest as _;

/// A failure to reach or use the object store. Requests that hit one answer 503 with
/// `Retry-After`: it is the store being away, not the request being wrong.
#[derive(Debug, thiserror::Error)]
pub enum ObjectStoreError {
    /// The `--blobs` URL is not `s3://BUCKET[/PREFIX]`.
    #[error("`{0}` is not an object store URL")]
    BadUrl(String),
    /// The object store did not answer or refused the request.
    #[error("object store `{store}`: {operation} `{key}` failed: {message}")]
    Request {
        /// `s3://bucket/prefix`.
        store: String,
        /// What was asked (`PUT`, `GET`, ...).
        operation: &'static str,
        /// The object key.
        key: String,
        /// The SDK's error, with its service code when there is one.
        message: String,
    },
    /// An object's bytes do not hash to its name.
    #[error("object store `{store}`: object `{key}` is corrupt (its content hashes to `{actual}`)")]
    Corrupt {
        /// `s3://bucket/prefix`.
        store: String,
        /// The object key.
        key: String,
        /// The digest of what was read.
        actual: String,
    },
    /// Writing the fetched copy to local disk failed.
    #[error("failed to cache a blob from the object store on local disk")]
    Io(#[from] std::io::Error),
}

/// Finds this module's errors in an error chain (see [`crate::diagnostics::Probe`]).
pub fn diagnostic(
    error: &crate::diagnostics::Cause,
) -> Option<&dyn crate::diagnostics::Diagnostic> {
    crate::diagnostics::as_diagnostic::<ObjectStoreError>(error)
}

impl crate::diagnostics::Diagnostic for ObjectStoreError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            Self::BadUrl(_) => "write it as `s3://BUCKET` or `s3://BUCKET/PREFIX`".to_owned(),
            Self::Request { .. } => "check that the bucket exists and that the AWS credentials \
                 and endpoint lading sees can write it: `AWS_ENDPOINT_URL_S3` (or \
                 `AWS_ENDPOINT_URL`) for an S3-compatible server, `AWS_REGION`, `AWS_PROFILE` \
                 or `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`"
                .to_owned(),
            Self::Corrupt { .. } => "the object was changed outside lading; delete it and \
                 publish the version again, or restore it from a backup"
                .to_owned(),
            Self::Io(_) => "check free space and permissions of the data directory".to_owned(),
        })
    }
}

/// An S3 bucket (and key prefix) holding blobs.
#[derive(Clone)]
pub struct ObjectStore {
    client: aws_sdk_s3::Client,
    bucket: String,
    /// Empty or ending in `/`.
    prefix: String,
    /// `s3://bucket/prefix`, for messages.
    display: String,
}

impl std::fmt::Debug for ObjectStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ObjectStore")
            .field("store", &self.display)
            .finish_non_exhaustive()
    }
}

/// Split `s3://BUCKET[/PREFIX]` into the bucket and a prefix that is empty or ends in `/`.
///
/// # Errors
/// Any other scheme, or no bucket.
pub fn parse_url(url: &str) -> Result<(String, String), ObjectStoreError> {
    let bad = || ObjectStoreError::BadUrl(url.to_owned());
    let rest = url.strip_prefix("s3://").ok_or_else(bad)?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() || bucket.contains(['?', '#', ' ']) {
        return Err(bad());
    }
    let prefix = prefix.trim_matches('/');
    let prefix = if prefix.is_empty() {
        String::new()
    } else {
        format!("{prefix}/")
    };
    Ok((bucket.to_owned(), prefix))
}

impl ObjectStore {
    /// Connect to `url` (`s3://BUCKET[/PREFIX]`) with the AWS chain's configuration, and
    /// check that the bucket answers.
    ///
    /// # Errors
    /// A bad URL, or a bucket that cannot be reached.
    pub async fn connect(url: &str) -> Result<Self, ObjectStoreError> {
        let (bucket, prefix) = parse_url(url)?;
        let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        let custom_endpoint = shared.endpoint_url().is_some()
            || crate::env_vars::EnvVars::get(crate::env_vars::EnvVars::AWS_ENDPOINT_URL_S3)
                .is_some();
        let config = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(custom_endpoint)
            .timeout_config(timeouts(0))
            .build();
        let store = Self {
            client: aws_sdk_s3::Client::from_conf(config),
            display: format!("s3://{bucket}/{prefix}"),
            bucket,
            prefix,
        };
        store.ready().await?;
        Ok(store)
    }

    /// `s3://bucket/prefix/`, for messages.
    #[must_use]
    pub fn display(&self) -> &str {
        &self.display
    }

    fn key(&self, sha256: &str) -> String {
        format!("{}sha256/{}/{sha256}", self.prefix, &sha256[..2])
    }

    fn failed(
        &self,
        operation: &'static str,
        key: &str,
        error: &impl std::error::Error,
    ) -> ObjectStoreError {
        ObjectStoreError::Request {
            store: self.display.clone(),
            operation,
            key: key.to_owned(),
            message: crate::diagnostics::one_line(error),
        }
    }

    /// Whether the bucket answers (`HeadBucket`): what `/readyz` asks.
    ///
    /// # Errors
    /// When it does not.
    pub async fn ready(&self) -> Result<(), ObjectStoreError> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|error| self.failed("HEAD bucket", "", &error))?;
        Ok(())
    }

    /// Upload the verified local blob at `path` as `sha256`, unless the store has it.
    /// The write is conditional and carries the SHA-256, so the store keeps exactly one
    /// object per name and refuses bytes that do not match it.
    ///
    /// # Errors
    /// The store is unreachable or refuses the write.
    pub async fn put(&self, sha256: &str, path: &Path) -> Result<(), ObjectStoreError> {
        use base64::Engine as _;
        let key = self.key(sha256);
        if self.exists(&key).await? {
            return Ok(());
        }
        let body = ByteStream::from_path(path)
            .await
            .map_err(|error| self.failed("read for PUT", &key, &error))?;
        let length = body.size_hint().0;
        let checksum = base64::engine::general_purpose::STANDARD
            .encode(hex::decode(sha256).map_err(|error| self.failed("PUT", &key, &error))?);
        match self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .if_none_match("*")
            .checksum_sha256(checksum)
            .body(body)
            .customize()
            .config_override(
                aws_sdk_s3::config::Builder::default().timeout_config(timeouts(length)),
            )
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // Another node (or request) wrote it first: same name, same bytes.
            Err(error) if status_of(&error) == Some(412) => Ok(()),
            Err(error) => Err(self.failed("PUT", &key, &error)),
        }
    }

    async fn exists(&self, key: &str) -> Result<bool, ObjectStoreError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(error) if status_of(&error) == Some(404) => Ok(false),
            Err(error) => Err(self.failed("HEAD", key, &error)),
        }
    }

    /// Download `sha256` into a new temp file in `tmp_dir`, checking as it streams that the
    /// bytes hash to the name. `None` when the store has no such object.
    ///
    /// # Errors
    /// The store is unreachable, or the object is corrupt.
    pub async fn fetch(
        &self,
        sha256: &str,
        tmp_dir: &Path,
    ) -> Result<Option<tempfile::NamedTempFile>, ObjectStoreError> {
        use std::io::Write as _;
        let key = self.key(sha256);
        let response = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
        {
            Ok(response) => response,
            Err(error) if status_of(&error) == Some(404) => return Ok(None),
            Err(error) => return Err(self.failed("GET", &key, &error)),
        };
        let mut body = response.body;
        let mut temp = tempfile::Builder::new()
            .prefix("fetch-")
            .tempfile_in(tmp_dir)?;
        let mut hasher = sha2::Sha256::new();
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(|error| self.failed("GET", &key, &error))?
        {
            hasher.update(&chunk);
            temp.write_all(&chunk)?;
        }
        let actual = hex::encode(hasher.finalize());
        if actual != sha256 {
            return Err(ObjectStoreError::Corrupt {
                store: self.display.clone(),
                key,
                actual,
            });
        }
        temp.as_file().sync_all()?;
        Ok(Some(temp))
    }

    /// Delete `sha256`'s object (no error when it is already gone).
    ///
    /// # Errors
    /// The store is unreachable or refuses.
    pub async fn delete(&self, sha256: &str) -> Result<(), ObjectStoreError> {
        let key = self.key(sha256);
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
            .map_err(|error| self.failed("DELETE", &key, &error))?;
        Ok(())
    }

    /// Every blob in the store with the time it was written.
    ///
    /// # Errors
    /// The store is unreachable.
    pub async fn list(&self) -> Result<Vec<(String, std::time::SystemTime)>, ObjectStoreError> {
        let prefix = format!("{}sha256/", self.prefix);
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&prefix)
            .into_paginator()
            .send();
        let mut blobs = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| self.failed("LIST", &prefix, &error))?;
            for object in page.contents() {
                let Some(name) = object.key().and_then(|key| key.rsplit('/').next()) else {
                    continue;
                };
                if name.len() != 64 || !name.bytes().all(|byte| byte.is_ascii_hexdigit()) {
                    continue;
                }
                let written = object
                    .last_modified()
                    .and_then(|time| std::time::SystemTime::try_from(*time).ok())
                    .unwrap_or_else(std::time::SystemTime::now);
                blobs.push((name.to_owned(), written));
            }
        }
        Ok(blobs)
    }
}

/// How long to wait for the store to start answering before an attempt is given up (and
/// retried by the SDK, then reported as the store being away: 503 with `Retry-After`).
pub const ANSWER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);
/// How long to wait for a connection to the store.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Timeouts for a request that sends `upload` bytes. The SDK's read timeout runs from the
/// start of the request to the first byte of the answer, so an upload gets
/// [`ANSWER_TIMEOUT`] plus one second per MiB (the bytes must go out before the store can
/// answer). Without them a store that accepts connections but never answers (a paused
/// process, a black-holed route) would hold a request forever.
fn timeouts(upload: u64) -> aws_sdk_s3::config::timeout::TimeoutConfig {
    aws_sdk_s3::config::timeout::TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(ANSWER_TIMEOUT + std::time::Duration::from_secs(upload / (1024 * 1024)))
        .build()
}

/// The HTTP status of a failed SDK call, when a response came back.
fn status_of<E>(
    error: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> Option<u16> {
    error
        .raw_response()
        .map(|response| response.status().as_u16())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_bucket_and_an_optional_prefix() {
        assert_eq!(
            parse_url("s3://blobs").unwrap(),
            ("blobs".to_owned(), String::new())
        );
        assert_eq!(
            parse_url("s3://blobs/lading/prod/").unwrap(),
            ("blobs".to_owned(), "lading/prod/".to_owned())
        );
        assert!(parse_url("https://blobs").is_err());
        assert!(parse_url("s3:///prefix").is_err());
    }
}
