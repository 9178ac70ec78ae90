//! What the command says to the person running it: the version line, help texts, the closing
//! summary's size, and the messages of runs that cannot go on (each saying what to do next).

use crate::support::*;

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn version_names_the_commit_the_binary_was_built_from() {
    let output = std::process::Command::new(healthchat_binary())
        .arg("--version")
        .output()
        .expect("the binary runs");
    assert_success(&output);
    let mut expected = format!("healthchat {}", env!("CARGO_PKG_VERSION"));
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(root)
        .output()
        .ok()
        .filter(|output| output.status.success() && root.join(".git").exists());
    if let Some(commit) = commit {
        expected += &format!(" ({})", String::from_utf8_lossy(&commit.stdout).trim());
    }
    assert_eq!(stdout(&output).trim(), expected);
}
