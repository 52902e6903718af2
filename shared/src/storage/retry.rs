//! Optimistic concurrency: how often and how patiently a read-decide-write that lost a race is
//! run again ([`Store::decide_and_write`](super::Store::decide_and_write) is the one loop that does).

use std::time::Duration;

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
