//! One DynamoDB Local per test process: the one `make test` started (`DYNAMODB_ENDPOINT`), or
//! one this process starts through `scripts/dynamodb-local.sh serve`, which stops it when the
//! process ends.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the repository")
        .to_path_buf()
}

pub fn endpoint() -> String {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT
        .get_or_init(|| {
            if let Ok(endpoint) = std::env::var("DYNAMODB_ENDPOINT") {
                return endpoint;
            }
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let mut child = Command::new(repo_root().join("scripts/dynamodb-local.sh"))
                .args(["serve", &port.to_string(), &std::process::id().to_string()])
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("start scripts/dynamodb-local.sh");
            let stdout = child.stdout.take().expect("piped stdout");
            let mut line = String::new();
            BufReader::new(stdout)
                .read_line(&mut line)
                .expect("read from dynamodb-local.sh");
            assert!(
                line.starts_with("ready"),
                "DynamoDB Local did not start (see .cache/dynamodb-local/{port}.log)"
            );
            // The script outlives this handle and exits when this process does.
            std::mem::forget(child);
            format!("http://127.0.0.1:{port}")
        })
        .clone()
}
