//! Every error a request can end in. The HTTP layer ([`crate::http::error_response`]) is the
//! one place where they become status codes and bodies.
//!
//! The wire shape is the platform's existing one: `{"message": "...", "details": ["field: reason"]}`.
//! Internal errors are logged with their cause and answered with a generic message: no stack
//! trace, no SDK error text reaches a caller.

use crate::domain::change::Refusal;
use crate::domain::{FieldError, Rejection};
use crate::storage::StoreError;

/// A failed request. Handlers return this.
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
    /// A limit was reached (429, with `Retry-After` in seconds).
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after_seconds: u64,
    },
    /// The thing addressed is no longer usable: an expired invitation (410).
    #[error("{0}")]
    Gone(String),
    /// `If-Match` named a version that is not current (412).
    #[error("{0}")]
    PreconditionFailed(String),
    /// An `Idempotency-Key` was used before with other parameters (422).
    #[error("{0}")]
    Unprocessable(String),
    /// A change was refused by what is stored, and the handler did not say more (409).
    #[error("The request conflicts with the current state ({0:?}).")]
    Refused(Refusal),
    /// A dependency (DynamoDB) could not take the request now: throttled, timed out, not
    /// reachable (503, with `Retry-After`). Nothing was written. The source is logged.
    #[error("The service is briefly unavailable; please retry shortly.")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Anything the caller cannot fix (500). The source is logged, never returned.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
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
        Rejection::fields(errors).into()
    }

    pub fn internal(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(error))
    }
}

impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> Self {
        match rejection {
            Rejection::Invalid { message, details } => Self::BadRequest { message, details },
            Rejection::Forbidden(message) => Self::Forbidden(message),
            Rejection::NotFound(message) => Self::NotFound(message),
            Rejection::TooMany {
                message,
                retry_after_seconds,
            } => Self::TooManyRequests {
                message,
                retry_after_seconds,
            },
            Rejection::Gone(message) => Self::Gone(message),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Refused(refusal) => Self::Refused(refusal),
            unavailable @ StoreError::Unavailable(_) => Self::Unavailable(Box::new(unavailable)),
            other => Self::internal(other),
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(error: FieldError) -> Self {
        Self::invalid_fields(vec![error])
    }
}
