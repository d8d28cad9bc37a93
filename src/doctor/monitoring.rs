//! HTTP GETs against NATS monitoring ports: each bounded by a timeout, each answer kept for the
//! rest of the run, so every view of the cluster is built from the same snapshot, and every
//! failure told in words a user can act on.

use serde::de::DeserializeOwned;
use std::{cell::RefCell, collections::BTreeMap, io::ErrorKind, time::Duration};
use ureq::{
    tls::{RootCerts, TlsConfig},
    Agent,
};

/// Largest answer read: `/jsz` with every consumer of a big account runs to megabytes.
const MAX_BODY_BYTES: u64 = 64 << 20;

/// What a monitoring URL answered, or why it did not.
pub type Answer = Result<String, String>;

/// A client for monitoring ports that asks each URL once.
pub struct Monitoring {
    agent: Agent,
    timeout: Duration,
    answers: RefCell<BTreeMap<String, Answer>>,
}

impl Monitoring {
    /// A client whose every request gives up after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        let agent = Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .tls_config(
                TlsConfig::builder()
                    .root_certs(RootCerts::PlatformVerifier)
                    .build(),
            )
            .build()
            .into();
        Self {
            agent,
            timeout,
            answers: RefCell::new(BTreeMap::new()),
        }
    }

    /// A client that knows these answers already, for tests of what is asked and read.
    #[cfg(test)]
    pub fn answering(answers: impl IntoIterator<Item = (String, Answer)>) -> Self {
        let http = Self::new(Duration::from_millis(100));
        http.answers.borrow_mut().extend(answers);
        http
    }

    /// The body `url` answered with, or a message saying why there is none.
    pub fn get(&self, url: &str) -> Answer {
        if let Some(answer) = self.answers.borrow().get(url) {
            return answer.clone();
        }
        let answer = self.fetch(url);
        self.answers
            .borrow_mut()
            .insert(url.to_string(), answer.clone());
        answer
    }

    /// `url`'s answer decoded as JSON of type `T`.
    pub fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        let body = self.get(url)?;
        serde_json::from_str(&body).map_err(|e| {
            let start: String = body.trim_start().chars().take(60).collect();
            format!(
                "{url}: not a NATS monitoring answer (not the JSON expected: {e}); it began \
                 with {start:?}: is this the monitoring port (8222), not the client port (4222)?"
            )
        })
    }

    fn fetch(&self, url: &str) -> Answer {
        let https = url.starts_with("https://");
        let mut response = self
            .agent
            .get(url)
            .call()
            .map_err(|e| self.describe(url, https, e))?;
        let status = response.status();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY_BYTES)
            .read_to_string()
            .map_err(|e| self.describe(url, https, e))?;
        if status.is_success() {
            return Ok(body);
        }
        // Go's TLS listener answers a plain HTTP request with this 400.
        if body.contains("HTTP request to an HTTPS server") {
            return Err(format!(
                "{url}: the monitoring port speaks TLS (HTTPS) and KEDA would ask over plain \
                 HTTP; set spec.nats.useHttps: true"
            ));
        }
        let first_line = body.lines().next().unwrap_or_default();
        Err(format!(
            "{url}: HTTP {status} ({first_line}): is this a NATS monitoring port (8222)?"
        ))
    }

    fn describe(&self, url: &str, https: bool, error: ureq::Error) -> String {
        let timeout = self.timeout.as_secs_f64();
        match error {
            ureq::Error::Timeout(_) => {
                format!("{url}: no answer within {timeout}s (raise --timeout, or check the address and any firewall)")
            }
            ureq::Error::HostNotFound => format!(
                "{url}: the host name does not resolve from here (give a reachable address with \
                 --monitoring, e.g. after kubectl port-forward)"
            ),
            ureq::Error::Io(e) if e.kind() == ErrorKind::ConnectionRefused => format!(
                "{url}: connection refused: nothing listens there (the monitoring port is \
                 nats-server's -m / http setting, 8222 by default)"
            ),
            ureq::Error::Io(e) if e.kind() == ErrorKind::TimedOut => {
                format!("{url}: no answer within {timeout}s ({e})")
            }
            ureq::Error::Rustls(e) if https => tls_failed(url, &e),
            // The TLS layer reports through the stream as invalid data.
            ureq::Error::Io(e) if https && e.kind() == ErrorKind::InvalidData => {
                tls_failed(url, &e)
            }
            ureq::Error::Protocol(e) if !https => format!(
                "{url}: the answer is not HTTP ({e}): if the port speaks TLS, set \
                 spec.nats.useHttps: true"
            ),
            e => format!("{url}: {e}"),
        }
    }
}

fn tls_failed(url: &str, error: &dyn std::fmt::Display) -> String {
    format!(
        "{url}: TLS failed ({error}): if the port speaks plain HTTP, remove spec.nats.useHttps; \
         otherwise its certificate must be trusted here, as KEDA must trust it"
    )
}
