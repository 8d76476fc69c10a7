//! One daemon on the D-Bus system bus (`DBUS_SYSTEM_BUS_ADDRESS` is honoured), as the
//! ConnMan and oFono backends use it: a private connection whose descriptor sits in the
//! reactor, a subscription to the daemon's signals, blocking method calls, and draining.

use std::time::Duration;

use dbus::channel::{BusType, Channel};
use dbus::Message;
use mio::unix::SourceFd;
use mio::Interest;

use crate::bearer::error::BearerError;
use crate::reactor::{Reactor, Ready, Token};

/// Limit for a daemon's answers to queries.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection to one daemon (`service`, its well-known name).
pub(crate) struct ServiceBus {
    channel: Channel,
    token: Token,
    service: &'static str,
    /// What the daemon is called in messages (ConnMan, oFono).
    label: &'static str,
}

impl std::fmt::Debug for ServiceBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceBus")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl ServiceBus {
    /// Connect and subscribe to `service`'s signals. `Ok(None)`: no system bus, or the daemon
    /// is not on it (the other backends carry on).
    pub(crate) fn open(
        reactor: &mut Reactor,
        service: &'static str,
        label: &'static str,
    ) -> Result<Option<ServiceBus>, BearerError> {
        let mut channel = match Channel::get_private(BusType::System) {
            Ok(c) => c,
            Err(e) => {
                log::debug!("no system bus: {}", e.message().unwrap_or("?"));
                return Ok(None);
            }
        };
        channel.set_watch_enabled(true);
        let fail = |what: &str, e: String| BearerError::DBus {
            service: label,
            message: format!("{what}: {e}"),
        };
        let daemon = |method: &str| {
            Message::new_method_call(
                "org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                method,
            )
            .map_err(|e| fail(method, e))
        };
        // Subscribe before asking: no change between the answers and the subscription is lost.
        let rule = format!("type='signal',sender='{service}'");
        channel
            .send_with_reply_and_block(daemon("AddMatch")?.append1(rule), CALL_TIMEOUT)
            .map_err(|e| fail("subscribing to its signals", e.to_string()))?;
        let present = channel
            .send_with_reply_and_block(daemon("NameHasOwner")?.append1(service), CALL_TIMEOUT)
            .map_err(|e| fail("asking the bus for it", e.to_string()))?
            .read1::<bool>()
            .unwrap_or(false);
        if !present {
            log::debug!("{label} is not on the system bus");
            return Ok(None);
        }
        let watch = channel.watch();
        let token = reactor
            .register(&mut SourceFd(&watch.fd), Interest::READABLE)
            .map_err(BearerError::Reactor)?;
        Ok(Some(ServiceBus {
            channel,
            token,
            service,
            label,
        }))
    }

    pub(crate) fn token(&self) -> Token {
        self.token
    }

    /// Call `interface.method` on `path` with the arguments `build` appends; block for the
    /// answer up to `timeout`.
    pub(crate) fn call(
        &self,
        path: &str,
        interface: &str,
        method: &str,
        build: impl FnOnce(Message) -> Message,
        timeout: Duration,
    ) -> Result<Message, BearerError> {
        let msg = Message::new_method_call(self.service, path, interface, method).map_err(|e| {
            BearerError::DBus {
                service: self.label,
                message: format!("{interface}.{method}: {e}"),
            }
        })?;
        self.channel
            .send_with_reply_and_block(build(msg), timeout)
            .map_err(|e| BearerError::DBus {
                service: self.label,
                message: format!(
                    "{interface}.{method}: {}",
                    e.message().unwrap_or("no answer")
                ),
            })
    }

    /// Whether `ready` is this connection's.
    pub(crate) fn is_ours(&self, ready: &Ready) -> bool {
        matches!(ready, Ready::Io { token, .. } if *token == self.token)
    }

    /// Hand every message libdbus holds or the socket has to `each`; true if any call of
    /// `each` said something changed. Also needed right after a blocking call: libdbus reads
    /// signals that arrive meanwhile into its own queue, where no readiness event will
    /// announce them.
    pub(crate) fn drain(
        &mut self,
        mut each: impl FnMut(&Message) -> bool,
    ) -> Result<bool, BearerError> {
        let mut changed = false;
        loop {
            // Everything readable now: the descriptor is edge-triggered.
            if self.channel.read_write(Some(Duration::ZERO)).is_err() {
                return Err(BearerError::DBus {
                    service: self.label,
                    message: "the system bus connection closed".into(),
                });
            }
            let mut got = false;
            while let Some(msg) = self.channel.pop_message() {
                got = true;
                changed |= each(&msg);
            }
            if !got {
                return Ok(changed);
            }
        }
    }
}
