//! Where the Hub is and who we are, from the environment variables every Hugging Face client
//! reads, with `huggingface_hub`'s defaults (README.md, "Environment").

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::network::NetworkSettings;
use super::retry::{Reporter, RetryReporter};
use crate::local_file::{SMALL_TEXT, read_regular_to_string};

/// How long a download may go without receiving a byte before it counts as stalled and is
/// resumed. `huggingface_hub` defaults `HF_HUB_DOWNLOAD_TIMEOUT` to 10 s for small files; a
/// shard stream on a slow link gets more.
const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The longest `HF_HUB_DOWNLOAD_TIMEOUT` taken (FORMAT.md §12): a day without a byte.
const MAX_READ_TIMEOUT_SECONDS: f64 = 86_400.0;

/// A Hugging Face access token. Its `Debug` and `Display` never show the secret.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Token(String);

impl Token {
    pub(crate) fn new(secret: &str) -> Option<Token> {
        let secret = secret.trim();
        (!secret.is_empty()).then(|| Token(secret.to_owned()))
    }

    pub(crate) fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Where the token came from, for messages that tell the user what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenOrigin {
    Environment,
    File(PathBuf),
}

impl fmt::Display for TokenOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenOrigin::Environment => f.write_str("HF_TOKEN"),
            TokenOrigin::File(path) => write!(f, "the token file {}", path.display()),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct HubSettings {
    /// Base URL without a trailing slash, e.g. `https://huggingface.co`.
    pub(crate) endpoint: String,
    pub(crate) token: Option<(Token, TokenOrigin)>,
    /// The `hub` cache folder (`$HF_HUB_CACHE`, else `$HF_HOME/hub`).
    pub(crate) cache_dir: PathBuf,
    /// The cache of matched rows (`$HEALTHCHAT_CACHE`, else `$HF_HOME/healthchat`; FORMAT.md §11).
    pub(crate) row_cache_dir: PathBuf,
    pub(crate) offline: bool,
    /// `$HF_HUB_DOWNLOAD_TIMEOUT`: the longest wait for the next byte of a response.
    pub(crate) read_timeout: Duration,
    pub(crate) network: NetworkSettings,
    /// Values of the environment that cannot be used and were ignored, a line each.
    pub(crate) warnings: Vec<String>,
    /// Told of every retry (the command's printer); not from the environment.
    pub(crate) retry_reporter: Reporter,
}

impl HubSettings {
    /// Reads `HF_ENDPOINT`, `HF_TOKEN` (else `HF_TOKEN_PATH`, else `$HF_HOME/token`), `HF_HOME`,
    /// `HF_HUB_CACHE`, `HF_HUB_OFFLINE` and `HF_HUB_DOWNLOAD_TIMEOUT`, with the defaults of
    /// `huggingface_hub`; a value that cannot be used is warned of on stderr and ignored.
    pub(crate) fn from_env() -> HubSettings {
        let settings = Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()));
        for warning in &settings.warnings {
            crate::printer::Printer::warning(warning);
        }
        settings
    }

    /// These settings with every retry told to `reporter`.
    pub(crate) fn reporting_retries_to(
        mut self,
        reporter: impl RetryReporter + 'static,
    ) -> HubSettings {
        self.retry_reporter = Reporter::new(std::sync::Arc::new(reporter));
        self
    }

    fn from_lookup(var: impl Fn(&str) -> Option<String>) -> HubSettings {
        let endpoint = var("HF_ENDPOINT")
            .unwrap_or_else(|| "https://huggingface.co".to_owned())
            .trim_end_matches('/')
            .to_owned();
        let path = |name: &str| var(name).map(|value| expand_home(&value));
        let hf_home = path("HF_HOME").unwrap_or_else(|| {
            let base = var("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| home_dir().join(".cache"));
            base.join("huggingface")
        });
        let cache_dir = path("HF_HUB_CACHE").unwrap_or_else(|| hf_home.join("hub"));
        let row_cache_dir = path("HEALTHCHAT_CACHE").unwrap_or_else(|| hf_home.join("healthchat"));
        let token_file = path("HF_TOKEN_PATH").unwrap_or_else(|| hf_home.join("token"));
        let mut warnings = Vec::new();
        let token = match var("HF_TOKEN").as_deref().and_then(Token::new) {
            Some(token) => Some((token, TokenOrigin::Environment)),
            None => match read_token_file(&token_file) {
                Ok(token) => token.map(|token| (token, TokenOrigin::File(token_file))),
                Err(error) => {
                    warnings.push(format!(
                        "the token file {} cannot be read ({error}); going on without a token",
                        token_file.display()
                    ));
                    None
                }
            },
        };
        let offline = var("HF_HUB_OFFLINE").is_some_and(|v| is_truthy(&v));
        let read_timeout = match var("HF_HUB_DOWNLOAD_TIMEOUT") {
            Some(value) => read_timeout(&value).unwrap_or_else(|| {
                warnings.push(format!(
                    "HF_HUB_DOWNLOAD_TIMEOUT=`{}` is not a number of seconds above 0 and at most \
                     {MAX_READ_TIMEOUT_SECONDS}; using {} s",
                    value.chars().take(40).collect::<String>(),
                    DEFAULT_READ_TIMEOUT.as_secs()
                ));
                DEFAULT_READ_TIMEOUT
            }),
            None => DEFAULT_READ_TIMEOUT,
        };
        HubSettings {
            endpoint,
            token,
            cache_dir,
            row_cache_dir,
            offline,
            read_timeout,
            network: NetworkSettings::from_lookup(&var),
            warnings,
            retry_reporter: Reporter::default(),
        }
    }
}

