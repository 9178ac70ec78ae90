//! The Hub's API (FORMAT.md §1): a revision pinned to its commit, the tree listing of a folder
//! (each file's size and, for large files, the SHA-256 the Hub publishes as `lfs.oid`), and
//! `/resolve/` for where a file's bytes are read from.

use std::collections::HashSet;

use reqwest::header::{self, HeaderMap};
use reqwest::{Method, Url};
use serde::Deserialize;

use super::client::{About, Channel, HttpClient};
use super::error::HubError;
use super::http::header_str;
use super::repo::{DatasetRepo, is_commit};
use super::retry::RetryState;
use super::settings::HubSettings;
use crate::digest::is_sha256;

/// `/resolve/` redirects followed on the Hub's own origin (a renamed repository) before the
/// file's location is taken as it is.
const MAX_HUB_REDIRECTS: usize = 10;

/// The most pages and entries a folder's listing may run to (FORMAT.md §12): the folders read
/// hold a few dozen files, on pages of up to 1,000 entries.
const MAX_LISTING_PAGES: usize = 1000;
const MAX_LISTED_ENTRIES: usize = 100_000;

#[derive(Deserialize)]
struct RevisionInfo {
    sha: String,
}

#[derive(Deserialize)]
struct TreeEntry {
    #[serde(rename = "type")]
    kind: String,
    path: String,
    #[serde(default)]
    size: u64,
    /// The git object ID: of the file itself, or of its LFS pointer.
    #[serde(default)]
    oid: Option<String>,
    #[serde(default)]
    lfs: Option<LfsEntry>,
}

#[derive(Deserialize)]
struct LfsEntry {
    oid: String,
    size: u64,
}

/// A file as the repository's listing describes it: nothing here depends on headers a cache
/// may strip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListedFile {
    path: String,
    size: u64,
    /// The SHA-256 of the bytes, for a file stored with LFS (`lfs.oid`).
    sha256: Option<String>,
    /// The git blob ID, for a file stored in git itself.
    git_oid: Option<String>,
}

impl ListedFile {
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// The SHA-256 of the file's bytes as the Hub publishes it (large files only).
    pub(crate) fn sha256(&self) -> Option<&str> {
        self.sha256.as_deref()
    }

    /// What the file's bytes hash to, as the Hugging Face cache names its blob: the SHA-256 of
    /// an LFS file, else the git blob ID.
    pub(crate) fn blob_name(&self) -> Option<&str> {
        self.sha256.as_deref().or(self.git_oid.as_deref())
    }
}

/// A file of a pinned repository and the URL its bytes are read from (the storage URL the
/// `/resolve/` redirect named, or the Hub's own `/resolve/` URL for a file it serves itself).
#[derive(Debug, Clone)]
pub(crate) struct RemoteFile {
    repo: DatasetRepo,
    listed: ListedFile,
    url: Url,
}

impl RemoteFile {
    pub(crate) fn repo(&self) -> &DatasetRepo {
        &self.repo
    }

    pub(crate) fn listed(&self) -> &ListedFile {
        &self.listed
    }

    pub(crate) fn path(&self) -> &str {
        &self.listed.path
    }

    pub(crate) fn size(&self) -> u64 {
        self.listed.size
    }

    pub(super) fn url(&self) -> &Url {
        &self.url
    }

    pub(super) fn relocated(&mut self, url: Url) {
        self.url = url;
    }

    pub(super) fn describe(&self) -> String {
        format!("reading {} of {}", self.listed.path, self.repo.id())
    }
}

/// The Hub's API calls, on one HTTP client.
pub(crate) struct HubApi {
    client: HttpClient,
}

impl HubApi {
    pub(crate) fn new(settings: HubSettings) -> Result<HubApi, HubError> {
        Ok(HubApi {
            client: HttpClient::new(settings)?,
        })
    }

    pub(crate) fn settings(&self) -> &HubSettings {
        self.client.settings()
    }

    pub(super) fn client(&self) -> &HttpClient {
        &self.client
    }

    /// `repo` pinned to the commit its revision names now, asked once of the Hub's revision API
    /// (a full commit hash is taken as it is; offline, the revision stays as asked).
    pub(crate) async fn pin(&self, repo: &DatasetRepo) -> Result<DatasetRepo, HubError> {
        if repo.commit().is_some() || self.settings().offline {
            return Ok(repo.clone());
        }
        if is_commit(repo.revision()) {
            return Ok(repo.pinned(repo.revision().to_ascii_lowercase()));
        }
        let url = self.client.api_url(repo, &["revision", repo.revision()]);
        let mut retry = self.client.retry_state(format!(
            "resolving revision `{}` of {}",
            repo.revision(),
            repo.id()
        ));
        let about = About { repo, path: None };
        let (_, body) = self.client.get_whole(&about, &mut retry, &url).await?;
        let info: RevisionInfo =
            serde_json::from_slice(&body).map_err(|e| HubError::BadResponse {
                what: retry.what().to_owned(),
                problem: format!("the answer is not the expected JSON ({e})"),
            })?;
        if !is_commit(&info.sha) {
            return Err(HubError::UnsafeName {
                what: "commit",
                value: info.sha.chars().take(80).collect(),
                origin: retry.what().to_owned(),
            });
        }
        Ok(repo.pinned(info.sha.to_ascii_lowercase()))
    }

