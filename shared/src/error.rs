//! Every error a request can end in, and the one place where errors become HTTP responses.
//!
//! The wire shape is the platform's existing one: `{"message": "...", "details": ["field: reason"]}`.
//! Internal errors are logged with their cause and answered with a generic message: no stack
//! trace, no SDK error text reaches a caller.

use http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::storage::StoreError;

/// A failed request. Handlers return this; [`ApiError::into_response`] is the only mapping to
/// status codes.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed or breaks a rule (400). `details` name the fields at fault.
    #[error("{message}")]
    BadRequest {
        message: String,
        details: Vec<String>,
    },
    /// No credentials, or credentials that are not valid (401).
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller is known but may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// The addressed resource does not exist, or the caller may not learn that it does (404).
    #[error("{0}")]
    NotFound(String),
    /// Anything the caller cannot fix (500). The source is logged, never returned.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// One field's problem, rendered as `"field: reason"` in `details`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    message: &'a str,
    details: &'a [String],
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest {
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// A 400 for a request whose fields failed validation.
    pub fn invalid_fields(errors: Vec<FieldError>) -> Self {
        Self::BadRequest {
            message: "The request is invalid.".to_owned(),
            details: errors.iter().map(ToString::to_string).collect(),
        }
    }

    pub fn internal(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(error))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn into_response(self) -> Response<Body> {
        let status = self.status();
        let message = match &self {
            Self::Internal(source) => {
                tracing::error!(error = %source, debug = ?source, "request failed");
                "An internal error occurred on the server.".to_owned()
            }
            other => {
                tracing::info!(status = status.as_u16(), error = %other, "request refused");
                other.to_string()
            }
        };
        let details: &[String] = match &self {
            Self::BadRequest { details, .. } => details,
            _ => &[],
        };
        let body = serde_json::to_string(&ErrorBody {
            message: &message,
            details,
        })
        .unwrap_or_else(|_| {
            r#"{"message":"An internal error occurred on the server.","details":[]}"#.to_owned()
        });
        let mut response = crate::http::json_response(status, body);
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        Self::internal(error)
    }
}
