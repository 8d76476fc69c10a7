//! Following the preferred bearer during a download (Qt's QNetworkSession roaming, without a
//! session object): each leg of the download is bound to the preferred configuration's
//! interface; when the preferred one moves, the leg stops and the next resumes `DEST.part`
//! through the new interface; the checksum is verified once, over the whole file.
//!
//! No thread: the bearer manager's kernel socket is watched by the transfer's own waits (a
//! scoped wait hook, see `cancel::with_wait_hook`), which read its events between polls.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{download_leg, Leg, Options, Protocol, TransferError, Transferred};
use crate::bearer::{BearerError, Manager, ManagerOptions};
use crate::cancel::{self, CancelToken, Wake};
use crate::error::{Classify, ErrorClass};
use crate::reactor::Reactor;

/// How long the first picture of the bearers may take.
const FIRST_PICTURE: Duration = Duration::from_secs(5);

/// Longest sleep while waiting for a bearer between looks (a ConnMan-only change wakes no
/// kernel socket).
const BEARER_POLL: Duration = Duration::from_secs(1);

/// Whether and how a download follows the preferred bearer ([`Options::roam`]).
#[derive(Default)]
pub enum Roam<'a> {
    /// Use whatever route the kernel picks (or [`Options::interface`]).
    #[default]
    Off,
    /// Open a [`Manager`] (kernel links; ConnMan and oFono when present) for this download.
    Follow,
    /// Use the caller's manager and the reactor it was opened on. Its state stays current
    /// while the download runs; its events stay queued for the caller.
    With {
        /// The caller's bearer manager.
        manager: &'a mut Manager,
        /// The reactor `manager` was opened on.
        reactor: &'a mut Reactor,
    },
}

/// A roaming download moved to another interface ([`Options::bearer_moved`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerMove {
    /// The interface the stopped leg used.
    pub from: String,
    /// The interface the next leg uses.
    pub to: String,
    /// Bytes in `DEST.part` the next leg resumes after.
    pub resume_at: u64,
}

pub(super) fn download(
    protocol: Protocol,
    url: &str,
    dest: &Path,
    opts: Options<'_>,
    roam: Roam<'_>,
) -> Result<Transferred, TransferError> {
    if opts.interface.is_some() {
        return Err(TransferError::InvalidOptions(
            "roaming chooses the interface itself: leave Options::interface unset",
        ));
    }
    match roam {
        Roam::With { manager, reactor } => follow(manager, reactor, protocol, url, dest, opts),
        Roam::Off | Roam::Follow => {
            let mut reactor =
                Reactor::new().map_err(|e| TransferError::Bearer(BearerError::Reactor(e)))?;
            let mut manager = Manager::open(&mut reactor, ManagerOptions::default())
                .map_err(TransferError::Bearer)?;
            follow(&mut manager, &mut reactor, protocol, url, dest, opts)
        }
    }
}

fn follow(
    manager: &mut Manager,
    reactor: &mut Reactor,
    protocol: Protocol,
    url: &str,
    dest: &Path,
    mut opts: Options<'_>,
) -> Result<Transferred, TransferError> {
    if !manager.is_complete() {
        manager
            .wait_for_update(reactor, FIRST_PICTURE)
            .map_err(TransferError::Bearer)?;
    }
    let deadline = opts.max_time.map(|d| Instant::now() + d);
    let mut resume = opts.resume;
    let mut interfaces: Vec<String> = Vec::new();
    loop {
        let interface = wait_for_bearer(
            manager,
            opts.cancel.as_ref(),
            opts.connect_timeout,
            deadline,
        )?;
        if let Some(from) = interfaces.last().filter(|from| **from != interface) {
            let moved = BearerMove {
                from: from.clone(),
                to: interface.clone(),
                resume_at: crate::fs::part_len(dest),
            };
            log::info!(
                "{url}: the preferred bearer moved from {} to {}: resuming at {} bytes",
                moved.from,
                moved.to,
                moved.resume_at
            );
            if let Some(tell) = opts.bearer_moved.as_mut() {
                tell(&moved);
            }
        }
        interfaces.push(interface.clone());
        let leg = Leg {
            interface: Some(interface.clone()),
            resume,
            deadline,
        };
        let mut moved = false;
        let fd = manager.event_fd();
        let mut on_bearer_event = || {
            moved = preferred_moved(manager, &interface);
            moved
        };
        let result = cancel::with_wait_hook(fd, &mut on_bearer_event, || {
            download_leg(protocol, url, dest, &mut opts, &leg)
        });
        let error = match result {
            Ok(mut done) => {
                done.interfaces = interfaces;
                return Ok(done);
            }
            Err(e) => e,
        };
        if opts.cancel.as_ref().is_some_and(CancelToken::is_cancelled) {
            return Err(error);
        }
        let elsewhere = preferred_moved(manager, &interface);
        let lost_link = matches!(
            error.class(),
            ErrorClass::Connection | ErrorClass::Timeout | ErrorClass::HostNotFound
        );
        if !(moved && error.is_cancelled() || lost_link && elsewhere) {
            return Err(error);
        }
        resume = true;
    }
}

/// Whether the preferred configuration's interface is no longer `current` (after reading
/// what the backends have now).
fn preferred_moved(manager: &mut Manager, current: &str) -> bool {
    if let Err(e) = manager.process_events() {
        log::warn!("bearer events: {e}");
        return false;
    }
    preferred_interface(manager).as_deref() != Some(current)
}

fn preferred_interface(manager: &Manager) -> Option<String> {
    manager
        .default_configuration()
        .and_then(|c| c.interface.clone())
}

/// The preferred interface, waiting for one to come up for at most `wait` (and not past
/// `deadline`).
fn wait_for_bearer(
    manager: &mut Manager,
    cancel: Option<&CancelToken>,
    wait: Option<Duration>,
    deadline: Option<Instant>,
) -> Result<String, TransferError> {
    let started = Instant::now();
    let until = [wait.map(|w| started + w), deadline]
        .into_iter()
        .flatten()
        .min();
    loop {
        if let Some(interface) = preferred_interface(manager) {
            return Ok(interface);
        }
        let left = until.map(|u| u.saturating_duration_since(Instant::now()));
        if left.is_some_and(|l| l.is_zero()) {
            return Err(TransferError::NoBearer(started.elapsed()));
        }
        let slice = left.map_or(BEARER_POLL, |l| l.min(BEARER_POLL));
        log::debug!("waiting for a bearer");
        match cancel::wait(manager.event_fd(), libc::POLLIN, cancel, Some(slice)) {
            Ok(Wake::Cancelled) => return Err(TransferError::Bearer(BearerError::Interrupted)),
            Ok(_) => {}
            Err(e) => return Err(TransferError::Bearer(BearerError::Reactor(e))),
        }
        manager.process_events().map_err(TransferError::Bearer)?;
    }
}
