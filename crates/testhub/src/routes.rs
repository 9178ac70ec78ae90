//! The Hub's API: requests routed, repository info, tree listings (paginated with `Link`), and
//! `/resolve/` with its gates and tokens.

use std::path::Path;

use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use crate::commits::{commit_of, snapshot};
use crate::files::{FileRequest, serve_file};
use crate::response::{Body, empty, error, json};
use crate::state::State;
use crate::storage::serve_storage;

pub(crate) async fn route(
    state: &State,
    request: &Request<Incoming>,
    host: &str,
    authorization: Option<&str>,
    range: Option<&str>,
    if_range: Option<&str>,
) -> Response<Body> {
    let segments: Vec<String> = request
        .uri()
        .path()
        .split('/')
        .skip(1)
        .map(percent_decode)
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = request.method();
    let query = request.uri().query().unwrap_or("");

    if let ["cdn", location @ ..] = segments.as_slice()
        && location.len() >= 3
    {
        return serve_storage(state, request, location, authorization, range, if_range).await;
    }

    let token = authorization
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    if let Some(token) = token
        && !state.config.tokens.contains(token)
    {
        return error(
            StatusCode::UNAUTHORIZED,
            None,
            "Invalid credentials in Authorization header",
        );
    }

    match segments.as_slice() {
        ["api", "datasets", owner, name, "tree", revision, path @ ..] if method == Method::GET => {
            let repo = format!("{owner}/{name}");
            match snapshot(state, &repo, revision) {
                Ok((_, dir)) => {
                    list_tree(state, &repo, &dir, revision, &path.join("/"), query).await
                }
                Err(problem) => problem,
            }
        }
        ["api", "datasets", owner, name, rest @ ..] if method == Method::GET => {
            let repo = format!("{owner}/{name}");
            let revision = match rest {
                [] => "main",
                ["revision", revision] => revision,
                _ => return error(StatusCode::NOT_FOUND, None, "Not Found"),
            };
            match snapshot(state, &repo, revision) {
                Ok((commit, dir)) => repo_info(state, &repo, &commit, &dir),
                Err(problem) => problem,
            }
        }
        ["datasets", owner, name, "resolve", revision, path @ ..]
            if method == Method::GET || method == Method::HEAD =>
        {
            let repo = format!("{owner}/{name}");
            let snapshot = match snapshot(state, &repo, revision) {
                Ok(snapshot) => snapshot,
                Err(problem) => return problem,
            };
            if let Some(other) = &state.config.quirks.resolve_on_host
                && !host.starts_with(other.as_str())
            {
                let mut location = format!("{}{}", state.origin(other), request.uri().path());
                if !query.is_empty() {
                    location = format!("{location}?{query}");
                }
                return Response::builder()
                    .status(StatusCode::FOUND)
                    .header(header::LOCATION, location)
                    .body(empty())
                    .expect("valid response");
            }
            if let Some(status) = state.config.refuse_files {
                return error(
                    StatusCode::from_u16(status).expect("a valid status"),
                    None,
                    "Request blocked by the network's firewall",
                );
            }
            if let Some(granted) = state.config.gated.get(&repo) {
                match token {
                    None => {
                        return error(
                            StatusCode::UNAUTHORIZED,
                            Some("GatedRepo"),
                            &format!(
                                "Access to dataset {repo} is restricted. You must have access to it and be authenticated to access it. Please log in."
                            ),
                        );
                    }
                    Some(token) if !granted.contains(token) => {
                        return error(
                            StatusCode::FORBIDDEN,
                            Some("GatedRepo"),
                            &format!(
                                "Access to dataset {repo} is restricted and you are not in the authorized list. Visit https://huggingface.co/datasets/{repo} to ask for access."
                            ),
                        );
                    }
                    Some(token)
                        if state
                            .config
                            .quirks
                            .fine_grained_without_gated
                            .contains(token) =>
                    {
                        return error(
                            StatusCode::FORBIDDEN,
                            Some("GatedRepo"),
                            "Please enable access to public gated repositories in your fine-grained token settings to view this repository.",
                        );
                    }
                    Some(_) => {}
                }
            }
            let file = FileRequest {
                repo: &repo,
                snapshot: &snapshot,
                path: &path.join("/"),
                range,
                if_range,
                on_hub: true,
                stale: None,
            };
            serve_file(state, method, file).await
        }
        _ => error(StatusCode::NOT_FOUND, None, "Not Found"),
    }
}

