//! Hostile servers (`testhub::hostile`): endless or huge listings, trickling bodies, sizes no
//! file holds, waits no one can wait, redirects out of HTTP, compressed answers, bad names.

use std::time::Duration;

use testhub::hostile::{Hostile, HostileHub};

use super::*;
use crate::support::*;

const GUARD: Duration = Duration::from_secs(120);

/// A hostile Hub in front of the golden one, and the run of [`WILDCHAT_RUN`] against it.
fn run_against(mode: Hostile) -> (Sandbox, Ended) {
    run_args_against(mode, &WILDCHAT_RUN)
}

fn run_args_against(mode: Hostile, args: &[&str]) -> (Sandbox, Ended) {
    let upstream = golden_hub();
    let hostile = HostileHub::start(&upstream.endpoint(), fixtures().join("hub"), mode).unwrap();
    let sandbox = Sandbox::new();
    let mut command = sandbox.command(&upstream, Some(&hostile.endpoint()));
    command.args(args);
    let ended = run_bounded(command, GUARD);
    (sandbox, ended)
}

/// Exit 1 within `seconds`, saying `words`, without advice about the network, nothing left.
fn assert_refused(mode: Hostile, seconds: u64, words: &[&str]) {
    let (sandbox, ended) = run_against(mode);
    assert_fails_saying(&ended, seconds, words);
    assert!(
        !ended.stderr.contains("check the network"),
        "{}",
        ended.stderr
    );
    sandbox.assert_nothing_left();
}

#[test]
fn a_listing_whose_next_page_is_itself_stops_at_once() {
    assert_refused(
        Hostile::ListingLinksToItself,
        20,
        &["listing data of allenai/WildChat-1M", "already sent"],
    );
}

#[test]
fn a_listing_without_end_stops_at_the_page_limit() {
    assert_refused(Hostile::EndlessListing, 60, &["more than 1000 pages"]);
}

#[test]
fn a_listing_of_4_gib_is_read_only_up_to_the_cap() {
    assert_refused(Hostile::HugeListing, 30, &["larger than 16 MiB"]);
}

#[test]
fn a_trickling_listing_is_given_up_as_too_slow() {
    assert_refused(
        Hostile::TricklingListing,
        30,
        &["listing data of allenai/WildChat-1M", "slower than"],
    );
}

#[test]
fn a_trickling_or_one_byte_storage_is_given_up_as_too_slow() {
    for mode in [Hostile::TricklingFile, Hostile::OneBytePerAnswer] {
        assert_refused(mode, 30, &["reading data/train-", "slower than"]);
    }
}

#[test]
fn one_byte_per_cut_answer_does_not_renew_the_retry_budget() {
    // Every byte used to count as progress: ten cut answers in a row now end the read, after
    // the backoff between them (about a minute in all).
    let (sandbox, ended) = run_against(Hostile::OneByteThenCut);
    assert_fails_saying(
        &ended,
        110,
        &["reading data/train-", "gave up after 10 attempts"],
    );
    sandbox.assert_nothing_left();
}

#[test]
fn annotation_files_listed_larger_than_memory_are_refused_before_any_allocation() {
    for size in [1u64 << 63, 1 << 62, u64::MAX] {
        assert_refused(
            Hostile::AnnotationSize(size),
            30,
            &[&size.to_string(), "more than the 256 MiB"],
        );
    }
}

#[test]
fn a_wait_beyond_any_bound_is_not_a_panic() {
    for seconds in ["1e20", "18446744073709551616"] {
        let (sandbox, ended) = run_against(Hostile::RetryAfter(seconds.to_owned()));
        assert_orderly(&ended);
        assert_eq!(ended.status.code(), Some(1), "{}", ended.stderr);
        assert!(ended.stderr.contains("HTTP 503"), "{}", ended.stderr);
        assert!(
            ended.stderr.contains("longer than any wait"),
            "{}",
            ended.stderr
        );
        assert!(ended.took < Duration::from_secs(10), "{:?}", ended.took);
        sandbox.assert_nothing_left();
    }
}

#[test]
fn a_redirect_out_of_http_is_refused_at_once() {
    for location in ["file:///etc/passwd", "gopher://127.0.0.1:1/x"] {
        let scheme = location.split(':').next().unwrap();
        assert_refused(
            Hostile::RedirectShardsTo(location.to_owned()),
            20,
            &["not an HTTP URL", &format!("{scheme}://")],
        );
    }
}

#[test]
fn a_compressed_answer_is_named_not_called_a_changed_file() {
    for mode in [Hostile::GzipFile, Hostile::GzipListing] {
        let (sandbox, ended) = run_against(mode);
        assert_fails_saying(&ended, 20, &["Content-Encoding: gzip", "identity"]);
        for misleading in ["changed", "corrupt", "check the network"] {
            assert!(!ended.stderr.contains(misleading), "{}", ended.stderr);
        }
        sandbox.assert_nothing_left();
    }
}

#[test]
fn a_storage_that_refuses_every_url_is_named_once_in_the_message() {
    let (sandbox, ended) = run_against(Hostile::StorageRefuses);
    assert_fails_saying(
        &ended,
        30,
        &["answered HTTP 403: Request has expired, 3 times in a row"],
    );
    assert_eq!(
        ended.stderr.matches("reading data/").count(),
        1,
        "{}",
        ended.stderr
    );
    sandbox.assert_nothing_left();
}

#[test]
fn a_nul_in_a_listed_path_is_refused_at_once() {
    assert_refused(
        Hostile::NulInListedPath,
        20,
        &["listing data of allenai/WildChat-1M", "control character"],
    );
}

#[test]
fn a_footer_length_of_4_gb_is_refused_without_fetching_it() {
    let tree = hub_tree_copy();
    let data = tree.path().join("datasets/allenai/WildChat-1M/data");
    let shard = data.join("train-00001-of-00004.parquet");
    let mut bytes = std::fs::read(&shard).unwrap();
    let at = bytes.len() - 8;
    bytes[at..at + 4].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    std::fs::write(&shard, bytes).unwrap();
    let hub = TestHub::start(hub_config_at(tree.path())).unwrap();
    let sandbox = Sandbox::new();
    let mut command = sandbox.command(&hub, None);
    command.args(WILDCHAT_RUN).arg("--no-cache");
    let ended = run_bounded(command, GUARD);
    assert_fails_saying(&ended, 30, &["train-00001-of-00004.parquet", "4294967280"]);
    sandbox.assert_nothing_left();
}
