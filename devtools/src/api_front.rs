//! The front of `make dev`: an HTTP/1.1 proxy on the API's port that hands every request to
//! `cargo lambda watch` as it came, except one kind that the emulator cannot take and API Gateway
//! can: a body that is not UTF-8 under a text content type (none, `text/*`, `application/json`).
//!
//! Why (issue "Local = AWS on odd bodies"): `cargo lambda watch` 1.9.2 builds the function's
//! API Gateway v2 event itself, and for those content types it turns the body into a `String`
//! (`String::from_utf8` in cargo-lambda-watch's `trigger_router.rs`); a body that is not UTF-8
//! ends there in a 500 the emulator writes, and the function never runs. An HTTP API passes such
//! a body base64-encoded with `isBase64Encoded: true` (it infers the encoding from the request,
//! AWS Compute Blog, "Handling binary data using Amazon API Gateway HTTP APIs"), and the function
//! answers its own 400. So for those requests only, this proxy builds the payload-2.0 event the
//! way the emulator does (same route table, path parameters, stage and request context), with
//! the body base64-encoded, invokes the function through the emulator's Lambda Invoke endpoint
//! (`POST /2015-03-31/functions/<function>/invocations`), and turns the function's response
//! into HTTP as API Gateway does. A path of the API that no route matches gets API Gateway's own
//! `404 {"message": "Not Found"}` (the emulator's 404 lists its functions instead). Everything
//! else goes to the emulator unchanged.
//!
//! Hand-written because no crate emulates API Gateway's event building; hyper does the HTTP.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;

use aws_lambda_events::apigw::{
    ApiGatewayV2httpRequest, ApiGatewayV2httpRequestContext,
    ApiGatewayV2httpRequestContextHttpDescription, ApiGatewayV2httpResponse,
};
use aws_lambda_events::encodings::Body as LambdaBody;
use aws_lambda_events::query_map::QueryMap;
use base64::Engine as _;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE, SET_COOKIE};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// API Gateway's payload limit (10 MB for HTTP APIs); a larger body is refused here with 413.
const MAX_BODY: usize = 10 * 1024 * 1024;

type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// One route of the `[workspace.metadata.lambda.watch.router]` table in `Cargo.toml`.
#[derive(Debug, Clone, PartialEq)]
struct Route {
    segments: Vec<String>,
    method: Method,
    function: String,
}

/// The router `cargo lambda watch` uses, read from the workspace's `Cargo.toml`.
#[derive(Debug, Clone, Default)]
pub struct Router {
    routes: Vec<Route>,
}

/// A request matched to its function.
#[derive(Debug, PartialEq)]
pub struct Target {
    pub function: String,
    pub path_parameters: HashMap<String, String>,
}

impl Router {
    /// The router of a `Cargo.toml`'s text.
    pub fn from_manifest(manifest: &str) -> Result<Self, String> {
        let manifest: toml::Value = manifest.parse().map_err(|e| format!("Cargo.toml: {e}"))?;
        let table = manifest
            .get("workspace")
            .and_then(|w| w.get("metadata"))
            .and_then(|m| m.get("lambda"))
            .and_then(|l| l.get("watch"))
            .and_then(|w| w.get("router"))
            .and_then(toml::Value::as_table)
            .ok_or("Cargo.toml has no [workspace.metadata.lambda.watch.router]")?;
        let mut routes = Vec::new();
        for (path, entries) in table {
            for entry in entries
                .as_array()
                .ok_or(format!("route {path}: not a list"))?
            {
                let field = |name: &str| {
                    entry
                        .get(name)
                        .and_then(toml::Value::as_str)
                        .ok_or(format!("route {path}: no {name}"))
                };
                routes.push(Route {
                    segments: path
                        .trim_matches('/')
                        .split('/')
                        .map(str::to_owned)
                        .collect(),
                    method: field("method")?
                        .parse()
                        .map_err(|_| format!("route {path}: bad method"))?,
                    function: field("function")?.to_owned(),
                });
            }
        }
        Ok(Self { routes })
    }

