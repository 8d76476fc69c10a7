//! The bearer manager (Qt's QNetworkConfigurationManager + QNetworkInformation): merges what
//! the backends report into configurations, works out the preferred one and the reachability
//! level, and queues events when any of it changes.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[cfg(any(feature = "connman", feature = "networkmanager"))]
use crate::bearer::bus::BusBackend;
use crate::bearer::check::{Checker, Outcome};
#[cfg(feature = "connman")]
use crate::bearer::connman::Connman;
use crate::bearer::error::BearerError;
use crate::bearer::model::{
    BearerEvent, BearerFamily, BearerType, Capabilities, Configuration, ConfigurationType,
    InterfaceAddress, LinkStatistics, Reachability, StateFlags,
};
use crate::bearer::netlink::route::{Link, RouteTable};
use crate::bearer::netlink::{sysfs, RouteMonitor};
#[cfg(feature = "networkmanager")]
use crate::bearer::networkmanager::NetworkManager;
#[cfg(feature = "connman")]
use crate::bearer::ofono::Ofono;
use crate::reactor::queue::EventQueue;
use crate::reactor::{Reactor, Ready};

/// How the manager works.
#[derive(Debug, Clone)]
pub struct ManagerOptions {
    /// Connectivity check: `online` is reached only after a GET of this URL answers 2xx
    /// through the preferred configuration. Without it the top level is `site`. The check
    /// runs on the reactor (its socket is one more source there), so events keep flowing while
    /// it waits; redirects are not followed and no proxy is used.
    pub check_url: Option<String>,
    /// Limit for one connectivity check (connect + answer).
    pub check_timeout: Duration,
    /// Where interfaces are described (`/sys/class/net`; tests point it elsewhere).
    pub sysfs_class_net: PathBuf,
    /// Which backends to run besides the kernel's (always on).
    pub backends: BackendChoice,
}

/// The kernel (netlink) backend always runs; this chooses the D-Bus ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// NetworkManager, ConnMan and oFono when they are on the system bus.
    #[default]
    Auto,
    /// The kernel only.
    Netlink,
    /// ConnMan must be there (an error otherwise); oFono when present.
    Connman,
    /// NetworkManager must be there (an error otherwise).
    NetworkManager,
}

impl BackendChoice {
    /// Every choice, in the order help texts list them.
    pub const ALL: [BackendChoice; 4] = [
        BackendChoice::Auto,
        BackendChoice::Netlink,
        BackendChoice::Connman,
        BackendChoice::NetworkManager,
    ];

    /// The choice's name (`auto`, `netlink`, `connman`, `networkmanager`).
    pub fn name(self) -> &'static str {
        match self {
            BackendChoice::Auto => "auto",
            BackendChoice::Netlink => "netlink",
            BackendChoice::Connman => "connman",
            BackendChoice::NetworkManager => "networkmanager",
        }
    }

    /// A choice from its name; `nm` is short for `networkmanager`.
    pub fn parse(text: &str) -> Option<BackendChoice> {
        if text == "nm" {
            return Some(BackendChoice::NetworkManager);
        }
        BackendChoice::ALL.into_iter().find(|c| c.name() == text)
    }
}

impl Default for ManagerOptions {
    fn default() -> Self {
        ManagerOptions {
            check_url: None,
            check_timeout: Duration::from_secs(5),
            sysfs_class_net: PathBuf::from("/sys/class/net"),
            backends: BackendChoice::Auto,
        }
    }
}

/// All configurations and the board's reachability, kept current from pushed events.
#[derive(Debug)]
pub struct Manager {
    route: RouteMonitor,
    #[cfg(feature = "connman")]
    connman: Option<Connman>,
    #[cfg(feature = "connman")]
    ofono: Option<Ofono>,
    #[cfg(feature = "networkmanager")]
    nm: Option<NetworkManager>,
    /// With `auto`: NetworkManager, ConnMan and oFono coming and going on the bus.
    #[cfg(any(feature = "connman", feature = "networkmanager"))]
    names: Option<crate::bearer::bus::NameWatch>,
    options: ManagerOptions,
    configs: BTreeMap<String, Configuration>,
    preferred: Option<String>,
    reachability: Reachability,
    /// The preferred configuration the connectivity check last passed through.
    checked: Option<String>,
    checker: Checker,
    /// A check through this configuration is to start at the next reactor event (refreshes
    /// happen where no reactor is at hand).
    check_wanted: Option<String>,
    events: EventQueue<BearerEvent>,
    complete: bool,
    /// Bearer type of each link by (index, name): sysfs is read once per link, not on every
    /// change.
    link_types: HashMap<(u32, String), (BearerType, BearerFamily)>,
}

