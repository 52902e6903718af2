//! Optimistic concurrency: a read-decide-write that lost a race is run again from the read.

use std::future::Future;
use std::time::Duration;

use crate::error::ApiError;
use crate::storage::StoreError;

/// Attempts before a request gives up. Writers of one organisation serialise on its revision, so
/// a burst of N concurrent writers needs up to N rounds; the backoff spreads them out.
pub const MAX_ATTEMPTS: u32 = 30;

/// Full-jitter exponential backoff (AWS Architecture Blog, "Exponential Backoff And Jitter"):
/// a random wait in `[0, min(cap, base * 2^attempt))`.
pub async fn backoff(attempt: u32) {
    const BASE_MS: u64 = 4;
    const CAP_MS: u64 = 200;
    let ceiling = CAP_MS.min(BASE_MS.saturating_mul(1 << attempt.min(16)));
    let wait = rand::random_range(0..=ceiling);
    tokio::time::sleep(Duration::from_millis(wait)).await;
}

/// An error that may mean "another writer got there first": the read-decide-write is safe to
/// run again.
pub trait MayConflict {
    fn is_conflict(&self) -> bool;
}

impl MayConflict for ApiError {
    fn is_conflict(&self) -> bool {
        matches!(self, ApiError::Internal(source)
            if source.downcast_ref::<StoreError>().is_some_and(StoreError::is_conflict))
    }
}

/// Runs `attempt` until it succeeds, fails with anything but a conflict, or has conflicted
/// [`MAX_ATTEMPTS`] times.
pub async fn retry_on_conflict<T, F, Fut>(attempt: F) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    retry(attempt).await
}

/// [`retry_on_conflict`] for any error type that tells conflicts apart.
pub async fn retry<T, E, F, Fut>(mut attempt: F) -> Result<T, E>
where
    E: MayConflict,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut tries = 0;
    loop {
        match attempt().await {
            Err(error) if error.is_conflict() && tries + 1 < MAX_ATTEMPTS => {
                tries += 1;
                tracing::debug!(tries, "write conflicted; retrying");
                backoff(tries).await;
            }
            other => return other,
        }
    }
}
