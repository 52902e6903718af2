//! The scheduled re-validation of VAT numbers (`vat-revalidation` function, EventBridge
//! schedule). Reads only the organisations that are due, from the sparse `gsi1` index a page per
//! shard at a time, most overdue first (never a table scan), asks VIES with bounded concurrency
//! per member state, writes each outcome under the revision condition, and stops taking work
//! before its deadline: what is left stays due and the next run takes it.
//!
//! Memory is bounded: the run holds at most [`RunOptions::chunk`] organisations read and not yet
//! started, and at most as many started (waiting for a VIES slot, asking, or writing), however
//! many are due.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::app::App;
use crate::domain::change::Decision;
use crate::domain::decisions;
use crate::domain::organisation::Organisation;
use crate::domain::vat::VatNumber;
use crate::domain::verification::ViesAnswer;
use crate::storage::StoreError;

/// VIES limits concurrent requests per member state (`MS_MAX_CONCURRENT_REQ`).
pub const MAX_CONCURRENT_PER_STATE: usize = 2;
/// Concurrent VIES requests in all.
pub const MAX_CONCURRENT: usize = 10;
/// The default [`RunOptions::chunk`].
pub const CHUNK: usize = 200;

/// How much a run holds at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOptions {
    /// Due organisations held read and not yet started (the index is read in pages of
    /// `chunk / shards`, rounded up, per shard), and the most started and not finished at once
    /// (a task each). Larger than [`MAX_CONCURRENT`], so that a member state's limit does not
    /// idle the others; at least 1.
    pub chunk: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self { chunk: CHUNK }
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct RevalidationReport {
    /// Index items read: due organisations. All that were due, unless the run stopped at its
    /// deadline before reading the index to its end (`stopped_at_deadline`).
    pub seen: usize,
    /// Asked VIES and recorded the answer.
    pub checked: usize,
    /// Of those, how many changed status (each with a SYSTEM activity event).
    pub status_changed: usize,
    /// Of those, how many VIES could not check.
    pub unavailable: usize,
    /// Read but not started before the deadline: still due, for the next run.
    pub left_for_next_run: usize,
    /// The deadline came before the index was read to its end: more than `seen` may be due, and
    /// they stay due for the next run too.
    pub stopped_at_deadline: bool,
    /// The most organisations held at once (read and not started, plus started and not
    /// finished): at most about twice [`RunOptions::chunk`], however many are due.
    pub held_at_most: usize,
}

type Outcome = Option<Result<(bool, ViesAnswer), StoreError>>;

/// One run at `now` (answers are recorded as of `now`); no VIES request is started after
/// `stop_at`. With the default [`RunOptions`].
pub async fn run(
    app: &App,
    now: DateTime<Utc>,
    stop_at: Instant,
) -> Result<RevalidationReport, StoreError> {
    run_with(app, now, stop_at, RunOptions::default()).await
}

/// One run with `options`. Organisations are started most overdue first, as their VIES slots
/// allow. A failed read of the index stops reading: what was started is finished, then the error
/// is returned.
pub async fn run_with(
    app: &App,
    now: DateTime<Utc>,
    stop_at: Instant,
    options: RunOptions,
) -> Result<RevalidationReport, StoreError> {
    let mut report = RevalidationReport::default();
    let Some(vies) = app.vies.clone() else {
        tracing::error!("VIES is not configured; nothing re-validated");
        return Ok(report);
    };
    let chunk = options.chunk.max(1);
    let mut due = app.store.vat_checks_due(now, chunk);
    let all = Arc::new(Semaphore::new(MAX_CONCURRENT));
    let mut per_state: HashMap<String, Arc<Semaphore>> = HashMap::new();
    let mut tasks: JoinSet<Outcome> = JoinSet::new();
    let mut read_to_end = false;
    let mut failed = None;
    loop {
        while !read_to_end && failed.is_none() && tasks.len() < chunk {
            if Instant::now() >= stop_at {
                report.stopped_at_deadline = true;
                break;
            }
            let organisation = match due.next().await {
                Ok(Some(organisation)) => organisation,
                Ok(None) => {
                    read_to_end = true;
                    break;
                }
                Err(error) => {
                    failed = Some(error);
                    break;
                }
            };
            let Some(vat) = organisation
                .vat_code
                .as_deref()
                .and_then(|v| VatNumber::parse(v).ok())
            else {
                tracing::warn!(slug = %organisation.slug, "due without a valid VAT number; skipped");
                continue;
            };
            let state = per_state
                .entry(vat.country_code().to_owned())
                .or_insert_with(|| Arc::new(Semaphore::new(MAX_CONCURRENT_PER_STATE)))
                .clone();
            let (all, vies, app) = (all.clone(), vies.clone(), app.clone());
            tasks.spawn(async move {
                let _slot = all.acquire_owned().await.ok()?;
                let _state = state.acquire_owned().await.ok()?;
                if Instant::now() >= stop_at {
                    return None;
                }
                let answer = vies.check(&vat).await;
                Some(
                    record(&app, organisation, &vat, &answer, now)
                        .await
                        .map(|changed| (changed, answer)),
                )
            });
            report.held_at_most = report.held_at_most.max(tasks.len() + due.held());
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        match joined {
            Ok(Some(Ok((changed, answer)))) => {
                report.checked += 1;
                report.status_changed += usize::from(changed);
                report.unavailable += usize::from(matches!(answer, ViesAnswer::Unavailable(_)));
            }
            Ok(Some(Err(error))) => {
                tracing::error!(%error, "recording a VIES answer failed; it stays due")
            }
            Ok(None) => report.left_for_next_run += 1,
            Err(error) => tracing::error!(%error, "a re-validation task failed"),
        }
    }
    report.seen = due.read();
    report.left_for_next_run += due.held();
    if let Some(error) = failed {
        tracing::error!(?report, %error, "VAT re-validation run stopped: reading the index failed");
        return Err(error);
    }
    tracing::info!(?report, "VAT re-validation run finished");
    Ok(report)
}

/// Writes VIES's answer. The index copy may be stale (GSIs are eventually consistent): on a
/// conflict the profile is read again and the answer applied to it, unless its VAT number has
/// changed meanwhile (then that change has scheduled its own check), or it is gone. Returns
/// whether the status changed.
async fn record(
    app: &App,
    organisation: Organisation,
    vat: &VatNumber,
    answer: &ViesAnswer,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let store = &app.store;
    let slug = organisation.slug.clone();
    let mut from_index = Some(organisation);
    store
        .decide_and_write(
            |_| {
                let first = from_index.take();
                let slug = &slug;
                async move {
                    match first {
                        Some(organisation) => Ok(Some(Some(organisation))),
                        None => store.organisation(slug).await.map(Some),
                    }
                }
            },
            |organisation: Option<Organisation>| {
                Ok(organisation
                    .and_then(|o| decisions::record_vies_answer(&o, vat, answer, now))
                    .unwrap_or(Decision::nothing(false)))
            },
        )
        .await
}
