//! The file system as untrusted as the network: caches that delete only the names they write and
//! never through a link, locks that neither truncate nor follow, FIFOs refused rather than waited
//! on, signals heard while a run waits, and ends that say what happened to the output.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::support::*;

const GUARD: Duration = Duration::from_secs(60);
const ANNOTATION_FILE: &str = "HealthChat-11K_master_annotations_v2.1.0.jsonl";

/// Every path below `dir` (links as they are), sorted.
fn paths_under(dir: &Path) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        paths.push(entry.path());
        if entry.file_type().unwrap().is_dir() {
            paths.extend(paths_under(&entry.path()));
        }
    }
    paths.sort();
    paths
}

fn named(dir: &Path, test: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    paths_under(dir)
        .into_iter()
        .filter(|path| test(&path.file_name().unwrap().to_string_lossy()))
        .collect()
}

/// A sandbox whose cache a first WildChat run filled.
fn warm() -> (TestHub, Sandbox) {
    let hub = golden_hub();
    let sandbox = Sandbox::new();
    let mut command = sandbox.command(&hub, None);
    command.args(WILDCHAT_RUN);
    let ended = run_bounded(command, GUARD);
    assert_orderly(&ended);
    assert!(ended.status.success(), "{}", ended.stderr);
    (hub, sandbox)
}

fn run(sandbox: &Sandbox, hub: &TestHub, args: &[&str], env: &[(&str, &Path)]) -> Ended {
    let mut command = sandbox.command(hub, None);
    command.args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    run_bounded(command, GUARD)
}

fn mkfifo(path: &Path) {
    let _ = std::fs::remove_file(path);
    let name = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid C string.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
}

