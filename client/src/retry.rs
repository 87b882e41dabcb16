//! Waiting for a server that is still starting (Keycloak takes a while on a first run).
//!
//! Only "nothing listens there yet" (connection refused) and gateway errors are retried,
//! with exponential backoff, until a deadline the message names. A refused certificate or
//! an OAuth error is an answer, not a reason to wait, and comes back at once.

use std::future::Future;
use std::io::IsTerminal as _;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable as _};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use url::Url;

use crate::error::ClientError;

/// Runs `attempt` until it stops failing with a "not up yet" error, or `wait` has passed.
/// `what` names the server in the progress message.
pub async fn until_up<T, F, Fut>(
    what: &str,
    url: &Url,
    wait: Duration,
    attempt: F,
) -> Result<T, ClientError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ClientError>>,
{
    let backoff = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(250))
        .with_max_delay(Duration::from_secs(3))
        .without_max_times();
    // Wait as long as asked, no shorter and no longer: each pause is cut to the time left,
    // and there is no pause once none is left. (backon's `with_total_delay` stops as soon as
    // the *next* pause would overrun, so a 3 s wait gave up after 1.75 s.)
    let deadline = std::time::Instant::now() + wait;
    let pause_within_deadline = move |_: &ClientError, pause: Option<Duration>| {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        (!left.is_zero()).then_some(pause?.min(left))
    };
    // A spinner on a terminal only; in a log (start.sh piped to a file) one line per retry
    // would be noise, so the first wait is announced once on stderr instead.
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let mut announced = false;
    let result = attempt
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .when(ClientError::is_not_up_yet)
        .adjust(pause_within_deadline)
        .notify(|err, delay| {
            if !announced {
                announced = true;
                if bar.is_hidden() {
                    eprintln!(
                        "waiting for {what} at {url} (up to {}s): {err}",
                        wait.as_secs()
                    );
                } else {
                    bar.enable_steady_tick(Duration::from_millis(120));
                }
            }
            bar.set_message(format!(
                "waiting for {what} at {url} (up to {}s; next try in {}ms)",
                wait.as_secs(),
                delay.as_millis()
            ));
        })
        .await;
    bar.finish_and_clear();
    match result {
        Err(err) if err.is_not_up_yet() => Err(ClientError::GaveUp {
            url: url.clone(),
            waited: wait,
            // The URL is already in the message: keep only the reason.
            detail: match err {
                ClientError::Transport { detail, .. } => detail,
                other => other.to_string(),
            },
        }),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::TransportKind;

    fn refused(url: &Url) -> ClientError {
        ClientError::Transport {
            url: url.clone(),
            kind: TransportKind::Refused,
            detail: "connection refused".into(),
            alert: None,
        }
    }

    #[tokio::test]
    async fn retries_refused_connections_until_the_server_answers() {
        let url = Url::parse("https://localhost:1/").unwrap();
        let mut calls = 0;
        let got = until_up("test server", &url, Duration::from_secs(10), || {
            calls += 1;
            let n = calls;
            let url = url.clone();
            async move { if n < 3 { Err(refused(&url)) } else { Ok(n) } }
        })
        .await
        .unwrap();
        assert_eq!(got, 3);
    }

    #[tokio::test]
    async fn gives_up_naming_the_wait_and_does_not_retry_real_answers() {
        let url = Url::parse("https://localhost:1/").unwrap();
        let started = std::time::Instant::now();
        let err = until_up("test server", &url, Duration::from_millis(900), || {
            let url = url.clone();
            async move { Err::<(), _>(refused(&url)) }
        })
        .await
        .unwrap_err();
        // --wait is honoured: no giving up before the time asked for (backoff pauses of
        // 250 + 500 ms alone would stop at 750 ms).
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "gave up early"
        );
        assert!(matches!(err, ClientError::GaveUp { .. }), "{err}");
        assert!(err.to_string().contains("--wait"), "{err}");

        let mut calls = 0;
        let err = until_up("test server", &url, Duration::from_secs(10), || {
            calls += 1;
            let url = url.clone();
            async move {
                Err::<(), _>(ClientError::Transport {
                    url,
                    kind: TransportKind::Tls,
                    detail: "TLS: bad certificate".into(),
                    alert: Some(rustls::AlertDescription::BadCertificate),
                })
            }
        })
        .await
        .unwrap_err();
        assert_eq!(calls, 1, "a TLS refusal is an answer: {err}");
    }
}
