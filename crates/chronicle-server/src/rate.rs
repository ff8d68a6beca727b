//! Rate limits per token and per tenant: token buckets refilled
//! continuously; an empty bucket answers 429 with `Retry-After`.

use serde::{Deserialize, Serialize};
use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// `[auth.rate_limit]`: sustained requests per second allowed to each
/// token and to each tenant (all its tokens together); bursts of
/// `burst_seconds` worth of requests pass at once. Unset: unlimited.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimit {
    /// Requests per second per token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_token: Option<f64>,
    /// Requests per second per tenant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_tenant: Option<f64>,
    /// Bucket size in seconds of the rate (default 1: a burst of one second's worth).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub burst_seconds: Option<f64>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The buckets of one kind of key (token ids or tenants).
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Limiter {
    /// `None` when `rate` is unset or not positive.
    pub(crate) fn new(rate: Option<f64>, burst_seconds: Option<f64>) -> Option<Self> {
        let rate = rate.filter(|r| r.is_finite() && *r > 0.0)?;
        let burst = (rate * burst_seconds.filter(|b| b.is_finite() && *b > 0.0).unwrap_or(1.0)).max(1.0);
        Some(Self { rate, burst, buckets: Mutex::default() })
    }

    /// Takes one request from `key`'s bucket, or says how long to wait.
    pub(crate) fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket { tokens: self.burst, at: now });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / self.rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_the_rate() {
        let limiter = Limiter::new(Some(10.0), Some(0.5)).unwrap();
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(limiter.check("a", t0).is_ok());
        }
        let wait = limiter.check("a", t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-6, "{wait:?}");
        assert!(limiter.check("b", t0).is_ok(), "keys have their own buckets");
        assert!(limiter.check("a", t0 + Duration::from_millis(100)).is_ok());
        assert!(limiter.check("a", t0 + Duration::from_millis(100)).is_err());
        assert!(Limiter::new(None, None).is_none());
        assert!(Limiter::new(Some(0.0), None).is_none());
    }
}
