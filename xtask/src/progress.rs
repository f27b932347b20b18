//! Step-by-step progress on stderr: a spinner per step on a terminal, plain lines when
//! piped (CI logs, `2>file`), so output stays readable either way.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// One step of a longer job.
pub struct Step {
    started: Instant,
    bar: Option<ProgressBar>,
}

impl Step {
    /// Starts a step named `name` (e.g. "compile inmates/reverse").
    pub fn start(name: impl Into<String>) -> Step {
        let name = name.into();
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix} {wide_msg} {elapsed}")
                    .expect("template"),
            );
            bar.set_prefix(name.clone());
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        if bar.is_none() {
            eprintln!("==> {name}");
        }
        Step {
            started: Instant::now(),
            bar,
        }
    }

    /// A line of output from the tool doing the step.
    pub fn line(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(line.trim().to_string()),
            None => eprintln!("    {line}"),
        }
    }

    /// Ends the step with a closing remark (e.g. "62 KiB").
    pub fn done(self, remark: &str) {
        match self.bar {
            Some(bar) => bar.finish_with_message(format!("done: {remark}")),
            None => eprintln!("    done: {remark} ({:.1?})", self.started.elapsed()),
        }
    }
}
