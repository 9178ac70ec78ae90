//! The one route to the terminal: the command's result on stdout, and on stderr the status lines,
//! the progress (bars on a terminal, a plain line every 10 s elsewhere, JSON lines for the Python
//! package), the closing summary and errors.

use std::collections::{HashMap, HashSet};
use std::fmt::Display;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{
    HumanBytes, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike,
};

use crate::hub::{RetryReporter, Retrying};
use crate::source::Source;

/// The command's result could not be written to stdout.
#[derive(Debug, thiserror::Error)]
#[error("could not write the result to stdout")]
pub(crate) struct StdoutError {
    #[source]
    source: std::io::Error,
}

impl StdoutError {
    /// What the user can do about it.
    pub(crate) fn next_step(&self) -> Option<String> {
        Some(
            "send stdout somewhere with room (a file on a disk with free space, a terminal), \
             then run again."
                .to_owned(),
        )
    }
}

/// How the progress of a run is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// `--quiet`: nothing but the result and errors.
    Quiet,
    /// stderr is a terminal: bars, redrawn in place.
    Bars,
    /// stderr is a file or a pipe (CI logs): a plain line every [`LINE_EVERY`].
    Lines,
    /// For the Python package (`--progress-json`): a JSON line every [`JSON_EVERY`].
    Json,
}

const BARS_EVERY: Duration = Duration::from_millis(100);
const LINE_EVERY: Duration = Duration::from_secs(10);
const JSON_EVERY: Duration = Duration::from_millis(500);

#[derive(Clone)]
pub(crate) struct Printer {
    bars: MultiProgress,
    mode: Mode,
    /// Each source's shard bytes read so far: counted as they arrive, from the first footer
    /// read on (before the bars exist), and shown by the ticker.
    meters: Arc<Mutex<HashMap<Source, ByteMeter>>>,
    /// The thread that shows progress (bars, plain or JSON lines) while the scans go on.
    ticker: Arc<Mutex<Option<Ticker>>>,
    /// Set once the bars were drawn, and so the cursor's place marked.
    marked: Arc<AtomicBool>,
}

/// A source's shard bytes read so far.
#[derive(Clone, Default)]
pub(crate) struct ByteMeter(Arc<AtomicU64>);

impl ByteMeter {
    pub(crate) fn add(&self, bytes: u64) {
        self.0.fetch_add(bytes, Ordering::Relaxed);
    }

    fn read(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Before the first byte a bar claims no rate and no ETA.
const WAITING_TEMPLATE: &str = "{prefix:>9} [{bar:30}] {bytes}/{total_bytes} {msg}";
const BAR_TEMPLATE: &str =
    "{prefix:>9} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {msg}";

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .expect("static template")
        .progress_chars("=> ")
}

impl Printer {
    /// Bars are drawn only on a terminal; `quiet` silences status lines and progress.
    pub(crate) fn new(quiet: bool) -> Printer {
        let mode = match quiet {
            true => Mode::Quiet,
            false if std::io::stderr().is_terminal() => Mode::Bars,
            false => Mode::Lines,
        };
        Printer::with_mode(mode)
    }

    /// As [`Printer::new`], with progress as JSON lines (`--progress-json`) unless `quiet`.
    pub(crate) fn with_json_progress(quiet: bool) -> Printer {
        Printer::with_mode(if quiet { Mode::Quiet } else { Mode::Json })
    }

    fn with_mode(mode: Mode) -> Printer {
        let marked = Arc::new(AtomicBool::new(false));
        let target = match mode {
            Mode::Bars => {
                let term = MarkedTerm(console::Term::buffered_stderr(), Arc::clone(&marked));
                ProgressDrawTarget::term_like_with_hz(Box::new(term), 20)
            }
            _ => ProgressDrawTarget::hidden(),
        };
        Printer {
            bars: MultiProgress::with_draw_target(target),
            mode,
            meters: Arc::default(),
            ticker: Arc::default(),
            marked,
        }
    }

    /// A line of the command's result on stdout. A reader that went away (`| head`) is not an
    /// error of ours; any other failure (a full disk) is: the result is lost.
    pub(crate) fn result(&self, line: impl Display) -> Result<(), StdoutError> {
        let mut stdout = std::io::stdout().lock();
        match writeln!(stdout, "{line}").and_then(|()| stdout.flush()) {
            Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
                Err(StdoutError { source: error })
            }
            _ => Ok(()),
        }
    }

