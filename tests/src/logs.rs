//! The log lines of this test process, in the functions' own format
//! (`shared::app::json_logs`), at INFO and above: what CloudWatch would receive.

use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

/// Every line logged at INFO and above while the tests of this binary run (one process-wide
/// subscriber: tracing has one global default).
#[derive(Clone)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

/// Installs the capture on first use and returns it.
pub fn captured() -> CapturedLogs {
    static LOGS: OnceLock<CapturedLogs> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = CapturedLogs(Arc::new(Mutex::new(Vec::new())));
        let sink = logs.clone();
        let subscriber = shared::app::json_logs("info", move || Writer(sink.0.clone()));
        let _ = tracing::subscriber::set_global_default(subscriber);
        logs
    })
    .clone()
}

impl CapturedLogs {
    /// Everything captured so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer").clone()).into_owned()
    }

    /// The captured lines that are JSON objects.
    pub fn lines(&self) -> Vec<Value> {
        self.text()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }
}

struct Writer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Writer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