/// The bus names of the D-Bus daemons the `auto` backends follow.
#[cfg(feature = "connman")]
const CONNMAN_NAME: &str = "net.connman";
#[cfg(feature = "connman")]
const OFONO_NAME: &str = "org.ofono";
#[cfg(feature = "networkmanager")]
const NM_NAME: &str = crate::bearer::networkmanager::SERVICE;
#[cfg(any(feature = "connman", feature = "networkmanager"))]
const WATCHED_NAMES: &[&str] = &[
    #[cfg(feature = "connman")]
    CONNMAN_NAME,
    #[cfg(feature = "connman")]
    OFONO_NAME,
    #[cfg(feature = "networkmanager")]
    NM_NAME,
];

/// Configuration identifiers of kernel links.
const NETLINK_PREFIX: &str = "netlink:";

impl Manager {
    /// Start following the kernel's links on `reactor`. The picture is complete after the
    /// [`BearerEvent::UpdateCompleted`] event (or [`wait_for_update`](Self::wait_for_update)).
    pub fn open(reactor: &mut Reactor, options: ManagerOptions) -> Result<Manager, BearerError> {
        let missing = match options.backends {
            BackendChoice::Connman if !cfg!(feature = "connman") => Some("ConnMan"),
            BackendChoice::NetworkManager if !cfg!(feature = "networkmanager") => {
                Some("NetworkManager")
            }
            _ => None,
        };
        if let Some(label) = missing {
            return Err(BearerError::Unsupported(format!(
                "this build has no {label} backend (cargo feature {})",
                options.backends.name()
            )));
        }
        #[cfg(feature = "connman")]
        let connman = open_backend(
            Want::of(options.backends, BackendChoice::Connman),
            "ConnMan",
            || Connman::open(reactor),
        )?;
        // oFono is asked for whenever ConnMan may be (it names ConnMan's modems), never required.
        #[cfg(feature = "connman")]
        let ofono = open_backend(
            Want::of(options.backends, BackendChoice::Connman).when_present(),
            "oFono",
            || Ofono::open(reactor),
        )?;
        let mut manager = Manager {
            route: RouteMonitor::open(reactor)?,
            #[cfg(feature = "connman")]
            connman,
            #[cfg(feature = "connman")]
            ofono,
            #[cfg(feature = "networkmanager")]
            nm: open_backend(
                Want::of(options.backends, BackendChoice::NetworkManager),
                "NetworkManager",
                || NetworkManager::open(reactor),
            )?,
            #[cfg(any(feature = "connman", feature = "networkmanager"))]
            names: (options.backends == BackendChoice::Auto)
                .then(|| crate::bearer::bus::NameWatch::open(reactor, WATCHED_NAMES))
                .flatten(),
            options,
            configs: BTreeMap::new(),
            preferred: None,
            reachability: Reachability::Disconnected,
            checked: None,
            checker: Checker::new(reactor),
            check_wanted: None,
            events: EventQueue::with_bound(Manager::EVENT_BOUND),
            complete: false,
            link_types: HashMap::new(),
        };
        // Signals that came during the daemons' start-up calls wait in their connections' queues.
        #[cfg(any(feature = "connman", feature = "networkmanager"))]
        manager.drain_dbus()?;
        manager.start_wanted_check(reactor);
        Ok(manager)
    }

    /// Let the manager see a reactor event; true if it was one of its sources. (The reactor
    /// drives the connectivity check's socket and deadline.)
    pub fn handle(&mut self, reactor: &mut Reactor, ready: &Ready) -> Result<bool, BearerError> {
        #[cfg(any(feature = "connman", feature = "networkmanager"))]
        if self.bus_names_changed(reactor, ready)? {
            return Ok(true);
        }
        let (mut ours, outcome) = self.checker.handle(reactor, ready);
        if let Some(Outcome { via, passed }) = outcome {
            if passed && self.site_configuration().as_deref() == Some(via.as_str()) {
                self.checked = Some(via);
            }
            self.update_reachability(false);
        }
        ours |= self.handle_backends(ready)?;
        self.start_wanted_check(reactor);
        Ok(ours)
    }

