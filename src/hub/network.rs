//! The network settings Python's Hugging Face clients honour, checked before any request:
//! trust (`SSL_CERT_FILE`, `SSL_CERT_DIR`, else the operating system's store) and proxies
//! (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`, upper or lower case). reqwest reads the
//! same variables itself but skips a value it cannot parse, so a typo would silently bypass the
//! proxy: here it stops the run instead.

use std::path::PathBuf;

use reqwest::Url;

use super::error::{HubError, SettingProblem};
use crate::local_file::{check_regular, read_regular};

/// The largest certificate file read (FORMAT.md §12): Mozilla's bundle is about 200 KB.
const MAX_CERT_FILE: u64 = 16 << 20;

/// The proxy variables, each with its lower-case twin, as curl and Python read them.
const PROXY_VARIABLES: [&str; 3] = ["HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct NetworkSettings {
    /// `SSL_CERT_FILE`: a PEM bundle trusted instead of the system's store.
    pub(crate) cert_file: Option<PathBuf>,
    /// `SSL_CERT_DIR`: a directory of PEM certificates trusted instead of the system's store.
    pub(crate) cert_dir: Option<PathBuf>,
    /// Each proxy variable that is set, and its value.
    pub(crate) proxies: Vec<(String, String)>,
}

/// A directory of certificates whose every entry can be read: the trust store reads each file
/// in it, and would wait for ever on a FIFO.
fn check_cert_dir(path: &std::path::Path) -> Result<(), SettingProblem> {
    if !path.is_dir() {
        return Err(SettingProblem::NotADirectory);
    }
    let entries = std::fs::read_dir(path).map_err(SettingProblem::Unreadable)?;
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir()
            && let Err(source) = check_regular(&path)
            && source.kind() != std::io::ErrorKind::NotFound
        {
            return Err(SettingProblem::UnreadableEntry {
                name: entry.file_name().to_string_lossy().into_owned(),
                source,
            });
        }
    }
    Ok(())
}

impl NetworkSettings {
    pub(crate) fn from_lookup(var: &impl Fn(&str) -> Option<String>) -> NetworkSettings {
        let proxies = PROXY_VARIABLES
            .iter()
            .flat_map(|name| [name.to_string(), name.to_ascii_lowercase()])
            .filter_map(|name| var(&name).map(|value| (name, value)))
            .collect();
        NetworkSettings {
            cert_file: var("SSL_CERT_FILE").map(PathBuf::from),
            cert_dir: var("SSL_CERT_DIR").map(PathBuf::from),
            proxies,
        }
    }

    /// Refuses a certificate file that holds no certificate, a certificate directory that is not
    /// one, and a proxy value that is not an `http://` or `https://` URL with a host.
    pub(crate) fn check(&self) -> Result<(), HubError> {
        if let Some(path) = &self.cert_file {
            let problem = match read_regular(path, MAX_CERT_FILE) {
                Ok(pem) if contains_certificate(&pem) => None,
                Ok(_) => Some(SettingProblem::NoCertificate),
                Err(error) => Some(SettingProblem::Unreadable(error)),
            };
            if let Some(problem) = problem {
                return Err(HubError::BadTrustSetting {
                    variable: "SSL_CERT_FILE",
                    path: path.clone(),
                    problem,
                });
            }
        }
        if let Some(path) = &self.cert_dir
            && let Err(problem) = check_cert_dir(path)
        {
            return Err(HubError::BadTrustSetting {
                variable: "SSL_CERT_DIR",
                path: path.clone(),
                problem,
            });
        }
        for (variable, value) in &self.proxies {
            if let Err(problem) = check_proxy(value) {
                return Err(HubError::BadProxySetting {
                    variable: variable.clone(),
                    value: redact(value),
                    problem,
                });
            }
        }
        Ok(())
    }

    /// Where the proxy for `url` comes from, for messages (None without a proxy).
    pub(crate) fn proxy_for(&self, url: &Url) -> Option<String> {
        let wanted: &[&str] = if url.scheme() == "https" {
            &["HTTPS_PROXY", "ALL_PROXY"]
        } else {
            &["HTTP_PROXY", "ALL_PROXY"]
        };
        wanted.iter().find_map(|name| {
            self.proxies
                .iter()
                .find(|(variable, _)| variable.eq_ignore_ascii_case(name))
                .map(|(variable, value)| format!("{} (from {variable})", redact(value)))
        })
    }
}

fn contains_certificate(pem: &[u8]) -> bool {
    pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----")
}

/// As reqwest reads a proxy value: a URL, or `host:port` taken as `http://host:port`.
fn check_proxy(value: &str) -> Result<(), SettingProblem> {
    let with_scheme = if value.contains("://") {
        value.to_owned()
    } else {
        format!("http://{value}")
    };
    let url = Url::parse(&with_scheme).map_err(SettingProblem::NotAUrl)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(SettingProblem::Scheme(url.scheme().to_owned()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(SettingProblem::NoHost);
    }
    Ok(())
}

/// A proxy value without its password, for messages.
fn redact(value: &str) -> String {
    match Url::parse(value) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> NetworkSettings {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        NetworkSettings::from_lookup(&|name: &str| vars.get(name).cloned())
    }

    #[test]
    fn proxies_are_read_in_both_cases_and_checked() {
        let good = settings(&[
            ("https_proxy", "http://proxy.test:3128"),
            ("ALL_PROXY", "proxy.test:8080"),
        ]);
        assert_eq!(good.proxies.len(), 2);
        assert!(good.check().is_ok());
        let url = Url::parse("https://huggingface.co/").unwrap();
        assert_eq!(
            good.proxy_for(&url).unwrap(),
            "http://proxy.test:3128 (from https_proxy)"
        );
        for bad in ["http://", "socks5://proxy.test:1080", "http://proxy test:1"] {
            let error = settings(&[("HTTPS_PROXY", bad)]).check().unwrap_err();
            assert!(error.to_string().contains("HTTPS_PROXY"), "{error}");
        }
    }

    #[test]
    fn a_proxy_password_is_never_shown() {
        let error = settings(&[("HTTPS_PROXY", "ftp://user:s3cret@proxy.test")])
            .check()
            .unwrap_err();
        assert!(!error.to_string().contains("s3cret"), "{error}");
    }

    #[test]
    fn trust_settings_must_name_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "nothing").unwrap();
        let missing = dir.path().join("missing.pem");
        for (variable, path) in [
            ("SSL_CERT_FILE", &empty),
            ("SSL_CERT_FILE", &missing),
            ("SSL_CERT_DIR", &missing),
        ] {
            let error = settings(&[(variable, path.to_str().unwrap())])
                .check()
                .unwrap_err();
            assert!(error.to_string().contains(variable), "{error}");
        }
        let pem = dir.path().join("ca.pem");
        std::fs::write(
            &pem,
            "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        assert!(
            settings(&[
                ("SSL_CERT_FILE", pem.to_str().unwrap()),
                ("SSL_CERT_DIR", dir.path().to_str().unwrap())
            ])
            .check()
            .is_ok()
        );
    }
}
