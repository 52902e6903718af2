//! Real API Gateway v2 (HTTP API, payload 2.0) events, as the JWT authorizer delivers them, and
//! bearer-token requests as `cargo lambda watch` delivers them.

use std::collections::HashMap;

use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};

use crate::TEST_JWT_SECRET;

/// A user of the identity provider.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub sub: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub username: String,
    /// The token's `scope` claim (space-separated), if any.
    pub scope: Option<String>,
    /// The token's `cognito:groups` claim, if any.
    pub groups: Option<Vec<String>>,
}

impl TestUser {
    /// A user with a fresh subject and a verified e-mail `<name>-<n>@example.com`.
    pub fn new(name: &str) -> Self {
        let sub = uuid::Uuid::new_v4().to_string();
        Self {
            email: Some(format!("{name}-{}@example.com", &sub[..8])),
            email_verified: true,
            username: name.to_owned(),
            sub,
            scope: None,
            groups: None,
        }
    }

    /// A platform operator: the token carries the `organisations/operator` scope and the
    /// operator group in `cognito:groups`.
    pub fn operator(name: &str) -> Self {
        Self {
            scope: Some(shared::domain::OPERATOR_SCOPE.to_owned()),
            groups: Some(vec![shared::app::DEFAULT_OPERATOR_GROUP.to_owned()]),
            ..Self::new(name)
        }
    }

    pub fn email(&self) -> &str {
        self.email.as_deref().unwrap_or_default()
    }

    /// Claims as the HttpApi JWT authorizer passes them: every value a string.
    pub fn authorizer_claims(&self) -> HashMap<String, String> {
        let mut claims = HashMap::from([
            ("sub".to_owned(), self.sub.clone()),
            ("preferred_username".to_owned(), self.username.clone()),
            ("email_verified".to_owned(), self.email_verified.to_string()),
        ]);
        if let Some(email) = &self.email {
            claims.insert("email".to_owned(), email.clone());
        }
        if let Some(scope) = &self.scope {
            claims.insert("scope".to_owned(), scope.clone());
        }
        // A list claim as the HttpApi authorizer passes it: `[a b]`.
        if let Some(groups) = &self.groups {
            claims.insert(
                "cognito:groups".to_owned(),
                format!("[{}]", groups.join(" ")),
            );
        }
        claims
    }

    /// An HS256 token for the local verifier, valid for `ttl_seconds` (negative: expired).
    pub fn token(&self, ttl_seconds: i64) -> String {
        let claims = json!({
            "sub": self.sub,
            "email": self.email,
            "email_verified": self.email_verified,
            "preferred_username": self.username,
            "scope": self.scope,
            "cognito:groups": self.groups,
            "exp": chrono::Utc::now().timestamp() + ttl_seconds,
        });
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(TEST_JWT_SECRET.as_bytes())
                .expect("a valid HS256 key"),
        )
        .expect("encode a test token")
    }
}

/// Builds one request.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    method: String,
    path: String,
    query: String,
    headers: HashMap<String, String>,
    body: Option<String>,
    claims: Option<HashMap<String, String>>,
    /// API Gateway's route key: `$default` (what `make dev` gives) unless set.
    route_key: Option<String>,
    /// `requestContext.domainName` and `stage`: `localhost` and `$default` unless set.
    served_at: Option<(String, String)>,
}

impl ApiRequest {
    pub fn new(method: &str, path: &str) -> Self {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers: HashMap::new(),
            body: None,
            claims: None,
            route_key: None,
            served_at: None,
        }
    }

    pub fn get(path: &str) -> Self {
        Self::new("GET", path)
    }
    pub fn post(path: &str) -> Self {
        Self::new("POST", path)
    }
    pub fn patch(path: &str) -> Self {
        Self::new("PATCH", path)
    }
    pub fn delete(path: &str) -> Self {
        Self::new("DELETE", path)
    }

    /// As the JWT authorizer would pass `user` in.
    pub fn by(mut self, user: &TestUser) -> Self {
        self.claims = Some(user.authorizer_claims());
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.insert(name.to_lowercase(), value.to_owned());
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body.to_string());
        self.header("content-type", "application/json")
    }

    pub fn raw_body(mut self, body: &str) -> Self {
        self.body = Some(body.to_owned());
        self.header("content-type", "application/json")
    }

    /// The route key API Gateway puts in the event for an explicit route, e.g.
    /// `GET /api/v1/organisations/{organisationSlug}`.
    pub fn route_key(mut self, route_key: &str) -> Self {
        self.route_key = Some(route_key.to_owned());
        self
    }

    /// As API Gateway fills `requestContext` for a request to `domain_name`, stage `stage`.
    pub fn served_at(mut self, domain_name: &str, stage: &str) -> Self {
        self.served_at = Some((domain_name.to_owned(), stage.to_owned()));
        self
    }

    /// The API Gateway v2 event JSON.
    pub fn event(&self) -> Value {
        let mut context = json!({
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "http": {
                "method": self.method,
                "path": self.path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "api-tests"
            },
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": self.route_key.as_deref().unwrap_or("$default"),
            "stage": "$default",
            "time": "28/Nov/2026:12:00:00 +0000",
            "timeEpoch": 1_795_867_200_000_i64
        });
        if let Some((domain_name, stage)) = &self.served_at {
            context["domainName"] = Value::from(domain_name.as_str());
            context["domainPrefix"] =
                Value::from(domain_name.split('.').next().unwrap_or_default());
            context["stage"] = Value::from(stage.as_str());
        }
        if let Some(claims) = &self.claims {
            context["authorizer"] = json!({"jwt": {"claims": claims, "scopes": null}});
        }
        json!({
            "version": "2.0",
            "routeKey": self.route_key.as_deref().unwrap_or("$default"),
            "rawPath": self.path,
            "rawQueryString": self.query,
            "headers": self.headers,
            "requestContext": context,
            "body": self.body,
            "isBase64Encoded": false
        })
    }

    /// The request as `lambda_http` hands it to a function: the event, and the invocation's
    /// Lambda context (a fresh request id and X-Ray trace id).
    pub fn build(&self) -> Request {
        use lambda_http::RequestExt;
        let mut context = lambda_http::Context::default();
        context.request_id = uuid::Uuid::new_v4().to_string();
        context.xray_trace_id = Some(format!(
            "Root=1-{:08x}-{};Parent={};Sampled=1",
            chrono::Utc::now().timestamp(),
            &uuid::Uuid::new_v4().simple().to_string()[..24],
            &uuid::Uuid::new_v4().simple().to_string()[..16],
        ));
        lambda_http::request::from_str(&self.event().to_string())
            .expect("a valid API Gateway v2 event")
            .with_lambda_context(context)
    }
}

/// A response with its body parsed.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn from_response(response: Response<Body>) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = match response.body() {
            Body::Text(text) => serde_json::from_str(text).unwrap_or(Value::String(text.clone())),
            Body::Binary(bytes) => serde_json::from_slice(bytes).unwrap_or(Value::Null),
            _ => Value::Null,
        };
        Self {
            status,
            headers,
            body,
        }
    }

    /// The error body's `details`, as strings.
    pub fn details(&self) -> Vec<String> {
        self.body["details"]
            .as_array()
            .map(|d| {
                d.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or_default()
    }
}