#[test]
fn damaged_cache_entries_lose_only_the_files_the_cache_wrote_never_through_a_link() {
    let (hub, sandbox) = warm();
    let rows = sandbox.workspace.hf_home.path().join("healthchat/rows");
    let entries = named(&rows, |name| name.len() == 64);
    assert_eq!(entries.len(), 4, "{entries:?}");
    // One entry is a link to a user's directory holding a damaged `footer.bin`; another is
    // damaged and holds a user's file.
    let user = tempfile::tempdir().unwrap();
    std::fs::write(user.path().join("footer.bin"), "not ours").unwrap();
    std::fs::write(user.path().join("thesis.tex"), "years of work").unwrap();
    std::fs::remove_dir_all(&entries[0]).unwrap();
    symlink(user.path(), &entries[0]).unwrap();
    std::fs::write(entries[1].join("footer.bin"), "damaged").unwrap();
    std::fs::write(entries[1].join("notes.txt"), "mine").unwrap();
    let before = snapshot(user.path());
    let assert_untouched = || {
        assert_eq!(
            snapshot(user.path()),
            before,
            "the linked directory is untouched"
        );
        assert_eq!(
            std::fs::read(entries[1].join("notes.txt")).unwrap(),
            b"mine"
        );
    };

    let ended = run(&sandbox, &hub, &WILDCHAT_RUN, &[]);
    assert_orderly(&ended);
    assert!(ended.status.success(), "{}", ended.stderr);
    assert!(ended.stderr.contains("symbolic link"), "{}", ended.stderr);
    assert!(ended.stderr.contains("is damaged"), "{}", ended.stderr);
    assert_untouched();

    // `cache clean` removes what the cache wrote, and only that.
    std::fs::write(rows.join("README"), "mine too").unwrap();
    let ended = run(&sandbox, &hub, &["cache", "clean"], &[]);
    assert_orderly(&ended);
    assert!(ended.status.success(), "{}", ended.stderr);
    assert_untouched();
    assert_eq!(std::fs::read(rows.join("README")).unwrap(), b"mine too");
    let left = named(&rows, |name| name.ends_with(".bin") || name == ".lock");
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn lock_files_are_neither_truncated_nor_followed() {
    let (hub, sandbox) = warm();
    let home = sandbox.workspace.hf_home.path();
    let user = tempfile::tempdir().unwrap();
    let precious = user.path().join("precious");
    std::fs::write(&precious, "do not truncate").unwrap();
    let link_locks = |dir: &Path| {
        let locks = named(dir, |name| name.ends_with(".lock"));
        assert!(!locks.is_empty());
        for lock in locks {
            std::fs::remove_file(&lock).unwrap();
            symlink(&precious, &lock).unwrap();
        }
    };
    // The cache of rows does without an entry it cannot lock.
    link_locks(&home.join("healthchat"));
    let ended = run(&sandbox, &hub, &WILDCHAT_RUN, &[]);
    assert_orderly(&ended);
    assert!(ended.status.success(), "{}", ended.stderr);
    assert!(ended.stderr.contains("symbolic link"), "{}", ended.stderr);
    // The Hugging Face cache cannot write a blob it cannot lock.
    link_locks(&home.join("hub/.locks"));
    let ended = run(&sandbox, &hub, &WILDCHAT_RUN, &[]);
    assert_fails_saying(&ended, 30, &[".lock", "symbolic link"]);
    assert_eq!(std::fs::read(&precious).unwrap(), b"do not truncate");
}

#[test]
fn offline_a_snapshot_linked_outside_the_cache_is_not_used() {
    let (hub, sandbox) = warm();
    let home = sandbox.workspace.hf_home.path();
    let pointer = named(&home.join("hub"), |name| name == ANNOTATION_FILE).remove(0);
    let outside = tempfile::tempdir().unwrap();
    let planted = outside.path().join(ANNOTATION_FILE);
    std::fs::copy(&pointer, &planted).unwrap();
    std::fs::remove_file(&pointer).unwrap();
    symlink(&planted, &pointer).unwrap();
    let offline = [("HF_HUB_OFFLINE", Path::new("1"))];
    let ended = run(&sandbox, &hub, &WILDCHAT_RUN, &offline);
    assert_fails_saying(
        &ended,
        30,
        &[ANNOTATION_FILE, "outside the Hugging Face cache"],
    );
}

#[test]
fn fifos_are_refused_rather_than_waited_on() {
    let (hub, sandbox) = warm();
    let home = sandbox.workspace.hf_home.path();
    // The cached blob, offline.
    let blob = named(&home.join("hub"), |name| name.len() == 40)
        .into_iter()
        .find(|path| path.parent().unwrap().ends_with("blobs"))
        .unwrap();
    mkfifo(&blob);
    let offline = [("HF_HUB_OFFLINE", Path::new("1"))];
    let ended = run(&sandbox, &hub, &WILDCHAT_RUN, &offline);
    assert_fails_saying(&ended, 30, &["FIFO"]);

    // Where `hf download` keeps a shard's metadata: the Hub's listing verifies it instead.
    let copy = tempfile::tempdir().unwrap();
    let repo = copy.path().join("allenai/WildChat-1M");
    let data = fixtures().join("hub/datasets/allenai/WildChat-1M/data");
    std::fs::create_dir_all(repo.join("data")).unwrap();
    let metadata = repo.join(".cache/huggingface/download/data");
    std::fs::create_dir_all(&metadata).unwrap();
    for entry in std::fs::read_dir(&data).unwrap() {
        let name = entry.unwrap().file_name();
        std::fs::copy(data.join(&name), repo.join("data").join(&name)).unwrap();
        let name = format!("{}.metadata", name.to_string_lossy());
        mkfifo(&metadata.join(name));
    }
    let mut args = WILDCHAT_RUN.to_vec();
    args.extend(["--source-dir", copy.path().to_str().unwrap()]);
    let ended = run(&sandbox, &hub, &args, &[]);
    assert_orderly(&ended);
    assert!(ended.status.success(), "{}", ended.stderr);

    // A shard of the copy that is a FIFO: refused as what it is, not for its size.
    let shard = named(&repo.join("data"), |name| name.ends_with(".parquet")).remove(0);
    std::fs::remove_file(&shard).unwrap();
    mkfifo(&shard);
    let ended = run(&sandbox, &hub, &args, &[]);
    assert_fails_saying(&ended, 30, &["FIFO", "not a regular file"]);
}

#[test]
fn signals_end_a_run_that_waits_for_a_lock() {
    let (hub, sandbox) = warm();
    let home = sandbox.workspace.hf_home.path();
    let lock = named(&home.join("hub/.locks"), |name| name.ends_with(".lock")).remove(0);
    let held = std::fs::File::open(&lock).unwrap();
    held.lock().unwrap();
    for (signal, status) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let mut command = sandbox.command(&hub, None);
        command
            .args(WILDCHAT_RUN)
            .arg("--output-dir")
            .arg("waiting");
        let child = command
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_secs(2));
        // SAFETY: our own child.
        unsafe { libc::kill(child.id() as libc::pid_t, signal) };
        let started = std::time::Instant::now();
        let output = child.wait_with_output().unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(output.status.code(), Some(status), "{}", stderr(&output));
        let waiting = sandbox.workspace.dir.path().join("waiting");
        assert!(
            paths_under(&waiting).is_empty(),
            "{:?}",
            paths_under(&waiting)
        );
    }
}

