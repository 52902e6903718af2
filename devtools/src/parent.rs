//! For the helpers `make dev` starts beside `cargo lambda watch`: ending with the process that
//! started them, whatever way it ends (a `trap` does not run on SIGKILL).

use std::time::Duration;

/// Whether a process is still there (`kill -0`).
async fn alive(pid: &str) -> bool {
    tokio::process::Command::new("kill")
        .args(["-0", pid])
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .is_ok_and(|status| status.success())
}

/// Resolves once process `pid` is gone (checked every second); never without a pid.
pub async fn gone(pid: Option<String>) {
    let Some(pid) = pid else {
        return std::future::pending().await;
    };
    while alive(&pid).await {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
