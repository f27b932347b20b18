//! What a run found: the figures, the JSON report with one key per figure (the keys the
//! benchmark issue names), and the table with each figure beside its floor and target.

use crate::bench::Plan;
use crate::bench::jails::Resident;
use crate::bench::machine::Machine;
use crate::bench::stats::{Samples, ms, round, us};
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::time::Duration;

/// Everything one run measured.
pub struct Figures {
    pub machine: Machine,
    pub plan: Plan,
    pub compile: Duration,
    pub precompile: Samples,
    pub image_build: Samples,
    pub noop_rebuild: Samples,
    pub noop_build_image_call: Samples,
    pub image_bytes: u64,
    pub runner_bytes: u64,
    pub instantiate: Samples,
    pub core_call: Samples,
    pub in_process: Samples,
    pub attach: Samples,
    pub pooled: Samples,
    pub resident: Resident,
    pub throughput: Vec<Throughput>,
    pub stream_first: Samples,
    pub stream_total: Samples,
    pub api_container: Samples,
    pub docker_run: Samples,
    pub cold: Samples,
    pub ephemeral_ready: Samples,
    /// The first call on a fresh container while no other container starts.
    pub first_call: Samples,
    pub ephemeral_b2b: Samples,
    /// How long the ready and cold calls were spaced apart.
    pub gap: Duration,
}

/// Pooled calls per second at one concurrency, and its floor.
pub struct Throughput {
    pub concurrency: usize,
    pub pool_size: usize,
    pub calls_per_s: f64,
    /// Echo loops in the floor: as many as the pool can keep busy at once.
    pub floor_loops: usize,
    /// Echo round trips per second over `floor_loops` long-lived containers at once.
    pub floor_calls_per_s: f64,
}

/// `target/bench/report.json`: exactly one key per figure the benchmark issue names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub in_process_p50_us: f64,
    pub in_process_p99_us: f64,
    pub pooled_p50_us: f64,
    pub pooled_p99_us: f64,
    pub pooled_calls_per_s_c1: f64,
    pub pooled_calls_per_s_c4: f64,
    pub pooled_calls_per_s_c16: f64,
    pub pooled_calls_per_s_c64: f64,
    pub ephemeral_ready_p50_ms: f64,
    pub ephemeral_b2b_p50_ms: f64,
    pub cold_p50_ms: f64,
    pub floor_docker_run_p50_ms: f64,
    pub floor_api_container_p50_ms: f64,
    pub floor_attach_roundtrip_p50_us: f64,
    pub stream_first_callback_us: f64,
    pub stream_10k_total_ms: f64,
    pub image_build_ms: f64,
    pub image_rebuild_noop_ms: f64,
    pub image_bytes: u64,
    pub runner_bytes: u64,
    pub idle_container_rss_bytes: u64,
    pub instantiate_us: f64,
}

impl Report {
    pub fn of(f: &Figures) -> Report {
        let calls_per_s = |concurrency: usize| {
            f.throughput
                .iter()
                .find(|t| t.concurrency == concurrency)
                .map_or(f64::NAN, |t| round(t.calls_per_s, 0))
        };
        Report {
            in_process_p50_us: us(f.in_process.p50()),
            in_process_p99_us: us(f.in_process.p99()),
            pooled_p50_us: us(f.pooled.p50()),
            pooled_p99_us: us(f.pooled.p99()),
            pooled_calls_per_s_c1: calls_per_s(1),
            pooled_calls_per_s_c4: calls_per_s(4),
            pooled_calls_per_s_c16: calls_per_s(16),
            pooled_calls_per_s_c64: calls_per_s(64),
            ephemeral_ready_p50_ms: ms(f.ephemeral_ready.p50()),
            ephemeral_b2b_p50_ms: ms(f.ephemeral_b2b.p50()),
            cold_p50_ms: ms(f.cold.p50()),
            floor_docker_run_p50_ms: ms(f.docker_run.p50()),
            floor_api_container_p50_ms: ms(f.api_container.p50()),
            floor_attach_roundtrip_p50_us: us(f.attach.p50()),
            stream_first_callback_us: us(f.stream_first.p50()),
            stream_10k_total_ms: ms(f.stream_total.p50()),
            image_build_ms: ms(f.image_build.p50()),
            image_rebuild_noop_ms: ms(f.noop_rebuild.p50()),
            image_bytes: f.image_bytes,
            runner_bytes: f.runner_bytes,
            idle_container_rss_bytes: f.resident.process_rss_bytes,
            instantiate_us: us(f.instantiate.p50()),
        }
    }
}

