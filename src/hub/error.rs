use std::path::PathBuf;

use thiserror::Error;

/// Everything that can go wrong talking to the Hub, each with the next step for the user.
#[derive(Debug, Error)]
pub enum HubError {
    #[error(
        "{repo} is a gated dataset: downloading it needs a Hugging Face token of an account that \
         accepted its terms, and no token was found.\n\
         Next: accept the terms at {page} , create a read token at {endpoint}/settings/tokens , \
         then set HF_TOKEN to it (or run `hf auth login`, which writes the token file under HF_HOME)."
    )]
    GatedNoToken {
        repo: String,
        page: String,
        endpoint: String,
    },
    #[error(
        "{repo} is a gated dataset and the token from {origin} has no access to it (HTTP \
         403){message}.\n\
         Next: while logged in as the token's account, request access at {page} and wait for \
         it to be granted, or set HF_TOKEN to a token of an account that has access. A \
         fine-grained token also needs the permission \"Read access to contents of all public \
         gated repos you can access\" (edit it at {endpoint}/settings/tokens)."
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
         or revoked.\n\
         Next: create a new read token at {endpoint}/settings/tokens and set HF_TOKEN to it."
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
    #[error(
        "{what}: gave up after {attempts} attempts ({tally}); last error: {last}\n\
         Next: check the network connection, HF_ENDPOINT and the proxy variables (HTTPS_PROXY), \
         then run again; without a network, HF_HUB_OFFLINE=1 uses the cache and --source-dir."
    )]
    RetriesExhausted {
        what: String,
        attempts: u32,
        /// How many of the attempts failed in which way.
        tally: String,
        last: String,
    },
    #[error(
        "{what}: {host} answered HTTP {status}{message} (the Hub at {endpoint} redirected the \
         request there; the token is sent only to {endpoint}, so none went to {host}).\n\
         Next: if {host} is the Hub you mean to use, set HF_ENDPOINT to its address; otherwise \
         tell whoever runs {endpoint} that it redirects there."
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
    #[error(
        "{what}: {problem}, {times} times in a row, each time from a fresh storage URL.\n\
         Next: run again later (a cache in front of the storage may heal), or download the \
         shards first (`hf download`) and pass --source-dir."
    )]
    Storage {
        what: String,
        times: u32,
        problem: String,
    },
    #[error(
        "{what}: the server answered a request for part of the file with the whole file (HTTP \
         200): it does not support Range requests, so a stream cannot resume where it stopped.\n\
         Next: point HF_ENDPOINT at the Hub or at a mirror that supports Range, or download the \
         shards first (`hf download`) and pass --source-dir."
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
        "HF_HUB_OFFLINE is set and {file} of {repo} is not in the cache {cache}.\n\
         Next: run once with network access (unset HF_HUB_OFFLINE) to cache it."
    )]
    NotCached {
        repo: String,
        file: String,
        cache: PathBuf,
    },
    #[error(
        "the cached file {} does not hash to its name {blob} (it was changed or damaged on disk).\n\
         Next: run once with network access (unset HF_HUB_OFFLINE) to download it again, or \
         delete it.",
        path.display()
    )]
    CorruptCache { path: PathBuf, blob: String },
    #[error(
        "{origin}: the server sent the {what} `{value}`, which is not a plain name, so it cannot \
         name a file in the Hugging Face cache.\n\
         Next: check HF_ENDPOINT; a Hub or mirror sends hexadecimal ETags and commits."
    )]
    UnsafeName {
        what: &'static str,
        value: String,
        origin: String,
    },
    #[error("could not write the Hugging Face cache at {path}: {source}")]
    Cache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not set up the HTTP client: {problem}")]
    ClientSetup { problem: String },
    #[error("HF_ENDPOINT `{endpoint}` is not a valid URL: {problem}")]
    BadEndpoint { endpoint: String, problem: String },
    #[error(
        "{variable}={} cannot be used: {problem}.\n\
         Next: point {variable} at a PEM file (SSL_CERT_FILE) or directory (SSL_CERT_DIR) of the \
         certificate authorities to trust, or unset it to trust the system's store.",
        path.display()
    )]
    BadTrustSetting {
        variable: &'static str,
        path: PathBuf,
        problem: String,
    },
    #[error(
        "{variable}=`{value}` is not a proxy this tool can use: {problem}.\n\
         Next: set it to http://HOST:PORT (user:password@ if the proxy asks for them), or unset it."
    )]
    BadProxySetting {
        variable: String,
        value: String,
        problem: String,
    },
    #[error(
        "{what}: no secure connection to {host}: {problem}.\n\
         Next: if your network inspects TLS with its own certificate authority (common in \
         hospitals, universities and companies), set SSL_CERT_FILE to a PEM file holding that \
         authority's certificate (or SSL_CERT_DIR to a directory of them); if it requires a \
         proxy, set HTTPS_PROXY. Retrying cannot fix this."
    )]
    Tls {
        what: String,
        host: String,
        problem: String,
    },
    #[error(
        "{what}: the proxy {proxy} refused the connection to {host}: {problem}.\n\
         Next: check HTTPS_PROXY / HTTP_PROXY / ALL_PROXY (with user:password@ if the proxy asks \
         for them), or add {host} to NO_PROXY."
    )]
    Proxy {
        what: String,
        proxy: String,
        host: String,
        problem: String,
    },
    #[error(
        "{what}: the answer is larger than {limit}, far more than the Hub sends for it \
         (docs/FORMAT.md §12).\n\
         Next: check that HF_ENDPOINT is a Hugging Face Hub, or a mirror that answers as one."
    )]
    TooLarge { what: String, limit: &'static str },
    #[error(
        "{what}: the listing says the file holds {size} bytes, more than the {limit} a file read \
         whole into memory may hold (docs/FORMAT.md §12).\n\
         Next: check HF_ENDPOINT and the revision asked for; the Hub lists this file far smaller."
    )]
    FileTooLarge {
        what: String,
        size: u64,
        limit: &'static str,
    },
    #[error(
        "{what}: {problem}, {times} times in a row: slower than the {minimum} this tool needs \
         (docs/FORMAT.md §12).\n\
         Next: on a link this slow, download the sources first (`hf download`) and pass \
         --source-dir; otherwise the server at HF_ENDPOINT, or a proxy on the way, holds the \
         answer back."
    )]
    TooSlow {
        what: String,
        problem: String,
        times: u32,
        minimum: &'static str,
    },
    #[error(
        "{what}: the server sent the request on to {url}, which is not an HTTP URL; only http:// \
         and https:// are read.\n\
         Next: check HF_ENDPOINT: a Hub or mirror redirects only to HTTP(S) storage."
    )]
    NotHttp { what: String, url: String },
    #[error(
        "{what}: the server answered with Content-Encoding: {encoding}, though every request asks \
         for identity (the bytes as stored): the answer is not the file's bytes.\n\
         Next: a proxy or CDN on the way compresses answers: exempt HF_ENDPOINT and its storage \
         from it, or point HF_ENDPOINT at the Hub."
    )]
    Encoded { what: String, encoding: String },
    #[error(
        "the token from {origin} holds a character an HTTP header cannot carry (character \
         {position}: a control character or one outside ASCII, such as a pasted line break or \
         quote).\n\
         Next: copy the token again from {endpoint}/settings/tokens and set HF_TOKEN to it (or \
         run `hf auth login`)."
    )]
    UnsendableToken {
        origin: String,
        position: usize,
        endpoint: String,
    },
    #[error(
        "the cached file {} links to {}, outside the Hugging Face cache {}, so nothing vouches for \
         its bytes.\n\
         Next: delete the link, then run once with network access (unset HF_HUB_OFFLINE) to \
         download the file again.",
        path.display(), target.display(), cache.display()
    )]
    OutsideCache {
        path: PathBuf,
        target: PathBuf,
        cache: PathBuf,
    },
    #[error(
        "could not read the Hugging Face cache at {}: {source}.\n\
         Next: delete it, then run once with network access (unset HF_HUB_OFFLINE) to download \
         the file again.",
        path.display()
    )]
    CacheRead {
        path: PathBuf,
        source: std::io::Error,
    },
}
