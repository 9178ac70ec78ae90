//! What a hostile or broken server, file system or environment can do (issue 31): every case
//! ends in bounded time and memory with exit status 1 and a message naming the real cause, or
//! succeeds saying what it could not do; never a panic, never a write outside the run's places.
//! The cases: `network.rs` (servers, `testhub::hostile`), `disk.rs` (caches,
//! locks, FIFOs, output), `setting.rs` (environment).

mod disk;
mod network;
mod setting;

use std::io::Read;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

/// The most memory any run may take (issue 31: the real Hub's largest answers fit in far less).
const PEAK_RSS_LIMIT_KB: u64 = 256 * 1024;

/// How a run ended.
pub struct Ended {
    pub status: ExitStatus,
    pub stderr: String,
    pub peak_rss_kb: u64,
    pub took: Duration,
}

/// A workspace whose run has a home and a temporary directory of its own, so that a write
/// outside its places shows.
pub struct Sandbox {
    pub workspace: Workspace,
    pub home: tempfile::TempDir,
    pub tmp: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox {
            workspace: Workspace::new(),
            home: tempfile::tempdir().unwrap(),
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    /// `healthchat` against `endpoint` (the upstream `hub` when None), no token, short stall
    /// timeout, `HOME` and `TMPDIR` in the sandbox.
    pub fn command(&self, hub: &TestHub, endpoint: Option<&str>) -> Command {
        self.command_for(healthchat_binary().as_os_str(), hub, endpoint)
    }

    pub fn command_for(
        &self,
        program: &std::ffi::OsStr,
        hub: &TestHub,
        endpoint: Option<&str>,
    ) -> Command {
        let mut command = self.workspace.command_for(program, hub, None);
        command
            .env("HF_HUB_DOWNLOAD_TIMEOUT", "1")
            .env("HOME", self.home.path())
            .env("XDG_CACHE_HOME", self.home.path())
            .env("TMPDIR", self.tmp.path())
            .env_remove("RUST_BACKTRACE");
        if let Some(endpoint) = endpoint {
            command.env("HF_ENDPOINT", endpoint);
        }
        command
    }

    /// Nothing was left in the working directory, the home or the temporary directory.
    pub fn assert_nothing_left(&self) {
        assert!(
            self.workspace.entries().is_empty(),
            "{:?}",
            self.workspace.entries()
        );
        for dir in [&self.home, &self.tmp] {
            let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
            assert!(
                left.is_empty(),
                "written outside the run's places: {left:?}"
            );
        }
    }
}

/// `generate` of the WildChat part, which needs no token.
pub const WILDCHAT_RUN: [&str; 5] = ["generate", "--version", "2.1.0", "--sources", "wildchat"];

/// Runs `command` to its end, killed (and the test failed) after `limit`; its peak RSS from
/// `wait4`.
pub fn run_bounded(command: Command, limit: Duration) -> Ended {
    run_bounded_to(command, limit, Stdio::piped())
}

/// [`run_bounded`] with its stdout sent to `stdout`.
#[expect(
    clippy::zombie_processes,
    reason = "reaped by `wait4`, which also gives its peak RSS"
)]
pub fn run_bounded_to(mut command: Command, limit: Duration, stdout: Stdio) -> Ended {
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let pipe = |reader: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut reader) = reader {
                let _ = reader.read_to_end(&mut text);
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = pipe(child.stdout.take().map(|out| Box::new(out) as _));
    let stderr = pipe(child.stderr.take().map(|err| Box::new(err) as _));
    let pid = child.id() as libc::pid_t;
    let (status, usage) = loop {
        let mut status = 0;
        // SAFETY: an all-zero rusage is valid, and `wait4` fills both for our own child.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let waited = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if waited == pid {
            break (status, usage);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "healthchat was still running after {limit:?}:\n{}",
                stderr.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    use std::os::unix::process::ExitStatusExt;
    // Read to its end so that the run is never held up on a full pipe; no case needs it.
    stdout.join().unwrap();
    Ended {
        status: ExitStatus::from_raw(status),
        stderr: stderr.join().unwrap(),
        peak_rss_kb: usage.ru_maxrss as u64,
        took: started.elapsed(),
    }
}

/// No panic, no abort, within the memory bound.
pub fn assert_orderly(ended: &Ended) {
    for words in ["panicked", "RUST_BACKTRACE", "overflow", "SIGABRT"] {
        assert!(!ended.stderr.contains(words), "{}", ended.stderr);
    }
    assert!(
        ended.status.code().is_some(),
        "ended by a signal: {:?}\n{}",
        ended.status,
        ended.stderr
    );
    assert!(
        ended.peak_rss_kb <= PEAK_RSS_LIMIT_KB,
        "peak RSS {} KB\n{}",
        ended.peak_rss_kb,
        ended.stderr
    );
}

/// Exit status 1, orderly, within `seconds`, its message holding each of `words`.
pub fn assert_fails_saying(ended: &Ended, seconds: u64, words: &[&str]) {
    assert_orderly(ended);
    assert_eq!(ended.status.code(), Some(1), "{}", ended.stderr);
    assert!(
        ended.took < Duration::from_secs(seconds),
        "took {:?}: {}",
        ended.took,
        ended.stderr
    );
    for words in words {
        assert!(ended.stderr.contains(words), "`{words}`: {}", ended.stderr);
    }
}

/// Every file below `dir` with its bytes, to see that a run changed nothing there.
pub fn snapshot(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.symlink_metadata().unwrap().is_dir() {
                pending.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap_or_default();
                files.push((path, bytes));
            }
        }
    }
    files.sort();
    files
}