    /// The files directly inside `folder` ("" for the root) of a dataset repository, in the
    /// listing's order.
    pub(crate) async fn list_folder(
        &self,
        repo: &DatasetRepo,
        folder: &str,
    ) -> Result<Vec<ListedFile>, HubError> {
        let mut rest = vec!["tree", repo.reference()];
        rest.extend(folder.split('/').filter(|s| !s.is_empty()));
        let mut next = Some(self.client.api_url(repo, &rest));
        let mut retry = self.client.retry_state(format!(
            "listing {} of {}",
            if folder.is_empty() { "/" } else { folder },
            repo.id()
        ));
        let about = About {
            repo,
            path: (!folder.is_empty()).then_some(folder),
        };
        let bad = |retry: &RetryState, problem: String| HubError::BadResponse {
            what: retry.what().to_owned(),
            problem,
        };
        let mut files = Vec::new();
        let (mut pages, mut entries_seen) = (HashSet::new(), 0);
        while let Some(url) = next.take() {
            if !pages.insert(url.clone()) {
                let problem = "its next page is one it already sent, so it would never end";
                return Err(bad(&retry, problem.to_owned()));
            }
            if pages.len() > MAX_LISTING_PAGES {
                let problem = format!("it runs to more than {MAX_LISTING_PAGES} pages");
                return Err(bad(&retry, problem));
            }
            // A next page on another origin is fetched without the token (HttpClient::send).
            let (headers, body) = self.client.get_whole(&about, &mut retry, &url).await?;
            retry.completed();
            next = next_page(&headers, &url);
            let entries: Vec<TreeEntry> = serde_json::from_slice(&body).map_err(|e| {
                bad(
                    &retry,
                    format!("the listing is not the expected JSON ({e})"),
                )
            })?;
            entries_seen += entries.len();
            if entries_seen > MAX_LISTED_ENTRIES {
                let problem = format!("it lists more than {MAX_LISTED_ENTRIES} entries");
                return Err(bad(&retry, problem));
            }
            for entry in entries.into_iter().filter(|entry| entry.kind == "file") {
                files.push(listed_file(entry).map_err(|problem| bad(&retry, problem))?);
            }
        }
        Ok(files)
    }

    /// Where `file`'s bytes are read from: `/resolve/` asked with a HEAD request (where gated
    /// access is checked), redirects on the Hub's origin followed, and the first one that leaves
    /// it taken as the location without a request of its own (storage URLs are signed for GET).
    pub(crate) async fn resolve(
        &self,
        repo: &DatasetRepo,
        file: &ListedFile,
    ) -> Result<RemoteFile, HubError> {
        let mut retry =
            self.client
                .retry_state(format!("resolving {} of {}", file.path, repo.id()));
        let url = self.locate(repo, &file.path, &mut retry, None).await?;
        Ok(RemoteFile {
            repo: repo.clone(),
            listed: file.clone(),
            url,
        })
    }

    /// `file` resolved again, past any cache on the way (a cache-busting query parameter), for a
    /// second read of bytes that came damaged.
    pub(crate) async fn resolve_again(&self, file: &RemoteFile) -> Result<RemoteFile, HubError> {
        let mut retry = self.client.retry_state(format!(
            "resolving {} of {} again",
            file.path(),
            file.repo.id()
        ));
        let url = self
            .locate(&file.repo, file.path(), &mut retry, Some(fastrand::u64(..)))
            .await?;
        Ok(RemoteFile {
            url,
            ..file.clone()
        })
    }

    /// The location of `path` as `/resolve/` names it now; with `cache_bust`, asked with a query
    /// parameter of that value, so that no cache on the way answers for the Hub.
    pub(super) async fn locate(
        &self,
        repo: &DatasetRepo,
        path: &str,
        retry: &mut RetryState,
        cache_bust: Option<u64>,
    ) -> Result<Url, HubError> {
        let mut url = self.client.resolve_url(repo, path);
        if let Some(value) = cache_bust {
            url.query_pairs_mut()
                .append_pair("healthchat_fresh", &value.to_string());
        }
        let about = About {
            repo,
            path: Some(path),
        };
        for _ in 0..=MAX_HUB_REDIRECTS {
            let response = self
                .client
                .send(&about, retry, Channel::Resolve, Method::HEAD, &url, |r| r)
                .await?;
            let headers = response.headers();
            check_commit(repo, headers, retry.what())?;
            if !response.status().is_redirection() {
                return Ok(url);
            }
            let location = header_str(headers, header::LOCATION.as_str())
                .and_then(|location| url.join(&location).ok())
                .ok_or_else(|| HubError::BadResponse {
                    what: retry.what().to_owned(),
                    problem: format!("HTTP {} without a valid Location", response.status()),
                })?;
            if !self.client.is_hub(&location) {
                return Ok(location);
            }
            url = location;
        }
        Err(HubError::BadResponse {
            what: retry.what().to_owned(),
            problem: format!("more than {MAX_HUB_REDIRECTS} redirects"),
        })
    }
}

