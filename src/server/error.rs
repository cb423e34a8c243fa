//! Error responses, shaped as each protocol's clients expect them.
//!
//! Control plane: AWS rest-json errors, with the code in both the `x-amzn-ErrorType` header
//! and the body's `__type` (botocore reads the header first; other SDKs read the body), the
//! status code of the botocore model, and an `x-amzn-RequestId`.
//! Data planes: `{"error": "..."}` with a plain status, which npm prints as `E401` etc.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::ingest::BodyError;
use super::store::StoreError;

/// An AWS-style API error.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Error shape name, e.g. `ResourceNotFoundException`.
    pub code: &'static str,
    /// Human message.
    pub message: String,
    /// Extra body fields (`resourceId`, `resourceType`, `reason`).
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            fields: serde_json::Map::new(),
        }
    }

    fn field(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.fields.insert(key.to_owned(), value.into());
        self
    }

    /// 400 `ValidationException` with reason `FIELD_VALIDATION_FAILED`.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "ValidationException", message)
            .field("reason", "FIELD_VALIDATION_FAILED")
    }

    /// 400 `ValidationException` with reason `CANNOT_PARSE`.
    pub fn cannot_parse(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "ValidationException", message)
            .field("reason", "CANNOT_PARSE")
    }

    /// 404 `ResourceNotFoundException`.
    pub fn not_found(message: impl Into<String>, resource_id: &str, resource_type: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "ResourceNotFoundException", message)
            .field("resourceId", resource_id)
            .field("resourceType", resource_type)
    }

    /// 409 `ConflictException`.
    pub fn conflict(message: impl Into<String>, resource_id: &str, resource_type: &str) -> Self {
        Self::new(StatusCode::CONFLICT, "ConflictException", message)
            .field("resourceId", resource_id)
            .field("resourceType", resource_type)
    }

    /// 402 `ServiceQuotaExceededException` (the model's status for it).
    pub fn quota_exceeded(
        message: impl Into<String>,
        resource_id: &str,
        resource_type: &str,
    ) -> Self {
        Self::new(
            StatusCode::PAYMENT_REQUIRED,
            "ServiceQuotaExceededException",
            message,
        )
        .field("resourceId", resource_id)
        .field("resourceType", resource_type)
    }

    /// 403 `AccessDeniedException`.
    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "AccessDeniedException", message)
    }

    /// 403 `MissingAuthenticationTokenException` (no `Authorization` header).
    #[must_use]
    pub fn missing_authentication() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        )
    }

    /// 403 `UnrecognizedClientException` (unknown access key).
    #[must_use]
    pub fn unrecognized_client() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )
    }

    /// 403 `InvalidClientTokenId`: the request carries a session token this server did not
    /// issue (it issues none: every principal has long-term keys).
    #[must_use]
    pub fn invalid_client_token_id() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        )
    }

    /// 400 `XAmzContentSHA256Mismatch`: the signed `x-amz-content-sha256` is not the body's.
    #[must_use]
    pub fn content_sha256_mismatch() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "XAmzContentSHA256Mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )
    }

    /// 403 `InvalidSignatureException`.
    pub fn invalid_signature(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "InvalidSignatureException", message)
    }

    /// 403 `IncompleteSignatureException` (malformed `Authorization`).
    pub fn incomplete_signature(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "IncompleteSignatureException",
            message,
        )
    }

    /// 404 `UnknownOperationException`.
    #[must_use]
    pub fn unknown_operation() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            "The requested operation is not recognized by the service.",
        )
    }

    /// A request body refused before or while reading it: 413 `RequestEntityTooLargeException`,
    /// 408 `RequestTimeoutException`, else `ValidationException` with `status`.
    pub fn body(status: StatusCode, message: impl Into<String>) -> Self {
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "RequestEntityTooLargeException",
            StatusCode::REQUEST_TIMEOUT => "RequestTimeoutException",
            StatusCode::INTERNAL_SERVER_ERROR => "InternalServerException",
            _ => "ValidationException",
        };
        Self::new(status, code, message)
    }

    /// 500 `InternalServerException`.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerException",
            message,
        )
    }
}

/// Seconds a client is told to wait (`Retry-After`) when storage is away for a while.
pub const RETRY_AFTER_SECONDS: u32 = 5;

/// Whether a storage failure is the object store being away (503 and `Retry-After`, the
/// client may retry) rather than a fault of this server (500).
fn unavailable(error: &StoreError) -> bool {
    match error {
        StoreError::ObjectStore(super::object_store::ObjectStoreError::Request { .. }) => true,
        StoreError::Index(error) => error.is_unavailable(),
        _ => false,
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        tracing::error!(error = %error, source = ?std::error::Error::source(&error), "storage failure");
        if unavailable(&error) {
            return Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailableException",
                format!("storage is unavailable, retry later: {error}"),
            );
        }
        Self::internal(format!("internal storage error: {error}"))
    }
}

impl From<super::index::Error> for ApiError {
    fn from(error: super::index::Error) -> Self {
        Self::from(StoreError::from(error))
    }
}

/// A fresh request id (uuid-shaped, random).
#[must_use]
pub fn request_id() -> String {
    let bytes: [u8; 16] = rand::random();
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = self.fields;
        body.insert("__type".to_owned(), self.code.into());
        body.insert("message".to_owned(), self.message.into());
        let mut response =
            (self.status, axum::Json(serde_json::Value::Object(body))).into_response();
        let headers = response.headers_mut();
        headers.insert("x-amzn-ErrorType", HeaderValue::from_static(self.code));
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert("retry-after", HeaderValue::from(RETRY_AFTER_SECONDS));
        }
        if let Ok(value) = HeaderValue::from_str(&request_id()) {
            headers.insert("x-amzn-RequestId", value);
        }
        response
    }
}

/// A data-plane (npm, generic) error: `{"error": "..."}`.
#[derive(Debug)]
pub struct DataError {
    /// HTTP status.
    pub status: StatusCode,
    /// Message.
    pub message: String,
}

impl DataError {
    /// Any status.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 405, for a method the path does not take.
    pub fn method_not_allowed(method: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{method} is not supported here"),
        )
    }
}

impl From<StoreError> for DataError {
    fn from(error: StoreError) -> Self {
        tracing::error!(error = %error, source = ?std::error::Error::source(&error), "storage failure");
        if unavailable(&error) {
            return Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("storage is unavailable, retry later: {error}"),
            );
        }
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal storage error: {error}"),
        )
    }
}

impl From<BodyError> for DataError {
    fn from(error: BodyError) -> Self {
        if let BodyError::Io(source) = &error {
            tracing::error!(error = %source, "failed to write an upload to its temp file");
        }
        Self::new(error.status(), error.to_string())
    }
}

impl From<BodyError> for ApiError {
    fn from(error: BodyError) -> Self {
        if let BodyError::Io(source) = &error {
            tracing::error!(error = %source, "failed to write an upload to its temp file");
        }
        ApiError::body(error.status(), error.to_string())
    }
}

impl From<super::index::Error> for DataError {
    fn from(error: super::index::Error) -> Self {
        Self::from(StoreError::from(error))
    }
}

impl IntoResponse for DataError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            axum::Json(serde_json::json!({ "error": self.message })),
        )
            .into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(RETRY_AFTER_SECONDS));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                "www-authenticate",
                HeaderValue::from_static("Bearer realm=\"lading\", Basic realm=\"lading\""),
            );
        }
        response
    }
}
