//! An HTTP/1.1 relay between the functions of `make dev` and `cargo lambda watch`'s Lambda Runtime
//! API that keeps each function's connections to the emulator open and reuses them, most recently
//! used first, whatever the function does with its own connections.
//!
//! Why (docs/benchmarks.md, "make dev: the emulator's 500"): `cargo lambda watch` 1.9 answers a
//! function's `POST .../invocation/{id}/response` with 200 before reading its body, and the task
//! that answers the HTTP client reads the body afterwards. When the body does not arrive with the
//! headers (above 8–16 KB), the rest of it is handed to that task only on the next event on the
//! connection: the function's next `GET .../next` on it, or its close. The function's runtime
//! client does not always reuse that connection; when it closes it instead, the body is cut short
//! and the emulator answers the HTTP client 500 itself. Through the relay, the emulator's
//! connection is never closed under a pending body, and the function's next request reaches the
//! emulator on the connection that carried the response.
//!
//! `runtime-api-relay <port> <upstream host:port> [<pid>]`
//!
//! Listens on `127.0.0.1:<port>`; with a pid, exits when that process is gone. `scripts/watch.sh`
//! starts it beside `cargo lambda watch` and points the functions at it (`scripts/lambda-runner.sh`).

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Idle connections to the emulator, per function (the `/.rt/<function>/` path segment).
type Pool = Arc<Mutex<HashMap<String, Vec<BufReader<TcpStream>>>>>;

const MAX_HEAD: usize = 64 * 1024;

/// One HTTP/1.1 message, read whole: its bytes as received, and what the relay needs of its head.
struct Message {
    bytes: Vec<u8>,
    keep_alive: bool,
    /// Request: the function the path names; response: unused.
    function: String,
    /// Request: whether it is a HEAD request (its response has no body).
    head_request: bool,
}

enum Framing {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_owned())
}

