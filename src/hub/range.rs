//! Byte ranges of a file: one streaming request, resumed with `Range` after a cut or a stall,
//! renewed when a pre-signed storage URL expires, and stopped when the file changes under it.

use std::path::PathBuf;

use bytes::Bytes;
use reqwest::header;
use reqwest::{Response, StatusCode};

use super::client::{clean_etag, describe_reqwest_error, header_str};
use super::response::Target;
use super::{Hub, HubError, HubFile, Location};

impl Hub {
    /// Reads bytes `start..end` of a resolved file, resuming after dropped connections.
    pub fn read_range(&self, file: &HubFile, start: u64, end: u64) -> RangeReader<'_> {
        RangeReader {
            hub: self,
            what: file.describe(),
            file: file.clone(),
            offset: start,
            end,
            response: None,
            local: None,
            content_etag: None,
            failures: 0,
            fresh_urls: 0,
        }
    }

    /// Reads a whole range into memory (footers and other small reads).
    pub async fn fetch_range(
        &self,
        file: &HubFile,
        start: u64,
        end: u64,
    ) -> Result<Bytes, HubError> {
        let mut reader = self.read_range(file, start, end);
        let mut bytes = Vec::with_capacity(usize::try_from(end - start).unwrap_or(0));
        while let Some(chunk) = reader.next_chunk().await? {
            bytes.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(bytes))
    }
}

/// Sequential reader of a byte range. A connection that drops or stalls mid-body is reopened
/// with `Range` from the next byte, so no byte is lost or read twice.
pub struct RangeReader<'h> {
    hub: &'h Hub,
    what: String,
    file: HubFile,
    offset: u64,
    end: u64,
    response: Option<Response>,
    local: Option<tokio::fs::File>,
    /// The storage's ETag from the first response: a different one later means the file changed.
    content_etag: Option<EntityTag>,
    failures: u32,
    /// Times the storage URL was replaced by resolving the file again.
    fresh_urls: u32,
}

/// An `ETag` value; only a strong one may go in `If-Range`.
#[derive(Debug, Clone)]
struct EntityTag {
    value: String,
    strong: bool,
}

/// Pre-signed storage URLs expire (the Hub's last about an hour); one that is refused is
/// replaced by resolving the file again, this many times per range.
const MAX_FRESH_URLS: u32 = 5;

