//! What flows back while a call runs: yields and callbacks (streaming, with return
//! values, failing), the inmate's stdout/stderr and logs, and its panics and traps.

use crate::support;
use hoosegow::{Error, FailureKind, Hoosegow};
use serde_json::json;
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, mpsc};

mod render {
    hoosegow::bindgen!({ world: "render-reverse", path: "../inmates/render-reverse/wit" });
}

mod chatty {
    hoosegow::bindgen!({ world: "chatty", path: "../inmates/chatty/wit" });
}

/// The gem's block: collects what the inmate yields.
#[derive(Clone, Default)]
struct Block(Arc<Mutex<Vec<String>>>);

impl render::RenderReverseImports for Block {
    async fn yield_(&self, value: String) -> Result<(), String> {
        self.0.lock().unwrap().push(value);
        Ok(())
    }
}

#[tokio::test]
async fn the_gems_render_reverse_yields_and_returns() {
    for jail in support::jails("render-reverse", "render_reverse").await {
        let block = Block::default();
        let inmate = render::RenderReverse::new(jail.clone(), block.clone());
        let result = inmate
            .render_reverse("desrever eb dluohs siht")
            .await
            .unwrap();
        assert_eq!(
            result,
            "this should be reversed",
            "{}",
            support::backend(&jail)
        );
        assert_eq!(*block.0.lock().unwrap(), vec!["test".to_string()]);
    }
}

/// Answers chatty's callbacks: progress goes to a channel and the first one waits for the
/// test's go-ahead; `ask` answers or fails.
struct Listener {
    progress: mpsc::UnboundedSender<(u32, u32)>,
    go_ahead: Arc<Notify>,
    answer: Result<String, String>,
}

impl chatty::ChattyImports for Listener {
    async fn progress(&self, done: u32, total: u32) -> Result<(), String> {
        let _ = self.progress.send((done, total));
        if done == 1 {
            self.go_ahead.notified().await;
        }
        Ok(())
    }

    async fn ask(&self, question: String) -> Result<String, String> {
        self.answer.clone().map(|a| format!("{a} to {question}"))
    }

    async fn units_per(&self, unit: String) -> Result<u32, String> {
        match unit.as_str() {
            "dozen" => Ok(12),
            other => Err(format!("no such unit: {other}")),
        }
    }
}