/// A listing entry as a file, its path and hashes checked for form (they name requests and
/// cache files).
fn listed_file(entry: TreeEntry) -> Result<ListedFile, String> {
    let shown = || {
        let path: String = entry.path.chars().take(80).collect();
        path.escape_default().to_string()
    };
    if let Some(bad) = entry.path.chars().find(|c| c.is_control()) {
        return Err(format!(
            "it lists a path holding a control character ({}): \"{}\"",
            bad.escape_default(),
            shown()
        ));
    }
    if entry
        .path
        .split('/')
        .any(|part| matches!(part, "" | "." | ".."))
    {
        return Err(format!(
            "it lists a path that is not a plain relative path: \"{}\"",
            shown()
        ));
    }
    let (size, sha256) = match entry.lfs {
        Some(lfs) if is_sha256(&lfs.oid) => (lfs.size, Some(lfs.oid.to_ascii_lowercase())),
        Some(lfs) => {
            return Err(format!(
                "{} has an lfs.oid that is not a SHA-256: `{}`",
                entry.path,
                lfs.oid.chars().take(80).collect::<String>()
            ));
        }
        None => (entry.size, None),
    };
    // Not checked for form here: a mirror may send any name, and the cache refuses names that
    // are not plain before they name a file.
    let git_oid = entry.oid;
    Ok(ListedFile {
        path: entry.path,
        size,
        sha256,
        git_oid,
    })
}

/// A `/resolve/` answer naming a commit other than the pinned one means the revision moved
/// under a request that named the commit: a Hub bug or a mirror out of step, never mixed in.
fn check_commit(repo: &DatasetRepo, headers: &HeaderMap, what: &str) -> Result<(), HubError> {
    match (repo.commit(), header_str(headers, "x-repo-commit")) {
        (Some(pinned), Some(served)) if !served.eq_ignore_ascii_case(pinned) => {
            Err(HubError::Changed {
                what: what.to_owned(),
                problem: format!("the Hub served commit {served}, not the pinned {pinned}"),
            })
        }
        _ => Ok(()),
    }
}

/// The `rel="next"` target of a `Link` header (the Hub's listing pagination).
fn next_page(headers: &HeaderMap, current: &Url) -> Option<Url> {
    let link = header_str(headers, header::LINK.as_str())?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params.contains("rel=\"next\"").then(|| {
            let target = target.trim().trim_start_matches('<').trim_end_matches('>');
            current.join(target).ok()
        })?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_page_is_found_in_a_link_header() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::LINK,
            "<https://hub.test/api/datasets/a/b/tree/main?cursor=xyz>; rel=\"next\""
                .parse()
                .unwrap(),
        );
        let current = Url::parse("https://hub.test/api/datasets/a/b/tree/main").unwrap();
        assert_eq!(
            next_page(&headers, &current).unwrap().as_str(),
            "https://hub.test/api/datasets/a/b/tree/main?cursor=xyz"
        );
        assert_eq!(next_page(&HeaderMap::new(), &current), None);
    }

    #[test]
    fn listing_entries_give_the_published_hashes() {
        let entries: Vec<TreeEntry> = serde_json::from_str(
            r#"[{"type":"file","oid":"0123456789abcdef0123456789abcdef01234567","size":134,
                 "path":"data/train-0.parquet",
                 "lfs":{"oid":"5891B5B522D5DF086D0FF0B110FBD9D21BB4FC7163AF34D08286A2E846F6BE03","size":9000,"pointerSize":134}},
                {"type":"file","oid":"ce013625030ba8dba906f756967f9e9ca394464a","size":6,"path":"README.md"}]"#,
        )
        .unwrap();
        let files: Vec<ListedFile> = entries
            .into_iter()
            .map(|e| listed_file(e).unwrap())
            .collect();
        assert_eq!(files[0].size(), 9000, "the LFS size, not the pointer's");
        assert_eq!(
            files[0].blob_name(),
            Some("5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03")
        );
        assert_eq!(files[1].sha256(), None);
        assert_eq!(
            files[1].blob_name(),
            Some("ce013625030ba8dba906f756967f9e9ca394464a")
        );
        let bad: TreeEntry = serde_json::from_str(
            r#"{"type":"file","path":"x","size":1,"lfs":{"oid":"../../x","size":1}}"#,
        )
        .unwrap();
        assert!(listed_file(bad).unwrap_err().contains("not a SHA-256"));
        for (path, problem) in [
            (
                "data/train-\\u0000.parquet",
                "control character (\\u{0}): \"data/train-\\u{0}.parq",
            ),
            ("data/a\\nb", "control character (\\n)"),
            ("data/../x", "not a plain relative path"),
            ("/data/x", "not a plain relative path"),
            ("data//x", "not a plain relative path"),
        ] {
            let entry: TreeEntry =
                serde_json::from_str(&format!(r#"{{"type":"file","path":"{path}","size":1}}"#))
                    .unwrap();
            let error = listed_file(entry).unwrap_err();
            assert!(error.contains(problem), "{path}: {error}");
        }
    }
}
