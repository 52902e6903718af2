//! Request parsing and response building shared by every HTTP function.

use http::StatusCode;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::domain::input::RequestBody;
use crate::domain::FieldError;
use crate::error::ApiError;

/// Bodies larger than this are refused before parsing (API Gateway would accept 10 MB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn json_response(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

pub fn ok_json<T: Serialize>(value: &T) -> Result<Response<Body>, ApiError> {
    let body = serde_json::to_string(value).map_err(ApiError::internal)?;
    Ok(json_response(StatusCode::OK, body))
}

/// 200 without a body (the contract's "No Content" for POST .../members).
pub fn ok_empty() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::OK;
    response
}

/// 202 without a body: accepted, the rest (a mail) follows.
pub fn accepted() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::ACCEPTED;
    response
}

pub fn no_content() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// A strong entity tag (RFC 9110 §8.8.3) for a resource at a version: quoted, and different
/// for every version of every resource (so a slug deleted and taken again does not match).
pub fn entity_tag(identity: impl std::fmt::Display, version: u64) -> String {
    format!("\"{identity}.{version}\"")
}

/// Whether a conditional header's value (`*`, or a comma-separated list of tags; `W/` weak
/// tags compare by their opaque part, as `If-None-Match` does) names `current`.
fn tag_matches(header: &str, current: &str) -> bool {
    header.trim() == "*"
        || header
            .split(',')
            .map(|tag| tag.trim().trim_start_matches("W/"))
            .any(|tag| tag == current)
}

/// `If-None-Match` holds the current tag: the client's copy is current (304).
pub fn not_modified(request: &Request, current: &str) -> bool {
    request
        .headers()
        .get(http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|header| tag_matches(header, current))
}

/// The request's `If-Match`, if it has one (`*` matches any existing resource).
pub fn if_match(request: &Request) -> Option<String> {
    request
        .headers()
        .get(http::header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// 412 unless `if_match` (when given) names `current`. Strong comparison: a weak tag never
/// matches.
pub fn check_if_match(if_match: Option<&str>, current: &str) -> Result<(), ApiError> {
    match if_match {
        Some(header)
            if header.trim() != "*" && !header.split(',').any(|tag| tag.trim() == current) =>
        {
            Err(ApiError::PreconditionFailed(
                "The resource has changed since the version named in If-Match; read it again."
                    .to_owned(),
            ))
        }
        _ => Ok(()),
    }
}

/// `response` with its `ETag`.
pub fn with_entity_tag(mut response: Response<Body>, tag: &str) -> Response<Body> {
    if let Ok(value) = http::HeaderValue::from_str(tag) {
        response.headers_mut().insert(http::header::ETAG, value);
    }
    response
}

/// 304 Not Modified: no body, the tag.
pub fn not_modified_response(tag: &str) -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NOT_MODIFIED;
    with_entity_tag(response, tag)
}

/// The header that carries the request id on every response.
pub const REQUEST_ID: &str = "x-request-id";

/// The request's id: API Gateway's `requestContext.requestId` (in AWS, and in the events
/// `cargo lambda watch` builds locally); a fresh one when an event has none.
pub fn request_id(request: &Request) -> String {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
        _ => None,
    }
    .filter(|id| !id.is_empty())
    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Turns a handler's outcome into the response, errors through [`error_response`], with the
/// request's id in the `x-request-id` header (and in error bodies).
pub fn respond(request: &Request, result: Result<Response<Body>, ApiError>) -> Response<Body> {
    let id = request_id(request);
    let mut response = result.unwrap_or_else(|error| error_response(error, &id));
    if let Ok(value) = http::HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// `Retry-After` of a 503: the SDK has retried with backoff already, so a second is enough for
/// a throttled partition or a brief network fault to pass.
pub const UNAVAILABLE_RETRY_AFTER_SECONDS: u64 = 1;

/// The one mapping of errors to status codes.
pub fn status_of(error: &ApiError) -> StatusCode {
    match error {
        ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
        ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
        ApiError::NotFound(_) => StatusCode::NOT_FOUND,
        ApiError::Gone(_) => StatusCode::GONE,
        ApiError::Refused(_) => StatusCode::CONFLICT,
        ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
        ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
        ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody<'a> {
    message: &'a str,
    details: &'a [String],
    /// The request's id, as in the `x-request-id` header and the logs.
    request_id: &'a str,
}

/// The response for `error`: its status, `{message, details}`, and for 401 the
/// `WWW-Authenticate` challenge. Internal errors are logged with their cause, answered with a
/// generic message.
pub fn error_response(error: ApiError, request_id: &str) -> Response<Body> {
    let status = status_of(&error);
    let message = match &error {
        ApiError::Internal(source) => {
            tracing::error!(error = %source, debug = ?source, "request failed");
            "An internal error occurred on the server.".to_owned()
        }
        ApiError::Unavailable(source) => {
            tracing::warn!(error = %source, debug = ?source, "dependency unavailable");
            error.to_string()
        }
        other => {
            // The message may name people (an e-mail address already a member, say): it goes
            // to the caller, and to the logs only below INFO.
            tracing::info!(status = status.as_u16(), "request refused");
            tracing::debug!(error = %other, "request refused");
            other.to_string()
        }
    };
    let details: &[String] = match &error {
        ApiError::BadRequest { details, .. } => details,
        _ => &[],
    };
    let body = serde_json::to_string(&ErrorBody {
        message: &message,
        details,
        request_id,
    })
    .unwrap_or_else(|_| {
        r#"{"message":"An internal error occurred on the server.","details":[]}"#.to_owned()
    });
    let mut response = json_response(status, body);
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer"),
        );
    }
    let retry_after = match &error {
        ApiError::TooManyRequests {
            retry_after_seconds,
            ..
        } => Some(*retry_after_seconds),
        ApiError::Unavailable(_) => Some(UNAVAILABLE_RETRY_AFTER_SECONDS),
        _ => None,
    };
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(http::header::RETRY_AFTER, http::HeaderValue::from(seconds));
    }
    response
}

