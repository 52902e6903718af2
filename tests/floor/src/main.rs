//! hello-lambda, the floor of `make cold-start`: a hello-world `lambda_runtime` function, built with the same
//! release profile as the functions and started by the same bench (`tests/benches/cold_start.rs`).
//! Each function's start-up is reported as a ratio to this one's: what the runtime, tokio and the
//! process cost by themselves, without tracing, configuration or an SDK client.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|_: LambdaEvent<Value>| async {
        Ok::<_, Error>(json!({ "statusCode": 200, "body": "hello" }))
    }))
    .await
}
