//! Environment values no one meant: out of range, unsendable, or naming a FIFO.

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::support::*;

const GUARD: Duration = Duration::from_secs(60);

fn fifo_in(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("fifo");
    let name = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid C string.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
    path
}

#[test]
fn a_download_timeout_out_of_range_is_warned_of_and_ignored() {
    let hub = golden_hub();
    for value in ["1e20", "-3", "soon"] {
        let sandbox = Sandbox::new();
        let mut command = sandbox.command(&hub, None);
        command
            .env("HF_HUB_DOWNLOAD_TIMEOUT", value)
            .args(WILDCHAT_RUN);
        let ended = run_bounded(command, GUARD);
        assert_orderly(&ended);
        assert!(ended.status.success(), "{}", ended.stderr);
        let warning = format!("warning: HF_HUB_DOWNLOAD_TIMEOUT=`{value}`");
        assert!(ended.stderr.contains(&warning), "{}", ended.stderr);
    }
}

#[test]
fn a_token_an_http_header_cannot_carry_is_refused_before_any_request() {
    let hub = golden_hub();
    let sandbox = Sandbox::new();
    let token_file = sandbox.tmp.path().join("token");
    std::fs::write(&token_file, "hf_secret\u{7f}tail\n").unwrap();
    let cases = [
        ("HF_TOKEN", "hf_secret\u{1}tail", "HF_TOKEN"),
        (
            "HF_TOKEN_PATH",
            token_file.to_str().unwrap(),
            "the token file",
        ),
    ];
    for (variable, value, named) in cases {
        let mut command = sandbox.command(&hub, None);
        command.env(variable, value).args(WILDCHAT_RUN);
        let ended = run_bounded(command, GUARD);
        assert_fails_saying(&ended, 10, &[named, "cannot carry"]);
        assert!(
            !ended.stderr.contains("hf_secret"),
            "the token is never shown"
        );
    }
    assert!(hub.requests().is_empty(), "{:?}", hub.requests());
    std::fs::remove_file(token_file).unwrap();
    sandbox.assert_nothing_left();
}

#[test]
fn files_named_by_the_environment_that_are_fifos_are_refused_not_waited_on() {
    let hub = golden_hub();
    let sandbox = Sandbox::new();
    let fifos = tempfile::tempdir().unwrap();
    let fifo = fifo_in(fifos.path());
    // A token file that is a FIFO is no token: WildChat needs none.
    let mut command = sandbox.command(&hub, None);
    command.env("HF_TOKEN_PATH", &fifo).args(WILDCHAT_RUN);
    let ended = run_bounded(command, GUARD);
    assert_orderly(&ended);
    assert!(ended.status.success(), "{}", ended.stderr);
    assert!(ended.stderr.contains("FIFO"), "{}", ended.stderr);
    // A certificate file that is a FIFO trusts nothing.
    let mut command = sandbox.command(&hub, None);
    command.env("SSL_CERT_FILE", &fifo).args(WILDCHAT_RUN);
    let ended = run_bounded(command, GUARD);
    assert_fails_saying(&ended, 10, &["SSL_CERT_FILE", "FIFO"]);
}
