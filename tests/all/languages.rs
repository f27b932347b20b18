//! The same inmates in every language: `reverse` and the gem's `render-reverse` written
//! in Rust, Python, JavaScript and C, each held to the same conformance tests through
//! Docker and in-process. The test code is written once; a macro instantiates it per
//! language so that each language's failures are reported (and run) on their own.

use crate::support;
use hoosegow::inmate::Language;
use serde_json::json;
use std::sync::{Arc, Mutex};

mod render {
    hoosegow::bindgen!({ world: "render-reverse", path: "../inmates/render-reverse/wit" });
}

/// The inmate implementing `world` (`reverse` or `render-reverse`) in `language`.
fn inmate(world: &str, language: Language) -> String {
    match language {
        Language::Rust => world.to_string(),
        Language::Python => format!("{world}-py"),
        Language::JavaScript => format!("{world}-js"),
        Language::C => format!("{world}-c"),
        other => panic!("no {world} inmate in {other:?}"),
    }
}

/// Inputs: the README's, empty, multi-byte UTF-8 (reversed by code point), and 1 MiB.
fn cases() -> Vec<(String, String)> {
    let big: String = (0..(1 << 20))
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    vec![
        ("foobar".into(), "raboof".into()),
        (String::new(), String::new()),
        ("naïve 🦀 日本語".into(), "語本日 🦀 evïan".into()),
        (big.clone(), big.chars().rev().collect()),
    ]
}

async fn conforms_on_reverse(language: Language, test: &str) {
    let name = inmate("reverse", language);
    assert_eq!(
        Language::of(&support::inmate(&name)).unwrap(),
        language,
        "{name} is recognised as {}",
        language.name()
    );
    for jail in support::jails(&name, test).await {
        let at = format!("{name} ({})", support::backend(&jail));
        for (input, expected) in cases() {
            let got = jail
                .call("reverse", vec![json!(input)])
                .await
                .unwrap_or_else(|e| panic!("{at}: {e}"));
            assert_eq!(got, json!(expected), "{at}: input of {} bytes", input.len());
        }
        // Each call is a fresh instance: nothing is left over from the big one.
        assert_eq!(
            jail.call("reverse", vec![json!("ab")]).await.unwrap(),
            json!("ba"),
            "{at}"
        );
        // A wrong argument is refused before it reaches the inmate, whatever its language.
        let err = jail.call("reverse", vec![json!(42)]).await.unwrap_err();
        assert!(
            matches!(err, hoosegow::Error::BadArgument { .. }),
            "{at}: {err}"
        );
    }
}

/// The gem's block: what the inmate yields, in order.
#[derive(Clone, Default)]
struct Block(Arc<Mutex<Vec<String>>>);

impl render::RenderReverseImports for Block {
    async fn yield_(&self, value: String) -> Result<(), String> {
        self.0.lock().unwrap().push(value);
        Ok(())
    }
}

/// A block that refuses: the inmate's call fails naming the callback.
struct Refusing;

impl render::RenderReverseImports for Refusing {
    async fn yield_(&self, _value: String) -> Result<(), String> {
        Err("the block raised".into())
    }
}

async fn conforms_on_render_reverse(language: Language, test: &str) {
    let name = inmate("render-reverse", language);
    assert_eq!(Language::of(&support::inmate(&name)).unwrap(), language);
    for jail in support::jails(&name, test).await {
        let at = format!("{name} ({})", support::backend(&jail));
        let block = Block::default();
        let inmate = render::RenderReverse::new(jail.clone(), block.clone());
        let result = inmate
            .render_reverse("desrever eb dluohs siht")
            .await
            .unwrap_or_else(|e| panic!("{at}: {e}"));
        assert_eq!(result, "this should be reversed", "{at}");
        assert_eq!(*block.0.lock().unwrap(), ["test"], "{at}: yielded once");

        let result = inmate.render_reverse("naïve 🦀").await.unwrap();
        assert_eq!(result, "🦀 evïan", "{at}");
        assert_eq!(*block.0.lock().unwrap(), ["test", "test"], "{at}");

        let refusing = render::RenderReverse::new(jail.clone(), Refusing);
        let err = match refusing.render_reverse("x").await.unwrap_err() {
            hoosegow::Error::Inmate(e) => e,
            other => panic!("{at}: expected an inmate error, got {other:?}"),
        };
        assert_eq!(err.kind, hoosegow::FailureKind::Callback, "{at}: {err}");
        assert!(
            err.message.contains("`yield`") && err.message.contains("the block raised"),
            "{at}: {err}"
        );
    }
}

