//! A shard whose footer numbers lie (the local Hub's `Quirks::lying_footer`, testhub's
//! `write_lying_copy`): the footer still decodes, but a column chunk starts at a negative offset
//! or runs past the end of the file. Served so once, the shard is read again and the outputs are
//! the reference's bytes; served so every time, or so on disk, the run stops naming the shard,
//! writes nothing, and does not panic.

use testhub::lying_footer::write_lying_copy;
use testhub::{Damage, FooterLie, LyingFooter, Quirks};

use crate::support::*;

/// The golden Hub whose storage serves footers that tell `lie`: of every shard, or only of the
/// one whose path ends with `only`.
fn lying_hub(lie: FooterLie, when: Damage, only: Option<&str>) -> TestHub {
    TestHub::start(golden_hub_config().quirks(Quirks {
        lying_footer: Some(LyingFooter {
            lie,
            when,
            only: only.map(str::to_owned),
        }),
        ..Quirks::default()
    }))
    .unwrap()
}

/// What a panic leaves in stderr: Rust's message and its backtrace hint, or healthchat's words
/// for a scan that panicked.
fn assert_no_panic(message: &str) {
    for sign in ["panicked", "RUST_BACKTRACE", "stopped unexpectedly"] {
        assert!(!message.contains(sign), "a panic ({sign}): {message}");
    }
}

#[test]
fn a_negative_offset_served_once_is_read_again_and_the_outputs_are_the_reference() {
    lying_once(FooterLie::NegativeOffset);
}

#[test]
fn a_size_past_the_end_served_once_is_read_again_and_the_outputs_are_the_reference() {
    lying_once(FooterLie::SizePastEnd);
}

#[test]
fn a_negative_offset_served_always_stops_the_run_naming_the_shard() {
    lying_always(FooterLie::NegativeOffset);
}

#[test]
fn a_size_past_the_end_served_always_stops_the_run_naming_the_shard() {
    lying_always(FooterLie::SizePastEnd);
}

#[test]
fn a_local_copy_with_a_negative_offset_is_to_be_downloaded_again() {
    lying_on_disk(FooterLie::NegativeOffset);
}

#[test]
fn a_local_copy_with_a_size_past_the_end_is_to_be_downloaded_again() {
    lying_on_disk(FooterLie::SizePastEnd);
}

/// Every shard's first storage answer with its footer lying: read again, the reference's bytes.
fn lying_once(lie: FooterLie) {
    let hub = lying_hub(lie, Damage::FirstOfEachFile, None);
    let workspace = Workspace::new();
    let output = workspace.generate_golden(&hub, "2.1.0");
    assert_no_panic(&stderr(&output));
    assert_eq!(workspace.entries(), ["HealthChat-11K_v2.1.0_artifacts"]);
    // The first answer of each shard lied: every shard was asked of the storage again.
    let requests = hub.requests();
    for repo in [LMSYS, WILDCHAT] {
        for entry in std::fs::read_dir(repo_dir(&hub_tree(), repo).join("data")).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            let reads = requests
                .iter()
                .filter(|r| r.method == "GET" && r.path.starts_with("/cdn/"))
                .filter(|r| r.path.ends_with(&name))
                .count();
            assert!(reads >= 2, "{lie:?}: {name} was read {reads} times");
        }
    }
}

/// Every storage answer of one shard with its footer lying: exit 1 naming it, nothing written.
fn lying_always(lie: FooterLie) {
    let hub = lying_hub(lie, Damage::Always, Some(WILDCHAT_SHARD));
    let workspace = Workspace::new();
    let output = workspace.run(
        &hub,
        Some(GRANTED_TOKEN),
        &["generate", "--version", "2.1.0"],
    );
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{lie:?}: {message}");
    assert!(message.contains(WILDCHAT_SHARD), "{lie:?}: {message}");
    assert_no_panic(&message);
    assert!(workspace.entries().is_empty(), "{:?}", workspace.entries());
}

/// A `--source-dir` copy of one shard with its footer lying: exit 1 naming it and saying to
/// download it again, nothing written.
fn lying_on_disk(lie: FooterLie) {
    let hub = golden_hub();
    let copies = hf_download_copy();
    let fixture = repo_dir(&hub_tree(), WILDCHAT).join(WILDCHAT_SHARD);
    write_lying_copy(
        &fixture,
        &copies.path().join(WILDCHAT).join(WILDCHAT_SHARD),
        lie,
    )
    .unwrap();
    let workspace = Workspace::new();
    // Online: the Hub's listing gives each shard's SHA-256.
    let output = workspace.run(
        &hub,
        Some(GRANTED_TOKEN),
        &[
            "generate",
            "--version",
            "2.1.0",
            "--source-dir",
            copies.path().to_str().unwrap(),
        ],
    );
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{lie:?}: {message}");
    assert!(message.contains(WILDCHAT_SHARD), "{lie:?}: {message}");
    assert!(message.contains("download"), "{lie:?}: {message}");
    assert_no_panic(&message);
    assert!(workspace.entries().is_empty(), "{:?}", workspace.entries());
}