#[test]
fn a_file_size_limit_is_a_write_error_that_leaves_nothing() {
    let hub = golden_hub();
    let sandbox = Sandbox::new();
    let mut command = sandbox.command_for("sh".as_ref(), &hub, None);
    command
        .env("HF_TOKEN", GRANTED_TOKEN)
        .args(["-c", "ulimit -f 512; exec \"$0\" generate --version 2.0.0"])
        .arg(healthchat_binary());
    let ended = run_bounded(command, GUARD);
    assert_fails_saying(&ended, 30, &["File too large", "free disk space"]);
    sandbox.assert_nothing_left();
}

#[test]
fn a_complete_directory_is_success_even_when_the_old_copy_cannot_go() {
    let hub = golden_hub();
    let sandbox = Sandbox::new();
    let target = sandbox
        .workspace
        .dir
        .path()
        .join("HealthChat-11K_v2.1.0_wildchat_artifacts");
    // A file where the directory goes is replaced.
    std::fs::write(&target, "an old file").unwrap();
    let ended = run(&sandbox, &hub, &WILDCHAT_RUN, &[]);
    assert_orderly(&ended);
    assert!(ended.status.success(), "{}", ended.stderr);
    assert!(target.join("manifest.json").is_file());
    assert_eq!(sandbox.workspace.entries().len(), 1);
    // An old directory holding a file that cannot be removed stays, named in a warning: as root
    // the file is immutable, else its folder is read-only.
    std::fs::create_dir(target.join("stuck")).unwrap();
    std::fs::write(target.join("stuck/file"), "").unwrap();
    let undeletable = |dir: &Path, yes: bool| {
        if unsafe { libc::geteuid() } == 0 {
            let flag = if yes { "+i" } else { "-i" };
            let status = std::process::Command::new("chattr")
                .arg(flag)
                .arg(dir.join("stuck/file"))
                .status();
            assert!(status.unwrap().success());
        } else {
            use std::os::unix::fs::PermissionsExt;
            let mode = if yes { 0o555 } else { 0o755 };
            let permissions = std::fs::Permissions::from_mode(mode);
            std::fs::set_permissions(dir.join("stuck"), permissions).unwrap();
        }
    };
    undeletable(&target, true);
    let ended = run(&sandbox, &hub, &WILDCHAT_RUN, &[]);
    let old: Vec<PathBuf> = named(sandbox.workspace.dir.path(), |n| n.contains(".old-"));
    let old = old.first().expect("the old copy stays");
    undeletable(old, false);
    assert_orderly(&ended);
    assert!(ended.status.success(), "{}", ended.stderr);
    assert!(target.join("manifest.json").is_file());
    assert!(!target.join("stuck").exists());
    let name = old.file_name().unwrap().to_string_lossy();
    assert!(ended.stderr.contains("warning:"), "{}", ended.stderr);
    assert!(ended.stderr.contains(name.as_ref()), "{}", ended.stderr);
}

#[test]
fn a_summary_that_cannot_be_written_is_a_failure() {
    let hub = golden_hub();
    let sandbox = Sandbox::new();
    let mut command = sandbox.command(&hub, None);
    command.args(WILDCHAT_RUN).arg("--json");
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full");
    let ended = run_bounded_to(command, GUARD, full.unwrap().into());
    assert_fails_saying(&ended, 30, &["stdout", "No space left on device"]);
}