    /// The function and path parameters of a method and path, as the emulator's router finds
    /// them (`{name}` matches one segment).
    pub fn find(&self, method: &Method, path: &str) -> Option<Target> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        self.routes.iter().find_map(|route| {
            if route.method != *method || route.segments.len() != segments.len() {
                return None;
            }
            let mut path_parameters = HashMap::new();
            for (pattern, segment) in route.segments.iter().zip(&segments) {
                match pattern.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                    Some(name) => {
                        path_parameters.insert(name.to_owned(), (*segment).to_owned());
                    }
                    None if pattern == segment => {}
                    None => return None,
                }
            }
            Some(Target {
                function: route.function.clone(),
                path_parameters,
            })
        })
    }
}

/// Whether the emulator would read this body as text (its rule: no content type, `text/*` or
/// `application/json`) and cannot, because it is not UTF-8.
pub fn emulator_cannot_take(content_type: Option<&HeaderValue>, body: &[u8]) -> bool {
    let text = match content_type {
        None => true,
        Some(value) => {
            let value = value.to_str().unwrap_or_default();
            value.starts_with("text/") || value.starts_with("application/json")
        }
    };
    !body.is_empty() && text && std::str::from_utf8(body).is_err()
}

/// The payload-2.0 event of a request whose body goes base64-encoded, in the emulator's shape.
/// (The event types are `#[non_exhaustive]`: built from their defaults, field by field.)
pub fn event(parts: &http::request::Parts, body: &[u8], target: Target) -> ApiGatewayV2httpRequest {
    let path = parts.uri.path().to_owned();
    let now = chrono::Utc::now();

    let mut description = ApiGatewayV2httpRequestContextHttpDescription::default();
    description.method = parts.method.clone();
    description.path = Some(path.clone());
    description.protocol = Some("http".into());
    description.source_ip = Some("127.0.0.1".into());
    description.user_agent = Some("cargo-lambda".into());

    let mut context = ApiGatewayV2httpRequestContext::default();
    context.stage = Some("$default".into());
    context.route_key = Some("$default".into());
    context.request_id = Some(uuid::Uuid::new_v4().to_string());
    context.domain_name = Some("localhost".into());
    context.domain_prefix = Some(target.function);
    context.http = description;
    context.time = Some(now.format("%d/%b/%Y:%T %z").to_string());
    context.time_epoch = now.timestamp();

    let mut event = ApiGatewayV2httpRequest::default();
    event.version = Some("2.0".into());
    event.route_key = Some("$default".into());
    event.raw_path = Some(path);
    event.raw_query_string = parts.uri.query().map(str::to_owned);
    event.query_string_parameters = parts
        .uri
        .query()
        .unwrap_or_default()
        .parse::<QueryMap>()
        .unwrap_or_default();
    event.headers = parts.headers.clone();
    event.cookies = parts.headers.get("cookie").map(|c| {
        c.to_str()
            .unwrap_or_default()
            .split("; ")
            .map(|s| s.trim().to_owned())
            .collect()
    });
    event.path_parameters = target.path_parameters;
    event.body = Some(base64::engine::general_purpose::STANDARD.encode(body));
    event.is_base64_encoded = true;
    event.request_context = context;
    event
}

