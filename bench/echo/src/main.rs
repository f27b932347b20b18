//! Bench-only: the least a container can do with one request, so that `cargo xtask bench`
//! can set each jail figure beside the floor Docker itself puts under it. It is the
//! entrypoint of a `FROM scratch` image built exactly like a jail's, with nothing else.
//!
//! - no argument: reads one line from stdin, writes it back, exits (the floor of a
//!   container per call: `docker run --rm`, or create/attach/start/wait/remove by API);
//! - `loop`: writes back every byte it reads until stdin ends (the floor of a call over
//!   the attach stream of a long-lived container).

use std::io::{BufRead, Read, Write};

fn main() {
    let looping = std::env::args().nth(1).as_deref() == Some("loop");
    let result = if looping { echo_all() } else { echo_line() };
    if let Err(e) = result {
        eprintln!("echo: {e}");
        std::process::exit(1);
    }
}

fn echo_line() -> std::io::Result<()> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(line.as_bytes())?;
    stdout.flush()
}

fn echo_all() -> std::io::Result<()> {
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    // Larger than stdin's own buffer, so reads go straight to the pipe: each chunk goes
    // back as soon as it arrives, with no waiting for a newline.
    let mut buffer = vec![0; 64 << 10];
    loop {
        let read = stdin.read(&mut buffer)?;
        if read == 0 {
            return Ok(());
        }
        stdout.write_all(&buffer[..read])?;
        stdout.flush()?;
    }
}
