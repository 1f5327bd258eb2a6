//! Cancellation: a [`Cancel`] token the executor checks before every write and
//! races against every sleep, and [`install`], which feeds it from Ctrl-C and
//! SIGTERM. The first signal stops new writes (in-flight ones finish and the
//! summary is printed); a second one exits at once.

use std::sync::Arc;

use tokio::sync::watch;

/// Exit status after a second signal: the shell's convention for SIGINT.
pub const SECOND_SIGNAL_EXIT: i32 = 130;

/// Read side of the cancellation signal. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Cancel {
    rx: watch::Receiver<bool>,
    /// Keeps the channel open for a token nobody can trigger ([`Cancel::never`]).
    _keep: Option<Arc<watch::Sender<bool>>>,
}

/// Write side: triggers the [`Cancel`] tokens made with it.
#[derive(Debug)]
pub struct CancelHandle(watch::Sender<bool>);

impl CancelHandle {
    pub fn cancel(&self) {
        self.0.send_replace(true);
    }
}

impl Cancel {
    /// A token and the handle that triggers it.
    pub fn new() -> (CancelHandle, Cancel) {
        let (tx, rx) = watch::channel(false);
        (CancelHandle(tx), Cancel { rx, _keep: None })
    }

    /// A token that is never triggered.
    pub fn never() -> Cancel {
        let (tx, rx) = watch::channel(false);
        Cancel {
            rx,
            _keep: Some(Arc::new(tx)),
        }
    }

    pub fn is_cancelled(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once the token is triggered (never, if its handle is dropped
    /// untriggered).
    pub async fn cancelled(&self) {
        let mut rx = self.rx.clone();
        if rx.wait_for(|c| *c).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Install handlers for Ctrl-C and (on Unix) SIGTERM, inside the current tokio
/// runtime. The first signal triggers the returned token and says so on
/// stderr; a second one exits the process at once with [`SECOND_SIGNAL_EXIT`].
pub fn install() -> std::io::Result<Cancel> {
    let (handle, cancel) = Cancel::new();
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::spawn(async move {
        for n in 0.. {
            #[cfg(unix)]
            let got = tokio::select! {
                r = tokio::signal::ctrl_c() => r.is_ok(),
                r = term.recv() => r.is_some(),
            };
            #[cfg(not(unix))]
            let got = tokio::signal::ctrl_c().await.is_ok();
            if !got {
                // The handler could not be kept; never trigger spuriously.
                return;
            }
            if n == 0 {
                eprintln!(
                    "interrupted: no new writes will start; waiting for the ones in flight \
                     (signal again to exit at once)"
                );
                handle.cancel();
            } else {
                eprintln!("interrupted again: exiting now; some writes may be unknown");
                std::process::exit(SECOND_SIGNAL_EXIT);
            }
        }
    });
    Ok(cancel)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn cancel_wakes_waiters() {
        let (handle, cancel) = Cancel::new();
        assert!(!cancel.is_cancelled());
        let c2 = cancel.clone();
        let waiter = tokio::spawn(async move { c2.cancelled().await });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!waiter.is_finished());
        handle.cancel();
        waiter.await.expect("waiter ends");
        assert!(cancel.is_cancelled());
    }

    #[tokio::test(start_paused = true)]
    async fn never_and_dropped_handles_do_not_fire() {
        let never = Cancel::never();
        let (handle, dropped) = Cancel::new();
        drop(handle);
        for c in [never, dropped] {
            let r = tokio::time::timeout(Duration::from_secs(3600), c.cancelled()).await;
            assert!(r.is_err(), "must not resolve");
            assert!(!c.is_cancelled());
        }
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn sigterm_triggers_the_token() {
        let cancel = install().expect("handlers install");
        // std has no way to signal a process; `kill(1)` does it without unsafe code.
        let status = std::process::Command::new("kill")
            .args(["-TERM", &std::process::id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        tokio::time::timeout(Duration::from_secs(5), cancel.cancelled())
            .await
            .expect("SIGTERM cancels");
    }
}
