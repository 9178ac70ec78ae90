//! The version `healthchat --version` prints: Cargo.toml's, and the commit it was built from
//! when the source is a git checkout (`0.1.0 (abc1234)`). A source distribution (the wheel's
//! sdist) has no `.git`, or the machine no git: then the version alone, and no error.

use std::path::Path;
use std::process::Command;

fn main() {
    let version = env!("CARGO_PKG_VERSION");
    let full = match commit() {
        Some(commit) => format!("{version} ({commit})"),
        None => version.to_owned(),
    };
    println!("cargo:rustc-env=HEALTHCHAT_VERSION={full}");
}

/// The checkout's short commit, with the files that change with it marked so that a new commit
/// rebuilds; `None` outside a checkout.
fn commit() -> Option<String> {
    println!("cargo:rerun-if-changed=build.rs");
    if !Path::new(".git").exists() {
        return None;
    }
    let git = |args: &[&str]| {
        let output = Command::new("git").args(args).output().ok()?;
        let text = String::from_utf8(output.stdout).ok()?;
        output.status.success().then(|| text.trim().to_owned())
    };
    // HEAD moves on checkout; logs/HEAD on every commit (in a worktree, both are its own).
    for path in ["HEAD", "logs/HEAD"] {
        let file = git(&["rev-parse", "--git-path", path]);
        if let Some(file) = file.filter(|file| Path::new(file).exists()) {
            println!("cargo:rerun-if-changed={file}");
        }
    }
    git(&["rev-parse", "--short", "HEAD"]).filter(|commit| !commit.is_empty())
}