macro_rules! conformance {
    ($($module:ident: $language:expr;)*) => {$(
        mod $module {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn reverse() {
                conforms_on_reverse($language, concat!(stringify!($module), "_reverse")).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn render_reverse() {
                conforms_on_render_reverse($language, concat!(stringify!($module), "_render_reverse"))
                    .await;
            }
        }
    )*};
}

conformance! {
    rust: Language::Rust;
    python: Language::Python;
    javascript: Language::JavaScript;
    c: Language::C;
}

/// Untrusted Ruby: `inmates/ruby` runs scripts with ruby.wasm, through both backends.
mod ruby {
    use super::*;
    use hoosegow::{Error, Hoosegow, Limits};
    use hoosegow_wire::message::Limit;
    use serde_json::Value;

    mod typed {
        hoosegow::bindgen!({ world: "ruby", path: "../inmates/ruby/wit" });
    }

    async fn eval(jail: &Hoosegow, script: &str, input: &str) -> Result<Value, Error> {
        jail.call("eval", vec![json!(script), json!(input)]).await
    }

    /// The script's `ok` output, or a panic saying what came back instead.
    fn ok(at: &str, script: &str, got: Result<Value, Error>) -> String {
        match got {
            Ok(Value::Object(map)) if map.contains_key("ok") => {
                map["ok"].as_str().unwrap().to_string()
            }
            other => panic!("{at}: `{script}` gave {other:?}"),
        }
    }

    /// The script's exception (`Class: message`, then the backtrace).
    fn raised(at: &str, script: &str, got: Result<Value, Error>) -> String {
        match got {
            Ok(Value::Object(map)) if map.contains_key("err") => {
                map["err"].as_str().unwrap().to_string()
            }
            other => panic!("{at}: `{script}` should have raised, gave {other:?}"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_a_script_with_its_input_and_the_standard_library() {
        assert_eq!(
            Language::of(&support::inmate("ruby")).unwrap(),
            Language::Ruby
        );
        for jail in support::jails("ruby", "ruby_runs").await {
            let at = support::backend(&jail);
            let script = "puts $stdin.read.reverse";
            assert_eq!(
                ok(at, script, eval(&jail, script, "foobar").await),
                "raboof\n"
            );
            // The standard library is packed inside ruby.wasm: no host folder is mounted.
            let script = r#"require "json"; require "set"; print JSON.generate(Set[1, 2].to_a)"#;
            assert_eq!(ok(at, script, eval(&jail, script, "").await), "[1,2]");
            // Each call is a fresh VM: what a script defines is gone on the next call.
            let script =
                "$x = 1; print defined?(Hoosegow::LEFTOVER).inspect; Hoosegow::LEFTOVER = 1";
            assert_eq!(ok(at, script, eval(&jail, script, "").await), "nil");
            assert_eq!(ok(at, script, eval(&jail, script, "").await), "nil");
            let script = "print RUBY_VERSION";
            assert!(ok(at, script, eval(&jail, script, "").await).starts_with("3.4."));

            // Typed, as README shows it.
            let ruby = typed::Ruby::new(jail.clone());
            assert_eq!(
                ruby.eval("puts $stdin.read.reverse", "foobar")
                    .await
                    .unwrap(),
                Ok("raboof\n".to_string()),
                "{at}"
            );
            let err = ruby
                .eval(r#"File.read("/etc/passwd")"#, "")
                .await
                .unwrap()
                .unwrap_err();
            assert!(err.starts_with("Errno::ENOENT: "), "{at}: {err}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_exception_comes_back_with_class_message_and_backtrace() {
        for jail in support::jails("ruby", "ruby_raises").await {
            let at = support::backend(&jail);
            let script = "def check(x) = raise(ArgumentError, \"bad #{x}\")\ncheck(42)";
            let err = raised(at, script, eval(&jail, script, "").await);
            let lines: Vec<&str> = err.lines().collect();
            assert_eq!(lines[0], "ArgumentError: bad 42", "{at}: {err}");
            assert!(
                lines[1].starts_with("script.rb:1:in ") && lines[1].contains("check"),
                "{at}: the script's own frames, innermost first: {err}"
            );
            assert!(lines[2].starts_with("script.rb:2:in "), "{at}: {err}");
            assert!(
                !err.contains("eval.rb:") && !err.contains("Hoosegow."),
                "{at}: no frames of the plumbing: {err}"
            );
            let script = "def (";
            let err = raised(at, script, eval(&jail, script, "").await);
            assert!(err.starts_with("SyntaxError: "), "{at}: {err}");
        }
    }

    fn limit_of(at: &str, script: &str, got: Result<Value, Error>) -> Limit {
        match got {
            Err(Error::LimitExceeded { hit, .. }) => hit.limit,
            other => panic!("{at}: `{script}` should hit a limit, gave {other:?}"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hostile_scripts_are_contained() {
        for jail in support::jails("ruby", "ruby_hostile").await {
            let at = support::backend(&jail);
            let stdout = support::captured();
            let limits = Limits {
                timeout_ms: 3_000,
                ..Limits::default()
            };
            let options = jail.options().clone().limits(limits).stdout(stdout.clone());
            let call = async |script: &str| {
                jail.call_with("eval", vec![json!(script), json!("")], &options)
                    .await
            };

            let script = "loop {}";
            assert_eq!(limit_of(at, script, call(script).await), Limit::Timeout);
            let script = "a = []; loop { a << \"x\" * 10_000_000 }";
            assert_eq!(limit_of(at, script, call(script).await), Limit::Memory);

            // No host files: the only filesystem is the standard library's, packed inside.
            let script = "print File.read(\"/etc/passwd\")";
            let err = raised(at, script, call(script).await);
            assert!(err.starts_with("Errno::ENOENT: "), "{at}: {err}");
            let script = "print Dir.entries(\"/\")";
            let err = raised(at, script, call(script).await);
            assert!(err.starts_with("Errno::ENOENT: "), "{at}: {err}");

            // No processes: every way to start a program raises the same plain error.
            for script in [
                "print `ls`",
                "print IO.popen(\"ls\").read",
                "system(\"ls\")",
                "spawn(\"ls\")",
                "Process.spawn(\"ls\")",
                "exec(\"ls\")",
                "Kernel.system(\"ls\")",
            ] {
                let err = raised(at, script, call(script).await);
                assert!(
                    err.starts_with("NotImplementedError: a jail runs no other programs"),
                    "{at}: {script}: {err}"
                );
            }
            let script = "print `echo pwned`";
            let err = raised(at, script, call(script).await);
            assert!(!err.contains("pwned\n"), "{at}: {err}");
            let script = "r = system(\"echo pwned\"); print r.inspect";
            let err = raised(at, script, call(script).await);
            assert!(!err.contains("pwned"), "{at}: {err}");
            assert!(
                !support::text(&stdout).contains("pwned"),
                "{at}: nothing was run to print it"
            );

            // No network: the socket extension is not even there, for a script that asks
            // for it or for the standard library's HTTP client.
            for script in [
                "require \"socket\"; TCPSocket.new(\"127.0.0.1\", 80)",
                "require \"net/http\"; print Net::HTTP.get(URI(\"http://127.0.0.1/\"))",
            ] {
                let err = raised(at, script, call(script).await);
                assert!(
                    err.starts_with("LoadError: cannot load such file -- socket"),
                    "{at}: {err}"
                );
            }

            // No environment.
            let script = "print ENV.to_h.inspect";
            assert_eq!(ok(at, script, call(script).await), "{}", "{at}");

            // `exit` is an exception like any other; `exit!` ends the instance: a trap.
            let script = "exit 3";
            let err = raised(at, script, call(script).await);
            assert!(err.starts_with("SystemExit: exit"), "{at}: {err}");
            let script = "exit!";
            match call(script).await {
                Err(Error::Inmate(e)) => {
                    assert_eq!(e.kind, hoosegow::FailureKind::Trap, "{at}: {e}");
                    assert!(e.message.contains("exited with status 1"), "{at}: {e}");
                    assert!(
                        e.backtrace.iter().any(|f| f.contains("proc_exit")),
                        "{at}: {e}"
                    );
                }
                other => panic!("{at}: exit! gave {other:?}"),
            }

            // Ruby's own stack check catches a runaway recursion.
            let script = "def f(n) = f(n + 1)\nf(0)";
            let err = raised(at, script, call(script).await);
            assert!(
                err.starts_with("SystemStackError: stack level too deep"),
                "{at}: {err}"
            );

            // After all that, the jail still works.
            let script = "print $stdin.read";
            assert_eq!(
                ok(at, script, eval(&jail, script, "still here").await),
                "still here"
            );
        }
        for (attack, outcome) in [
            ("`loop {}`", "LimitExceeded(timeout)"),
            ("a memory bomb", "LimitExceeded(memory)"),
            (
                "`File.read(\"/etc/passwd\")`, `Dir.entries(\"/\")`",
                "Errno::ENOENT: no host file is there (the standard library is packed inside)",
            ),
            (
                "backticks, `system`, `spawn`, `exec`, `IO.popen`, `Process.spawn`",
                "NotImplementedError: a jail runs no other programs; nothing ran",
            ),
            (
                "`require \"socket\"` and a connection, `Net::HTTP.get`",
                "LoadError: cannot load such file -- socket",
            ),
            ("`ENV.to_h`", "`{}`"),
            (
                "`exit!`",
                "Trap: the inmate exited with status 1 in the middle of the call; the next call works",
            ),
            ("deep recursion", "SystemStackError: stack level too deep"),
        ] {
            support::record_attack("wasm", &format!("untrusted Ruby script: {attack}"), outcome);
        }
    }
}

/// Without its toolchain, building an inmate fails saying what to install.
#[test]
fn a_missing_toolchain_says_what_to_install() {
    let nowhere = std::env::temp_dir().join("hoosegow-no-toolchains");
    std::fs::create_dir_all(&nowhere).unwrap();
    for (inmate, func, says) in [
        (
            "reverse-py",
            "reverse",
            "pip install componentize-py==0.25.1",
        ),
        (
            "reverse-js",
            "reverse",
            "@bytecodealliance/componentize-js@0.23.0",
        ),
        (
            "reverse-c",
            "reverse",
            "apt-get install clang-14 lld-14 wasi-libc",
        ),
        ("ruby", "eval", "@ruby/3.4-wasm-wasi@2.10.1"),
    ] {
        let dir = support::inmate(inmate);
        let out = crate::bad_input::cli()
            .args(["call", "--in-process", "--inmate"])
            .arg(&dir)
            .args([func, "\"x\""])
            .env("HOOSEGOW_TOOLCHAINS", &nowhere)
            .env("PATH", &nowhere)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{inmate}: {err}");
        assert!(
            err.contains("building the inmate in") && err.contains(says),
            "{inmate}: {err}"
        );
    }
}
