//! Sessions (Qt's QNetworkSession): a configuration held open by the application, with its
//! traffic and active time counted from the moment it opened.

use std::time::{Duration, Instant};

use crate::bearer::error::BearerError;
use crate::bearer::manager::Manager;
use crate::bearer::model::{LinkStatistics, StateFlags};
use crate::reactor::Reactor;

/// An open session on one configuration.
#[derive(Debug, Clone)]
pub struct Session {
    id: String,
    opened: Instant,
    at_open: LinkStatistics,
}

impl Session {
    /// Open configuration `id` (ConnMan: Service.Connect; a kernel link: wait until it is
    /// active) within `timeout`, and start counting.
    pub fn open(
        manager: &mut Manager,
        reactor: &mut Reactor,
        id: &str,
        timeout: Duration,
    ) -> Result<Session, BearerError> {
        manager.set_session(reactor, id, true, timeout)?;
        let at_open = manager.statistics(reactor, id, timeout)?;
        Ok(Session {
            id: id.to_string(),
            opened: Instant::now(),
            at_open,
        })
    }

    /// The configuration this session is on.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The configuration's state now (Undefined once it is gone).
    pub fn state(&self, manager: &Manager) -> StateFlags {
        manager
            .configuration(&self.id)
            .map_or(StateFlags::Undefined, |c| c.state)
    }

    /// Bytes received and sent since the session opened (Qt's bytesReceived/bytesWritten),
    /// from the kernel's counters read now.
    pub fn traffic(
        &self,
        manager: &mut Manager,
        reactor: &mut Reactor,
        timeout: Duration,
    ) -> Result<LinkStatistics, BearerError> {
        let now = manager.statistics(reactor, &self.id, timeout)?;
        Ok(LinkStatistics {
            rx_bytes: now.rx_bytes.saturating_sub(self.at_open.rx_bytes),
            tx_bytes: now.tx_bytes.saturating_sub(self.at_open.tx_bytes),
        })
    }

    /// How long the session has been open (Qt's activeTime).
    pub fn active_time(&self) -> Duration {
        self.opened.elapsed()
    }

    /// Stop the session (ConnMan: Service.Disconnect). A kernel link cannot be stopped:
    /// [`BearerError::Unsupported`], and the session is given back.
    pub fn close(
        self,
        manager: &mut Manager,
        reactor: &mut Reactor,
        timeout: Duration,
    ) -> Result<(), (Session, BearerError)> {
        match manager.set_session(reactor, &self.id, false, timeout) {
            Ok(()) => Ok(()),
            Err(e) => Err((self, e)),
        }
    }
}
