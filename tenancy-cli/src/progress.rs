//! How long work reports its steps: a progress bar on a terminal, a line
//! per step otherwise, a JSON object per step with `--json`.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// Where the steps go.
pub(crate) enum Steps {
    /// A progress bar, made at the first step (when the total is known).
    Bar(Option<ProgressBar>),
    /// `[done/total] what: outcome`, one line per step.
    Lines,
    /// One JSON object per line (JSON Lines).
    Json,
}

impl Steps {
    /// The bar on a terminal, lines otherwise; JSON when asked.
    pub(crate) fn new(json: bool) -> Self {
        if json {
            Self::Json
        } else if std::io::stdout().is_terminal() {
            Self::Bar(None)
        } else {
            Self::Lines
        }
    }

    /// Reports one finished step. `failed` steps are printed above the bar.
    pub(crate) fn step(
        &mut self,
        done: usize,
        total: usize,
        what: &str,
        outcome: &str,
        json: &serde_json::Value,
        failed: bool,
    ) {
        match self {
            Self::Bar(bar) => {
                let bar = bar.get_or_insert_with(|| {
                    let bar = ProgressBar::new(total as u64);
                    if let Ok(style) = ProgressStyle::with_template(
                        "{bar:40} {pos}/{len} {elapsed_precise} eta {eta} {msg}",
                    ) {
                        bar.set_style(style);
                    }
                    bar
                });
                if failed {
                    bar.println(format!("{what}: {outcome}"));
                }
                bar.set_message(what.to_owned());
                bar.set_position(done as u64);
            }
            Self::Lines => println!("[{done}/{total}] {what}: {outcome}"),
            Self::Json => println!("{json}"),
        }
    }

    /// Ends the bar, if any.
    pub(crate) fn finish(&mut self) {
        if let Self::Bar(Some(bar)) = self {
            bar.finish_and_clear();
        }
    }
}
