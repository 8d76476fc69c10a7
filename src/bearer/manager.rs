//! The bearer manager (Qt's QNetworkConfigurationManager + QNetworkInformation): merges what
//! the backends report into configurations, works out the preferred one and the reachability
//! level, and queues events when any of it changes.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::bearer::error::BearerError;
use crate::bearer::model::{
    BearerEvent, Capabilities, Configuration, ConfigurationType, InterfaceAddress, Reachability,
    StateFlags,
};
use crate::bearer::netlink::route::{Link, RouteTable};
use crate::bearer::netlink::{sysfs, RouteMonitor};
use crate::reactor::{Reactor, Ready};

/// How the manager works.
#[derive(Debug, Clone)]
pub struct ManagerOptions {
    /// Connectivity check: `online` is reached only after a GET of this URL answers 2xx
    /// through the preferred configuration. Without it the top level is `site`.
    pub check_url: Option<String>,
    /// Limit for one connectivity check (connect + answer).
    pub check_timeout: Duration,
    /// Where interfaces are described (`/sys/class/net`; tests point it elsewhere).
    pub sysfs_class_net: PathBuf,
}

impl Default for ManagerOptions {
    fn default() -> Self {
        ManagerOptions {
            check_url: None,
            check_timeout: Duration::from_secs(5),
            sysfs_class_net: PathBuf::from("/sys/class/net"),
        }
    }
}

/// All configurations and the board's reachability, kept current from pushed events.
#[derive(Debug)]
pub struct Manager {
    route: RouteMonitor,
    options: ManagerOptions,
    configs: BTreeMap<String, Configuration>,
    preferred: Option<String>,
    reachability: Reachability,
    /// The preferred configuration the connectivity check last passed through.
    checked: Option<String>,
    events: VecDeque<BearerEvent>,
    complete: bool,
}

/// Configuration identifiers of kernel links.
const NETLINK_PREFIX: &str = "netlink:";

impl Manager {
    /// Start following the kernel's links on `reactor`. The picture is complete after the
    /// [`BearerEvent::UpdateCompleted`] event (or [`wait_for_update`](Self::wait_for_update)).
    pub fn open(reactor: &mut Reactor, options: ManagerOptions) -> Result<Manager, BearerError> {
        Ok(Manager {
            route: RouteMonitor::open(reactor)?,
            options,
            configs: BTreeMap::new(),
            preferred: None,
            reachability: Reachability::Disconnected,
            checked: None,
            events: VecDeque::new(),
            complete: false,
        })
    }

    /// Let the manager see a reactor event; true if it was one of its sources.
    pub fn handle(&mut self, ready: &Ready) -> Result<bool, BearerError> {
        let ours = matches!(ready, Ready::Io { token, .. } if *token == self.route.token());
        if ours && self.route.handle(ready)? && self.route.is_synced() {
            self.refresh();
        }
        Ok(ours)
    }

    /// The next event, oldest first.
    pub fn next_event(&mut self) -> Option<BearerEvent> {
        self.events.pop_front()
    }

    /// Whether the first full picture has arrived.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// Block until the first full picture has arrived (events for other sources are handed
    /// back to the loop).
    pub fn wait_for_update(
        &mut self,
        reactor: &mut Reactor,
        timeout: Duration,
    ) -> Result<(), BearerError> {
        let deadline = Instant::now() + timeout;
        let mut ready = Vec::new();
        while !self.complete {
            if Instant::now() >= deadline {
                return Err(BearerError::Timeout(timeout));
            }
            reactor
                .turn(&mut ready, Some(deadline))
                .map_err(BearerError::Reactor)?;
            let mut others = Vec::new();
            for r in ready.drain(..) {
                if !self.handle(&r)? {
                    others.push(r);
                }
            }
            reactor.defer(others);
        }
        Ok(())
    }

    /// Configurations at or above `at_least` (Qt's allConfigurations(flags)), by identifier.
    pub fn configurations(&self, at_least: StateFlags) -> impl Iterator<Item = &Configuration> {
        self.configs.values().filter(move |c| c.state >= at_least)
    }

    pub fn configuration(&self, id: &str) -> Option<&Configuration> {
        self.configs.get(id)
    }

    /// The preferred configuration: the one the kernel's default route uses (Qt's
    /// defaultConfiguration).
    pub fn default_configuration(&self) -> Option<&Configuration> {
        self.preferred
            .as_deref()
            .and_then(|id| self.configs.get(id))
    }

    pub fn reachability(&self) -> Reachability {
        self.reachability
    }

    /// Online in the strict sense: the connectivity check passed (Qt's isOnline conflated this
    /// with "a link is up"; boardnet keeps them apart — see [`reachability`](Self::reachability)).
    pub fn is_online(&self) -> bool {
        self.reachability == Reachability::Online
    }