/// The HTTP response of a function's payload-2.0 response (as `lambda_http` writes it: with
/// `cookies`), as API Gateway builds it.
pub fn http_response(payload: &[u8]) -> Response<Full<Bytes>> {
    let Ok(lambda) = serde_json::from_slice::<ApiGatewayV2httpResponse>(payload) else {
        return gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    };
    let body = match lambda.body {
        None | Some(LambdaBody::Empty) => Bytes::new(),
        Some(LambdaBody::Text(text)) if lambda.is_base64_encoded => {
            match base64::engine::general_purpose::STANDARD.decode(text) {
                Ok(bytes) => bytes.into(),
                Err(_) => {
                    return gateway_error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "Internal Server Error",
                    )
                }
            }
        }
        Some(LambdaBody::Text(text)) => text.into(),
        Some(LambdaBody::Binary(bytes)) => bytes.into(),
        Some(_) => Bytes::new(),
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = StatusCode::from_u16(lambda.status_code as u16)
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.extend(lambda.headers);
    headers.extend(lambda.multi_value_headers);
    for cookie in lambda.cookies {
        if let Ok(value) = HeaderValue::try_from(cookie) {
            headers.append(SET_COOKIE, value);
        }
    }
    response
}

/// Whether a path is the API's (the emulator's own endpoints, such as its Invoke API, are not).
fn is_api_path(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/admin/")
}

/// An answer API Gateway writes itself: `{"message": ...}`.
fn gateway_error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(
        serde_json::json!({ "message": message }).to_string(),
    )));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn boxed(response: Response<Full<Bytes>>) -> Response<ProxyBody> {
    response.map(|body| body.map_err(|never| match never {}).boxed())
}

