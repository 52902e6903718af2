//! `Idempotency-Key` (as Stripe and the IETF draft "The Idempotency-Key HTTP Header Field"
//! define it): a retried POST with the same key, caller, route and body gets the first answer
//! again, with `Idempotent-Replayed: true`, and changes nothing. The answer is recorded in the
//! same transaction as the change it answers, so a change never happens twice: a duplicate that
//! races the first finds its record at commit (`Refusal::IdempotencyKeyUsed`) and replays it.

use chrono::{DateTime, Duration, Utc};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::domain::change::{Record, Write};
use crate::domain::records::IdempotencyRecord;
use crate::domain::{Caller, FieldError};
use crate::error::ApiError;
use crate::http::MAX_BODY_BYTES;

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED: &str = "idempotent-replayed";

/// How long an answer is kept for replay.
pub const KEEP_FOR: Duration = Duration::hours(24);

fn sha256(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The header's key: 400 unless it is 1–255 printable ASCII characters.
fn parse_key(value: &http::HeaderValue) -> Result<&str, ApiError> {
    value
        .to_str()
        .ok()
        .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| (0x20..0x7f).contains(&b)))
        .ok_or_else(|| {
            ApiError::invalid_fields(vec![FieldError::new(
                "Idempotency-Key",
                "must be 1 to 255 printable ASCII characters",
            )])
        })
}

/// A request's idempotency key, bound to its caller, route and body.
#[derive(Debug, Clone)]
pub struct Idempotency {
    key_hash: String,
    request_hash: String,
    /// The route (template), for the metric `IdempotentReplays`.
    route: &'static str,
}

impl Idempotency {
    /// The request's key: `None` without the header; 400 unless it is 1–255 printable ASCII
    /// characters.
    pub fn of(request: &Request, caller: &Caller) -> Result<Option<Self>, ApiError> {
        let Some(value) = request.headers().get(HEADER) else {
            return Ok(None);
        };
        let key = parse_key(value)?;
        let route = format!("{} {}", request.method(), request.uri().path());
        let body: &[u8] = match request.body() {
            Body::Text(text) => text.as_bytes(),
            Body::Binary(bytes) => bytes,
            _ => &[],
        };
        // The body limit comes first: a body the handler would refuse is never parsed here.
        if body.len() > MAX_BODY_BYTES {
            return Err(ApiError::bad_request(format!(
                "The request body is larger than {MAX_BODY_BYTES} bytes."
            )));
        }
        // The same JSON however it is spaced or ordered is the same request.
        let canonical = serde_json::from_slice::<serde_json::Value>(body)
            .map(|v| v.to_string().into_bytes())
            .unwrap_or_else(|_| body.to_vec());
        Ok(Some(Self {
            key_hash: sha256(&[
                caller.subject.as_str().as_bytes(),
                route.as_bytes(),
                key.as_bytes(),
            ]),
            request_hash: sha256(&[&canonical]),
            route: crate::routes::route_key(request),
        }))
    }

    /// The record of `response`'s status and body, to write with the change.
    pub fn record(&self, status: StatusCode, body: &str, now: DateTime<Utc>) -> Write {
        Write::insert(Record::Idempotency(IdempotencyRecord {
            key_hash: self.key_hash.clone(),
            request_hash: self.request_hash.clone(),
            status: status.as_u16(),
            body: body.to_owned(),
            expires_at: (now + KEEP_FOR).timestamp(),
        }))
        .or_refuse(crate::domain::change::Refusal::IdempotencyKeyUsed)
    }
}

/// What [`Idempotency::begin`] found: the first answer to replay, or the go-ahead.
#[derive(Debug)]
pub enum Begun {
    /// The request was made before: this is its first answer (`Idempotent-Replayed: true`).
    Replay(Response<Body>),
    /// A first request (or one without a key): go on, and end with [`Guard::finish`].
    Proceed(Guard),
}

/// A request under way with its key (if it has one): its answer is recorded in the change's
/// own transaction ([`Guard::answer`]), and [`Guard::finish`] turns a lost race into the
/// winner's answer.
#[derive(Debug)]
pub struct Guard {
    key: Option<Idempotency>,
}

impl Idempotency {
    /// The one step every POST that takes an `Idempotency-Key` starts with: 400 for a bad key,
    /// 422 for a key used with another body, the recorded answer for a repeat, else a
    /// [`Guard`] to proceed with.
    pub async fn begin(app: &App, request: &Request, caller: &Caller) -> Result<Begun, ApiError> {
        let key = Self::of(request, caller)?;
        match replay(app, key.as_ref()).await? {
            Some(response) => Ok(Begun::Replay(response)),
            None => Ok(Begun::Proceed(Guard { key })),
        }
    }
}

impl Guard {
    /// The record of the answer (`status`, `body`) to write with the change, when the request
    /// has a key.
    pub fn answer(&self, status: StatusCode, body: &str, now: DateTime<Utc>) -> Option<Write> {
        self.key.as_ref().map(|key| key.record(status, body, now))
    }

    /// The request's answer: `outcome` as it is, unless the change lost the race to a
    /// duplicate of this request (its key's record was written first), which is answered with
    /// the duplicate's answer.
    pub async fn finish(
        self,
        app: &App,
        outcome: Result<Response<Body>, ApiError>,
    ) -> Result<Response<Body>, ApiError> {
        match outcome {
            Err(ApiError::Refused(crate::domain::change::Refusal::IdempotencyKeyUsed)) => {
                replay_after_race(app, self.key.as_ref()).await
            }
            other => other,
        }
    }
}

/// The recorded answer to this key, replayed; `None` when there is none (or it expired); 422
/// when the key was used with another body.
async fn replay(
    app: &App,
    idempotency: Option<&Idempotency>,
) -> Result<Option<Response<Body>>, ApiError> {
    let Some(idempotency) = idempotency else {
        return Ok(None);
    };
    let Some(record) = app.store.idempotency_record(&idempotency.key_hash).await? else {
        return Ok(None);
    };
    // TTL deletion is lazy: an expired record may still be stored.
    if record.expires_at <= Utc::now().timestamp() {
        return Ok(None);
    }
    if record.request_hash != idempotency.request_hash {
        return Err(ApiError::Unprocessable(
            "This Idempotency-Key was used with other parameters; use a new key for a new request."
                .to_owned(),
        ));
    }
    tracing::info!(
        status = record.status,
        replayed = 1,
        "idempotent request replayed"
    );
    crate::metrics::idempotent_replay(idempotency.route);
    let status = StatusCode::from_u16(record.status).map_err(ApiError::internal)?;
    let mut response = if record.body.is_empty() {
        Response::new(Body::Empty)
    } else {
        crate::http::json_response(status, record.body)
    };
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(REPLAYED, http::HeaderValue::from_static("true"));
    Ok(Some(response))
}

/// After a commit refused for [`crate::domain::change::Refusal::IdempotencyKeyUsed`]: the
/// first request's answer, or 409 while it is somehow not readable yet.
async fn replay_after_race(
    app: &App,
    idempotency: Option<&Idempotency>,
) -> Result<Response<Body>, ApiError> {
    replay(app, idempotency)
        .await?
        .ok_or_else(|| ApiError::Refused(crate::domain::change::Refusal::IdempotencyKeyUsed))
}
