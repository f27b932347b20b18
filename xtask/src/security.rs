//! `security-table`: the attacks the test suite tried, as SECURITY.md's table.
//!
//! Tests call `support::record_attack(wall, attack, outcome)` after the assertions that
//! prove the outcome; each call appends a JSON line to `target/security/attacks.jsonl`.
//! `cargo xtask test` empties that file before the run and prints the table after it;
//! `cargo xtask security-table` also writes it into SECURITY.md between the markers, so
//! the published table is only ever what a test run proved.

use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Marks the start of the generated part of SECURITY.md.
pub const BEGIN: &str = "<!-- attacks:begin -->";
/// Marks its end.
pub const END: &str = "<!-- attacks:end -->";

/// Where the tests record attacks (the path `tests/all/support.rs` writes).
pub fn log() -> PathBuf {
    crate::build::workspace().join("target/security/attacks.jsonl")
}

/// Forgets the attacks of earlier runs.
pub fn clear() -> Result<()> {
    match std::fs::remove_file(log()) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", log().display()))
        }
        _ => Ok(()),
    }
}

/// One recorded attack.
#[derive(Clone, Debug, PartialEq)]
pub struct Attack {
    /// The wall it was tried against (`wasm`, `runner`, `container`, `host`, ...).
    pub wall: String,
    /// What was tried.
    pub attack: String,
    /// What happened, as proven by the test.
    pub outcome: String,
}

/// The recorded attacks; an attack recorded more than once keeps its last outcome.
pub fn load() -> Result<Vec<Attack>> {
    let path = log();
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "no attacks recorded at {}: run `cargo xtask test` first",
            path.display()
        )
    })?;
    let mut attacks: BTreeMap<(String, String), String> = BTreeMap::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let value: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not JSON", path.display(), n + 1))?;
        let field = |name: &str| {
            value[name]
                .as_str()
                .map(str::to_string)
                .with_context(|| format!("{}:{}: no `{name}`", path.display(), n + 1))
        };
        attacks.insert((field("wall")?, field("attack")?), field("outcome")?);
    }
    Ok(attacks
        .into_iter()
        .map(|((wall, attack), outcome)| Attack {
            wall,
            attack,
            outcome,
        })
        .collect())
}

/// DESIGN.md's walls, in order from the inmate outwards, with their headings.
const WALLS: [(&str, &str); 4] = [
    ("wasm", "Wall 1: WebAssembly (wasmtime)"),
    ("runner", "Wall 2: the runner"),
    ("container", "Wall 3: the container"),
    ("host", "Wall 4: the host"),
];

/// The attacks as markdown: a table per wall, walls in DESIGN.md's order (others after,
/// by name), attacks sorted so that the same results always give the same text.
pub fn render(attacks: &[Attack]) -> String {
    let mut walls: Vec<&str> = attacks.iter().map(|a| a.wall.as_str()).collect();
    walls.sort_by_key(|wall| {
        let rank = WALLS.iter().position(|(w, _)| w == wall);
        (rank.unwrap_or(WALLS.len()), wall.to_string())
    });
    walls.dedup();
    let cell = |text: &str| text.replace('|', "\\|").replace('\n', " ");
    let mut out = format!(
        "{} attacks tried by `cargo xtask test`; each outcome was asserted before it was \
         recorded. Regenerate with `cargo xtask security-table` after a test run.\n",
        attacks.len()
    );
    for wall in walls {
        let heading = WALLS
            .iter()
            .find(|(w, _)| *w == wall)
            .map_or_else(|| wall.to_string(), |(_, h)| h.to_string());
        out.push_str(&format!(
            "\n#### {heading}\n\n| attack | outcome |\n|---|---|\n"
        ));
        for attack in attacks.iter().filter(|a| a.wall == wall) {
            out.push_str(&format!(
                "| {} | {} |\n",
                cell(&attack.attack),
                cell(&attack.outcome)
            ));
        }
    }
    out
}

/// Replaces what lies between the markers in `document` with `table`.
pub fn splice(document: &str, table: &str) -> Result<String> {
    let (Some(begin), Some(end)) = (document.find(BEGIN), document.find(END)) else {
        bail!("SECURITY.md has no {BEGIN} ... {END} markers");
    };
    if end < begin {
        bail!("SECURITY.md's {END} comes before {BEGIN}");
    }
    Ok(format!(
        "{}{BEGIN}\n{table}{}",
        &document[..begin],
        &document[end..]
    ))
}

/// `cargo xtask security-table`: renders the recorded attacks into SECURITY.md.
pub fn run() -> Result<()> {
    let attacks = load()?;
    if attacks.is_empty() {
        bail!("{} is empty: run `cargo xtask test` first", log().display());
    }
    let table = render(&attacks);
    let path = crate::build::workspace().join("SECURITY.md");
    let document = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    std::fs::write(&path, splice(&document, &table)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    print!("{table}");
    eprintln!(
        "==> wrote {} attacks into {}",
        attacks.len(),
        path.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attack(wall: &str, attack: &str, outcome: &str) -> Attack {
        Attack {
            wall: wall.into(),
            attack: attack.into(),
            outcome: outcome.into(),
        }
    }

    #[test]
    fn walls_come_in_design_order_and_cells_are_escaped() {
        let table = render(&[
            attack("host", "garbage frames", "protocol error"),
            attack("other", "x", "y"),
            attack("wasm", "a | b", "line\nbreak"),
        ]);
        let wasm = table.find("Wall 1").unwrap();
        let host = table.find("Wall 4").unwrap();
        let other = table.find("#### other").unwrap();
        assert!(wasm < host && host < other, "{table}");
        assert!(table.contains("| a \\| b | line break |"), "{table}");
        assert!(table.starts_with("3 attacks"), "{table}");
    }

    #[test]
    fn splicing_replaces_only_between_the_markers() {
        let document = format!("intro\n{BEGIN}\nold\n{END}\noutro\n");
        let spliced = splice(&document, "new\n").unwrap();
        assert_eq!(spliced, format!("intro\n{BEGIN}\nnew\n{END}\noutro\n"));
        assert_eq!(splice(&spliced, "new\n").unwrap(), spliced, "idempotent");
        assert!(splice("no markers", "x").is_err());
    }
}
