//! The wasm wall and the limits, climbed by a hostile inmate over both backends: each
//! attempt ends in its own typed error (or a refusal the inmate sees), the host is
//! unharmed, and the next call on the same jail works.

use crate::support;
use hoosegow::{Error, Hoosegow, Limit, Limits};
use serde_json::json;
use std::time::{Duration, Instant};

hoosegow::bindgen!({ world: "hostile", path: "../inmates/hostile/wit" });

struct Ticks;

impl HostileImports for Ticks {
    async fn tick(&self) -> Result<(), String> {
        Ok(())
    }
}

fn hostile(jail: &Hoosegow, limits: Limits) -> Hostile {
    Hostile::new(jail.clone(), Ticks).with_options(|o| o.limits(limits).stdout(support::captured()))
}

/// Asserts that `err` is the `limit` at `value`, and that the jail still serves calls.
async fn assert_limit(jail: &Hoosegow, err: Error, limit: Limit, value: u64) {
    let at = support::backend(jail);
    match &err {
        Error::LimitExceeded { hit, .. } => {
            assert_eq!((hit.limit, hit.value), (limit, value), "{at}: {err}")
        }
        other => panic!("{at}: expected the {limit:?} limit, got {other:?}"),
    }
    let next = hostile(jail, Limits::default());
    assert_eq!(
        next.burn(10).await.unwrap(),
        45,
        "{at}: the next call works"
    );
}

#[tokio::test]
async fn an_infinite_loop_ends_at_the_deadline() {
    for jail in support::jails("hostile", "infinite_loop").await {
        let limits = Limits {
            timeout_ms: 300,
            ..Limits::default()
        };
        let started = Instant::now();
        let err = hostile(&jail, limits).spin().await.unwrap_err();
        let took = started.elapsed();
        println!(
            "{}: infinite loop stopped after {took:?} (deadline 300 ms)",
            support::backend(&jail)
        );
        // A correctness bound, not a speed claim: without the epoch deadline the call
        // would only end at the host's own give-up time, seconds later.
        assert!(
            took < Duration::from_millis(300) + Duration::from_secs(3),
            "{took:?}"
        );
        assert!(err.to_string().contains("timeout limit of 300 ms"), "{err}");
        assert_limit(&jail, err, Limit::Timeout, 300).await;
    }
    support::record_attack(
        "wasm",
        "infinite loop (`loop {}`)",
        "stopped at the deadline: LimitExceeded(timeout)",
    );
}

#[tokio::test]
async fn a_memory_bomb_hits_the_memory_limit() {
    for jail in support::jails("hostile", "memory_bomb").await {
        let limits = Limits {
            memory_bytes: 64 << 20,
            ..Limits::default()
        };
        let err = hostile(&jail, limits).grow_memory(1024).await.unwrap_err();
        assert_limit(&jail, err, Limit::Memory, 64 << 20).await;
    }
    support::record_attack(
        "wasm",
        "linear-memory bomb (1 GiB of touched pages)",
        "refused at the memory limit: LimitExceeded(memory)",
    );
}

#[tokio::test]
async fn deep_recursion_hits_the_stack_limit() {
    for jail in support::jails("hostile", "deep_recursion").await {
        let err = hostile(&jail, Limits::default())
            .recurse(100_000_000)
            .await
            .unwrap_err();
        assert_limit(
            &jail,
            err,
            Limit::Stack,
            hoosegow_wire::message::STACK_BYTES,
        )
        .await;

        // The inmate's own stack in linear memory overflows into a trap of its own.
        let inmate = hostile(&jail, Limits::default());
        let err = inmate.recurse_in_memory(100_000_000).await.unwrap_err();
        match &err {
            Error::Inmate(e) => assert!(e.message.contains("out of bounds memory access"), "{e}"),
            other => panic!("expected a trap, got {other:?}"),
        }
        assert_eq!(inmate.recurse(1000).await.unwrap(), 1000);
    }
    support::record_attack(
        "wasm",
        "stack overflow by deep recursion (wasm stack)",
        "trapped at the wasm stack limit: LimitExceeded(stack)",
    );
    support::record_attack(
        "wasm",
        "stack overflow by deep recursion (the inmate's stack in linear memory)",
        "trapped: out of bounds memory access, inside the inmate's own memory",
    );
}

