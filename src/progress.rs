//! The one place that talks to the terminal while a run goes on: status lines, progress bars,
//! and the closing summary. Everything goes to stderr; stdout is left for the result.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::source::Source;

pub struct Progress {
    bars: MultiProgress,
    quiet: bool,
}

impl Progress {
    /// Bars are drawn only on a terminal; `quiet` silences status lines too.
    pub fn new(quiet: bool) -> Progress {
        let target = if quiet || !std::io::stderr().is_terminal() {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        Progress {
            bars: MultiProgress::with_draw_target(target),
            quiet,
        }
    }

    pub fn status(&self, line: impl AsRef<str>) {
        if self.quiet {
            return;
        }
        if self.bars.is_hidden() {
            eprintln!("{}", line.as_ref());
        } else {
            let _ = self.bars.println(line.as_ref());
        }
    }

    /// A bar of compressed bytes streamed from one source, with found/wanted in its message.
    pub fn source_bar(&self, source: Source, total_bytes: u64) -> ProgressBar {
        let bar = self.bars.add(ProgressBar::new(total_bytes));
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>9} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {msg}",
            )
            .expect("static template")
            .progress_chars("=> "),
        );
        bar.set_prefix(source.name());
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    }
}

pub fn human_bytes(bytes: u64) -> String {
    HumanBytes(bytes).to_string()
}