    /// A line for the person watching, on stderr, above any progress bars (which are cleared
    /// for it and drawn again below it).
    pub(crate) fn status(&self, line: impl AsRef<str>) {
        if self.mode == Mode::Quiet {
            return;
        }
        self.bars.suspend(|| {
            let _ = writeln!(std::io::stderr().lock(), "{}", line.as_ref());
        });
    }

    /// `error: ...` on stderr, whatever `quiet` says.
    pub(crate) fn error(message: impl Display) {
        let _ = writeln!(std::io::stderr().lock(), "error: {message}");
    }

    /// `warning: ...` on stderr, whatever `quiet` says: something was ignored or left behind.
    pub fn warning(message: impl Display) {
        let _ = writeln!(std::io::stderr().lock(), "warning: {message}");
    }

    /// The counter of `source`'s shard bytes, the same for every caller.
    pub(crate) fn byte_meter(&self, source: Source) -> ByteMeter {
        let mut meters = self.meters.lock().expect("no panic holding it");
        meters.entry(source).or_default().clone()
    }

    /// The progress of the scans: a line for all sources together above a bar per source
    /// (`(source, total bytes, conversations wanted, shards)` each), or the plain or JSON
    /// lines that stand for them. [`Printer::end_progress`] ends it.
    pub(crate) fn progress(&self, sources: &[(Source, u64, usize, usize)]) -> Vec<Arc<SourceBar>> {
        let total = sources.iter().map(|(_, bytes, ..)| bytes).sum();
        let overall = self.bar("all", total);
        let bars: Vec<Arc<SourceBar>> = sources
            .iter()
            .map(|&(source, total, wanted, shards)| {
                let bar = self.bar(source.name(), total);
                bar.set_message(format!("0/{wanted} found"));
                Arc::new(SourceBar {
                    printer: self.clone(),
                    counts: Arc::new(Counts {
                        read: self.byte_meter(source),
                        total,
                        found: Mutex::default(),
                        wanted,
                    }),
                    shards_left: AtomicUsize::new(shards),
                    bar,
                })
            })
            .collect();
        let every = match self.mode {
            Mode::Quiet => return bars,
            Mode::Bars => BARS_EVERY,
            Mode::Lines => LINE_EVERY,
            Mode::Json => JSON_EVERY,
        };
        let shown = Shown {
            sources: bars
                .iter()
                .map(|bar| (bar.bar.clone(), Arc::clone(&bar.counts)))
                .collect(),
            overall,
            mode: self.mode,
        };
        *self.ticker.lock().expect("no panic holding it") = Some(Ticker::start(shown, every));
        bars
    }

    /// Ends the progress of the scans: the bars drawn a last time and left on the screen above
    /// what follows (cleared instead when the run failed or was interrupted, so that nothing
    /// half-drawn stays above the error), the plain or JSON lines stopped (JSON with a last
    /// line that says so).
    pub(crate) fn end_progress(&self, completed: bool) {
        let ticker = self.ticker.lock().expect("no panic holding it").take();
        // The bars stay alive until they are cleared: one dropped is taken off the screen
        // with a drawing of its own, which the clearing would then miss a line of.
        let _shown = ticker.map(|ticker| ticker.stop(completed));
        if !completed && self.marked.load(Ordering::Acquire) {
            // A Ctrl-C typed at the terminal discards what the terminal has not shown yet,
            // perhaps half a drawing of the bars: the cursor goes back where the last whole
            // drawing left it, so that clearing takes the bars, and only them.
            MarkedTerm::back_to_mark();
            let _ = self.bars.clear();
        } else if self.marked.load(Ordering::Acquire) {
            // What follows starts below the bars, not at the end of the last.
            let _ = writeln!(std::io::stderr().lock());
        }
        // Nothing is drawn again, however long a cancelled scan holds its bar.
        self.bars.set_draw_target(ProgressDrawTarget::hidden());
    }

    fn bar(&self, prefix: &str, total_bytes: u64) -> ProgressBar {
        if self.mode != Mode::Bars {
            return ProgressBar::hidden();
        }
        let bar = self.bars.add(ProgressBar::new(total_bytes));
        bar.set_style(style(WAITING_TEMPLATE));
        bar.set_prefix(prefix.to_owned());
        bar
    }
}

