//! One daemon on the D-Bus system bus (`DBUS_SYSTEM_BUS_ADDRESS` is honoured), as the
//! ConnMan and oFono backends use it: a connection of our own codec ([`crate::dbus`]) whose
//! descriptor sits in the reactor, a subscription to the daemon's signals, blocking method
//! calls, and draining.

use std::time::Duration;

use mio::unix::SourceFd;
use mio::Interest;

use crate::bearer::error::BearerError;
use crate::dbus::connection::{BusError, Connection};
use crate::dbus::message::Message;
use crate::dbus::wire::Value;
use crate::reactor::{Reactor, Ready, Token};

/// Limit for a daemon's answers to queries.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection to one daemon (`service`, its well-known name).
#[derive(Debug)]
pub(crate) struct ServiceBus {
    conn: Connection,
    token: Token,
    service: &'static str,
    /// What the daemon is called in messages (ConnMan, oFono).
    label: &'static str,
}

impl ServiceBus {
    /// Connect and subscribe to `service`'s signals. `Ok(None)`: no system bus, or the daemon
    /// is not on it (the other backends carry on).
    pub(crate) fn open(
        reactor: &mut Reactor,
        service: &'static str,
        label: &'static str,
    ) -> Result<Option<ServiceBus>, BearerError> {
        let mut conn = match Connection::system(CALL_TIMEOUT) {
            Ok(c) => c,
            Err(e) => {
                log::debug!("no system bus: {e}");
                return Ok(None);
            }
        };
        let fail = |what: &str, e: BusError| BearerError::DBus {
            service: label,
            message: format!("{what}: {e}"),
        };
        // Subscribe before asking: no change between the answers and the subscription is lost.
        conn.add_match(&format!("type='signal',sender='{service}'"), CALL_TIMEOUT)
            .map_err(|e| fail("subscribing to its signals", e))?;
        let has_owner = Message::method_call(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "NameHasOwner",
        )
        .with_body(vec![Value::Str(service.into())]);
        let present = conn
            .call(has_owner, CALL_TIMEOUT)
            .map_err(|e| fail("asking the bus for it", e))?
            .body
            .first()
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if !present {
            log::debug!("{label} is not on the system bus");
            return Ok(None);
        }
        let token = reactor
            .register(&mut SourceFd(&conn.fd()), Interest::READABLE)
            .map_err(BearerError::Reactor)?;
        Ok(Some(ServiceBus {
            conn,
            token,
            service,
            label,
        }))
    }

    pub(crate) fn token(&self) -> Token {
        self.token
    }

    /// Call `interface.method` on `path` with `args`; block for the answer up to `timeout`.
    pub(crate) fn call(
        &mut self,
        path: &str,
        interface: &str,
        method: &str,
        args: Vec<Value>,
        timeout: Duration,
    ) -> Result<Message, BearerError> {
        let call = Message::method_call(self.service, path, interface, method).with_body(args);
        self.conn
            .call(call, timeout)
            .map_err(|e| BearerError::DBus {
                service: self.label,
                message: match e {
                    BusError::Timeout { .. } => format!("{interface}.{method}: no answer"),
                    other => format!("{interface}.{method}: {other}"),
                },
            })
    }

    /// The next message from the daemon or the bus, waiting at most `timeout` (for blocking
    /// helpers that await a signal, outside the reactor).
    #[cfg(feature = "networkmanager")]
    pub(crate) fn wait_message(&mut self, timeout: Duration) -> Result<Message, BearerError> {
        self.conn
            .wait_message(timeout)
            .map_err(|e| BearerError::DBus {
                service: self.label,
                message: format!("waiting for its signal: {e}"),
            })
    }

    /// Whether `ready` is this connection's.
    pub(crate) fn is_ours(&self, ready: &Ready) -> bool {
        matches!(ready, Ready::Io { token, .. } if *token == self.token)
    }

    /// Hand every message that arrived (the socket's, and those queued during a blocking
    /// call, where no readiness event will announce them) to `each`; true if any call of
    /// `each` said something changed.
    pub(crate) fn drain(
        &mut self,
        mut each: impl FnMut(&Message) -> bool,
    ) -> Result<bool, BearerError> {
        self.conn.read_available().map_err(|e| BearerError::DBus {
            service: self.label,
            message: format!("the system bus connection: {e}"),
        })?;
        let mut changed = false;
        while let Some(msg) = self.conn.next_message() {
            changed |= each(&msg);
        }
        Ok(changed)
    }
}

/// A backend on one daemon's connection: the reactor hands it readiness, it applies what
/// arrived.
pub(crate) trait BusBackend {
    fn bus(&self) -> &ServiceBus;

    /// Apply every signal that arrived (also those queued during a blocking call); true if
    /// anything changed.
    fn drain(&mut self) -> Result<bool, BearerError>;

    fn token(&self) -> Token {
        self.bus().token()
    }

    /// Read what arrived if `ready` is this connection's; true if anything changed.
    fn handle(&mut self, ready: &Ready) -> Result<bool, BearerError> {
        if !self.bus().is_ours(ready) {
            return Ok(false);
        }
        self.drain()
    }
}

/// Daemons coming onto the bus and leaving it (the bus's NameOwnerChanged for their names):
/// with `auto`, a ConnMan or oFono that starts after boardnet is picked up, and one that
/// stops is let go.
#[derive(Debug)]
pub(crate) struct NameWatch {
    conn: Connection,
    token: Token,
}

impl NameWatch {
    /// Watch `names` on the system bus; `None` without a system bus.
    pub(crate) fn open(reactor: &mut Reactor, names: &[&str]) -> Option<NameWatch> {
        let mut conn = Connection::system(CALL_TIMEOUT).ok()?;
        for name in names {
            let rule = format!(
                "type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged',arg0='{name}'"
            );
            if let Err(e) = conn.add_match(&rule, CALL_TIMEOUT) {
                log::debug!("watching {name} on the bus: {e}");
                return None;
            }
        }
        let token = reactor
            .register(&mut SourceFd(&conn.fd()), Interest::READABLE)
            .ok()?;
        Some(NameWatch { conn, token })
    }

    pub(crate) fn token(&self) -> Token {
        self.token
    }

    /// The names whose owner changed since the last look: (name, whether it has one now).
    pub(crate) fn changes(&mut self) -> Vec<(String, bool)> {
        if let Err(e) = self.conn.read_available() {
            log::warn!("watching the bus: {e}");
        }
        std::iter::from_fn(|| self.conn.next_message())
            .filter(|m| m.member.as_deref() == Some("NameOwnerChanged"))
            .filter_map(|m| match m.body.as_slice() {
                [name, _, new] => Some((name.as_str()?.to_string(), !new.as_str()?.is_empty())),
                _ => None,
            })
            .collect()
    }
}