    /// The kernel's and the D-Bus daemons' events; true if `ready` was theirs.
    fn handle_backends(&mut self, ready: &Ready) -> Result<bool, BearerError> {
        let Ready::Io { token, .. } = ready else {
            return Ok(false);
        };
        let mut changed = false;
        let mut ours = false;
        if *token == self.route.token() {
            ours = true;
            changed = self.route.handle(ready)?;
        }
        #[cfg(feature = "connman")]
        if let Some(c) = self.connman.as_mut().filter(|c| c.token() == *token) {
            ours = true;
            changed |= c.handle(ready)?;
        }
        #[cfg(feature = "connman")]
        if let Some(o) = self.ofono.as_mut().filter(|o| o.token() == *token) {
            ours = true;
            changed |= o.handle(ready)?;
        }
        #[cfg(feature = "networkmanager")]
        if let Some(nm) = self.nm.as_mut().filter(|nm| nm.token() == *token) {
            ours = true;
            changed |= nm.handle(ready)?;
        }
        if changed && self.route.is_synced() {
            self.refresh();
        }
        Ok(ours)
    }

    /// The kernel socket that becomes readable when links, addresses or routes change: for
    /// waits outside the reactor (a blocking transfer's poll) to watch; then call
    /// [`process_events`](Self::process_events).
    pub fn event_fd(&self) -> std::os::fd::RawFd {
        self.route.raw_fd()
    }

    /// Read whatever the backends have now, without a reactor event. (A connectivity check
    /// this makes necessary starts at the next [`handle`](Self::handle).)
    pub fn process_events(&mut self) -> Result<(), BearerError> {
        let route = Ready::Io {
            token: self.route.token(),
            readable: true,
            writable: false,
            closed: false,
        };
        self.handle_backends(&route)?;
        #[cfg(any(feature = "connman", feature = "networkmanager"))]
        self.drain_dbus()?;
        Ok(())
    }

    /// Check connectivity again now, if a check URL is set, the level is `site` and no check
    /// is running (a daemon's retry timer: a failed check is otherwise repeated only on the
    /// next change). True if a check started.
    pub fn recheck(&mut self, reactor: &mut Reactor) -> bool {
        if self.checked.is_some() || self.is_checking() || self.options.check_url.is_none() {
            return false;
        }
        self.check_wanted = self.site_configuration();
        self.start_wanted_check(reactor);
        self.is_checking()
    }

    /// Whether a connectivity check URL is set (so `online` can be reached by our own check).
    pub fn has_check_url(&self) -> bool {
        self.options.check_url.is_some()
    }

    /// Whether `online` can be reached at all: our own check URL, or a daemon whose own
    /// check counts (ConnMan's online state, NetworkManager's Connectivity).
    pub fn can_reach_online(&self) -> bool {
        self.has_check_url()
            || self
                .dbus_backends()
                .any(|b| b == "connman" || b == "networkmanager")
    }

    /// Start the check a refresh asked for.
    fn start_wanted_check(&mut self, reactor: &mut Reactor) {
        let Some(via) = self.check_wanted.take() else {
            return;
        };
        let Some(url) = self.options.check_url.as_deref() else {
            return;
        };
        if let Err(e) = self
            .checker
            .start(reactor, url, &via, self.options.check_timeout)
        {
            log::warn!("connectivity check {url}: {e}");
        }
    }

    /// At most this many events wait untaken (a board's links and services with room to
    /// spare); past it the oldest are dropped and counted in
    /// [`events_dropped`](Self::events_dropped).
    pub const EVENT_BOUND: usize = 1024;

    /// The next event, oldest first.
    pub fn next_event(&mut self) -> Option<BearerEvent> {
        self.events.pop()
    }

    /// Events dropped because more than [`EVENT_BOUND`](Self::EVENT_BOUND) waited untaken.
    pub fn events_dropped(&self) -> u64 {
        self.events.dropped()
    }

    /// Whether the first full picture has arrived.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// Whether a connectivity check is under way (its answer comes as an event on the
    /// reactor; until then the level stays `site`).
    pub fn is_checking(&self) -> bool {
        self.checker.running_via().is_some() || self.check_wanted.is_some()
    }