/// What a source's scans have done so far, for its bar and the progress lines.
struct Counts {
    read: ByteMeter,
    total: u64,
    /// The distinct wanted IDs found so far.
    found: Mutex<HashSet<String>>,
    wanted: usize,
}

impl Counts {
    /// Bytes read, as far as the source's end: a shard read again after damage on the way
    /// does not push a bar past it.
    fn read(&self) -> u64 {
        self.read.read().min(self.total)
    }

    fn found(&self) -> usize {
        self.found
            .lock()
            .expect("no scan panics holding the lock")
            .len()
    }
}

/// A source's progress as its scans report: bytes as they arrive, the distinct wanted IDs found
/// so far (the hand-over decides what is written, and comes to the same number), and the bar
/// finished with the last shard rather than with the whole run.
pub(crate) struct SourceBar {
    printer: Printer,
    counts: Arc<Counts>,
    shards_left: AtomicUsize,
    bar: ProgressBar,
}

impl SourceBar {
    /// `bytes` read (or spared by the cache of rows).
    pub(crate) fn read(&self, bytes: u64) {
        self.counts.read.add(bytes);
    }

    pub(crate) fn saw(&self, id: &str) {
        let mut found = self
            .counts
            .found
            .lock()
            .expect("no scan panics holding the lock");
        if found.insert(id.to_owned()) {
            self.bar
                .set_message(format!("{}/{} found", found.len(), self.counts.wanted));
        }
    }

    /// A line for the person watching, from a scan (a cache entry dropped, say).
    pub(crate) fn warn(&self, line: impl AsRef<str>) {
        self.printer.status(line);
    }

    /// A shard scanned; after the last, the source's bar ends full, whatever was not counted
    /// on the way (a second footer read, say).
    pub(crate) fn shard_done(&self) {
        if self.shards_left.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.counts
                .read
                .0
                .fetch_max(self.counts.total, Ordering::Relaxed);
        }
    }
}

/// What the ticker shows: the bars (hidden ones but in [`Mode::Bars`]) and their counts.
struct Shown {
    sources: Vec<(ProgressBar, Arc<Counts>)>,
    overall: ProgressBar,
    mode: Mode,
}

impl Shown {
    /// The bars brought up to the counts: "all" is the sum of its sources, as drawn. A bar
    /// claims a rate and an ETA only from its first byte on.
    fn draw(&self) {
        let mut sum = 0;
        for (bar, counts) in &self.sources {
            let read = counts.read();
            sum += read;
            advance(bar, read);
        }
        advance(&self.overall, sum);
    }

    /// `Read 1.20 GiB of 4.52 GiB (26 %), 45.1 MB/s; 3012 of 11000 conversations found`, the
    /// rate since the line before (`last`: when, and the bytes read then); returns this
    /// line's.
    fn plain_line(&self, last: (Instant, u64)) -> (Instant, u64) {
        let (read, total, found, wanted) = self.totals();
        let now = Instant::now();
        let seconds = now.duration_since(last.0).as_secs_f64().max(1e-3);
        let rate = read.saturating_sub(last.1) as f64 / seconds / 1e6;
        let percent = (read * 100).checked_div(total).unwrap_or(100);
        let _ = writeln!(
            std::io::stderr().lock(),
            "Read {} of {} ({percent} %), {rate:.1} MB/s; {found} of {wanted} conversations found",
            HumanBytes(read),
            HumanBytes(total),
        );
        (now, read)
    }

    /// `{"progress": {"read": .., "total": .., "found": .., "wanted": .., "done": ..}}`: what
    /// the Python package reads into its bar (and does not show as text).
    fn json_line(&self, done: bool) {
        let (read, total, found, wanted) = self.totals();
        let line = serde_json::json!({
            "progress": {"read": read, "total": total, "found": found, "wanted": wanted, "done": done}
        });
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }

    /// Bytes read, bytes in all, conversations found and wanted, over every source.
    fn totals(&self) -> (u64, u64, usize, usize) {
        self.sources
            .iter()
            .fold((0, 0, 0, 0), |(read, total, found, wanted), (_, c)| {
                (
                    read + c.read(),
                    total + c.total,
                    found + c.found(),
                    wanted + c.wanted,
                )
            })
    }
}

