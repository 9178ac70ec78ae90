//! Repositories and their commits: a stable fake hash for each repository's own commit, commits
//! pushed on top of it during a run, and the snapshot a revision names.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use hyper::{Response, StatusCode};

use crate::response::{Body, error};
use crate::state::State;

fn repo_dir(state: &State, repo: &str) -> PathBuf {
    state.config.root.join("datasets").join(repo)
}

/// The commit a revision names and the directory holding the repository's files at it: `main`
/// is the newest commit, and every commit stays readable by its hash, as on the Hub. The error is
/// the response to send.
#[allow(clippy::result_large_err)]
pub(crate) fn snapshot(
    state: &State,
    repo: &str,
    revision: &str,
) -> Result<(String, PathBuf), Response<Body>> {
    if !repo_dir(state, repo).is_dir() {
        return Err(error(
            StatusCode::NOT_FOUND,
            Some("RepoNotFound"),
            "Repository not found",
        ));
    }
    let mut commits = vec![(commit_of(repo), repo_dir(state, repo))];
    if let Some(pushed) = state.commits.lock().expect("commits lock").get(repo) {
        commits.extend(pushed.iter().cloned());
    }
    let found = if revision == "main" {
        commits.pop()
    } else {
        commits.into_iter().find(|(commit, _)| commit == revision)
    };
    found.ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            Some("RevisionNotFound"),
            &format!("Invalid rev id: {revision}"),
        )
    })
}

/// A stable fake commit hash per repository.
pub fn commit_of(repo: &str) -> String {
    let a = fnv1a(repo.as_bytes(), 0xcbf2_9ce4_8422_2325);
    let b = fnv1a(repo.as_bytes(), a);
    let c = fnv1a(repo.as_bytes(), b);
    format!("{a:016x}{b:016x}{:08x}", c >> 32)
}

fn fnv1a(bytes: &[u8], seed: u64) -> u64 {
    bytes.iter().fold(seed, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl State {
    /// Counts a request to `path` toward [`HubConfig::push`](crate::HubConfig::push): the one
    /// that brings the count down to zero lands the push as the repository's new `main`.
    pub(crate) fn count_toward_push(&self, path: &str) {
        if let Some(push) = &self.config.push
            && path.contains(&format!("/{}/", push.repo))
            && self
                .push_countdown
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                == Ok(1)
        {
            let mut commits = self.commits.lock().expect("commits lock");
            let pushed = commits.entry(push.repo.clone()).or_default();
            let commit = commit_of(&format!("{}@{}", push.repo, pushed.len() + 1));
            pushed.push((commit, push.dir.clone()));
        }
    }
}
