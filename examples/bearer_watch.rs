//! The board's network configurations and how far it can reach, then every change as it
//! happens (Qt's QNetworkConfigurationManager signals and QNetworkInformation), from kernel
//! events — a cable pulled is a line within milliseconds.
//!
//! ```text
//! cargo run --example bearer_watch [-- --once]
//! ```

use std::error::Error;
use std::time::Duration;

use boardnet::bearer::{BearerEvent, Manager, ManagerOptions, StateFlags};
use boardnet::reactor::{Reactor, Ready};

fn main() -> Result<(), Box<dyn Error>> {
    let once = std::env::args().any(|a| a == "--once");
    let mut reactor = Reactor::new()?;
    reactor.handle_signals()?;
    let mut manager = Manager::open(&mut reactor, ManagerOptions::default())?;
    manager.wait_for_update(&mut reactor, Duration::from_secs(5))?;
    for c in manager.configurations(StateFlags::Defined) {
        println!(
            "{:24} {:10} {:10} {}",
            c.id,
            c.bearer_name(),
            c.state.name(),
            c.interface.as_deref().unwrap_or("-")
        );
    }
    let preferred = manager.default_configuration().map(|c| c.id.clone());
    println!(
        "preferred: {}; reachability: {}",
        preferred.as_deref().unwrap_or("none"),
        manager.reachability()
    );
    if once {
        return Ok(());
    }
    let mut ready = Vec::new();
    loop {
        while let Some(event) = manager.next_event() {
            match event {
                BearerEvent::ConfigurationAdded(id) => println!("added {id}"),
                BearerEvent::ConfigurationRemoved(id) => println!("removed {id}"),
                BearerEvent::ConfigurationChanged(id) => {
                    let state = manager.configuration(&id).map(|c| c.state.name());
                    println!("changed {id}: {}", state.unwrap_or("gone"));
                }
                BearerEvent::PreferredConfigurationChanged(id) => {
                    println!("preferred {}", id.as_deref().unwrap_or("none"))
                }
                BearerEvent::ReachabilityChanged(level) => println!("reachability {level}"),
                other => println!("{other:?}"),
            }
        }
        reactor.turn(&mut ready, None)?;
        for r in ready.drain(..) {
            if let Ready::Signal(_) = r {
                return Ok(());
            }
            manager.handle(&mut reactor, &r)?;
        }
    }
}
