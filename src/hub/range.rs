//! Byte ranges of a resolved file: one streaming request, resumed with `Range` after a cut or a
//! stall, renewed from `/resolve/` when the storage URL expires or a cache in front of it answers
//! for another object, all within one [`RetryState`]; only a consistent answer stops it.

use std::sync::Arc;

use bytes::Bytes;
use reqwest::header;
use reqwest::{Method, Response, StatusCode};

use super::api::{HubApi, RemoteFile};
use super::client::{About, Channel};
use super::error::HubError;
use super::http::{EntityTag, header_str, parse_content_range, unsatisfied_range_size};
use super::pace::Pace;
use super::retry::{MIN_PROGRESS, RetryState, Setback};

/// The same storage misbehaviour this many times in a row, each from a fresh URL, is taken as
/// what the storage really does.
const CONSISTENT_ANSWERS: u32 = 3;

/// The largest file read whole into memory (FORMAT.md §12): the annotation file, a few
/// megabytes; a listing that says more is refused before anything is allocated.
const MAX_WHOLE_READ: u64 = 256 << 20;
const MAX_WHOLE_READ_TEXT: &str = "256 MiB";

/// Where a reader is.
enum ReadState {
    /// No request open: the next read sends one from `offset`.
    Idle,
    /// A response whose body holds bytes `from..until`, of which those before `offset` were
    /// read.
    Streaming {
        response: Response,
        from: u64,
        until: u64,
        pace: Pace,
    },
}

/// An answer a fresh storage URL may fix (CloudFront was seen to send each of them from a stale
/// cache entry; pre-signed URLs expire).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stale {
    /// 4xx from the storage: the pre-signed URL expired, or was signed for something else.
    Refused { error: String },
    /// 416 to a range inside the file, naming another size (a cached redirect body's).
    Unsatisfiable { stated: Option<u64> },
    /// 206 whose body ended before the bytes its `Content-Range` promised (often: none).
    Short { promised: u64, sent: u64 },
    /// 200 with the whole file to a request for a range that does not start at 0.
    Whole,
    /// Bytes of another object: another ETag than the first answer's, or another size than
    /// the listing's.
    Other { problem: String },
    /// A `Content-Range` that does not start where asked, or does not parse.
    Misplaced { content_range: String },
}

impl Stale {
    /// What the storage did, in words for the user.
    fn describe(&self, start: u64, end: u64, size: u64) -> String {
        match self {
            Stale::Refused { error, .. } => error.clone(),
            Stale::Unsatisfiable { stated } => format!(
                "the server refused bytes {start}-{} of the {size}-byte file (HTTP 416{})",
                end - 1,
                stated.map_or(String::new(), |n| format!(", saying it holds {n} bytes"))
            ),
            Stale::Short { promised, sent } => format!(
                "the server answered HTTP 206 for {promised} bytes from byte {start} and sent {sent}"
            ),
            Stale::Whole => format!(
                "the server answered a request for bytes {start}-{} with the whole file (HTTP 200)",
                end - 1
            ),
            Stale::Other { problem } => problem.clone(),
            Stale::Misplaced { content_range } => format!(
                "the server answered a request for bytes from {start} with Content-Range \
                 `{content_range}`"
            ),
        }
    }

    fn same_kind(&self, other: &Stale) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

/// Sequential reader of bytes `start..end` of a file. A connection that drops or stalls
/// mid-body is reopened with `Range` from the next byte, so no byte is lost or read twice.
pub(crate) struct RangeReader {
    api: Arc<HubApi>,
    file: RemoteFile,
    offset: u64,
    end: u64,
    state: ReadState,
    retry: RetryState,
    /// The storage's ETag from its first answer, sent back as it came in `If-Range` (when
    /// strong) and compared with later answers; it is the storage's own content hash (Xet), not
    /// the listing's SHA-256, so it is never compared with that.
    validator: Option<EntityTag>,
    /// The last stale answer and how many times in a row it came, each to the first request on
    /// a URL.
    stale: Option<(Stale, u32)>,
    /// Requests sent to the current URL.
    url_requests: u32,
}

impl RangeReader {
    /// Reads bytes `start..end` of `file`.
    pub(crate) fn new(api: &Arc<HubApi>, file: &RemoteFile, start: u64, end: u64) -> RangeReader {
        RangeReader {
            retry: api.client().retry_state(file.describe()),
            api: Arc::clone(api),
            file: file.clone(),
            offset: start,
            end,
            state: ReadState::Idle,
            validator: None,
            stale: None,
            url_requests: 0,
        }
    }