/// Files under `dir`, as repository paths, sorted.
fn walk(dir: &Path, prefix: &str, out: &mut Vec<(String, u64, bool)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let Ok(metadata) = entry.metadata() else {
            continue;
        };
        out.push((path, metadata.len(), metadata.is_dir()));
    }
}

async fn list_tree(
    state: &State,
    repo: &str,
    root: &Path,
    revision: &str,
    folder: &str,
    query: &str,
) -> Response<Body> {
    let dir = root.join(folder);
    if !dir.is_dir() {
        return error(
            StatusCode::NOT_FOUND,
            Some("EntryNotFound"),
            &format!("{folder} does not exist on \"{revision}\""),
        );
    }
    let mut entries = Vec::new();
    walk(&dir, folder, &mut entries);
    // `?recursive=true` (huggingface_hub's `snapshot_download`): everything below, depth first.
    let recursive = query
        .split('&')
        .any(|pair| matches!(pair, "recursive=true" | "recursive=True" | "recursive=1"));
    if recursive {
        let mut all = Vec::new();
        let mut pending: Vec<_> = entries.into_iter().rev().collect();
        while let Some(entry) = pending.pop() {
            if entry.2 {
                let mut inner = Vec::new();
                walk(&root.join(&entry.0), &entry.0, &mut inner);
                pending.extend(inner.into_iter().rev());
            }
            all.push(entry);
        }
        entries = all;
    }
    let cursor: usize = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("cursor="))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let page_size = state.config.page_size;
    let mut page = Vec::new();
    for (path, size, is_dir) in entries.iter().skip(cursor).take(page_size) {
        if *is_dir {
            page.push(serde_json::json!({"type": "directory", "oid": commit_of(path), "size": 0, "path": path}));
            continue;
        }
        // As the Hub lists them: an LFS file with its pointer's git ID and the SHA-256 of its
        // bytes as `lfs.oid`, any other file with its git blob ID.
        let file = root.join(path);
        let large = state
            .config
            .redirect_min_size
            .is_some_and(|min| *size >= min);
        let hash = match state.etag_override(path) {
            Some(etag) => etag,
            None => match std::fs::metadata(&file) {
                Ok(metadata) => match state.etag(&file, &metadata, large).await {
                    Ok(hash) => hash,
                    Err(e) => {
                        return error(StatusCode::INTERNAL_SERVER_ERROR, None, &e.to_string());
                    }
                },
                Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, None, &e.to_string()),
            },
        };
        page.push(if large {
            serde_json::json!({"type": "file", "oid": commit_of(path), "size": size, "path": path,
                               "lfs": {"oid": hash, "size": size, "pointerSize": 134}})
        } else {
            serde_json::json!({"type": "file", "oid": hash, "size": size, "path": path})
        });
    }
    let mut response = json(&serde_json::Value::Array(page));
    if cursor + page_size < entries.len() {
        let mut next = format!("/api/datasets/{repo}/tree/{revision}");
        if !folder.is_empty() {
            next.push('/');
            next.push_str(folder);
        }
        let link = format!(
            "<{}{next}?cursor={}{}>; rel=\"next\"",
            state.origin(state.config.pages_on.as_deref().unwrap_or("127.0.0.1")),
            cursor + page_size,
            if recursive { "&recursive=true" } else { "" }
        );
        response.headers_mut().insert(
            header::LINK,
            HeaderValue::from_str(&link).expect("ASCII link"),
        );
    }
    response
}

fn repo_info(state: &State, repo: &str, commit: &str, root: &Path) -> Response<Body> {
    fn all_files(dir: &Path, prefix: &str, out: &mut Vec<String>) {
        let mut entries = Vec::new();
        walk(dir, prefix, &mut entries);
        for (path, _, is_dir) in entries {
            if is_dir {
                let name = path.rsplit('/').next().expect("a name").to_owned();
                all_files(&dir.join(name), &path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    all_files(root, "", &mut files);
    let siblings: Vec<serde_json::Value> = files
        .iter()
        .map(|f| serde_json::json!({"rfilename": f}))
        .collect();
    let gated = if state.config.gated.contains_key(repo) {
        serde_json::json!("manual")
    } else {
        serde_json::json!(false)
    };
    json(
        &serde_json::json!({"id": repo, "sha": commit, "gated": gated, "private": false, "siblings": siblings}),
    )
}

fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&segment[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(
            percent_decode("refs%2Fconvert%2Fparquet"),
            "refs/convert/parquet"
        );
        assert_eq!(percent_decode("a%2"), "a%2");
    }
}