/// `target/bench/details.json`: the machine, the run's settings, and the figures behind
/// the report's (other percentiles, sample counts, the parts of a figure).
#[derive(Serialize)]
pub struct Details {
    pub machine: Machine,
    pub plan: Plan,
    pub gap_ms: f64,
    pub inmate_compile_ms: f64,
    pub inmate_precompile_p50_ms: f64,
    pub image_rebuild_noop_build_image_call_ms: f64,
    pub instantiate_p99_us: f64,
    pub runner_core_call_p50_us: f64,
    pub runner_core_call_p99_us: f64,
    pub floor_attach_roundtrip_p99_us: f64,
    pub floor_api_container_p99_ms: f64,
    pub floor_docker_run_p99_ms: f64,
    pub ephemeral_ready_p99_ms: f64,
    pub first_call_fresh_container_p50_ms: f64,
    pub ephemeral_b2b_p99_ms: f64,
    pub cold_p99_ms: f64,
    pub stream_first_callback_p99_us: f64,
    pub idle_container_cgroup_bytes: u64,
    pub idle_container_cgroup_usage_bytes: u64,
    pub throughput: Vec<ThroughputDetail>,
}

#[derive(Serialize)]
pub struct ThroughputDetail {
    pub concurrency: usize,
    pub pool_size: usize,
    pub calls_per_s: f64,
    pub floor_loops: usize,
    pub floor_calls_per_s: f64,
}

impl Details {
    pub fn of(f: &Figures) -> Details {
        Details {
            machine: f.machine.clone(),
            plan: f.plan.clone(),
            gap_ms: ms(f.gap),
            inmate_compile_ms: ms(f.compile),
            inmate_precompile_p50_ms: ms(f.precompile.p50()),
            image_rebuild_noop_build_image_call_ms: ms(f.noop_build_image_call.p50()),
            instantiate_p99_us: us(f.instantiate.p99()),
            runner_core_call_p50_us: us(f.core_call.p50()),
            runner_core_call_p99_us: us(f.core_call.p99()),
            floor_attach_roundtrip_p99_us: us(f.attach.p99()),
            floor_api_container_p99_ms: ms(f.api_container.p99()),
            floor_docker_run_p99_ms: ms(f.docker_run.p99()),
            ephemeral_ready_p99_ms: ms(f.ephemeral_ready.p99()),
            first_call_fresh_container_p50_ms: ms(f.first_call.p50()),
            ephemeral_b2b_p99_ms: ms(f.ephemeral_b2b.p99()),
            cold_p99_ms: ms(f.cold.p99()),
            stream_first_callback_p99_us: us(f.stream_first.p99()),
            idle_container_cgroup_bytes: f.resident.cgroup_bytes,
            idle_container_cgroup_usage_bytes: f.resident.cgroup_usage_bytes,
            throughput: f
                .throughput
                .iter()
                .map(|t| ThroughputDetail {
                    concurrency: t.concurrency,
                    pool_size: t.pool_size,
                    calls_per_s: round(t.calls_per_s, 0),
                    floor_loops: t.floor_loops,
                    floor_calls_per_s: round(t.floor_calls_per_s, 0),
                })
                .collect(),
        }
    }
}

/// A target of the benchmark issue, and whether the run met it.
struct Target {
    text: String,
    met: bool,
}

/// One line of the table.
struct Row {
    figure: String,
    measured: String,
    floor: String,
    /// How many times its floor's cost the figure is (for rates: the floor's rate over
    /// the figure's, so that above 1 is always slower than the floor).
    ratio: Option<f64>,
    target: Option<Target>,
}

fn row(figure: impl Into<String>, measured: impl Into<String>) -> Row {
    Row {
        figure: figure.into(),
        measured: measured.into(),
        floor: String::new(),
        ratio: None,
        target: None,
    }
}