    /// Sends the request now, so that its round trip overlaps other work; the body is read by
    /// [`RangeReader::next_chunk`]. Without it the first `next_chunk` sends it.
    pub(crate) async fn open_early(&mut self) -> Result<(), HubError> {
        while matches!(self.state, ReadState::Idle) && self.offset < self.end {
            self.open().await?;
        }
        Ok(())
    }

    /// The file offset of the next byte this reader returns.
    pub(crate) fn position(&self) -> u64 {
        self.offset
    }

    /// The next bytes of the range, or `None` at its end.
    pub(crate) async fn next_chunk(&mut self) -> Result<Option<Bytes>, HubError> {
        loop {
            if self.offset >= self.end {
                return Ok(None);
            }
            let ReadState::Streaming {
                response,
                from,
                until,
                pace,
            } = &mut self.state
            else {
                self.open().await?;
                continue;
            };
            let (from, until) = (*from, *until);
            let chunk = pace.next(response.chunk(), |chunk| match chunk {
                Ok(Some(bytes)) => bytes.len(),
                _ => 0,
            });
            match chunk.await {
                Ok(Ok(Some(chunk))) => {
                    let take = chunk
                        .len()
                        .min(usize::try_from(self.end - self.offset).unwrap_or(usize::MAX));
                    if take == 0 {
                        continue;
                    }
                    self.offset += take as u64;
                    self.retry.advanced(take as u64);
                    self.stale = None;
                    return Ok(Some(chunk.slice(..take)));
                }
                // The answer is complete: it may have held less than the range (a server may
                // send part of a range), or less than it promised (a stale cache entry).
                Ok(Ok(None)) => {
                    self.state = ReadState::Idle;
                    let sent = self.offset - from;
                    if self.offset < until.min(self.end) {
                        let promised = until - from;
                        self.renew(Stale::Short { promised, sent }).await?;
                    } else if self.offset < self.end && sent < MIN_PROGRESS {
                        // Part of a range, so little that a server sending such parts would
                        // take a request per byte.
                        let reason = format!(
                            "the server sent {sent} of the {} bytes asked for and ended its answer",
                            self.end - from
                        );
                        self.retry.back_off(Setback::Slow, reason, None).await?;
                    }
                }
                Ok(Err(error)) => {
                    // A body cut on the way ends a run of stale answers: the URL answered.
                    self.state = ReadState::Idle;
                    self.stale = None;
                    let reason = super::http::describe_reqwest_error(&error);
                    self.retry.back_off(Setback::Body, reason, None).await?;
                }
                Err(lag) => {
                    self.state = ReadState::Idle;
                    self.stale = None;
                    self.retry
                        .back_off(lag.setback(), lag.describe(), None)
                        .await?;
                }
            }
        }
    }

    /// Sends one request for the rest of the range and looks at its answer: bytes to read, or a
    /// stale answer to renew the URL for.
    async fn open(&mut self) -> Result<(), HubError> {
        let response = match self.request().await {
            Ok(response) => response,
            // The storage refused the URL (expired, or signed for another request). What it
            // said, without the operation's name, which the message that gives up leads with.
            Err(HubError::Elsewhere {
                host,
                status: status @ (400 | 401 | 403 | 404 | 410),
                message,
                ..
            }) => {
                let error = format!(
                    "{host}, where the Hub's redirect led, answered HTTP {status}{message}"
                );
                return self.renew(Stale::Refused { error }).await;
            }
            Err(other) => return Err(other),
        };
        match self.check(&response) {
            Ok(until) => {
                self.state = ReadState::Streaming {
                    response,
                    from: self.offset,
                    until,
                    pace: Pace::new(self.api.settings().read_timeout),
                };
                Ok(())
            }
            Err(stale) => self.renew(stale).await,
        }
    }

    /// The answer's end (exclusive) if it holds the bytes from `offset`, else what is wrong.
    fn check(&mut self, response: &Response) -> Result<u64, Stale> {
        let size = self.file.size();
        let headers = response.headers();
        let etag = EntityTag::from_headers(headers);
        if let (Some(first), Some(now)) = (&self.validator, &etag)
            && first != now
        {
            return Err(Stale::Other {
                problem: format!(
                    "the storage's ETag changed from {} to {} for the same commit",
                    first.raw, now.raw
                ),
            });
        }
        let content_range = header_str(headers, header::CONTENT_RANGE.as_str()).unwrap_or_default();
        let until = match response.status() {
            StatusCode::PARTIAL_CONTENT => {
                let Some((start, last, total)) = parse_content_range(&content_range) else {
                    return Err(Stale::Misplaced { content_range });
                };
                if let Some(total) = total.filter(|total| *total != size) {
                    return Err(Stale::Other {
                        problem: format!(
                            "the storage says the file has {total} bytes, the listing {size}"
                        ),
                    });
                }
                if start != self.offset || last < start {
                    return Err(Stale::Misplaced { content_range });
                }
                last + 1
            }
            StatusCode::OK => {
                let length = response.content_length();
                if let Some(length) = length.filter(|length| *length != size) {
                    return Err(Stale::Other {
                        problem: format!(
                            "the storage sent {length} bytes for the file, the listing says {size}"
                        ),
                    });
                }
                if self.offset > 0 {
                    return Err(Stale::Whole);
                }
                size
            }
            StatusCode::RANGE_NOT_SATISFIABLE => {
                return Err(Stale::Unsatisfiable {
                    stated: unsatisfied_range_size(&content_range),
                });
            }
            status => {
                return Err(Stale::Other {
                    problem: format!("HTTP {status} to a Range request"),
                });
            }
        };
        if self.validator.is_none() {
            self.validator = etag;
        }
        Ok(until)
    }