    /// Block until the first full picture has arrived (events for other sources are handed
    /// back to the loop). A connectivity check under way is waited for too (it is bounded by
    /// its own timeout).
    pub fn wait_for_update(
        &mut self,
        reactor: &mut Reactor,
        timeout: Duration,
    ) -> Result<(), BearerError> {
        let deadline = Instant::now() + timeout;
        while !self.complete || self.is_checking() {
            self.turn(reactor, deadline, timeout)?;
        }
        Ok(())
    }

    /// One turn of `reactor` for a blocking helper: our events handled, others handed back
    /// to the loop; SIGINT/SIGTERM interrupt; past `deadline` it is a timeout of `timeout`.
    fn turn(
        &mut self,
        reactor: &mut Reactor,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<(), BearerError> {
        if Instant::now() >= deadline {
            return Err(BearerError::Timeout(timeout));
        }
        let mut ready = Vec::new();
        reactor
            .turn_blocking(&mut ready, Some(deadline))
            .map_err(BearerError::Reactor)?;
        for r in ready {
            if let Ready::Signal(sig) = r {
                if sig == libc::SIGINT || sig == libc::SIGTERM {
                    return Err(BearerError::Interrupted);
                }
            }
            if !self.handle(reactor, &r)? {
                reactor.defer([r]);
            }
        }
        Ok(())
    }

    /// Configurations at or above `at_least` (Qt's allConfigurations(flags)), by identifier.
    pub fn configurations(&self, at_least: StateFlags) -> impl Iterator<Item = &Configuration> {
        self.configs.values().filter(move |c| c.state >= at_least)
    }

    /// The configuration with identifier `id`.
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

    /// How far the board can reach now.
    pub fn reachability(&self) -> Reachability {
        self.reachability
    }

    /// Online in the strict sense: the connectivity check passed (Qt's isOnline conflated this
    /// with "a link is up"; boardnet keeps them apart — see [`reachability`](Self::reachability)).
    pub fn is_online(&self) -> bool {
        self.reachability == Reachability::Online
    }

    /// What the backends really do: netlink routes by interface (SO_BINDTODEVICE); ConnMan
    /// and NetworkManager start and stop services and connections.
    pub fn capabilities(&self) -> Capabilities {
        let caps = Capabilities::DIRECT_CONNECTION_ROUTING | Capabilities::DATA_STATISTICS;
        if self
            .dbus_backends()
            .any(|b| b == "connman" || b == "networkmanager")
        {
            return caps | Capabilities::CAN_START_AND_STOP_INTERFACES;
        }
        caps
    }

    /// The link technologies ConnMan or NetworkManager manages (none without either).
    pub fn technologies(&self) -> Vec<crate::bearer::Technology> {
        #[cfg(feature = "connman")]
        if let Some(c) = &self.connman {
            return c.technologies.iter().map(|(_, t)| t.clone()).collect();
        }
        #[cfg(feature = "networkmanager")]
        if let Some(nm) = &self.nm {
            return nm.picture.technologies();
        }
        Vec::new()
    }

    /// The backends in use.
    pub fn backends(&self) -> Vec<&'static str> {
        std::iter::once("netlink")
            .chain(self.dbus_backends())
            .collect()
    }

