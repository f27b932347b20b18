//! A runner that misbehaves on purpose: `impostor MODE [runner arguments...]`.
//!
//! It stands in for `jail-runner` in an image that otherwise is a real jail (same labels,
//! same hardened container), so each mode shows how the host takes one kind of hostile
//! output. Modes: `garbage`, `huge-frame`, `bad-hello`, `exit`, and, after a well-formed
//! hello, `wrong-result`, `wrong-call`, `flood`, and `volumes` (writes to `/ro` and `/rw`
//! and reports what happened as the call's result).

use hoosegow_wire::frame::{self, Frame, Kind};
use hoosegow_wire::message::{Hello, PROTOCOL_VERSION};
use std::io::{Read, Write};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or_default();
    let sha = args
        .iter()
        .skip_while(|a| *a != "--artifact-sha256")
        .nth(1)
        .cloned()
        .unwrap_or_default();
    let mut out = std::io::stdout().lock();
    match mode {
        "garbage" => {
            let noise: Vec<u8> = (0u32..4096)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect();
            out.write_all(&noise).unwrap();
            out.flush().unwrap();
            drain();
        }
        "huge-frame" => {
            out.write_all(&[0xff, 0xff, 0xff, 0xf0, Kind::Hello as u8, 0, 0, 0, 0])
                .unwrap();
            out.flush().unwrap();
            drain();
        }
        "bad-hello" => {
            frame::write(&mut out, &Frame::new(Kind::Hello, 0, b"{not json".to_vec())).unwrap();
            drain();
        }
        "exit" => std::process::exit(3),
        "wrong-result" | "wrong-call" | "flood" | "volumes" => {
            let world = std::fs::read_to_string("/world.json").expect("/world.json");
            let hello = Hello {
                protocol: PROTOCOL_VERSION,
                runner: "impostor".into(),
                artifact_sha256: sha,
                world: serde_json::from_str(&world).expect("a world"),
                hostname: String::new(),
            };
            let payload = serde_json::to_vec(&hello).unwrap();
            frame::write(&mut out, &Frame::new(Kind::Hello, 0, payload)).unwrap();
            let mut stdin = std::io::stdin().lock();
            while let Ok(Some(call)) = frame::read(&mut stdin, 1 << 26) {
                let frames = match mode {
                    // A number where the WIT says string.
                    "wrong-result" => vec![Frame::new(Kind::Return, call.call, b"12345".to_vec())],
                    "wrong-call" => {
                        vec![Frame::new(Kind::Return, call.call + 1, b"\"x\"".to_vec())]
                    }
                    // Tries both mounts of the lifecycle test, from inside the container.
                    "volumes" => {
                        let report = format!(
                            "ro: {}; rw: {}",
                            try_write("/ro/probe"),
                            try_write("/rw/probe")
                        );
                        vec![Frame::new(
                            Kind::Return,
                            call.call,
                            serde_json::to_vec(&report).unwrap(),
                        )]
                    }
                    // 2 MiB of stdout against a 1 MiB allowance the runner should enforce.
                    _ => (0..32)
                        .map(|_| Frame::new(Kind::Stdout, call.call, vec![b'x'; 64 << 10]))
                        .collect(),
                };
                for f in frames {
                    frame::write(&mut out, &f).unwrap();
                }
            }
        }
        other => {
            eprintln!("impostor: unknown mode {other:?}");
            std::process::exit(2);
        }
    }
}

/// Writes a file; says whether it could.
fn try_write(path: &str) -> String {
    match std::fs::write(path, "written from inside") {
        Ok(()) => "written".to_string(),
        Err(e) => format!("refused ({e})"),
    }
}

/// Waits for the host to close stdin, so the host, not the impostor, ends the session.
fn drain() {
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}