    /// Counts a stale answer in the budget and asks `/resolve/` for a fresh URL (cache-busted);
    /// the same answer [`CONSISTENT_ANSWERS`] times in a row stops the read, saying what the
    /// server did.
    async fn renew(&mut self, stale: Stale) -> Result<(), HubError> {
        // Only a URL's first answer says what the storage does with a fresh URL: a URL that
        // answered before and is refused now has expired.
        let times = match &self.stale {
            Some((last, times)) if last.same_kind(&stale) && self.url_requests == 1 => times + 1,
            _ => 1,
        };
        let description = stale.describe(self.offset, self.end, self.file.size());
        if times >= CONSISTENT_ANSWERS {
            return Err(self.consistent(stale, description, times));
        }
        self.stale = Some((stale, times));
        self.retry
            .back_off(Setback::StaleUrl, description, None)
            .await?;
        let url = self
            .api
            .locate(
                self.file.repo(),
                self.file.path(),
                &mut self.retry,
                Some(fastrand::u64(..)),
            )
            .await?;
        self.file.relocated(url);
        self.url_requests = 0;
        Ok(())
    }

    /// The error for a stale answer that fresh URLs did not change.
    fn consistent(&self, stale: Stale, description: String, times: u32) -> HubError {
        let what = self.file.describe();
        match stale {
            Stale::Refused { error, .. } => HubError::Storage {
                what,
                times,
                problem: error,
            },
            Stale::Whole => HubError::RangeIgnored { what },
            Stale::Other { problem } => HubError::Changed { what, problem },
            Stale::Unsatisfiable { .. } | Stale::Short { .. } | Stale::Misplaced { .. } => {
                HubError::Storage {
                    what,
                    times,
                    problem: description,
                }
            }
        }
    }

    async fn request(&mut self) -> Result<Response, HubError> {
        let failed_before = self.retry.failed_requests();
        let range = format!("bytes={}-{}", self.offset, self.end - 1);
        // Once the storage has named the bytes with a strong ETag, every later request of this
        // range (a resume, a retry, a renewed URL) asks for them only while that ETag holds: a
        // changed file is answered whole (HTTP 200), never spliced (RFC 9110 §13.1.5).
        let if_range = self
            .validator
            .as_ref()
            .filter(|tag| tag.is_strong())
            .map(|tag| tag.raw.clone());
        let about = About {
            repo: self.file.repo(),
            path: Some(self.file.path()),
        };
        let url = self.file.url().clone();
        let response = self
            .api
            .client()
            .send(
                &about,
                &mut self.retry,
                Channel::Range,
                Method::GET,
                &url,
                |request| {
                    let request = request.header(header::RANGE, range.as_str());
                    match &if_range {
                        Some(tag) => request.header(header::IF_RANGE, tag.as_str()),
                        None => request,
                    }
                },
            )
            .await;
        // Attempts that got no answer may have reached the storage all the same.
        self.url_requests += 1 + self.retry.failed_requests() - failed_before;
        response
    }
}

/// Reads a whole range into memory (the annotation file), refused beyond [`MAX_WHOLE_READ`].
pub(super) async fn fetch_range(
    api: &Arc<HubApi>,
    file: &RemoteFile,
    start: u64,
    end: u64,
) -> Result<Bytes, HubError> {
    let length = end.saturating_sub(start);
    if length > MAX_WHOLE_READ {
        return Err(HubError::FileTooLarge {
            what: file.describe(),
            size: length,
            limit: MAX_WHOLE_READ_TEXT,
        });
    }
    let mut reader = RangeReader::new(api, file, start, end);
    // At most MAX_WHOLE_READ, checked above.
    let mut bytes = Vec::with_capacity(length as usize);
    while let Some(chunk) = reader.next_chunk().await? {
        bytes.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(bytes))
}
