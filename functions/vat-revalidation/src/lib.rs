//! The `vat-revalidation` function: one scheduled run of [`shared::vat_revalidation`].

use std::time::{Duration, Instant};

use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use shared::vat_revalidation::{self, RevalidationReport};
use shared::App;

/// Time kept in hand at the end of a run: the longest VIES request plus writing its answer.
pub const SAFETY_MARGIN: Duration = Duration::from_secs(8);

/// When to stop starting VIES requests: `SAFETY_MARGIN` before the invocation's deadline.
pub fn stop_at(context: &Context) -> Instant {
    let now_ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or_default();
    let remaining = Duration::from_millis(context.deadline.saturating_sub(now_ms));
    Instant::now() + remaining.saturating_sub(SAFETY_MARGIN)
}

/// The schedule's event carries nothing this job needs; its time is not trusted over the clock.
pub async fn handle(
    app: &App,
    event: LambdaEvent<Value>,
) -> Result<RevalidationReport, lambda_runtime::Error> {
    let report = vat_revalidation::run(app, chrono::Utc::now(), stop_at(&event.context)).await?;
    Ok(report)
}
