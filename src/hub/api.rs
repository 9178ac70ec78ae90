//! The Hub's API calls: the tree listing of a folder, and `/resolve/` for a file's size, ETag,
//! commit and the place its bytes are read from.

use reqwest::Url;
use reqwest::header::{self, HeaderMap};
use serde::Deserialize;

use super::client::{MAX_REDIRECTS, clean_etag, header_str, header_u64};
use super::response::Target;
use super::{DatasetRepo, Hub, HubError, HubFile, Location};

#[derive(Deserialize)]
struct RevisionInfo {
    sha: String,
}

#[derive(Deserialize)]
struct TreeEntry {
    #[serde(rename = "type")]
    kind: String,
    path: String,
}

impl Hub {
    /// `repo` pinned to the commit its revision names now, asked once of the Hub's revision API
    /// (a full commit hash is taken as it is; offline, the cache answers instead).
    pub async fn pin(&self, repo: &DatasetRepo) -> Result<DatasetRepo, HubError> {
        if repo.commit.is_some() || self.settings.offline {
            return Ok(repo.clone());
        }
        let commit = if is_commit(&repo.revision) {
            repo.revision.to_ascii_lowercase()
        } else {
            let mut segments = vec!["api", "datasets"];
            segments.extend(repo.id.split('/'));
            segments.extend(["revision", repo.revision.as_str()]);
            let url = self.url(&segments);
            let target = Target {
                repo,
                path: None,
                what: format!("resolving revision `{}` of {}", repo.revision, repo.id),
                on_hub: true,
            };
            let body = self
                .send_and_read(&target, || {
                    self.with_token(self.client.get(url.clone()), true)
                })
                .await?;
            let info: RevisionInfo =
                serde_json::from_slice(&body).map_err(|e| HubError::BadResponse {
                    what: target.what.clone(),
                    problem: format!("the answer is not the expected JSON ({e})"),
                })?;
            if !is_commit(&info.sha) {
                return Err(HubError::UnsafeName {
                    what: "commit",
                    value: info.sha.chars().take(80).collect(),
                    origin: target.what,
                });
            }
            info.sha.to_ascii_lowercase()
        };
        Ok(DatasetRepo {
            commit: Some(commit),
            ..repo.clone()
        })
    }

    /// The paths of the files directly inside `folder` ("" for the root) of a dataset repository.
    pub async fn list_folder(
        &self,
        repo: &DatasetRepo,
        folder: &str,
    ) -> Result<Vec<String>, HubError> {
        let mut segments = vec!["api", "datasets"];
        segments.extend(repo.id.split('/'));
        segments.extend(["tree", repo.reference()]);
        segments.extend(folder.split('/').filter(|s| !s.is_empty()));
        let mut next = Some(self.url(&segments));
        let target = Target {
            repo,
            path: (!folder.is_empty()).then_some(folder),
            what: format!(
                "listing {} of {}",
                if folder.is_empty() { "/" } else { folder },
                repo.id
            ),
            on_hub: true,
        };
        let mut files = Vec::new();
        while let Some(url) = next.take() {
            // A next page on another origin is fetched without the token.
            let send_token = self.is_hub(&url);
            let (headers, body) = self
                .send_and_read_with_headers(&target, || {
                    self.with_token(self.client.get(url.clone()), send_token)
                })
                .await?;
            next = next_page(&headers, &url);
            let entries: Vec<TreeEntry> =
                serde_json::from_slice(&body).map_err(|e| HubError::BadResponse {
                    what: target.what.clone(),
                    problem: format!("the listing is not the expected JSON ({e})"),
                })?;
            files.extend(
                entries
                    .into_iter()
                    .filter(|entry| entry.kind == "file")
                    .map(|entry| entry.path),
            );
        }
        Ok(files)
    }

    /// Follows the `/resolve/` redirects of a file (HEAD requests) to where its bytes are, and
    /// learns its size, ETag and commit on the way. This is also where gated access is checked.
    pub async fn resolve(&self, repo: &DatasetRepo, path: &str) -> Result<HubFile, HubError> {
        let target = Target {
            repo,
            path: Some(path),
            what: format!("resolving {path} of {}", repo.id),
            on_hub: true,
        };
        let mut url = self.resolve_url(repo, path);
        let mut send_token = true;
        let (mut size, mut etag, mut commit) = (None, None, None);
        let mut located = false;
        for _ in 0..=MAX_REDIRECTS {
            let response = self
                .send(&target, || {
                    self.with_token(self.resolver.head(url.clone()), send_token)
                })
                .await?;
            let headers = response.headers();
            commit = commit.or_else(|| header_str(headers, "x-repo-commit"));
            if let (Some(pinned), Some(served)) = (&repo.commit, &commit)
                && !served.eq_ignore_ascii_case(pinned)
            {
                return Err(HubError::Changed {
                    what: target.what,
                    problem: format!("the Hub served commit {served}, not the pinned {pinned}"),
                });
            }
            size = size.or_else(|| header_u64(headers, "x-linked-size"));
            etag = etag.or_else(|| header_str(headers, "x-linked-etag").map(|e| clean_etag(&e)));
            if !response.status().is_redirection() {
                size = size.or_else(|| header_u64(headers, header::CONTENT_LENGTH.as_str()));
                etag = etag.or_else(|| header_str(headers, "etag").map(|e| clean_etag(&e)));
                located = true;
                break;
            }
            let storage_redirect =
                headers.contains_key("x-linked-size") || headers.contains_key("x-linked-etag");
            let location = header_str(headers, header::LOCATION.as_str())
                .and_then(|location| url.join(&location).ok())
                .ok_or_else(|| HubError::BadResponse {
                    what: target.what.clone(),
                    problem: format!("HTTP {} without a valid Location", response.status()),
                })?;
            if storage_redirect || !self.is_hub(&location) {
                send_token = false;
            }
            url = location;
            // A pre-signed storage URL whose size is known needs no request of its own.
            if storage_redirect && size.is_some() {
                located = true;
                break;
            }
        }
        if !located {
            return Err(HubError::BadResponse {
                what: target.what,
                problem: format!("more than {MAX_REDIRECTS} redirects"),
            });
        }
        let size = size.ok_or_else(|| HubError::BadResponse {
            what: target.what.clone(),
            problem: "no Content-Length or X-Linked-Size".to_owned(),
        })?;
        Ok(HubFile {
            repo: repo.clone(),
            path: path.to_owned(),
            size,
            etag,
            commit,
            location: Location::Remote { url, send_token },
        })
    }
}

/// A full commit hash: 40 hexadecimal digits.
fn is_commit(value: &str) -> bool {
    value.len() == 40 && value.bytes().all(|b| b.is_ascii_hexdigit())
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
}