    fn dbus_backends(&self) -> impl Iterator<Item = &'static str> {
        let running = std::iter::empty::<&'static str>();
        #[cfg(feature = "networkmanager")]
        let running = running.chain(self.nm.as_ref().map(|_| "networkmanager"));
        #[cfg(feature = "connman")]
        let running = running
            .chain(self.connman.as_ref().map(|_| "connman"))
            .chain(self.ofono.as_ref().map(|_| "ofono"));
        running
    }

    /// Current byte counters of configuration `id`'s interface, asked from the kernel now
    /// (Qt's QNetworkSession::bytesReceived/bytesWritten are differences of two of these).
    pub fn statistics(
        &mut self,
        reactor: &mut Reactor,
        id: &str,
        timeout: Duration,
    ) -> Result<LinkStatistics, BearerError> {
        let interface = self
            .configs
            .get(id)
            .and_then(|c| c.interface.clone())
            .ok_or_else(|| BearerError::UnknownConfiguration(id.to_string()))?;
        let index_of = |table: &RouteTable| {
            table
                .links
                .values()
                .find(|l| l.name == interface)
                .map(|l| l.index)
        };
        let index = index_of(self.route.table())
            .ok_or_else(|| BearerError::UnknownConfiguration(id.to_string()))?;
        self.route.request_link(index)?;
        let deadline = Instant::now() + timeout;
        while !self.route.link_answered() {
            self.turn(reactor, deadline, timeout)?;
        }
        let link = self
            .route
            .table()
            .links
            .get(&index)
            .ok_or_else(|| BearerError::UnknownConfiguration(id.to_string()))?;
        Ok(LinkStatistics {
            rx_bytes: link.rx_bytes,
            tx_bytes: link.tx_bytes,
        })
    }

    /// Open a session on configuration `id` and wait until it is active (ConnMan: Service.Connect;
    /// a kernel link: it cannot be started, so wait until it is active by itself); or close it
    /// (ConnMan: Service.Disconnect) and wait until it is not. Closing a kernel link is
    /// [`BearerError::Unsupported`]: netlink cannot stop interfaces here.
    pub fn set_session(
        &mut self,
        reactor: &mut Reactor,
        id: &str,
        open: bool,
        timeout: Duration,
    ) -> Result<(), BearerError> {
        let deadline = Instant::now() + timeout;
        #[cfg(feature = "networkmanager")]
        if let Some(nm) = self
            .nm
            .as_mut()
            .filter(|_| id.starts_with(crate::bearer::networkmanager::ID_PREFIX))
        {
            nm.set_active(id, open, timeout)?;
            self.drain_dbus()?;
            return self.wait_for_state(reactor, id, open, deadline, timeout);
        }
        #[cfg(feature = "connman")]
        if let Some(connman) = &mut self.connman {
            if let Some(path) = connman.path_of(id).map(str::to_string) {
                connman.connect(&path, open, timeout)?;
                self.drain_dbus()?;
                return self.wait_for_state(reactor, id, open, deadline, timeout);
            }
        }
        if !self.configs.contains_key(id) {
            return Err(BearerError::UnknownConfiguration(id.to_string()));
        }
        if !open {
            return Err(BearerError::Unsupported(format!(
                "{id}: the netlink backend cannot stop interfaces (ConnMan services and NetworkManager connections can be closed)"
            )));
        }
        self.wait_for_state(reactor, id, true, deadline, timeout)
    }

    /// Block until configuration `id` is active (`active`) or not.
    fn wait_for_state(
        &mut self,
        reactor: &mut Reactor,
        id: &str,
        active: bool,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<(), BearerError> {
        loop {
            let is_active = self
                .configs
                .get(id)
                .is_some_and(|c| c.state == StateFlags::Active);
            if is_active == active {
                return Ok(());
            }
            self.turn(reactor, deadline, timeout)?;
        }
    }

    /// NetworkManager, ConnMan or oFono started or stopped (with `auto`): open or let go of
    /// its backend. True if `ready` was the watch's.
    #[cfg(any(feature = "connman", feature = "networkmanager"))]
    fn bus_names_changed(
        &mut self,
        reactor: &mut Reactor,
        ready: &Ready,
    ) -> Result<bool, BearerError> {
        let Some(names) = self.names.as_mut() else {
            return Ok(false);
        };
        if !matches!(ready, Ready::Io { token, .. } if *token == names.token()) {
            return Ok(false);
        }
        for (name, owned) in names.changes() {
            log::info!(
                "{name} {} the system bus",
                if owned { "came onto" } else { "left" }
            );
            match name.as_str() {
                #[cfg(feature = "networkmanager")]
                NM_NAME => follow(&mut self.nm, owned, "NetworkManager", || {
                    NetworkManager::open(reactor)
                }),
                #[cfg(feature = "connman")]
                CONNMAN_NAME => follow(&mut self.connman, owned, "ConnMan", || {
                    Connman::open(reactor)
                }),
                #[cfg(feature = "connman")]
                OFONO_NAME => follow(&mut self.ofono, owned, "oFono", || Ofono::open(reactor)),
                _ => {}
            }
        }
        self.drain_dbus()?;
        if self.route.is_synced() {
            self.refresh();
        }
        Ok(true)
    }

    /// Apply the D-Bus signals queued during a blocking call.
    #[cfg(any(feature = "connman", feature = "networkmanager"))]
    fn drain_dbus(&mut self) -> Result<(), BearerError> {
        let mut changed = false;
        #[cfg(feature = "connman")]
        if let Some(c) = self.connman.as_mut() {
            changed |= c.drain()?;
        }
        #[cfg(feature = "connman")]
        if let Some(o) = self.ofono.as_mut() {
            changed |= o.drain()?;
        }
        #[cfg(feature = "networkmanager")]
        if let Some(nm) = self.nm.as_mut() {
            changed |= nm.drain()?;
        }
        if changed && self.route.is_synced() {
            self.refresh();
        }
        Ok(())
    }

    /// Rebuild configurations from the kernel's table and queue what changed.
    fn refresh(&mut self) {
        let table = self.route.table();
        let preferred_index = table.preferred_default().map(|r| r.index);
        let mut fresh = BTreeMap::new();
        let mut preferred = None;
        self.link_types
            .retain(|(index, name), _| table.links.get(index).is_some_and(|l| &l.name == name));
        for link in table.links.values().filter(|l| !l.is_loopback()) {
            let class_net = &self.options.sysfs_class_net;
            let (bearer, family) = *self
                .link_types
                .entry((link.index, link.name.clone()))
                .or_insert_with(|| sysfs::classify(class_net, &link.name, link.hw_type));
            let c = configuration_of(link, table, bearer, family);
            if Some(link.index) == preferred_index && c.state == StateFlags::Active {
                preferred = Some(c.id.clone());
            }
            fresh.insert(c.id.clone(), c);
        }
        #[cfg(feature = "connman")]
        if let Some(connman) = &self.connman {
            for service in &connman.services {
                let mut c = service.configuration();
                c.default_route = c.state == StateFlags::Active
                    && connman.preferred().is_some_and(|p| p.path == service.path);
                fresh.insert(c.id.clone(), c);
            }
            // ConnMan's service order decides, where it has a connected service.
            if let Some(p) = connman.preferred() {
                preferred = Some(p.configuration().id);
            }
        }
        // NetworkManager's primary connection decides, where it has one.
        #[cfg(feature = "networkmanager")]
        if let Some(nm) = &self.nm {
            for c in nm.picture.configurations() {
                fresh.insert(c.id.clone(), c);
            }
            if let Some(p) = nm.picture.preferred().filter(|p| fresh.contains_key(p)) {
                preferred = Some(p);
            }
        }
        // oFono knows which interfaces are a modem's and on which technology it is.
        #[cfg(feature = "connman")]
        if let Some(ofono) = &self.ofono {
            let only_modem = match ofono.modems.as_slice() {
                [one] => Some(one),
                _ => None,
            };
            for c in fresh.values_mut() {
                let modem = c.interface.as_deref().and_then(|i| ofono.modem_of(i));
                // A ConnMan cellular service names no modem: with one modem, it is that one.
                let modem = modem.or(only_modem.filter(|_| c.family == BearerFamily::Cellular));
                if let Some(m) = modem {
                    c.family = BearerFamily::Cellular;
                    c.bearer = m.bearer();
                }
            }
        }
        for id in self.configs.keys() {
            if !fresh.contains_key(id) {
                self.events
                    .push(BearerEvent::ConfigurationRemoved(id.clone()));
            }
        }
        for (id, c) in &fresh {
            match self.configs.get(id) {
                None => self
                    .events
                    .push(BearerEvent::ConfigurationAdded(id.clone())),
                Some(old) if old != c => self
                    .events
                    .push(BearerEvent::ConfigurationChanged(id.clone())),
                Some(_) => {}
            }
        }
        self.configs = fresh;
        if preferred != self.preferred {
            self.preferred = preferred.clone();
            // The first picture names its preferred configuration too (watchers see it).
            if self.complete || preferred.is_some() {
                self.events
                    .push(BearerEvent::PreferredConfigurationChanged(preferred));
            }
        }
        self.update_reachability(true);
        if !self.complete {
            self.complete = true;
            self.events.push(BearerEvent::UpdateCompleted);
        }
    }

    /// Work out the level; `start_check`: a change came in, so a connectivity check that is
    /// needed and not running starts (a finished check does not start the next one: a URL
    /// that fails is tried again on the next change, not in a loop).
    fn update_reachability(&mut self, start_check: bool) {
        let mut level = self
            .configs
            .values()
            .map(Configuration::reachability)
            .max()
            .unwrap_or(Reachability::Disconnected);
        // ConnMan's own online check counts as the connectivity check.
        #[cfg(feature = "connman")]
        if let Some(connman) = &self.connman {
            level = level.max(crate::bearer::connman::reachability_of(&connman.state));
        }
        // So does NetworkManager's (Connectivity FULL).
        #[cfg(feature = "networkmanager")]
        if let Some(nm) = &self.nm {
            level = level.max(nm.picture.reachability());
        }
        let via = self.site_configuration();
        if level == Reachability::Online {
            // ConnMan said so; our own check is not needed.
        } else if level == Reachability::Site && via.is_some() {
            if self.checked != via {
                self.checked = None;
                let running = self.checker.running_via().or(self.check_wanted.as_deref());
                if start_check && self.options.check_url.is_some() && running != via.as_deref() {
                    self.check_wanted = via.clone();
                }
            }
            if self.checked.is_some() {
                level = Reachability::Online;
            }
        } else {
            self.checked = None;
            self.check_wanted = None;
            self.checker.stop();
        }
        if level != self.reachability {
            let was_online = self.is_online();
            self.reachability = level;
            self.events.push(BearerEvent::ReachabilityChanged(level));
            if was_online != self.is_online() {
                self.events
                    .push(BearerEvent::OnlineStateChanged(self.is_online()));
            }
        }
    }

    /// The preferred configuration if it reaches `site` (what a connectivity check goes
    /// through).
    fn site_configuration(&self) -> Option<String> {
        self.default_configuration()
            .filter(|c| c.reachability() == Reachability::Site)
            .map(|c| c.id.clone())
    }
}

