//! How failed requests are retried: which answers are worth another attempt, and how long to wait before it
//! (exponential backoff with jitter, `Retry-After` on 429, both capped).

use std::time::Duration;

/// How failed requests are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all (first try included).
    pub max_attempts: u32,
    /// First backoff; doubles each retry, with up to 50% jitter.
    pub base_delay: Duration,
    /// Longest wait between attempts (also caps `Retry-After`).
    pub max_delay: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
        }
    }
}

/// Seconds from a `Retry-After` header (delta-seconds form; an HTTP date is treated as absent).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let text = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    text.trim().parse::<u64>().ok().map(Duration::from_secs)
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1` after a failed attempt `attempt` (1-based): the base delay doubled per
    /// retry, plus up to 50% jitter so clients that failed together do not retry together, capped at `max_delay`.
    pub(super) fn backoff(&self, attempt: u32) -> Duration {
        jitter(self.base_delay * 2u32.saturating_pow(attempt.saturating_sub(1))).min(self.max_delay)
    }

    /// The wait before retrying an answer with HTTP `status`: the service's `Retry-After` on 429 (capped), else
    /// `backoff`.
    pub(super) fn wait(
        &self,
        status: u16,
        headers: &reqwest::header::HeaderMap,
        backoff: Duration,
    ) -> Duration {
        if status == 429 {
            retry_after(headers).map_or(backoff, |d| d.min(self.max_delay))
        } else {
            backoff
        }
    }
}

/// Whether an answer with HTTP `status` is worth another attempt: rate limiting and server errors are transient;
/// another 4xx would only be refused again.
pub(super) fn retryable(status: u16) -> bool {
    status == 429 || (500..=599).contains(&status)
}

fn jitter(d: Duration) -> Duration {
    use rand::Rng;
    let extra = rand::thread_rng().gen_range(0.0..0.5);
    d + d.mul_f64(extra)
}