fn new_listener(
    answer: Result<&str, &str>,
) -> (Listener, mpsc::UnboundedReceiver<(u32, u32)>, Arc<Notify>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let go_ahead = Arc::new(Notify::new());
    let listener = Listener {
        progress: tx,
        go_ahead: go_ahead.clone(),
        answer: answer.map(String::from).map_err(String::from),
    };
    (listener, rx, go_ahead)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_yields_stream_in_order_while_the_call_runs() {
    for jail in support::jails("chatty", "streaming").await {
        let at = support::backend(&jail);
        let (listener, mut seen, go_ahead) = new_listener(Ok("yes"));
        let inmate = chatty::Chatty::new(jail, listener);
        let call = tokio::spawn(async move { inmate.count(1000).await });

        let first = seen.recv().await.unwrap();
        assert_eq!(first, (1, 1000), "{at}");
        assert!(
            !call.is_finished(),
            "{at}: the application sees the first yield before the call returns"
        );
        go_ahead.notify_one();

        assert_eq!(call.await.unwrap().unwrap(), 1000, "{at}");
        let mut expected = 2;
        while let Ok((done, total)) = seen.try_recv() {
            assert_eq!((done, total), (expected, 1000), "{at}: in order");
            expected += 1;
        }
        assert_eq!(expected, 1001, "{at}: all thousand arrived");
    }
}

#[tokio::test]
async fn callbacks_return_values_to_the_inmate() {
    for jail in support::jails("chatty", "callback_values").await {
        let (listener, _, _) = new_listener(Ok("yes"));
        let inmate = chatty::Chatty::new(jail, listener);
        assert_eq!(
            inmate.ask_twice("q").await.unwrap(),
            vec!["yes to q", "yes to q"]
        );
        // A callback inside an interface, typed and by its wire name.
        assert_eq!(inmate.convert(3, "dozen").await.unwrap(), 36);
        let err = inmate_error(inmate.convert(1, "furlong").await.unwrap_err());
        assert!(
            err.message.contains("`units#per`") && err.message.contains("no such unit: furlong"),
            "{err}"
        );
        let options = inmate
            .jail()
            .options()
            .clone()
            .callback("units#per", |_args| std::future::ready(Ok(json!(144))));
        assert_eq!(
            inmate
                .jail()
                .call_with("convert", vec![json!(2), json!("gross")], &options)
                .await
                .unwrap(),
            json!(288)
        );
    }
}

fn inmate_error(err: Error) -> hoosegow::InmateError {
    match err {
        Error::Inmate(e) => e,
        other => panic!("expected an inmate error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_failing_callback_is_a_typed_error_naming_it_and_the_jail_goes_on() {
    for jail in support::jails("chatty", "failing_callback").await {
        let at = support::backend(&jail);
        let (listener, _, _) = new_listener(Err("no answer today"));
        let inmate = chatty::Chatty::new(jail.clone(), listener);
        let err = inmate_error(inmate.ask_twice("q").await.unwrap_err());
        assert_eq!(err.kind, FailureKind::Callback, "{at}");
        assert!(
            err.message.contains("`ask`") && err.message.contains("no answer today"),
            "{at}: {err}"
        );

        // A callback nobody registered fails the same way.
        let err = inmate_error(jail.call("ask-twice", vec![json!("q")]).await.unwrap_err());
        assert_eq!(err.kind, FailureKind::Callback, "{at}");
        assert!(
            err.message.contains("no handler for callback `ask`"),
            "{at}: {err}"
        );

        let (listener, _, _) = new_listener(Ok("fine"));
        let inmate = chatty::Chatty::new(jail, listener);
        assert_eq!(
            inmate.ask_twice("q").await.unwrap().len(),
            2,
            "{at}: the next call works"
        );
    }
}

#[tokio::test]
async fn panics_and_traps_come_back_with_message_and_backtrace() {
    for jail in support::jails("chatty", "panic_trap").await {
        let at = support::backend(&jail);
        let stderr = support::captured();
        let (listener, _, _) = new_listener(Ok("yes"));
        let inmate = chatty::Chatty::new(jail, listener).with_options(|o| o.stderr(stderr.clone()));

        let err = inmate_error(inmate.panic("the roof is on fire").await.unwrap_err());
        assert_eq!(err.kind, FailureKind::Panic, "{at}: {err}");
        assert!(
            err.message.starts_with("the roof is on fire (at ")
                && err.message.contains("chatty/src/lib.rs:"),
            "{at}: {}",
            err.message
        );
        assert!(!err.backtrace.is_empty(), "{at}: a wasm backtrace");
        assert!(
            err.backtrace
                .iter()
                .any(|f| f.contains("chatty.wasm!panic")),
            "{at}: frames are named: {:?}",
            err.backtrace
        );
        assert!(
            err.backtrace[0].starts_with("0:"),
            "{at}: innermost frame first: {:?}",
            err.backtrace
        );
        assert!(
            err.to_string().contains("Panic: the roof is on fire"),
            "{at}: the gem's `Class: message`: {err}"
        );
        assert!(
            support::text(&stderr).contains("panicked at"),
            "{at}: the panic's own output is forwarded"
        );

        let err = inmate_error(inmate.trap().await.unwrap_err());
        assert_eq!(err.kind, FailureKind::Trap, "{at}");
        assert!(err.message.contains("unreachable"), "{at}: {}", err.message);
        assert!(!err.backtrace.is_empty(), "{at}");

        assert_eq!(
            inmate.count(0).await.unwrap(),
            0,
            "{at}: the next call works"
        );
    }
}

#[tokio::test]
async fn output_goes_to_the_writers_of_each_call() {
    for jail in support::jails("chatty", "output").await {
        let at = support::backend(&jail);
        let (stdout, stderr) = (support::captured(), support::captured());
        let options = jail
            .options()
            .clone()
            .stdout(stdout.clone())
            .stderr(stderr.clone());
        jail.call_with(
            "shout",
            vec![json!("to stdout\n"), json!("to stderr\n")],
            &options,
        )
        .await
        .unwrap();
        jail.call_with("log-line", vec![json!("a log line")], &options)
            .await
            .unwrap();
        assert_eq!(support::text(&stdout), "to stdout\n", "{at}");
        assert_eq!(
            support::text(&stderr),
            "to stderr\n[info] a log line\n",
            "{at}"
        );

        // Another call's writers see only that call's output.
        let other = support::captured();
        jail.call_with(
            "shout",
            vec![json!("second"), json!("")],
            &jail.options().clone().stdout(other.clone()),
        )
        .await
        .unwrap();
        assert_eq!(support::text(&other), "second", "{at}");
        assert_eq!(support::text(&stdout), "to stdout\n", "{at}");
    }
}

#[tokio::test]
async fn output_reaches_its_writer_while_the_call_runs() {
    for jail in support::jails("chatty", "output_streams").await {
        let at = support::backend(&jail);
        let stdout = support::captured();
        // The callback answers with what the writer has received so far.
        let seen = stdout.clone();
        let options = jail
            .options()
            .clone()
            .stdout(stdout.clone())
            .callback("ask", move |_args| {
                std::future::ready(Ok(json!(support::text(&seen))))
            });
        let answer = jail
            .call_with(
                "shout-then-ask",
                vec![json!("written mid-call\n"), json!("what have you seen?")],
                &options,
            )
            .await
            .unwrap();
        assert_eq!(
            answer,
            json!("written mid-call\n"),
            "{at}: the output was in the writer before the call returned"
        );
    }
}

#[tokio::test]
async fn output_past_its_limit_is_an_output_limit_error() {
    for jail in support::jails("chatty", "output_limit").await {
        let at = support::backend(&jail);
        let limits = hoosegow::Limits {
            stdout_bytes: 10,
            ..Default::default()
        };
        let options = jail
            .options()
            .clone()
            .stdout(support::captured())
            .limits(limits);
        let err = jail
            .call_with("shout", vec![json!("x".repeat(11)), json!("")], &options)
            .await
            .unwrap_err();
        match &err {
            Error::LimitExceeded { hit, .. } => assert_eq!(
                (hit.limit, hit.value),
                (hoosegow::Limit::Stdout, 10),
                "{at}"
            ),
            other => panic!("{at}: expected the stdout limit, got {other:?}"),
        }
        assert!(
            err.to_string().contains("stdout limit of 10 bytes"),
            "{at}: {err}"
        );
        jail.call_with("shout", vec![json!("0123456789"), json!("")], &options)
            .await
            .unwrap();

        let limits = hoosegow::Limits {
            stderr_bytes: 10,
            ..Default::default()
        };
        let err_writer = support::captured();
        let options = options.stderr(err_writer.clone()).limits(limits);
        let err = jail
            .call_with("shout", vec![json!(""), json!("e".repeat(11))], &options)
            .await
            .unwrap_err();
        match &err {
            Error::LimitExceeded { hit, .. } => assert_eq!(
                (hit.limit, hit.value),
                (hoosegow::Limit::Stderr, 10),
                "{at}"
            ),
            other => panic!("{at}: expected the stderr limit, got {other:?}"),
        }
        assert!(
            err_writer.lock().unwrap().len() <= 10,
            "{at}: no more than the allowance reached the writer"
        );
        jail.call_with("shout", vec![json!(""), json!("0123456789")], &options)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn the_cli_prints_yields_and_takes_replies() {
    let image = support::image("chatty");
    let (code, out, err) = crate::bad_input::run(&["call", "--image", &image, "count", "3"]);
    assert_eq!((code, out.as_str()), (0, "3"), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines,
        [
            r#"{"callback":"progress","args":[1,3]}"#,
            r#"{"callback":"progress","args":[2,3]}"#,
            r#"{"callback":"progress","args":[3,3]}"#,
        ]
    );

    let (code, out, _) = crate::bad_input::run(&[
        "call",
        "--image",
        &image,
        "--reply",
        "ask=\"yes\"",
        "ask-twice",
        "\"q\"",
    ]);
    assert_eq!((code, out.as_str()), (0, r#"["yes","yes"]"#));

    let (code, _, err) = crate::bad_input::run(&["call", "--image", &image, "ask-twice", "\"q\""]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--reply ask=JSON"), "{err}");

    let (code, _, err) =
        crate::bad_input::run(&["call", "--image", &image, "--reply", "tell=1", "count", "1"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("its callbacks are: units#per, progress, ask"),
        "{err}"
    );
}

/// Typed calls go through the same jail as untyped ones.
#[tokio::test]
async fn typed_and_untyped_calls_share_a_jail() {
    let jail: Hoosegow = support::in_process_jail("reverse").await;
    mod reverse {
        hoosegow::bindgen!({ world: "reverse", path: "../inmates/reverse/wit" });
    }
    let typed = reverse::Reverse::new(jail.clone());
    assert_eq!(typed.reverse("foobar").await.unwrap(), "raboof");
    assert_eq!(
        jail.call("reverse", vec![json!("foobar")]).await.unwrap(),
        json!("raboof")
    );
}
