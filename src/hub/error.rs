use std::path::PathBuf;
use std::str::FromStr;

use reqwest::Url;
use thiserror::Error;

/// Everything that can go wrong talking to the Hub; `next_step` says what the user can do.
#[derive(Debug, Error)]
pub(crate) enum HubError {
    #[error(
        "{repo} is a gated dataset: downloading it needs a Hugging Face token of an account that \
         accepted its terms, and no token was found."
    )]
    GatedNoToken {
        repo: String,
        page: String,
        endpoint: String,
    },
    #[error(
        "{repo} is a gated dataset and the token from {origin} has no access to it (HTTP \
         403){message}."
    )]
    GatedNoAccess {
        repo: String,
        page: String,
        origin: String,
        /// The Hub's own words (`X-Error-Message`), as `: ...`, or empty.
        message: String,
        endpoint: String,
    },
    #[error(
        "the Hub rejected the token from {origin} (HTTP 401 for {repo}): it is invalid, expired \
         or revoked."
    )]
    InvalidToken {
        repo: String,
        origin: String,
        endpoint: String,
    },
    #[error("the dataset repository {repo} was not found on {endpoint} (check HF_ENDPOINT)")]
    RepoNotFound { repo: String, endpoint: String },
    #[error("revision `{revision}` of {repo} was not found (check the branch, tag or commit)")]
    RevisionNotFound { repo: String, revision: String },
    #[error("{path} was not found in {repo} at revision `{revision}`")]
    EntryNotFound {
        repo: String,
        revision: String,
        path: String,
    },
    #[error("{what}: the Hub answered HTTP {status}{message}")]
    Status {
        what: String,
        status: u16,
        message: String,
    },
    #[error("{what}: gave up after {attempts} attempts ({tally}); last error: {last}")]
    RetriesExhausted {
        what: String,
        attempts: u32,
        /// How many of the attempts failed in which way.
        tally: String,
        last: String,
    },
    #[error(
        "{what}: {host} answered HTTP {status}{message} (the Hub at {endpoint} redirected the \
         request there; the token is sent only to {endpoint}, so none went to {host})."
    )]
    OtherHub {
        what: String,
        host: String,
        status: u16,
        message: String,
        endpoint: String,
    },
    #[error("{what}: {host}, where the Hub's redirect led, answered HTTP {status}{message}")]
    Elsewhere {
        what: String,
        host: String,
        status: u16,
        message: String,
    },
    #[error("{what}: {problem}, {times} times in a row, each time from a fresh storage URL.")]
    Storage {
        what: String,
        times: u32,
        problem: String,
    },
    #[error(
        "{what}: the server answered a request for part of the file with the whole file (HTTP \
         200): it does not support Range requests, so a stream cannot resume where it stopped."
    )]
    RangeIgnored { what: String },
    #[error("{what}: unexpected answer from the server: {problem}")]
    BadResponse { what: String, problem: String },
    #[error(
        "{what}: the file changed on the Hub while it was being read ({problem}); run again to \
         read the new version"
    )]
    Changed { what: String, problem: String },
    #[error(
        "the cached file {} does not hash to its name {blob} (it was changed or damaged on disk).",
        path.display()
    )]
    CorruptCache { path: PathBuf, blob: String },
    #[error(
        "{origin}: the server sent the {what} `{value}`, which is not a plain name, so it cannot \
         name a file in the Hugging Face cache."
    )]
    UnsafeName {
        what: &'static str,
        value: String,
        origin: String,
    },
    #[error("could not write the Hugging Face cache at {path}")]
    Cache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not set up the HTTP client: {problem}")]
    NoTrustedCertificate { problem: String },
    #[error("could not set up the HTTP client")]
    ClientSetup {
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("HF_ENDPOINT `{endpoint}` is not a valid URL: {problem}")]
    BadEndpoint {
        endpoint: String,
        problem: SettingProblem,
    },
    #[error(
        "{variable}={} cannot be used: {problem}.",
        path.display()
    )]
    BadTrustSetting {
        variable: &'static str,
        path: PathBuf,
        problem: SettingProblem,
    },
    #[error("{variable}=`{value}` is not a proxy this tool can use: {problem}.")]
    BadProxySetting {
        variable: String,
        value: String,
        problem: SettingProblem,
    },
    #[error("{what}: no secure connection to {host}: {problem}.")]
    Tls {
        what: String,
        host: String,
        problem: rustls::Error,
    },
    #[error("{what}: the proxy {proxy} refused the connection to {host}: {problem}.")]
    Proxy {
        what: String,
        proxy: String,
        host: String,
        problem: String,
    },
    #[error(
        "{what}: the answer is larger than {limit}, far more than the Hub sends for it \
         (docs/FORMAT.md §12)"
    )]
    TooLarge { what: String, limit: &'static str },
    #[error(
        "{what}: the listing says the file holds {size} bytes, more than the {limit} a file read \
         whole into memory may hold (docs/FORMAT.md §12)"
    )]
    FileTooLarge {
        what: String,
        size: u64,
        limit: &'static str,
    },
    #[error(
        "{what}: {problem}, {times} times in a row: slower than the {minimum} this tool needs \
         (docs/FORMAT.md §12)"
    )]
    TooSlow {
        what: String,
        problem: String,
        times: u32,
        minimum: &'static str,
    },
    #[error(
        "{what}: the server sent the request on to {url}, which is not an HTTP URL; only http:// \
         and https:// are read"
    )]
    NotHttp { what: String, url: String },
    #[error(
        "{what}: the server answered with Content-Encoding: {encoding}, though every request asks \
         for identity (the bytes as stored): the answer is not the file's bytes"
    )]
    Encoded { what: String, encoding: String },
    #[error(
        "the token from {origin} holds a character an HTTP header cannot carry (character \
         {position}: a control character or one outside ASCII, such as a pasted line break or \
         quote)"
    )]
    UnsendableToken {
        origin: String,
        position: usize,
        endpoint: String,
    },
    #[error(
        "the cached file {} links to {}, outside the Hugging Face cache {}, so nothing vouches for \
         its bytes",
        path.display(), target.display(), cache.display()
    )]
    OutsideCache {
        path: PathBuf,
        target: PathBuf,
        cache: PathBuf,
    },
    #[error(
        "could not read the Hugging Face cache at {}",
        path.display()
    )]
    CacheRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What is wrong with the value of a setting (HF_ENDPOINT, SSL_CERT_FILE, SSL_CERT_DIR, a proxy
/// variable): part of the setting's message.
#[derive(Debug, Error)]
pub(crate) enum SettingProblem {
    #[error(transparent)]
    Unreadable(std::io::Error),
    #[error(transparent)]
    NotAUrl(<Url as FromStr>::Err),
    #[error("it holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    NoCertificate,
    #[error("it is not a directory")]
    NotADirectory,
    #[error("{name} in it cannot be read as a certificate file")]
    UnreadableEntry {
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the scheme `{0}` is not supported (use http:// or https://)")]
    Scheme(String),
    #[error("it names no host")]
    NoHost,
}

impl HubError {
    /// What the user can do about it, if anything.
    pub(crate) fn next_step(&self) -> Option<String> {
        let step = match self {
            HubError::TooLarge { .. } => {
                "check that HF_ENDPOINT is a Hugging Face Hub, or a mirror that answers as one.".to_owned()
            }
            HubError::FileTooLarge { .. } => {
                "check HF_ENDPOINT and the revision asked for; the Hub lists this file far smaller.".to_owned()
            }
            HubError::TooSlow { .. } => {
                "on a link this slow, download the sources first (`hf download`) and pass  --source-dir; otherwise the server at HF_ENDPOINT, or a proxy on the way, holds the  answer back.".to_owned()
            }
            HubError::NotHttp { .. } => {
                "check HF_ENDPOINT: a Hub or mirror redirects only to HTTP(S) storage.".to_owned()
            }
            HubError::Encoded { .. } => {
                "a proxy or CDN on the way compresses answers: exempt HF_ENDPOINT and its storage  from it, or point HF_ENDPOINT at the Hub.".to_owned()
            }
            HubError::UnsendableToken { endpoint, .. } => format!(
                "copy the token again from {endpoint}/settings/tokens and set HF_TOKEN to it (or  run `hf auth login`)."
            ),
            HubError::OutsideCache { .. } => {
                "delete the link, then run once with network access (unset HF_HUB_OFFLINE) to  download the file again.".to_owned()
            }
            HubError::CacheRead { .. } => {
                "delete it, then run once with network access (unset HF_HUB_OFFLINE) to download  the file again.".to_owned()
            }
            HubError::GatedNoToken { page, endpoint, .. } => format!(
                "accept the terms at {page} , create a read token at {endpoint}/settings/tokens , \
                 then set HF_TOKEN to it (or run `hf auth login`, which writes the token file \
                 under HF_HOME)."
            ),
            HubError::GatedNoAccess { page, endpoint, .. } => format!(
                "while logged in as the token's account, request access at {page} and wait for \
                 it to be granted, or set HF_TOKEN to a token of an account that has access. A \
                 fine-grained token also needs the permission \"Read access to contents of all \
                 public gated repos you can access\" (edit it at {endpoint}/settings/tokens)."
            ),
            HubError::InvalidToken { endpoint, .. } => format!(
                "create a new read token at {endpoint}/settings/tokens and set HF_TOKEN to it."
            ),
            HubError::RetriesExhausted { .. } => {
                "check the network connection, HF_ENDPOINT and the proxy variables (HTTPS_PROXY), \
                 then run again; without a network, HF_HUB_OFFLINE=1 uses the cache and \
                 --source-dir."
                    .to_owned()
            }
            HubError::OtherHub { host, endpoint, .. } => format!(
                "if {host} is the Hub you mean to use, set HF_ENDPOINT to its address; otherwise \
                 tell whoever runs {endpoint} that it redirects there."
            ),
            HubError::Storage { .. } => {
                "run again later (a cache in front of the storage may heal), or download the \
                 shards first (`hf download`) and pass --source-dir."
                    .to_owned()
            }
            HubError::RangeIgnored { .. } => {
                "point HF_ENDPOINT at the Hub or at a mirror that supports Range, or download the \
                 shards first (`hf download`) and pass --source-dir."
                    .to_owned()
            }
            HubError::CorruptCache { .. } => {
                "run once with network access (unset HF_HUB_OFFLINE) to download it again, or \
                 delete it."
                    .to_owned()
            }
            HubError::UnsafeName { .. } => {
                "check HF_ENDPOINT; a Hub or mirror sends hexadecimal ETags and commits.".to_owned()
            }
            HubError::BadTrustSetting { variable, .. } => format!(
                "point {variable} at a PEM file (SSL_CERT_FILE) or directory (SSL_CERT_DIR) of \
                 the certificate authorities to trust, or unset it to trust the system's store."
            ),
            HubError::BadProxySetting { .. } => {
                "set it to http://HOST:PORT (user:password@ if the proxy asks for them), or unset \
                 it."
                .to_owned()
            }
            HubError::Tls { .. } => {
                "if your network inspects TLS with its own certificate authority (common in \
                 hospitals, universities and companies), set SSL_CERT_FILE to a PEM file holding \
                 that authority's certificate (or SSL_CERT_DIR to a directory of them); if it \
                 requires a proxy, set HTTPS_PROXY. Retrying cannot fix this."
                    .to_owned()
            }
            HubError::Proxy { host, .. } => format!(
                "check HTTPS_PROXY / HTTP_PROXY / ALL_PROXY (with user:password@ if the proxy \
                 asks for them), or add {host} to NO_PROXY."
            ),
            HubError::RepoNotFound { .. }
            | HubError::RevisionNotFound { .. }
            | HubError::EntryNotFound { .. }
            | HubError::Status { .. }
            | HubError::Elsewhere { .. }
            | HubError::BadResponse { .. }
            | HubError::Changed { .. }
            | HubError::Cache { .. }
            | HubError::NoTrustedCertificate { .. }
            | HubError::ClientSetup { .. }
            | HubError::BadEndpoint { .. } => return None,
        };
        Some(step)
    }
}
