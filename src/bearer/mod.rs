//! Bearer management: which links exist (Ethernet, Wi-Fi, cellular), which one is preferred,
//! how far the board can reach — Qt 5's QNetworkConfigurationManager and Qt 6's
//! QNetworkInformation, event-driven on the reactor.
//!
//! The kernel is always a backend: an rtnetlink socket dumps links, addresses and routes once
//! and then follows their multicast groups, so a cable pulled is an event within
//! milliseconds, not a poll. "Ready" and "online" are kept apart: [`Reachability`] climbs
//! from `local` (an address) to `site` (a default route) to `online` (a connectivity check
//! URL answered), and [`Manager::is_online`] means only the last.
//!
//! ```no_run
//! use std::time::Duration;
//! use boardnet::bearer::{Manager, ManagerOptions, StateFlags};
//! use boardnet::reactor::Reactor;
//! let mut reactor = Reactor::new()?;
//! let mut manager = Manager::open(&mut reactor, ManagerOptions::default())?;
//! manager.wait_for_update(&mut reactor, Duration::from_secs(5))?;
//! for c in manager.configurations(StateFlags::Defined) {
//!     println!("{} {} {}", c.id, c.bearer_name(), c.state.name());
//! }
//! println!("reachability: {}", manager.reachability());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(any(feature = "connman", feature = "networkmanager"))]
mod bus;
mod check;
#[cfg(feature = "connman")]
mod connman;
mod error;
mod manager;
mod model;
mod netlink;
#[cfg(feature = "networkmanager")]
mod networkmanager;
#[cfg(feature = "connman")]
mod ofono;
mod session;
pub mod wifi;

pub use error::BearerError;
pub use manager::{BackendChoice, Manager, ManagerOptions};
pub use model::{
    BearerEvent, BearerFamily, BearerType, Capabilities, Configuration, ConfigurationType,
    InterfaceAddress, LinkStatistics, Reachability, StateFlags, Technology, WifiNetwork,
};
pub use session::Session;

/// Entry points for `fuzz/`, not API.
#[doc(hidden)]
pub mod fuzzing {
    use super::netlink::route::{self, RouteTable};
    use super::netlink::{nl80211, wire};

    /// Decode `datagram` as rtnetlink (applying what decodes to a table) and every frame of
    /// it as nl80211; returns how many messages decoded. Nothing may panic.
    pub fn decode_netlink(datagram: &[u8]) -> usize {
        let mut messages = Vec::new();
        let _ = route::decode(datagram, &mut messages);
        let mut table = RouteTable::default();
        for m in &messages {
            table.apply(m);
        }
        let _ = table.preferred_default();
        let mut decoded = messages.len();
        for frame in wire::frames(datagram).flatten() {
            decoded += usize::from(nl80211::decode(&frame).is_ok());
            let _ = nl80211::decode_family(&frame);
        }
        decoded
    }

    /// Apply every D-Bus message that decodes from `chunks` to an empty NetworkManager
    /// picture, as signals and as a GetManagedObjects answer, and derive what the manager
    /// would: configurations, the preferred one, the reachability. Nothing may panic.
    #[cfg(feature = "networkmanager")]
    pub fn apply_networkmanager(chunks: &[&[u8]]) -> usize {
        let mut picture = super::networkmanager::Picture::default();
        let mut applied = 0;
        for chunk in chunks {
            let Ok(message) = crate::dbus::message::Message::decode(chunk) else {
                continue;
            };
            if let Some(body) = message.body.first() {
                picture.load(body);
            }
            applied += usize::from(picture.apply(&message).0);
        }
        let _ = (picture.preferred(), picture.reachability());
        applied + picture.configurations().len()
    }
}