/// The front: what it forwards to and how.
#[derive(Clone)]
pub struct Front {
    upstream: String,
    router: Router,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Front {
    /// A front for the emulator at `upstream` (`host:port`) routing by `router`.
    pub fn new(upstream: String, router: Router) -> Self {
        Self {
            upstream,
            router,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// Serves `listener` until the task is dropped.
    pub async fn serve(self, listener: TcpListener) {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let front = self.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let front = front.clone();
                    async move { Ok::<_, Infallible>(front.handle(request).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    }

    async fn handle(&self, request: Request<Incoming>) -> Response<ProxyBody> {
        let (parts, body) = request.into_parts();
        let body = match Limited::new(body, MAX_BODY).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => {
                return boxed(gateway_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Request Entity Too Large",
                ))
            }
        };
        let target = self.router.find(&parts.method, parts.uri.path());
        match target {
            Some(target) if emulator_cannot_take(parts.headers.get(CONTENT_TYPE), &body) => {
                boxed(self.invoke(&parts, &body, target).await)
            }
            // No route of the API: API Gateway's own 404 (the emulator's names its functions).
            // Preflights stay the emulator's: it answers them for any route (README, CORS).
            None if is_api_path(parts.uri.path()) && parts.method != Method::OPTIONS => {
                boxed(gateway_error(StatusCode::NOT_FOUND, "Not Found"))
            }
            _ => self.forward(parts, body).await,
        }
    }

    /// Through the emulator's Lambda Invoke endpoint, with the event built here.
    async fn invoke(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
        target: Target,
    ) -> Response<Full<Bytes>> {
        let uri = format!(
            "http://{}/2015-03-31/functions/{}/invocations",
            self.upstream, target.function
        );
        let Ok(payload) = serde_json::to_vec(&event(parts, body, target)) else {
            return gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        };
        let Ok(request) = Request::post(uri).body(Full::new(Bytes::from(payload))) else {
            return gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        };
        let answer = match self.client.request(request).await {
            Ok(answer) if answer.status() == StatusCode::OK => answer,
            _ => return gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        };
        match answer.into_body().collect().await {
            Ok(payload) => http_response(&payload.to_bytes()),
            Err(_) => gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        }
    }

    /// To the emulator as it came.
    async fn forward(&self, mut parts: http::request::Parts, body: Bytes) -> Response<ProxyBody> {
        let path = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        match format!("http://{}{path}", self.upstream).parse() {
            Ok(uri) => parts.uri = uri,
            Err(_) => return boxed(gateway_error(StatusCode::BAD_REQUEST, "Bad Request")),
        }
        match self
            .client
            .request(Request::from_parts(parts, Full::new(body)))
            .await
        {
            Ok(answer) => answer.map(BodyExt::boxed),
            Err(_) => boxed(gateway_error(
                StatusCode::BAD_GATEWAY,
                "the local emulator (cargo lambda watch) did not answer",
            )),
        }
    }
}

/// Binds `127.0.0.1:<port>`.
pub async fn bind(port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"
[workspace.metadata.lambda.watch.router]
"/api/v1/organisations" = [{ method = "POST", function = "organisations" }]
"/api/v1/organisations/{organisationSlug}/members/{memberIdentity}" = [
  { method = "DELETE", function = "members" },
  { method = "PATCH", function = "members" },
]
"#;

    #[test]
    fn routes_as_the_emulator_does() {
        let router = Router::from_manifest(MANIFEST).unwrap();
        assert_eq!(
            router.find(&Method::PATCH, "/api/v1/organisations/acme/members/m-1"),
            Some(Target {
                function: "members".into(),
                path_parameters: HashMap::from([
                    ("organisationSlug".into(), "acme".into()),
                    ("memberIdentity".into(), "m-1".into()),
                ]),
            })
        );
        assert_eq!(
            router
                .find(&Method::POST, "/api/v1/organisations")
                .map(|t| t.function),
            Some("organisations".into())
        );
        assert_eq!(router.find(&Method::GET, "/api/v1/organisations"), None);
        assert_eq!(
            router.find(&Method::PATCH, "/api/v1/organisations/acme/members"),
            None
        );
    }

    #[test]
    fn the_workspace_router_is_read() {
        let manifest = include_str!("../../Cargo.toml");
        let router = Router::from_manifest(manifest).unwrap();
        assert_eq!(
            router
                .find(&Method::POST, "/api/v1/memberships/7c9e/accept")
                .map(|t| t.function),
            Some("members".into())
        );
    }

    #[test]
    fn only_text_bodies_that_are_not_utf8_are_taken_over() {
        let json = HeaderValue::from_static("application/json");
        let octets = HeaderValue::from_static("application/octet-stream");
        let text = HeaderValue::from_static("text/plain; charset=utf-8");
        let odd = b"{\"organisationName\": \"\xff\xfe\"}";
        assert!(emulator_cannot_take(Some(&json), odd));
        assert!(emulator_cannot_take(Some(&text), odd));
        assert!(emulator_cannot_take(None, odd));
        // Non-text types the emulator base64-encodes itself; UTF-8 and empty bodies it takes.
        assert!(!emulator_cannot_take(Some(&octets), odd));
        assert!(!emulator_cannot_take(
            Some(&json),
            "{\"a\": \"é\"}".as_bytes()
        ));
        assert!(!emulator_cannot_take(None, b""));
    }

    #[test]
    fn the_event_carries_the_body_base64_encoded() {
        let (parts, ()) = Request::post("/api/v1/organisations?x=1")
            .header("content-type", "application/json")
            .body(())
            .unwrap()
            .into_parts();
        let target = Target {
            function: "organisations".into(),
            path_parameters: HashMap::new(),
        };
        let event = event(&parts, b"\xff", target);
        assert!(event.is_base64_encoded);
        assert_eq!(event.body.as_deref(), Some("/w=="));
        assert_eq!(event.raw_path.as_deref(), Some("/api/v1/organisations"));
        assert_eq!(event.raw_query_string.as_deref(), Some("x=1"));
        assert_eq!(event.request_context.http.method, Method::POST);
    }

    #[tokio::test]
    async fn a_function_response_becomes_http() {
        let response = http_response(
            br#"{"statusCode": 400, "headers": {"content-type": "application/json"},
                "multiValueHeaders": {}, "body": "{\"message\":\"bad\"}",
                "isBase64Encoded": false, "cookies": []}"#,
        );
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        let encoded = http_response(
            br#"{"statusCode": 200, "body": "aGk=", "isBase64Encoded": true, "cookies": []}"#,
        );
        assert_eq!(encoded.status(), StatusCode::OK);
        let body = encoded.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"hi");
        assert_eq!(
            http_response(b"not json").status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
