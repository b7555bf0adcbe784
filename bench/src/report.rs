//! The figures a run prints, kept as it prints them so that `--json FILE` writes the
//! same: each figure's name, value and unit and, where BENCHMARKS.md sets a goal, the
//! limit the ratio is taken against (measured in the same run, or the goal itself), the
//! ratio and the goal as printed. It measures nothing; the benches call it beside each
//! `println!`.

use std::path::Path;
use std::sync::{Mutex, PoisonError};

use serde_json::{Value, json};

static FIGURES: Mutex<Vec<Value>> = Mutex::new(Vec::new());

fn push(figure: Value) {
    FIGURES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(figure);
}

/// A figure without a goal (a limit itself, a memory or size reading).
pub(crate) fn figure(name: &str, value: f64, unit: &str) {
    push(json!({ "name": name, "value": value, "unit": unit }));
}

/// A figure with a goal: `ratio` is the value taken against `limit` as printed, `goal`
/// says which ratio is wanted (like "≥ 0.30" or "≤ 1").
pub(crate) fn against(name: &str, value: f64, unit: &str, limit: f64, ratio: f64, goal: &str) {
    push(json!({
        "name": name,
        "value": value,
        "unit": unit,
        "limit": limit,
        "ratio": ratio,
        "goal": goal,
    }));
}

/// Writes every figure recorded so far, with the command line that produced them.
pub(crate) fn write_json(path: &Path) -> anyhow::Result<()> {
    let figures = FIGURES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let doc = json!({
        "command": std::env::args().collect::<Vec<_>>(),
        "cores": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "figures": figures,
    });
    let text = serde_json::to_string_pretty(&doc)?;
    std::fs::write(path, text + "\n")
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))
}
