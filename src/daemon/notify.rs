//! systemd's notification protocol (`Type=notify`): `READY=1`, `STATUS=…`, `STOPPING=1` and
//! `WATCHDOG=1` as datagrams to `$NOTIFY_SOCKET` (a path, or an abstract name after `@`).
//! Without the variable every call does nothing, so SysV init and tests are unaffected.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// The service manager's socket, if there is one.
#[derive(Debug)]
pub struct Notifier {
    target: Option<(UnixDatagram, SocketAddr)>,
    /// Half the watchdog interval, when systemd asked for keep-alives.
    pub watchdog: Option<Duration>,
}

impl Notifier {
    /// From `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID`.
    pub fn from_env() -> Notifier {
        let target = std::env::var_os("NOTIFY_SOCKET").and_then(|path| {
            let path = path.to_string_lossy().into_owned();
            let address = match path.strip_prefix('@') {
                Some(name) => SocketAddr::from_abstract_name(name.as_bytes()),
                None => SocketAddr::from_pathname(&path),
            };
            match (UnixDatagram::unbound(), address) {
                (Ok(socket), Ok(address)) => Some((socket, address)),
                (Err(e), _) | (_, Err(e)) => {
                    log::warn!("NOTIFY_SOCKET {path}: {e}");
                    None
                }
            }
        });
        let for_us = std::env::var("WATCHDOG_PID")
            .ok()
            .and_then(|p| p.parse::<u32>().ok())
            .is_none_or(|pid| pid == std::process::id());
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|u| u.parse::<u64>().ok())
            .filter(|&u| u > 0 && for_us && target.is_some())
            .map(|u| Duration::from_micros(u / 2));
        Notifier { target, watchdog }
    }

    /// Send `state` (lines of `KEY=VALUE`).
    pub fn send(&self, state: &str) {
        if let Some((socket, address)) = &self.target {
            if let Err(e) = socket.send_to_addr(state.as_bytes(), address) {
                log::debug!("sd_notify: {e}");
            }
        }
    }
}