#[tokio::test]
async fn a_finite_but_long_loop_runs_out_of_fuel() {
    for jail in support::jails("hostile", "fuel").await {
        let limits = Limits {
            fuel: Some(1_000_000),
            ..Limits::default()
        };
        let err = hostile(&jail, limits.clone())
            .burn(u64::MAX)
            .await
            .unwrap_err();
        assert_limit(&jail, err, Limit::Fuel, 1_000_000).await;
        assert_eq!(
            hostile(&jail, limits).burn(1000).await.unwrap(),
            499_500,
            "a call within its fuel runs"
        );
    }
    support::record_attack(
        "wasm",
        "long computation under a fuel limit",
        "stopped when the fuel ran out: LimitExceeded(fuel)",
    );
}

#[tokio::test]
async fn a_stdout_flood_hits_the_stdout_limit() {
    for jail in support::jails("hostile", "stdout_flood").await {
        let out = support::captured();
        let inmate = Hostile::new(jail.clone(), Ticks).with_options(|o| o.stdout(out.clone()));
        let err = inmate.flood_stdout(10 * 1024).await.unwrap_err();
        let written = out.lock().unwrap().len();
        assert!(
            written <= 1 << 20,
            "{}: only the allowance reached the writer ({written} bytes)",
            support::backend(&jail)
        );
        assert_limit(&jail, err, Limit::Stdout, 1 << 20).await;
    }
    support::record_attack(
        "wasm",
        "stdout flood (10 MiB)",
        "cut at the stdout limit: LimitExceeded(stdout)",
    );
}

#[tokio::test]
async fn a_huge_result_hits_the_result_limit() {
    for jail in support::jails("hostile", "huge_result").await {
        let err = hostile(&jail, Limits::default())
            .huge_result(20)
            .await
            .unwrap_err();
        assert_limit(&jail, err, Limit::ResultBytes, 16 << 20).await;
    }
    support::record_attack(
        "wasm",
        "huge result (20 MiB string)",
        "refused at the result limit: LimitExceeded(result size)",
    );
}

#[tokio::test]
async fn a_callback_flood_hits_the_callback_limit() {
    for jail in support::jails("hostile", "callback_flood").await {
        let limits = Limits {
            callbacks: 1000,
            ..Limits::default()
        };
        let inmate = hostile(&jail, limits);
        assert_eq!(
            inmate.flood_callbacks(1000).await.unwrap(),
            1000,
            "up to the limit is fine"
        );
        let err = inmate.flood_callbacks(5000).await.unwrap_err();
        assert_limit(&jail, err, Limit::Callbacks, 1000).await;
    }
    support::record_attack(
        "wasm",
        "callback flood (5,000 callbacks)",
        "trapped at the callback limit: LimitExceeded(callback)",
    );
}

#[tokio::test]
async fn oversized_arguments_are_refused_before_they_are_sent() {
    for jail in support::jails("hostile", "big_arguments").await {
        let limits = Limits {
            argument_bytes: 1000,
            ..Limits::default()
        };
        let err = hostile(&jail, limits)
            .read_file(&"x".repeat(2000))
            .await
            .unwrap_err();
        assert_limit(&jail, err, Limit::ArgumentBytes, 1000).await;
    }
}

#[tokio::test]
async fn the_filesystem_is_not_there() {
    for jail in support::jails("hostile", "filesystem").await {
        let at = support::backend(&jail);
        let inmate = hostile(&jail, Limits::default());
        for path in [
            "/etc/passwd",
            "/",
            "..",
            ".",
            "/proc/self/environ",
            "../../etc/passwd",
        ] {
            let read = inmate.read_file(path).await.unwrap();
            assert!(read.is_err(), "{at}: read {path}: {read:?}");
            let listed = inmate.list_dir(path).await.unwrap();
            assert!(listed.is_err(), "{at}: list {path}: {listed:?}");
        }
        for path in ["/tmp/escaped", "escaped", "/escaped", "../escaped"] {
            let wrote = inmate.write_file(path).await.unwrap();
            assert!(wrote.is_err(), "{at}: write {path}: {wrote:?}");
        }
    }
    support::record_attack(
        "wasm",
        "read /etc/passwd, /, .., /proc/self/environ",
        "no filesystem: every open fails inside the inmate",
    );
    support::record_attack(
        "wasm",
        "list /, .., .",
        "no filesystem: every read_dir fails inside the inmate",
    );
    support::record_attack(
        "wasm",
        "create and write files (/tmp, /, relative, ..)",
        "no filesystem: every create fails inside the inmate",
    );
}

