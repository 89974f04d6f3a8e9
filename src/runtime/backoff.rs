//! Reconnect delays for the mailbox tasks.

use std::time::Duration;

/// Capped exponential backoff with jitter: 1 s, 2 s, 4 s ... up to 60 s, each ±25%.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    const BASE: Duration = Duration::from_secs(1);
    const CAP: Duration = Duration::from_secs(60);

    pub fn next_delay(&mut self) -> Duration {
        let exponential = Self::BASE.saturating_mul(1 << self.failures.min(10));
        self.failures = self.failures.saturating_add(1);
        let capped = exponential.min(Self::CAP);
        capped.mul_f64(rand::random_range(0.75..1.25))
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_a_cap_with_jitter() {
        let mut backoff = Backoff::default();
        let delays: Vec<Duration> = (0..10).map(|_| backoff.next_delay()).collect();
        assert!(
            delays[0] >= Duration::from_millis(750) && delays[0] <= Duration::from_millis(1250)
        );
        assert!(delays[3] >= Duration::from_secs(6) && delays[3] <= Duration::from_secs(10));
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(75)));
        assert!(delays[9] >= Duration::from_secs(45));
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_millis(1250));
    }
}