/// `HF_HUB_DOWNLOAD_TIMEOUT` as a duration, if it is one this tool can wait.
fn read_timeout(value: &str) -> Option<Duration> {
    let seconds = value.trim().parse::<f64>().ok()?;
    (seconds > 0.0 && seconds <= MAX_READ_TIMEOUT_SECONDS).then(|| Duration::from_secs_f64(seconds))
}

/// The token in `path`, none if there is no such file; a file that is not a regular one, or
/// holds more than a token, is an error.
fn read_token_file(path: &Path) -> std::io::Result<Option<Token>> {
    match read_regular_to_string(path, SMALL_TEXT) {
        Ok(text) => Ok(Token::new(&text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

fn is_truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_uppercase().as_str(),
        "1" | "ON" | "YES" | "TRUE"
    )
}

/// `~` and `~/...` as the home directory, as Python's `os.path.expanduser` reads them.
fn expand_home(value: &str) -> PathBuf {
    match value.strip_prefix('~') {
        Some("") => home_dir(),
        Some(rest) if rest.starts_with('/') || cfg!(windows) && rest.starts_with('\\') => {
            home_dir().join(&rest[1..])
        }
        _ => PathBuf::from(value),
    }
}

/// The home directory as Python's `os.path.expanduser` finds it: `HOME` on Unix,
/// `USERPROFILE` on Windows (where Python has ignored `HOME` since 3.8).
fn home_dir() -> PathBuf {
    #[cfg(windows)]
    let variables = ["USERPROFILE", "HOME"];
    #[cfg(not(windows))]
    let variables = ["HOME", "USERPROFILE"];
    variables
        .iter()
        .find_map(std::env::var_os)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> HubSettings {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        HubSettings::from_lookup(|name| vars.get(name).cloned().filter(|v| !v.is_empty()))
    }

    #[test]
    fn defaults_follow_huggingface_hub() {
        let s = settings(&[("HOME", "/home/u")]);
        assert_eq!(s.endpoint, "https://huggingface.co");
        assert!(!s.offline);
        assert!(s.cache_dir.ends_with(".cache/huggingface/hub"));
    }

    #[test]
    fn environment_overrides() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "hf_from_file\n").unwrap();
        let home = dir.path().to_str().unwrap();
        let s = settings(&[
            ("HF_HOME", home),
            ("HF_ENDPOINT", "http://127.0.0.1:9/"),
            ("HF_HUB_OFFLINE", "1"),
        ]);
        assert_eq!(s.endpoint, "http://127.0.0.1:9");
        assert_eq!(s.cache_dir, dir.path().join("hub"));
        assert_eq!(s.row_cache_dir, dir.path().join("healthchat"));
        assert!(s.offline);
        let (token, origin) = s.token.unwrap();
        assert_eq!(token.secret(), "hf_from_file");
        assert_eq!(origin, TokenOrigin::File(dir.path().join("token")));

        let s = settings(&[("HF_HOME", home), ("HF_TOKEN", "hf_env")]);
        let (token, origin) = s.token.unwrap();
        assert_eq!(token.secret(), "hf_env");
        assert_eq!(origin, TokenOrigin::Environment);
        assert_eq!(format!("{token:?}"), "Token(<redacted>)");
        let s = settings(&[("HF_HOME", home), ("HEALTHCHAT_CACHE", "/rows")]);
        assert_eq!(s.row_cache_dir, PathBuf::from("/rows"));
    }

    #[test]
    fn a_leading_tilde_is_the_home_directory() {
        let home = home_dir();
        assert_eq!(expand_home("~/hf"), home.join("hf"));
        assert_eq!(expand_home("~"), home);
        assert_eq!(expand_home("/abs/~x"), PathBuf::from("/abs/~x"));
        assert_eq!(expand_home("~user/x"), PathBuf::from("~user/x"));
    }

    #[test]
    fn download_timeout_takes_seconds_and_ignores_nonsense() {
        assert_eq!(
            settings(&[("HF_HUB_DOWNLOAD_TIMEOUT", "2.5")]).read_timeout,
            Duration::from_millis(2500)
        );
        for nonsense in ["0", "-1", "soon", "inf", "NaN", "1e20", "86401"] {
            let settings = settings(&[("HF_HUB_DOWNLOAD_TIMEOUT", nonsense)]);
            assert_eq!(settings.read_timeout, DEFAULT_READ_TIMEOUT);
            assert_eq!(settings.warnings.len(), 1, "{nonsense}");
            assert!(settings.warnings[0].contains("HF_HUB_DOWNLOAD_TIMEOUT"));
        }
        assert!(
            settings(&[("HF_HUB_DOWNLOAD_TIMEOUT", "86400")])
                .warnings
                .is_empty()
        );
    }
}