/// How a backend choice asks for one D-Bus backend.
#[cfg(any(feature = "connman", feature = "networkmanager"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Not,
    IfPresent,
    Required,
}

#[cfg(any(feature = "connman", feature = "networkmanager"))]
impl Want {
    /// `required` is the choice that insists on the backend; `auto` takes it when present.
    fn of(choice: BackendChoice, required: BackendChoice) -> Want {
        match choice {
            c if c == required => Want::Required,
            BackendChoice::Auto => Want::IfPresent,
            _ => Want::Not,
        }
    }

    /// At most "if present" (a backend no choice insists on).
    #[cfg(feature = "connman")]
    fn when_present(self) -> Want {
        match self {
            Want::Required => Want::IfPresent,
            other => other,
        }
    }
}

/// Open a D-Bus backend as `want` says: not at all; when present, carrying on without it if
/// it is absent or fails; or required, absence being an error.
#[cfg(any(feature = "connman", feature = "networkmanager"))]
fn open_backend<B>(
    want: Want,
    label: &str,
    open: impl FnOnce() -> Result<Option<B>, BearerError>,
) -> Result<Option<B>, BearerError> {
    match want {
        Want::Not => Ok(None),
        Want::IfPresent => Ok(optional(label, open())),
        Want::Required => open()?.map(Some).ok_or_else(|| {
            BearerError::Unsupported(format!(
                "{label} was asked for, but {label} is not on the system bus"
            ))
        }),
    }
}

