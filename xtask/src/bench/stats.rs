//! Samples and the figures drawn from them: percentiles of sorted latencies, throughput
//! from the wall time of a fixed number of calls.

use anyhow::Result;
use std::time::{Duration, Instant};

/// Latencies of one kind of operation, sorted.
#[derive(Clone, Debug)]
pub struct Samples {
    sorted: Vec<Duration>,
}

impl Samples {
    /// Sorts `times`. There must be at least one.
    pub fn new(mut times: Vec<Duration>) -> Samples {
        assert!(!times.is_empty(), "a figure needs at least one sample");
        times.sort_unstable();
        Samples { sorted: times }
    }

    /// The nearest-rank `p`th percentile (0 < p ≤ 100): the smallest sample with at least
    /// p% of the samples at or below it. It is always a measured value, never interpolated.
    pub fn percentile(&self, p: f64) -> Duration {
        assert!(p > 0.0 && p <= 100.0, "percentile {p} out of (0, 100]");
        let rank = (p / 100.0 * self.sorted.len() as f64).ceil() as usize;
        self.sorted[rank.clamp(1, self.sorted.len()) - 1]
    }

    /// The median.
    pub fn p50(&self) -> Duration {
        self.percentile(50.0)
    }

    /// The 99th percentile.
    pub fn p99(&self) -> Duration {
        self.percentile(99.0)
    }

    /// How many samples there are.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }
}

/// Times `runs` calls of `one`, after `warmup` untimed ones.
pub async fn time_each<F, Fut>(warmup: usize, runs: usize, mut one: F) -> Result<Samples>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<()>>,
{
    for _ in 0..warmup {
        one().await?;
    }
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        one().await?;
        times.push(started.elapsed());
    }
    Ok(Samples::new(times))
}

/// Operations per second: `count` operations that took `wall` in all.
pub fn per_second(count: usize, wall: Duration) -> f64 {
    count as f64 / wall.as_secs_f64()
}

/// A duration in microseconds, to 0.1 µs.
pub fn us(d: Duration) -> f64 {
    round(d.as_secs_f64() * 1e6, 1)
}

/// A duration in milliseconds, to 0.01 ms.
pub fn ms(d: Duration) -> f64 {
    round(d.as_secs_f64() * 1e3, 2)
}

/// `x` rounded to `decimals` places: reports carry what the clock can tell, no more.
pub fn round(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(micros: &[u64]) -> Samples {
        Samples::new(micros.iter().map(|&m| Duration::from_micros(m)).collect())
    }

    #[test]
    fn percentiles_are_nearest_rank_of_the_sorted_samples() {
        let s = samples(&[40, 10, 30, 20]);
        assert_eq!(s.p50(), Duration::from_micros(20));
        assert_eq!(s.p99(), Duration::from_micros(40));
        assert_eq!(s.percentile(25.0), Duration::from_micros(10));
        assert_eq!(s.percentile(26.0), Duration::from_micros(20));
        assert_eq!(s.percentile(100.0), Duration::from_micros(40));
    }

    #[test]
    fn p99_of_a_hundred_is_the_ninety_ninth() {
        let s = samples(&(1..=100).rev().collect::<Vec<_>>());
        assert_eq!(s.p50(), Duration::from_micros(50));
        assert_eq!(s.p99(), Duration::from_micros(99));
        assert_eq!(s.len(), 100);
    }

    #[test]
    fn one_sample_is_every_percentile() {
        let s = samples(&[7]);
        assert_eq!(s.p50(), Duration::from_micros(7));
        assert_eq!(s.p99(), Duration::from_micros(7));
    }

    #[test]
    fn units_and_throughput() {
        assert_eq!(us(Duration::from_nanos(12_345)), 12.3);
        assert_eq!(ms(Duration::from_micros(1_234_567)), 1234.57);
        assert_eq!(per_second(500, Duration::from_millis(250)), 2000.0);
    }
}
