//! Talks back while it works: callbacks, output, logs, and failures on request.

wit_bindgen::generate!({ world: "chatty", path: "wit", generate_all });

use hoosegow::jail::log::{Level, log};
use std::io::Write;

struct Chatty;

impl Guest for Chatty {
    fn count(n: u32) -> u32 {
        for i in 1..=n {
            progress(i, n);
        }
        n
    }

    fn ask_twice(question: String) -> Vec<String> {
        vec![ask(&question), ask(&question)]
    }

    fn shout(out: String, err: String) {
        let _ = std::io::stdout().write_all(out.as_bytes());
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().write_all(err.as_bytes());
    }

    fn shout_then_ask(out: String, question: String) -> String {
        let _ = std::io::stdout().write_all(out.as_bytes());
        let _ = std::io::stdout().flush();
        ask(&question)
    }

    fn convert(n: u32, unit: String) -> u32 {
        n * units::per(&unit)
    }

    fn log_line(message: String) {
        log(Level::Info, &message);
    }

    fn panic(message: String) -> String {
        panic!("{message}")
    }

    fn trap() -> u32 {
        core::arch::wasm32::unreachable()
    }
}

export!(Chatty);