/// An optional backend: a failure is logged and the kernel's view carries on.
#[cfg(any(feature = "connman", feature = "networkmanager"))]
fn optional<B>(label: &str, opened: Result<Option<B>, BearerError>) -> Option<B> {
    opened.unwrap_or_else(|e| {
        log::warn!("{e}: carrying on without {label}");
        None
    })
}

/// A backend whose daemon came onto the bus (`owned`) is opened if it is not yet; one whose
/// daemon left is let go.
#[cfg(any(feature = "connman", feature = "networkmanager"))]
fn follow<B>(
    slot: &mut Option<B>,
    owned: bool,
    label: &str,
    open: impl FnOnce() -> Result<Option<B>, BearerError>,
) {
    if !owned {
        *slot = None;
    } else if slot.is_none() {
        *slot = optional(label, open());
    }
}

/// A kernel link as a configuration: Defined when it exists, Discovered with carrier,
/// Active with carrier and an address usable beyond the link.
fn configuration_of(
    link: &Link,
    table: &RouteTable,
    bearer: BearerType,
    family: BearerFamily,
) -> Configuration {
    let mut addresses: Vec<InterfaceAddress> = table
        .addresses_of(link.index)
        .map(|a| InterfaceAddress {
            address: a.address,
            prefix_len: a.prefix_len,
        })
        .collect();
    crate::sort::sort_small(&mut addresses);
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
        nameservers: Vec::new(),
        wifi: None,
        metered: None,
        backend: "netlink",
    }
}
