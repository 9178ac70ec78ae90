//! The one route to the terminal: the command's result on stdout, and on stderr the status lines,
//! the progress bars, the closing summary and errors.

use std::collections::HashSet;
use std::fmt::Display;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::hub::{RetryReporter, Retrying};
use crate::source::Source;

#[derive(Clone)]
pub(crate) struct Printer {
    bars: MultiProgress,
    quiet: bool,
}

const BAR_TEMPLATE: &str =
    "{prefix:>9} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {msg}";

impl Printer {
    /// Bars are drawn only on a terminal; `quiet` silences status lines and bars.
    pub(crate) fn new(quiet: bool) -> Printer {
        let target = if quiet || !std::io::stderr().is_terminal() {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        Printer {
            bars: MultiProgress::with_draw_target(target),
            quiet,
        }
    }

    /// A line of the command's result on stdout. A reader that went away (`| head`) is not an
    /// error of ours, so write errors are ignored rather than turned into a panic as `println!`
    /// does.
    pub(crate) fn result(&self, line: impl Display) {
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }

    /// A line for the person watching, on stderr, above any progress bars.
    pub(crate) fn status(&self, line: impl AsRef<str>) {
        if self.quiet {
            return;
        }
        if self.bars.is_hidden() {
            let _ = writeln!(std::io::stderr().lock(), "{}", line.as_ref());
        } else {
            let _ = self.bars.println(line.as_ref());
        }
    }

    /// `error: ...` on stderr, whatever `quiet` says.
    pub(crate) fn error(message: impl Display) {
        let _ = writeln!(std::io::stderr().lock(), "error: {message}");
    }

    fn bar(&self, prefix: &str, total_bytes: u64) -> ProgressBar {
        let bar = self.bars.add(ProgressBar::new(total_bytes));
        bar.set_style(
            ProgressStyle::with_template(BAR_TEMPLATE)
                .expect("static template")
                .progress_chars("=> "),
        );
        bar.set_prefix(prefix.to_owned());
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    }

    /// The line above the sources' bars: every source's bytes together, their rate and ETA.
    pub(crate) fn overall_bar(&self, total_bytes: u64) -> ProgressBar {
        self.bar("all", total_bytes)
    }

    /// A bar of compressed bytes streamed from one source, with found/wanted in its message;
    /// what it reads counts in `overall` too.
    pub(crate) fn source_bar(
        &self,
        source: Source,
        total_bytes: u64,
        wanted: usize,
        shards: usize,
        overall: &ProgressBar,
    ) -> SourceBar {
        let bar = self.bar(source.name(), total_bytes);
        bar.set_message(format!("0/{wanted} found"));
        SourceBar {
            printer: self.clone(),
            found: Mutex::new(HashSet::new()),
            wanted,
            shards_left: AtomicUsize::new(shards),
            bar,
            overall: overall.clone(),
        }
    }
}

/// A source's progress bar as its scans report: the distinct wanted IDs found so far (the
/// hand-over decides what is written, and comes to the same number), and the bar finished with
/// the last shard rather than with the whole run.
pub(crate) struct SourceBar {
    printer: Printer,
    found: Mutex<HashSet<String>>,
    wanted: usize,
    shards_left: AtomicUsize,
    bar: ProgressBar,
    overall: ProgressBar,
}

impl SourceBar {
    pub(crate) fn read(&self, bytes: u64) {
        self.bar.inc(bytes);
        self.overall.inc(bytes);
        if self.overall.position() >= self.overall.length().unwrap_or(0) {
            self.overall.finish();
        }
    }

    pub(crate) fn saw(&self, id: &str) {
        let mut found = self.found.lock().expect("no scan panics holding the lock");
        if !found.contains(id) {
            found.insert(id.to_owned());
            self.bar
                .set_message(format!("{}/{} found", found.len(), self.wanted));
        }
    }

    /// A line for the person watching, from a scan (a cache entry dropped, say).
    pub(crate) fn warn(&self, line: impl AsRef<str>) {
        self.printer.status(line);
    }

    pub(crate) fn shard_done(&self) {
        if self.shards_left.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.bar.finish();
        }
    }
}

/// Retries as status lines above the bars: what failed, and that it is tried again.
impl RetryReporter for Printer {
    fn retrying(&self, retrying: &Retrying<'_>) {
        let mut what = retrying.what.to_owned();
        if let Some(first) = what.get(..1) {
            what.replace_range(..1, &first.to_uppercase());
        }
        self.status(format!(
            "{what}: {}; trying again in {:.1} s (attempt {} of {})",
            retrying.reason,
            retrying.wait.as_secs_f64(),
            retrying.attempt,
            retrying.attempts
        ));
    }
}
