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

mod error;
mod manager;
mod model;
mod netlink;
pub mod wifi;

pub use error::BearerError;
pub use manager::{Manager, ManagerOptions};
pub use model::{
    BearerEvent, BearerFamily, BearerType, Capabilities, Configuration, ConfigurationType,
    InterfaceAddress, Reachability, StateFlags,
};