impl RangeReader<'_> {
    /// Sends the request now, so that its round trip overlaps other work; the body is read by
    /// [`RangeReader::next_chunk`]. Without it the first `next_chunk` sends it.
    pub async fn open_early(&mut self) -> Result<(), HubError> {
        if matches!(self.file.location, Location::Remote { .. })
            && self.response.is_none()
            && self.offset < self.end
        {
            self.response = Some(self.open().await?);
        }
        Ok(())
    }

    /// The file offset of the next byte this reader returns.
    pub fn position(&self) -> u64 {
        self.offset
    }

    /// The next bytes of the range, or `None` at its end.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, HubError> {
        if let Location::Local(path) = &self.file.location {
            let path = path.clone();
            return self.next_local_chunk(path).await;
        }
        loop {
            if self.offset >= self.end {
                return Ok(None);
            }
            if self.response.is_none() {
                self.response = Some(self.open().await?);
            }
            let response = self.response.as_mut().expect("opened above");
            let failure = match response.chunk().await {
                Ok(Some(chunk)) => {
                    let take = chunk
                        .len()
                        .min(usize::try_from(self.end - self.offset).unwrap_or(usize::MAX));
                    if take == 0 {
                        continue;
                    }
                    self.offset += take as u64;
                    self.failures = 0;
                    return Ok(Some(chunk.slice(..take)));
                }
                Ok(None) => "the connection closed before the end of the range".to_owned(),
                Err(error) => describe_reqwest_error(&error),
            };
            self.response = None;
            self.failures += 1;
            let wait = self.hub.retry.wait(self.failures, None).ok_or_else(|| {
                HubError::RetriesExhausted {
                    what: self.what.clone(),
                    attempts: self.failures,
                    last: failure,
                }
            })?;
            tokio::time::sleep(wait).await;
        }
    }

    async fn next_local_chunk(&mut self, path: PathBuf) -> Result<Option<Bytes>, HubError> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        const CHUNK: u64 = 1 << 20;
        if self.offset >= self.end {
            return Ok(None);
        }
        let local_error = |source| HubError::Local {
            path: path.clone(),
            source,
        };
        let file = match &mut self.local {
            Some(file) => file,
            empty => {
                let mut file = tokio::fs::File::open(&path).await.map_err(local_error)?;
                file.seek(std::io::SeekFrom::Start(self.offset))
                    .await
                    .map_err(local_error)?;
                empty.insert(file)
            }
        };
        let mut chunk = vec![0; CHUNK.min(self.end - self.offset) as usize];
        file.read_exact(&mut chunk).await.map_err(local_error)?;
        self.offset += chunk.len() as u64;
        Ok(Some(Bytes::from(chunk)))
    }

    async fn open(&mut self) -> Result<Response, HubError> {
        loop {
            match self.request().await {
                Err(HubError::Status { status, .. })
                    if !self.file.sends_token()
                        && matches!(status, 400 | 401 | 403 | 404 | 410)
                        && self.fresh_urls < MAX_FRESH_URLS =>
                {
                    self.fresh_urls += 1;
                    self.refresh_url().await?;
                }
                other => return other,
            }
        }
    }

    /// Resolves the file again for a new storage URL, after checking it is still the same file.
    async fn refresh_url(&mut self) -> Result<(), HubError> {
        let fresh = self.hub.resolve(&self.file.repo, &self.file.path).await?;
        self.check_size(fresh.size)?;
        self.check_etag(self.file.etag.as_deref(), fresh.etag.as_deref())?;
        self.file = fresh;
        Ok(())
    }

    /// A file that is not the one first resolved any more.
    fn changed(&self, problem: String) -> HubError {
        HubError::Changed {
            what: self.what.clone(),
            problem,
        }
    }

    fn check_size(&self, now: u64) -> Result<(), HubError> {
        if now == self.file.size {
            return Ok(());
        }
        Err(self.changed(format!(
            "its size went from {} to {now} bytes",
            self.file.size
        )))
    }

    /// Where both ETags are known, they must agree.
    fn check_etag(&self, before: Option<&str>, now: Option<&str>) -> Result<(), HubError> {
        match (before, now) {
            (Some(before), Some(now)) if before != now => {
                Err(self.changed(format!("ETag {before} became {now}")))
            }
            _ => Ok(()),
        }
    }

    async fn request(&mut self) -> Result<Response, HubError> {
        let Location::Remote { url, send_token } = &self.file.location else {
            unreachable!("local files are read by next_local_chunk")
        };
        let target = Target {
            repo: &self.file.repo,
            path: Some(&self.file.path),
            what: self.what.clone(),
            on_hub: *send_token,
        };
        let range = format!("bytes={}-{}", self.offset, self.end - 1);
        // Once the storage has named the bytes with a strong ETag, every later request of this
        // range (a resume, a retry, a renewed URL) asks for them only while that ETag holds: a
        // changed file is answered whole (HTTP 200), never spliced (RFC 9110 §13.1.5).
        let if_range = self.content_etag.as_ref().filter(|tag| tag.strong);
        let response = self
            .hub
            .send(&target, || {
                let mut request = self
                    .hub
                    .ranges
                    .get(url.clone())
                    .header(header::RANGE, range.as_str());
                if let Some(tag) = if_range {
                    request = request.header(header::IF_RANGE, format!("\"{}\"", tag.value));
                }
                self.hub.with_token(request, *send_token)
            })
            .await?;
        let etag = header_str(response.headers(), "etag").map(|raw| EntityTag {
            strong: !raw.trim().starts_with("W/"),
            value: clean_etag(&raw),
        });
        self.check_etag(
            self.content_etag.as_ref().map(|tag| tag.value.as_str()),
            etag.as_ref().map(|tag| tag.value.as_str()),
        )?;
        if self.content_etag.is_none() {
            self.content_etag = etag;
        }
        match response.status() {
            StatusCode::PARTIAL_CONTENT => {
                let content_range =
                    header_str(response.headers(), "content-range").unwrap_or_default();
                let (start, total) =
                    parse_content_range(&content_range).ok_or_else(|| HubError::BadResponse {
                        what: self.what.clone(),
                        problem: format!("invalid Content-Range `{content_range}`"),
                    })?;
                if start != self.offset {
                    return Err(HubError::BadResponse {
                        what: self.what.clone(),
                        problem: format!(
                            "asked for bytes from {}, got them from {start}",
                            self.offset
                        ),
                    });
                }
                if let Some(total) = total {
                    self.check_size(total)?;
                }
            }
            // The whole file: fine from its first byte, of the size resolved.
            StatusCode::OK => {
                if let Some(length) = response.content_length() {
                    self.check_size(length)?;
                }
                if self.offset > 0 {
                    return Err(HubError::RangeIgnored {
                        what: self.what.clone(),
                    });
                }
            }
            StatusCode::RANGE_NOT_SATISFIABLE => {
                let content_range =
                    header_str(response.headers(), "content-range").unwrap_or_default();
                let total = content_range
                    .trim()
                    .strip_prefix("bytes */")
                    .and_then(|total| total.trim().parse().ok());
                if let Some(total) = total {
                    self.check_size(total)?;
                }
                return Err(HubError::BadResponse {
                    what: self.what.clone(),
                    problem: format!(
                        "the server refused bytes {}-{} of the {}-byte file (HTTP 416)",
                        self.offset,
                        self.end - 1,
                        self.file.size
                    ),
                });
            }
            status => {
                return Err(HubError::BadResponse {
                    what: self.what.clone(),
                    problem: format!("HTTP {status} to a Range request"),
                });
            }
        }
        Ok(response)
    }
}

/// `bytes 0-99/1234` → (0, Some(1234)); `bytes 0-99/*` → (0, None).
fn parse_content_range(value: &str) -> Option<(u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (start, _) = range.split_once('-')?;
    let total = match total.trim() {
        "*" => None,
        total => Some(total.parse().ok()?),
    };
    Some((start.trim().parse().ok()?, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges_parse() {
        assert_eq!(
            parse_content_range("bytes 10-99/1234"),
            Some((10, Some(1234)))
        );
        assert_eq!(parse_content_range("bytes 0-0/*"), Some((0, None)));
        assert_eq!(parse_content_range("items 0-1/2"), None);
    }
}