impl Row {
    fn floor(mut self, floor: impl Into<String>, ratio: f64) -> Row {
        self.floor = floor.into();
        self.ratio = Some(ratio);
        self
    }

    fn target(mut self, text: impl Into<String>, met: bool) -> Row {
        self.target = Some(Target {
            text: text.into(),
            met,
        });
        self
    }
}

/// A duration for people: µs below a millisecond, ms below ten seconds, else s.
pub fn human(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros < 1_000.0 {
        format!("{micros:.1} µs")
    } else if micros < 10_000_000.0 {
        let millis = micros / 1e3;
        if millis < 10.0 {
            format!("{millis:.2} ms")
        } else {
            format!("{millis:.1} ms")
        }
    } else {
        format!("{:.2} s", micros / 1e6)
    }
}

fn per_s(rate: f64) -> String {
    let rate = rate.round() as u64;
    // Thousands separated, as people read rates.
    let digits = rate.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("{out}/s")
}

fn ratio(figure: Duration, floor: Duration) -> f64 {
    figure.as_secs_f64() / floor.as_secs_f64()
}

fn rows(f: &Figures) -> Vec<Row> {
    let plan = &f.plan;
    let attach = f.attach.p50();
    let api = f.api_container.p50();
    let mb = |bytes: u64| format!("{:.1} MB", bytes as f64 / 1e6);
    let mib = |bytes: u64| format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64);
    let attach_floor = format!("attach round trip {}", human(attach));
    let api_floor = format!("API container {}", human(api));
    let mut rows = vec![
        row(
            format!("in-process call, p50 ({} calls)", f.in_process.len()),
            human(f.in_process.p50()),
        )
        .floor(
            format!("instantiation {}", human(f.instantiate.p50())),
            ratio(f.in_process.p50(), f.instantiate.p50()),
        )
        .target("≤ 15 µs", f.in_process.p50() <= Duration::from_micros(15)),
        row("in-process call, p99", human(f.in_process.p99())).floor(
            format!("instantiation p99 {}", human(f.instantiate.p99())),
            ratio(f.in_process.p99(), f.instantiate.p99()),
        ),
        row(
            format!(
                "in-process instantiation alone, p50 ({} runs)",
                f.instantiate.len()
            ),
            human(f.instantiate.p50()),
        ),
        row(
            "runner core call alone (instance + call + drop, no backend), p50",
            human(f.core_call.p50()),
        )
        .floor(
            format!("instantiation {}", human(f.instantiate.p50())),
            ratio(f.core_call.p50(), f.instantiate.p50()),
        ),
        row(
            format!(
                "pooled call, sequential, p50 (pool of 1, {} calls)",
                f.pooled.len()
            ),
            human(f.pooled.p50()),
        )
        .floor(attach_floor.clone(), ratio(f.pooled.p50(), attach))
        .target(
            format!("≤ 1.3 × floor = {}", human(attach.mul_f64(1.3))),
            f.pooled.p50() <= attach.mul_f64(1.3),
        ),
        row("pooled call, sequential, p99", human(f.pooled.p99())).floor(
            format!("attach round trip p99 {}", human(f.attach.p99())),
            ratio(f.pooled.p99(), f.attach.p99()),
        ),
    ];
    for t in &f.throughput {
        let mut line = row(
            format!(
                "pooled calls/s, concurrency {} (pool of {})",
                t.concurrency, t.pool_size
            ),
            per_s(t.calls_per_s),
        )
        .floor(
            format!(
                "{} echo loop{} {}",
                t.floor_loops,
                if t.floor_loops == 1 { "" } else { "s" },
                per_s(t.floor_calls_per_s)
            ),
            t.floor_calls_per_s / t.calls_per_s,
        );
        if t.concurrency == 16 {
            line = line.target("≥ 5,000/s", t.calls_per_s >= 5_000.0);
        }
        rows.push(line);
    }
    let gap = human(f.gap);
    rows.extend([
        row(
            format!(
                "ephemeral call, ready (prestarted, {} apart), p50 ({} calls)",
                gap,
                f.ephemeral_ready.len()
            ),
            human(f.ephemeral_ready.p50()),
        )
        .floor(attach_floor.clone(), ratio(f.ephemeral_ready.p50(), attach))
        .target(
            "≤ 10 ms",
            f.ephemeral_ready.p50() <= Duration::from_millis(10),
        ),
        row(
            format!(
                "first call on a fresh container, no other starting (pool of 1), p50 ({} calls)",
                f.first_call.len()
            ),
            human(f.first_call.p50()),
        )
        .floor(attach_floor.clone(), ratio(f.first_call.p50(), attach)),
        row(
            format!(
                "ephemeral call, back to back, p50 ({} calls)",
                f.ephemeral_b2b.len()
            ),
            human(f.ephemeral_b2b.p50()),
        )
        .floor(api_floor.clone(), ratio(f.ephemeral_b2b.p50(), api))
        .target(
            format!("≤ 1.1 × floor = {}", human(api.mul_f64(1.1))),
            f.ephemeral_b2b.p50() <= api.mul_f64(1.1),
        ),
        row(
            format!(
                "cold call (no prestart, {} apart), p50 ({} calls)",
                gap,
                f.cold.len()
            ),
            human(f.cold.p50()),
        )
        .floor(api_floor.clone(), ratio(f.cold.p50(), api)),
        row(
            format!(
                "floor: `docker run --rm` of the echo image, p50 ({} runs)",
                f.docker_run.len()
            ),
            human(f.docker_run.p50()),
        )
        .floor(api_floor, ratio(f.docker_run.p50(), api)),
        row(
            format!(
                "floor: API container per request, p50 ({} runs)",
                f.api_container.len()
            ),
            human(api),
        ),
        row(
            format!(
                "floor: attach round trip to an echo loop, p50 ({} round trips)",
                f.attach.len()
            ),
            human(attach),
        ),
        row(
            format!(
                "streaming: first callback, p50 ({} calls)",
                f.stream_first.len()
            ),
            human(f.stream_first.p50()),
        )
        .floor(attach_floor, ratio(f.stream_first.p50(), attach)),
        row(
            format!("streaming: {} yields, total, p50", plan.stream_yields),
            human(f.stream_total.p50()),
        )
        .floor(
            format!(
                "{} attach round trips {}",
                plan.stream_yields,
                human(attach * plan.stream_yields)
            ),
            ratio(f.stream_total.p50(), attach * plan.stream_yields),
        ),
        row(
            format!(
                "image build from nothing, p50 ({} builds)",
                f.image_build.len()
            ),
            human(f.image_build.p50()),
        ),
        row(
            format!(
                "no-op rebuild: new jail + `build_image`, p50 ({} runs)",
                f.noop_rebuild.len()
            ),
            human(f.noop_rebuild.p50()),
        )
        .target(
            "≤ 200 ms",
            f.noop_rebuild.p50() <= Duration::from_millis(200),
        ),
        row(
            "of which the `build_image` call itself",
            human(f.noop_build_image_call.p50()),
        ),
        row("image size (`reverse`)", mb(f.image_bytes))
            .floor(
                format!("runner {}", mb(f.runner_bytes)),
                f.image_bytes as f64 / f.runner_bytes as f64,
            )
            .target("≤ 8 MB", f.image_bytes <= 8_000_000),
        row("runner binary size", mb(f.runner_bytes)),
        row(
            "idle pooled container, resident (its process's VmRSS)",
            mib(f.resident.process_rss_bytes),
        )
        .target("≤ 10 MiB", f.resident.process_rss_bytes <= 10 << 20),
        row(
            "of which charged to its cgroup (anonymous + mapped files)",
            mib(f.resident.cgroup_bytes),
        ),
        row(
            "inmate compile (`reverse` changed, dependencies built)",
            human(f.compile),
        ),
        row(
            format!("inmate precompile, p50 ({} runs)", f.precompile.len()),
            human(f.precompile.p50()),
        ),
    ]);
    rows
}