/// Reads a message head (up to the empty line); `None` at a clean end of stream before it.
async fn read_head<R: AsyncBufRead + Unpin>(reader: &mut R) -> io::Result<Option<Vec<u8>>> {
    let mut head = Vec::new();
    loop {
        let before = head.len();
        if reader.read_until(b'\n', &mut head).await? == 0 {
            return if head.is_empty() {
                Ok(None)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
        // Empty lines before a request line are allowed (RFC 9112, 2.2).
        if head == b"\r\n" || head == b"\n" {
            head.clear();
            continue;
        }
        let line = &head[before..];
        if line == b"\r\n" || line == b"\n" {
            return Ok(Some(head));
        }
        if head.len() > MAX_HEAD {
            return Err(invalid("message head too large"));
        }
    }
}

fn header_lines(head: &[u8]) -> impl Iterator<Item = (String, String)> + '_ {
    head.split(|&b| b == b'\n').skip(1).filter_map(|line| {
        let line = std::str::from_utf8(line).ok()?.trim_end_matches('\r');
        let (name, value) = line.split_once(':')?;
        Some((name.trim().to_ascii_lowercase(), value.trim().to_owned()))
    })
}

fn framing(head: &[u8], no_body: bool, is_request: bool) -> io::Result<(Framing, bool)> {
    let mut length = None;
    let mut chunked = false;
    let mut close = false;
    for (name, value) in header_lines(head) {
        match name.as_str() {
            "content-length" => {
                length = Some(value.parse().map_err(|_| invalid("bad content-length"))?);
            }
            "transfer-encoding" => chunked = value.to_ascii_lowercase().ends_with("chunked"),
            "connection" => close = value.to_ascii_lowercase().contains("close"),
            _ => {}
        }
    }
    let framing = if no_body {
        Framing::Empty
    } else if chunked {
        Framing::Chunked
    } else if let Some(length) = length {
        Framing::Length(length)
    } else if is_request {
        Framing::Empty
    } else {
        Framing::UntilClose
    };
    let keep_alive = !close && !matches!(framing, Framing::UntilClose);
    Ok((framing, keep_alive))
}

async fn read_body<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    framing: Framing,
    out: &mut Vec<u8>,
) -> io::Result<()> {
    match framing {
        Framing::Empty => {}
        Framing::Length(length) => {
            let start = out.len();
            reader.take(length).read_to_end(out).await?;
            if (out.len() - start) as u64 != length {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        Framing::UntilClose => {
            reader.read_to_end(out).await?;
        }
        Framing::Chunked => loop {
            let start = out.len();
            if reader.read_until(b'\n', out).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let line = String::from_utf8_lossy(&out[start..]);
            let size = line.trim().split(';').next().unwrap_or_default();
            let size = u64::from_str_radix(size, 16).map_err(|_| invalid("bad chunk size"))?;
            if size == 0 {
                // Trailers, up to the empty line.
                loop {
                    let start = out.len();
                    if reader.read_until(b'\n', out).await? == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    if matches!(&out[start..], b"\r\n" | b"\n") {
                        return Ok(());
                    }
                }
            }
            let start = out.len();
            reader.take(size + 2).read_to_end(out).await?;
            if (out.len() - start) as u64 != size + 2 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        },
    }
    Ok(())
}

async fn read_request<R: AsyncBufRead + Unpin>(reader: &mut R) -> io::Result<Option<Message>> {
    let Some(mut bytes) = read_head(reader).await? else {
        return Ok(None);
    };
    let request_line =
        String::from_utf8_lossy(bytes.split(|&b| b == b'\n').next().unwrap_or_default())
            .into_owned();
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default();
    let function = path
        .strip_prefix("/.rt/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
        .to_owned();
    let (framing, keep_alive) = framing(&bytes, false, true)?;
    read_body(reader, framing, &mut bytes).await?;
    Ok(Some(Message {
        bytes,
        keep_alive,
        function,
        head_request: method == "HEAD",
    }))
}

async fn read_response<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    head_request: bool,
) -> io::Result<Message> {
    let mut bytes = read_head(reader)
        .await?
        .ok_or(io::Error::from(io::ErrorKind::UnexpectedEof))?;
    let status: u16 = String::from_utf8_lossy(&bytes)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("bad status line"))?;
    let no_body = head_request || status < 200 || status == 204 || status == 304;
    let (framing, keep_alive) = framing(&bytes, no_body, false)?;
    read_body(reader, framing, &mut bytes).await?;
    Ok(Message {
        bytes,
        keep_alive,
        function: String::new(),
        head_request: false,
    })
}

fn take_idle(pool: &Pool, function: &str) -> Option<BufReader<TcpStream>> {
    pool.lock().ok()?.get_mut(function)?.pop()
}

fn put_idle(pool: &Pool, function: String, connection: BufReader<TcpStream>) {
    if let Ok(mut pool) = pool.lock() {
        pool.entry(function).or_default().push(connection);
    }
}

async fn connect(upstream: &str) -> io::Result<BufReader<TcpStream>> {
    let stream = TcpStream::connect(upstream).await?;
    stream.set_nodelay(true)?;
    Ok(BufReader::new(stream))
}

/// Sends one request upstream and reads its response, while watching the function's connection:
/// if the function goes away during a long poll (`GET .../next`), the emulator's connection is
/// closed too, so that the emulator does not hand the next invocation to nobody.
async fn exchange<R: AsyncBufRead + Unpin>(
    function_side: &mut R,
    connection: &mut BufReader<TcpStream>,
    request: &Message,
) -> io::Result<Option<Message>> {
    connection.get_mut().write_all(&request.bytes).await?;
    let response = read_response(connection, request.head_request);
    tokio::pin!(response);
    let mut watching = true;
    loop {
        tokio::select! {
            response = &mut response => return response.map(Some),
            gone = function_side.fill_buf(), if watching => match gone {
                Ok([]) | Err(_) => return Ok(None),
                // The function sent more before the answer (no runtime client does): stop watching.
                Ok(_) => watching = false,
            },
        }
    }
}

async fn serve(function_side: TcpStream, upstream: String, pool: Pool) -> io::Result<()> {
    function_side.set_nodelay(true)?;
    let (read_half, mut write_half) = function_side.into_split();
    let mut reader = BufReader::new(read_half);
    while let Some(request) = read_request(&mut reader).await? {
        let (mut connection, pooled) = match take_idle(&pool, &request.function) {
            Some(connection) => (connection, true),
            None => (connect(&upstream).await?, false),
        };
        let response = match exchange(&mut reader, &mut connection, &request).await {
            Ok(Some(response)) => response,
            Ok(None) => return Ok(()),
            // A pooled connection the emulator has closed meanwhile: once more on a new one.
            Err(_) if pooled => {
                connection = connect(&upstream).await?;
                match exchange(&mut reader, &mut connection, &request).await? {
                    Some(response) => response,
                    None => return Ok(()),
                }
            }
            Err(error) => return Err(error),
        };
        // Back in the pool before the function sees the answer: its next request goes out on it.
        if response.keep_alive {
            put_idle(&pool, request.function.clone(), connection);
        }
        write_half.write_all(&response.bytes).await?;
        if !request.keep_alive || !response.keep_alive {
            break;
        }
    }
    write_half.shutdown().await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: runtime-api-relay <port> <upstream host:port> [<pid>]";
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().ok_or(usage)?.parse()?;
    let upstream = args.next().ok_or(usage)?;
    let parent = args.next();
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let pool = Pool::default();
    let accept = async {
        loop {
            if let Ok((function_side, _)) = listener.accept().await {
                tokio::spawn(serve(function_side, upstream.clone(), pool.clone()));
            }
        }
    };
    tokio::select! {
        () = accept => {}
        () = devtools::parent::gone(parent) => {}
    }
    Ok(())
}
