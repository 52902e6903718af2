//! A minimal HTTP/1.1 server on loopback for outside services (VIES) and injected DynamoDB
//! faults: the code under test talks to it over a real socket, as it would to the real thing.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Debug, Clone)]
pub struct FakeRequest {
    pub method: String,
    pub path: String,
    pub body: String,
}

#[derive(Debug, Clone)]
pub struct FakeResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    /// Waits this long before answering (to exceed a client's timeout).
    pub delay: Duration,
    pub headers: Vec<(String, String)>,
}

impl FakeResponse {
    pub fn json(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: body.into(),
            delay: Duration::ZERO,
            headers: Vec::new(),
        }
    }
}

/// Serves `handler` on a free loopback port until the test's runtime ends; returns the base URL.
pub async fn serve<F>(handler: F) -> String
where
    F: Fn(FakeRequest) -> FakeResponse + Send + Sync + 'static,
{
    serve_async(move |request| {
        let response = handler(request);
        async move { response }
    })
    .await
}

/// [`serve`] with a handler that may wait (e.g. to observe concurrent requests).
pub async fn serve_async<F, Fut>(handler: F) -> String
where
    F: Fn(FakeRequest) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = FakeResponse> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let address = format!("http://{}", listener.local_addr().expect("local address"));
    let handler = Arc::new(handler);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let handler = handler.clone();
            tokio::spawn(async move {
                let Some(request) = read_request(&mut socket).await else {
                    return;
                };
                let response = handler(request).await;
                tokio::time::sleep(response.delay).await;
                let headers: String = response
                    .headers
                    .iter()
                    .map(|(name, value)| format!("{name}: {value}\r\n"))
                    .collect();
                let text = format!(
                    "HTTP/1.1 {} X\r\ncontent-type: {}\r\ncontent-length: {}\r\n{headers}connection: close\r\n\r\n{}",
                    response.status,
                    response.content_type,
                    response.body.len(),
                    response.body
                );
                let _ = socket.write_all(text.as_bytes()).await;
            });
        }
    });
    address
}

async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<FakeRequest> {
    let mut buffer = Vec::with_capacity(8 * 1024);
    let mut chunk = [0u8; 8 * 1024];
    loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buffer).to_string();
        let Some(head_end) = text.find("\r\n\r\n") else {
            continue;
        };
        let head = &text[..head_end];
        let length = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())
                    .flatten()
            })
            .unwrap_or(0);
        if buffer.len() >= head_end + 4 + length {
            let mut first = head.lines().next()?.split(' ');
            return Some(FakeRequest {
                method: first.next()?.to_owned(),
                path: first.next()?.to_owned(),
                body: String::from_utf8_lossy(&buffer[head_end + 4..head_end + 4 + length])
                    .to_string(),
            });
        }
    }
}