    /// What the backends really do: netlink routes by interface (SO_BINDTODEVICE), and
    /// nothing else yet.
    pub fn capabilities(&self) -> Capabilities {
        Capabilities::DIRECT_CONNECTION_ROUTING
    }

    /// The backends in use.
    pub fn backends(&self) -> &'static [&'static str] {
        &["netlink"]
    }

    /// Rebuild configurations from the kernel's table and queue what changed.
    fn refresh(&mut self) {
        let table = self.route.table();
        let preferred_index = table.preferred_default().map(|r| r.index);
        let mut fresh = BTreeMap::new();
        let mut preferred = None;
        for link in table.links.values().filter(|l| !l.is_loopback()) {
            let c = configuration_of(link, table, &self.options.sysfs_class_net);
            if Some(link.index) == preferred_index && c.state == StateFlags::Active {
                preferred = Some(c.id.clone());
            }
            fresh.insert(c.id.clone(), c);
        }
        for id in self.configs.keys() {
            if !fresh.contains_key(id) {
                self.events
                    .push_back(BearerEvent::ConfigurationRemoved(id.clone()));
            }
        }
        for (id, c) in &fresh {
            match self.configs.get(id) {
                None => self
                    .events
                    .push_back(BearerEvent::ConfigurationAdded(id.clone())),
                Some(old) if old != c => self
                    .events
                    .push_back(BearerEvent::ConfigurationChanged(id.clone())),
                Some(_) => {}
            }
        }
        self.configs = fresh;
        if preferred != self.preferred {
            self.preferred = preferred.clone();
            // The first picture names its preferred configuration too (watchers see it).
            if self.complete || preferred.is_some() {
                self.events
                    .push_back(BearerEvent::PreferredConfigurationChanged(preferred));
            }
        }
        self.update_reachability();
        if !self.complete {
            self.complete = true;
            self.events.push_back(BearerEvent::UpdateCompleted);
        }
    }

    fn update_reachability(&mut self) {
        let mut level = self
            .configs
            .values()
            .map(Configuration::reachability)
            .max()
            .unwrap_or(Reachability::Disconnected);
        let via = self
            .default_configuration()
            .filter(|c| c.reachability() == Reachability::Site)
            .map(|c| c.id.clone());
        if level == Reachability::Site && via.is_some() {
            if self.checked.is_none() || self.checked != via {
                self.checked = self.connectivity_check().then(|| via.clone()).flatten();
            }
            if self.checked.is_some() {
                level = Reachability::Online;
            }
        } else {
            self.checked = None;
        }
        if level != self.reachability {
            let was_online = self.is_online();
            self.reachability = level;
            self.events
                .push_back(BearerEvent::ReachabilityChanged(level));
            if was_online != self.is_online() {
                self.events
                    .push_back(BearerEvent::OnlineStateChanged(self.is_online()));
            }
        }
    }

    /// GET the check URL once (blocking, bounded by `check_timeout`); true on a 2xx answer.
    fn connectivity_check(&self) -> bool {
        let Some(url) = self.options.check_url.as_deref() else {
            return false;
        };
        let client = match crate::http::Client::builder()
            .connect_timeout(Some(self.options.check_timeout))
            .max_time(Some(self.options.check_timeout))
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                log::warn!("connectivity check {url}: {e}");
                return false;
            }
        };
        match client.get(url).send() {
            Ok(reply) if (200..300).contains(&reply.status()) => true,
            Ok(reply) => {
                log::info!("connectivity check {url}: HTTP {}", reply.status());
                false
            }
            Err(e) => {
                log::info!("connectivity check {url}: {e}");
                false
            }
        }
    }
}

/// A kernel link as a configuration: Defined when it exists, Discovered with carrier,
/// Active with carrier and an address usable beyond the link.
fn configuration_of(link: &Link, table: &RouteTable, class_net: &std::path::Path) -> Configuration {
    let (bearer, family) = sysfs::classify(class_net, &link.name, link.hw_type);
    let mut addresses: Vec<InterfaceAddress> = table
        .addresses_of(link.index)
        .map(|a| InterfaceAddress {
            address: a.address,
            prefix_len: a.prefix_len,
        })
        .collect();
    addresses.sort();
    let usable = table.addresses_of(link.index).any(|a| a.is_usable());
    let state = match (link.has_carrier(), usable) {
        (true, true) => StateFlags::Active,
        (true, false) => StateFlags::Discovered,
        (false, _) => StateFlags::Defined,
    };
    Configuration {
        id: format!("{NETLINK_PREFIX}{}", link.name),
        name: link.name.clone(),
        kind: ConfigurationType::InternetAccessPoint,
        bearer,
        family,
        state,
        interface: Some(link.name.clone()),
        addresses,
        default_route: link.has_carrier()
            && table.default_routes.iter().any(|r| r.index == link.index),
        backend: "netlink",
    }
}