/// `bar` at `position`: restyled with its rate and ETA at the first byte, finished at its end.
fn advance(bar: &ProgressBar, position: u64) {
    if bar.is_finished() {
        return;
    }
    if position == bar.position() {
        // A stalled stream's rate and ETA go on changing.
        bar.tick();
        return;
    }
    if bar.position() == 0 {
        bar.set_style(style(BAR_TEMPLATE));
        bar.reset_eta();
    }
    bar.set_position(position);
    if bar.length().is_some_and(|length| position >= length) {
        bar.finish();
    }
}

/// The thread that shows progress while the scans go on.
struct Ticker {
    stop: mpsc::Sender<bool>,
    thread: JoinHandle<Shown>,
}

impl Ticker {
    fn start(shown: Shown, every: Duration) -> Ticker {
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let mut last = (Instant::now(), 0);
            if shown.mode == Mode::Json {
                shown.json_line(false);
            }
            let completed = loop {
                match stopped.recv_timeout(every) {
                    Ok(completed) => break completed,
                    Err(mpsc::RecvTimeoutError::Disconnected) => break false,
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                }
                match shown.mode {
                    Mode::Bars => shown.draw(),
                    Mode::Lines => last = shown.plain_line(last),
                    Mode::Json => shown.json_line(false),
                    Mode::Quiet => {}
                }
            };
            match shown.mode {
                Mode::Bars if completed => shown.draw(),
                Mode::Json => shown.json_line(true),
                Mode::Bars | Mode::Lines | Mode::Quiet => {}
            }
            shown
        });
        Ticker { stop, thread }
    }

    /// Stops the thread; what it showed.
    fn stop(self, completed: bool) -> Option<Shown> {
        let _ = self.stop.send(completed);
        self.thread.join().ok()
    }
}

/// stderr as indicatif draws on it, marking (DECSC) where each drawing leaves the cursor.
/// (The flag is set at the first mark.)
#[derive(Debug)]
struct MarkedTerm(console::Term, Arc<AtomicBool>);

impl MarkedTerm {
    /// The cursor back at the mark (DECRC).
    fn back_to_mark() {
        let _ = write!(std::io::stderr().lock(), "\x1b8");
    }
}

impl TermLike for MarkedTerm {
    fn width(&self) -> u16 {
        self.0.size().1
    }

    fn height(&self) -> u16 {
        self.0.size().0
    }

    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_up(n)
    }

    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_down(n)
    }

    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_right(n)
    }

    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_left(n)
    }

    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.0.write_line(s)
    }

    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.0.write_str(s)
    }

    fn clear_line(&self) -> std::io::Result<()> {
        self.0.clear_line()
    }

    /// The end of a drawing: marked, in the same write.
    fn flush(&self) -> std::io::Result<()> {
        self.0.write_str("\x1b7")?;
        self.1.store(true, Ordering::Release);
        self.0.flush()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_the_sum_of_its_sources_and_no_source_passes_its_end() {
        let printer = Printer::with_mode(Mode::Lines);
        // Bytes that arrive before the bars exist (a shard opened ahead) count too.
        printer.byte_meter(Source::Lmsys).add(10);
        let bars = printer.progress(&[(Source::Lmsys, 100, 3, 1), (Source::Wildchat, 50, 2, 2)]);
        bars[0].read(50);
        bars[1].read(30);
        // A shard read again after damage on the way: counted up to the source's end only.
        bars[0].read(60);
        bars[1].saw("a");
        bars[1].saw("a");
        bars[0].saw("b");
        let ticker = printer.ticker.lock().unwrap().take().unwrap();
        let shown = Shown {
            sources: bars
                .iter()
                .map(|bar| (ProgressBar::new(bar.counts.total), Arc::clone(&bar.counts)))
                .collect(),
            overall: ProgressBar::new(150),
            mode: Mode::Bars,
        };
        shown.draw();
        assert_eq!(shown.totals(), (130, 150, 2, 5));
        assert_eq!(shown.overall.position(), 130);
        // The last shard of a source done: its bar ends full, and "all" with it.
        bars[1].shard_done();
        shown.draw();
        assert_eq!(shown.sources[1].0.position(), 30);
        bars[1].shard_done();
        shown.draw();
        assert_eq!(shown.sources[1].0.position(), 50);
        assert_eq!(shown.overall.position(), 150);
        ticker.stop(true);
    }
}