/// Reads the body as `B` (a plain request struct) and converts it into `T`: the one way request
/// bodies are read. Every problem is a 400 that names it: no body, too large, not JSON, not an
/// object, fields that are read-only or unknown, and every field that does not parse.
pub fn read_body<B, T>(request: &Request) -> Result<T, ApiError>
where
    B: RequestBody,
    T: TryFrom<B, Error = Vec<FieldError>>,
{
    let object = json_object(request, B::FIELDS, B::READ_ONLY)?;
    let body: B =
        serde_json::from_value(Value::Object(object)).map_err(|e| ApiError::BadRequest {
            message: "The request body is invalid.".into(),
            details: vec![format!("body: {e}")],
        })?;
    T::try_from(body).map_err(ApiError::invalid_fields)
}

fn json_object(
    request: &Request,
    allowed: &[&str],
    read_only: &[&str],
) -> Result<Map<String, Value>, ApiError> {
    let bytes: &[u8] = match request.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::bad_request(format!(
            "The request body is larger than {MAX_BODY_BYTES} bytes."
        )));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("A JSON request body is required."));
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| ApiError::BadRequest {
        message: "The request body is not valid JSON.".into(),
        details: vec![format!("body: {e}")],
    })?;
    let Value::Object(object) = value else {
        return Err(ApiError::bad_request(
            "The request body must be a JSON object.",
        ));
    };
    let refused: Vec<FieldError> = object
        .keys()
        .filter(|k| !allowed.contains(&k.as_str()))
        .map(|k| {
            if read_only.contains(&k.as_str()) {
                FieldError::new(k, "is read-only and cannot be set by this request")
            } else {
                FieldError::new(
                    k,
                    format!(
                        "is not a field of this request (expected: {})",
                        allowed.join(", ")
                    ),
                )
            }
        })
        .collect();
    if !refused.is_empty() {
        return Err(ApiError::invalid_fields(refused));
    }
    Ok(object)
}

/// A parsed path or query value, or the 400 that says what is wrong with it.
pub fn field<T>(result: Result<T, FieldError>) -> Result<T, ApiError> {
    result.map_err(|e| ApiError::invalid_fields(vec![e]))
}