/// The table (Markdown, readable as plain text too) and the machine under it.
pub fn table(f: &Figures) -> String {
    let mut out = String::from(
        "| figure | measured | floor | × floor | target | met |\n|---|---:|---|---:|---|---|\n",
    );
    for r in rows(f) {
        let ratio = r.ratio.map_or(String::new(), |x| format!("{x:.2}"));
        let (target, met) = match &r.target {
            Some(t) => (t.text.as_str(), if t.met { "yes" } else { "**no**" }),
            None => ("", ""),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            r.figure, r.measured, r.floor, ratio, target, met
        );
    }
    let _ = writeln!(out, "\nMachine: {}.", f.machine.line());
    out
}

/// The issue's targets that this run missed, by figure.
pub fn misses(f: &Figures) -> Vec<String> {
    rows(f)
        .into_iter()
        .filter(|r| r.target.as_ref().is_some_and(|t| !t.met))
        .map(|r| {
            let target = r.target.expect("filtered");
            format!("{}: {} (target {})", r.figure, r.measured, target.text)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys the benchmark issue names, in its order.
    const ISSUE_KEYS: [&str; 22] = [
        "in_process_p50_us",
        "in_process_p99_us",
        "pooled_p50_us",
        "pooled_p99_us",
        "pooled_calls_per_s_c1",
        "pooled_calls_per_s_c4",
        "pooled_calls_per_s_c16",
        "pooled_calls_per_s_c64",
        "ephemeral_ready_p50_ms",
        "ephemeral_b2b_p50_ms",
        "cold_p50_ms",
        "floor_docker_run_p50_ms",
        "floor_api_container_p50_ms",
        "floor_attach_roundtrip_p50_us",
        "stream_first_callback_us",
        "stream_10k_total_ms",
        "image_build_ms",
        "image_rebuild_noop_ms",
        "image_bytes",
        "runner_bytes",
        "idle_container_rss_bytes",
        "instantiate_us",
    ];

    #[test]
    fn the_report_has_exactly_the_issues_keys() {
        let report = Report {
            in_process_p50_us: 1.0,
            in_process_p99_us: 2.0,
            pooled_p50_us: 3.0,
            pooled_p99_us: 4.0,
            pooled_calls_per_s_c1: 5.0,
            pooled_calls_per_s_c4: 6.0,
            pooled_calls_per_s_c16: 7.0,
            pooled_calls_per_s_c64: 8.0,
            ephemeral_ready_p50_ms: 9.0,
            ephemeral_b2b_p50_ms: 10.0,
            cold_p50_ms: 11.0,
            floor_docker_run_p50_ms: 12.0,
            floor_api_container_p50_ms: 13.0,
            floor_attach_roundtrip_p50_us: 14.0,
            stream_first_callback_us: 15.0,
            stream_10k_total_ms: 16.0,
            image_build_ms: 17.0,
            image_rebuild_noop_ms: 18.0,
            image_bytes: 19,
            runner_bytes: 20,
            idle_container_rss_bytes: 21,
            instantiate_us: 22.0,
        };
        let json = serde_json::to_value(&report).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = ISSUE_KEYS.to_vec();
        expected.sort_unstable();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, expected);
        // Every figure is a number, and the report reads back as written.
        assert!(json.as_object().unwrap().values().all(|v| v.is_number()));
        assert_eq!(serde_json::from_value::<Report>(json).unwrap(), report);
    }

    #[test]
    fn a_report_with_another_key_is_refused() {
        let mut json = serde_json::json!({});
        for (i, key) in ISSUE_KEYS.iter().enumerate() {
            json[*key] = serde_json::json!(i);
        }
        assert!(serde_json::from_value::<Report>(json.clone()).is_ok());
        json["extra_us"] = serde_json::json!(1.0);
        assert!(serde_json::from_value::<Report>(json).is_err());
    }

    #[test]
    fn durations_and_rates_read_as_people_write_them() {
        assert_eq!(human(Duration::from_nanos(12_345)), "12.3 µs");
        assert_eq!(human(Duration::from_micros(2_345)), "2.35 ms");
        assert_eq!(human(Duration::from_micros(157_260)), "157.3 ms");
        assert_eq!(human(Duration::from_secs(12)), "12.00 s");
        assert_eq!(per_s(3_201.4), "3,201/s");
        assert_eq!(per_s(999.0), "999/s");
        assert_eq!(per_s(1_234_567.0), "1,234,567/s");
    }
}
