//! Who is calling.
//!
//! In AWS the HttpApi JWT authorizer has verified the token and passes its claims in
//! `requestContext.authorizer.jwt.claims` (every value a string). Locally (`cargo lambda watch`,
//! tests that exercise the bearer path) there is no authorizer: the function verifies
//! `Authorization: Bearer <jwt>` itself, but only when a local verifier is configured
//! (`LOCAL_JWT_SECRET`, HS256). Without claims and without a verifier every request is 401.

use std::collections::HashMap;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use lambda_http::{Request, RequestExt};
use serde::Deserialize;
use serde_json::Value;

use crate::domain::{username, Caller, Email, Subject, OPERATOR_SCOPE};
use crate::error::ApiError;

/// The caller the token's claims describe. `operator_group`: on the operator plane, the group
/// that, with the [`OPERATOR_SCOPE`], makes the caller an operator; elsewhere `None` (nobody
/// is an operator on a customer route).
fn caller_from_claims(
    claims: &HashMap<String, Value>,
    operator_group: Option<&str>,
) -> Result<Caller, ApiError> {
    let text = |name: &str| match claims.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.as_str()),
        _ => None,
    };
    let subject = text("sub")
        .and_then(Subject::parse)
        .ok_or_else(|| ApiError::Unauthenticated("The token has no usable 'sub' claim.".into()))?;
    // The same rules as an address given as input: an e-mail that could pass for another
    // (look-alike or invisible characters, `\u{212A}im@corp.com` for `kim@corp.com`) or that is
    // no address at all is no e-mail for this service. It then claims no invitation and is not
    // recorded with the caller's membership, verified or not; the caller still signs in by `sub`.
    let email = text("email").and_then(|e| match Email::parse("email", e) {
        Ok(email) => Some(email),
        Err(refused) => {
            tracing::debug!(reason = %refused.reason, "the token's e-mail claim is not used");
            None
        }
    });
    // The HttpApi authorizer turns every claim into a string; a local token carries a bool.
    let email_verified = match claims.get("email_verified") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    };
    // Cleaned as an e-mail given as input is: a username with invisible or bidirectional
    // format characters, or longer than 255 characters, is not used; the `sub` stands in.
    let username = text("preferred_username")
        .or_else(|| text("username"))
        .or_else(|| text("cognito:username"))
        .and_then(|name| {
            let cleaned = username::clean(name);
            if cleaned.is_none() {
                tracing::debug!("the token's username claim is not used");
            }
            cleaned.map(str::to_owned)
        });
    // Scopes are granted per app client, groups per user: an operator needs both (a customer
    // can ask the console's client for any scope it may grant; docs/security.md).
    let operator = operator_group.is_some_and(|group| {
        scopes(claims).any(|scope| scope == OPERATOR_SCOPE)
            && list_claim(claims, &["cognito:groups", "groups"]).any(|g| g == group)
    });
    Ok(Caller {
        subject,
        email,
        email_verified,
        username,
        operator,
    })
}

/// The token's scopes: `scope` (space-separated, RFC 8693) and `scp` (a list, as some identity
/// providers send it). API Gateway's HTTP API passes every claim as a string, a list as
/// `[a b]`, so brackets and commas are separators too.
fn scopes(claims: &HashMap<String, Value>) -> impl Iterator<Item = String> + '_ {
    list_claim(claims, &["scope", "scp"])
}

/// The values of the claims `names`, each a list or a string of values separated by spaces
/// (API Gateway's HTTP API passes a list claim such as `cognito:groups` as `[a b]`; brackets
/// and commas separate too).
fn list_claim<'a>(
    claims: &'a HashMap<String, Value>,
    names: &'a [&'a str],
) -> impl Iterator<Item = String> + 'a {
    names.iter().flat_map(move |name| {
        let values: Vec<String> = match claims.get(*name) {
            Some(Value::String(s)) => s
                .split(|c: char| c.is_whitespace() || matches!(c, '[' | ']' | ','))
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        values
    })
}

/// Verifies bearer tokens when no API Gateway authorizer ran (local development only).
#[derive(Clone)]
pub struct LocalJwtVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for LocalJwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalJwtVerifier").finish_non_exhaustive()
    }
}

impl LocalJwtVerifier {
    /// HS256 with `secret`; `exp` is required and checked; `iss`/`aud` when configured.
    /// `alg: none` and every other algorithm are refused by the algorithm allow-list.
    pub fn hs256(
        secret: &[u8],
        issuer: Option<&str>,
        audience: Option<&str>,
    ) -> Result<Self, jsonwebtoken::errors::Error> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        match issuer {
            Some(iss) => validation.set_issuer(&[iss]),
            None => validation.iss = None,
        }
        match audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        Ok(Self {
            key: DecodingKey::from_secret(secret)?,
            validation,
        })
    }

    fn verify(&self, token: &str) -> Result<HashMap<String, Value>, ApiError> {
        #[derive(Deserialize)]
        struct Claims(HashMap<String, Value>);
        jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map(|data| data.claims.0)
            .map_err(|e| {
                tracing::info!(error = %e, "bearer token refused");
                ApiError::Unauthenticated("The bearer token is invalid or expired.".into())
            })
    }
}

/// Resolves the caller of `request`: authorizer claims first, then the local verifier.
/// Resolves the caller of `request` (see `caller_of`) and records their `sub` in the
/// invocation's log span.
pub fn authenticate(
    request: &Request,
    local: Option<&LocalJwtVerifier>,
) -> Result<Caller, ApiError> {
    let caller = caller_of(request, local, None)?;
    tracing::Span::current().record("sub", caller.subject.as_str());
    Ok(caller)
}

/// As [`authenticate`], on the operator plane: the caller is an operator when the token grants
/// the [`OPERATOR_SCOPE`] and its `cognito:groups` (or `groups`) claim holds `operator_group`
/// (`OPERATOR_GROUP`).
pub fn authenticate_operator(
    request: &Request,
    local: Option<&LocalJwtVerifier>,
    operator_group: &str,
) -> Result<Caller, ApiError> {
    let caller = caller_of(request, local, Some(operator_group))?;
    tracing::Span::current().record("sub", caller.subject.as_str());
    Ok(caller)
}

fn caller_of(
    request: &Request,
    local: Option<&LocalJwtVerifier>,
    operator_group: Option<&str>,
) -> Result<Caller, ApiError> {
    let authorizer_claims = request
        .request_context_ref()
        .and_then(|ctx| ctx.authorizer())
        .and_then(|a| a.jwt.as_ref())
        .map(|jwt| &jwt.claims)
        .filter(|claims| !claims.is_empty());
    if let Some(claims) = authorizer_claims {
        let claims = claims
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        return caller_from_claims(&claims, operator_group);
    }
    let Some(verifier) = local else {
        return Err(ApiError::Unauthenticated(
            "Authentication is required.".into(),
        ));
    };
    let header = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::Unauthenticated("Authentication is required.".into()))?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::Unauthenticated("The Authorization header must be 'Bearer <token>'.".into())
        })?;
    caller_from_claims(&verifier.verify(token)?, operator_group)
}
