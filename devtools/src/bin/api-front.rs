//! The front of `make dev` (src/api_front.rs): `api-front <port> <emulator host:port> [<pid>]`.
//!
//! Listens on `127.0.0.1:<port>` once the emulator is reachable, and routes by the workspace's `Cargo.toml`; with a pid, exits
//! when that process is gone. `scripts/watch.sh` starts it on the API's port, in front of
//! `cargo lambda watch`.

use std::time::Duration;

use devtools::api_front::{bind, Front, Router};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: api-front <port> <emulator host:port> [<pid>]";
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().ok_or(usage)?.parse()?;
    let upstream = args.next().ok_or(usage)?;
    let parent = args.next();
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
    let router = Router::from_manifest(&std::fs::read_to_string(manifest)?)?;
    let front = async {
        // The port opens once the emulator answers: a client that waits for the port to open
        // (the scripts do) then finds the API, not a 502.
        while tokio::net::TcpStream::connect(&upstream).await.is_err() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let listener = bind(port).await?;
        Front::new(upstream.clone(), router).serve(listener).await;
        Ok::<(), std::io::Error>(())
    };
    tokio::select! {
        served = front => served?,
        () = devtools::parent::gone(parent) => {}
    }
    Ok(())
}
