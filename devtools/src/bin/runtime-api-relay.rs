//! A TCP relay between the functions of `make dev` and `cargo lambda watch`'s Lambda Runtime API,
//! which passes every byte through unchanged but closes the emulator's side of a connection only
//! [`GRACE`] after the function closed its side.
//!
//! Why: `cargo lambda watch` (1.9) answers a function's `POST .../invocation/{id}/response` with
//! 200 before it has read the request body, and reads the body afterwards, in the task that answers
//! the HTTP client. When the body is larger than what the emulator read with the headers (about
//! 16 KB), the function's runtime client sometimes closes that connection right after the early
//! 200; the emulator's connection then ends before the body was taken, and the HTTP client gets a
//! 500 written by the emulator. docs/benchmarks.md ("make dev: the emulator's 500") has the
//! evidence. With the relay between them, the emulator never sees the function's close before it
//! has read the body.
//!
//! runtime-api-relay <port> <upstream host:port> [<pid>]
//!
//! Listens on 127.0.0.1:<port>; with a pid, exits when that process is gone. `scripts/watch.sh`
//! starts it beside `cargo lambda watch` and points the functions at it (`scripts/lambda-runner.sh`).

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// How long the emulator's side stays open after the function closed its side.
const GRACE: Duration = Duration::from_secs(2);

async fn relay(downstream: TcpStream, upstream_addr: String) {
    let Ok(upstream) = TcpStream::connect(&upstream_addr).await else {
        return;
    };
    let _ = downstream.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (mut down_read, mut down_write) = downstream.into_split();
    let (mut up_read, mut up_write) = upstream.into_split();
    let requests = async {
        let _ = tokio::io::copy(&mut down_read, &mut up_write).await;
        // The function is done with this connection; the emulator may not be done reading it.
        tokio::time::sleep(GRACE).await;
        let _ = up_write.shutdown().await;
    };
    let responses = async {
        let _ = tokio::io::copy(&mut up_read, &mut down_write).await;
        let _ = down_write.shutdown().await;
    };
    tokio::join!(requests, responses);
}

/// Whether a process is still there (`kill -0`).
async fn alive(pid: &str) -> bool {
    tokio::process::Command::new("kill")
        .args(["-0", pid])
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .is_ok_and(|status| status.success())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: runtime-api-relay <port> <upstream host:port> [<pid>]";
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().ok_or(usage)?.parse()?;
    let upstream = args.next().ok_or(usage)?;
    let parent = args.next();
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let accept = async {
        loop {
            if let Ok((downstream, _)) = listener.accept().await {
                tokio::spawn(relay(downstream, upstream.clone()));
            }
        }
    };
    let parent_gone = async {
        let Some(pid) = parent else {
            return std::future::pending().await;
        };
        while alive(&pid).await {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    };
    tokio::select! {
        () = accept => {}
        () = parent_gone => {}
    }
    Ok(())
}
