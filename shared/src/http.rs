//! Request parsing and response building shared by every HTTP function.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{ApiError, FieldError};

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

pub fn no_content() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// Turns a handler's outcome into the response, errors through [`ApiError::into_response`].
pub fn respond(result: Result<Response<Body>, ApiError>) -> Response<Body> {
    result.unwrap_or_else(ApiError::into_response)
}

/// The body as a JSON object whose keys are all in `allowed`. Every problem is a 400 that
/// names it: no body, too large, not JSON, not an object, fields that are read-only or unknown.
pub fn json_object(
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