#[tokio::test]
async fn the_environment_and_arguments_are_empty() {
    for jail in support::jails("hostile", "environment").await {
        let inmate = hostile(&jail, Limits::default());
        assert_eq!(
            inmate.environment().await.unwrap(),
            vec![],
            "{}",
            support::backend(&jail)
        );
        assert_eq!(
            inmate.arguments().await.unwrap(),
            Vec::<String>::new(),
            "{}",
            support::backend(&jail)
        );
    }
    support::record_attack(
        "wasm",
        "read environment variables and arguments",
        "none: the inmate sees an empty environment and no arguments",
    );
}

#[tokio::test]
async fn every_socket_interface_is_refused() {
    for jail in support::jails("hostile", "sockets").await {
        let at = support::backend(&jail);
        let tried = hostile(&jail, Limits::default()).sockets().await.unwrap();
        assert!(tried.len() >= 8, "{at}: {tried:?}");
        for (attempt, outcome) in &tried {
            assert!(outcome.starts_with("denied"), "{at}: {attempt}: {outcome}");
        }
    }
    support::record_attack(
        "wasm",
        "sockets: ip-name-lookup, tcp create/connect (loopback and remote), udp create/bind, ipv6, std::net",
        "denied by WASI: no network reachable from the inmate",
    );
}

#[tokio::test]
async fn growing_a_table_without_end_hits_the_table_limit() {
    // inmates/hostile-tables is hand-written WebAssembly text: no compiler grows a table
    // on request.
    for jail in support::jails("hostile-tables", "tables").await {
        let at = support::backend(&jail);
        let grown = jail.call("grow-table", vec![json!(10), json!(3)]).await;
        assert_eq!(
            grown.unwrap(),
            json!(31),
            "{at}: growing within the limit works"
        );
        let err = jail
            .call("grow-table", vec![json!(10_000), json!(1_000_000)])
            .await
            .unwrap_err();
        match &err {
            Error::LimitExceeded { hit, .. } => assert_eq!(
                (hit.limit, hit.value),
                (Limit::TableElements, 100_000),
                "{at}: {err}"
            ),
            other => panic!("{at}: expected the table size limit, got {other:?}"),
        }
        let next = jail.call("grow-table", vec![json!(1), json!(1)]).await;
        assert_eq!(
            next.unwrap(),
            json!(2),
            "{at}: the next call has a fresh table"
        );
    }
    support::record_attack(
        "wasm",
        "exhaust tables (table.grow by 10,000 elements without end)",
        "trapped at the table size limit: LimitExceeded(table size)",
    );
}

#[tokio::test]
async fn instances_tables_and_memories_are_counted_and_capped() {
    for jail in support::jails("hostile", "counts").await {
        for (limits, limit, value) in [
            (
                Limits {
                    instances: 1,
                    ..Limits::default()
                },
                Limit::Instances,
                1,
            ),
            (
                Limits {
                    tables: 0,
                    ..Limits::default()
                },
                Limit::Tables,
                0,
            ),
            (
                Limits {
                    memories: 0,
                    ..Limits::default()
                },
                Limit::Memories,
                0,
            ),
        ] {
            let err = hostile(&jail, limits).burn(10).await.unwrap_err();
            assert_limit(&jail, err, limit, value).await;
        }
    }
    support::record_attack(
        "wasm",
        "more core instances, tables or memories than a call allows",
        "refused at instantiation: LimitExceeded(instance / table count / memory count)",
    );
}
