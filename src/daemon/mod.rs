//! `boardnet daemon`: the board's network service. The entry point is [`run`].
//!
//! One reactor carries everything: the bearer [`Manager`] (kernel, ConnMan, oFono) and its
//! connectivity check, the control socket and its clients ([`protocol`]), the hooks, the
//! children that run commands which would block (a Wi-Fi scan, opening a bearer session), and
//! the transfer queue, whose running jobs are threads (at most `max_transfers`; see
//! `worker.rs` for why) that report back through the reactor's waker. Jobs are files in the
//! state directory and survive restarts, `kill -9` and power cuts ([`jobs`]).
//!
//! Nothing on the reactor waits on the network: requests are answered from the manager's
//! state; `wait-online` replies when an event meets it; transfers run on their threads.
//! An idle daemon sleeps in one `poll(2)` with no timer armed (unless systemd asked for a
//! watchdog, a connectivity check failed and is retried, or a job waits to be retried).

mod child;
pub mod client;
mod control;
mod hooks;
pub mod jobs;
pub mod json;
mod notify;
pub mod protocol;
mod queue;
mod requests;
mod worker;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::bearer::{
    BackendChoice, BearerError, BearerEvent, Manager, ManagerOptions, Reachability, StateFlags,
};
use crate::error::{Classify, ErrorClass};
use crate::reactor::{Reactor, Ready, TimerId, Token};
use child::Child;
use control::{Incoming, Server};
use hooks::{HookEvent, Hooks};
use jobs::{Job, RetryPolicy, Store};
use notify::Notifier;
use worker::{Reports, Worker};

pub use control::group_id;

/// Where the daemon listens by default.
pub const DEFAULT_CONTROL: &str = "/run/boardnet/control";

/// How the daemon runs. `Config::default()` has the documented defaults.
#[derive(Debug, Clone)]
pub struct Config {
    /// The control socket.
    pub control: PathBuf,
    /// Where jobs are kept.
    pub state_dir: PathBuf,
    /// Hook executables.
    pub hooks_dir: PathBuf,
    /// Group whose members may change things (besides root); also the socket's group.
    pub group: Option<u32>,
    /// The control socket's permissions (0660: root and the group; 0666 lets every local
    /// user read the state, while changes still need root or the group).
    pub socket_mode: u32,
    /// Transfers running at once.
    pub max_transfers: usize,
    /// Control connections at once.
    pub max_clients: usize,
    /// Jobs kept (unfinished and finished); submissions past it are refused.
    pub max_jobs: usize,
    /// Bearer backends.
    pub backend: BackendChoice,
    /// Connectivity check URL.
    pub check_url: Option<String>,
    /// A failed connectivity check is tried again after this long.
    pub check_retry: Duration,
    /// Limit of one connectivity check.
    pub check_timeout: Duration,
    /// Retrying failed attempts.
    pub retry: RetryPolicy,
    /// Finished jobs are forgotten after this long.
    pub keep_finished: Duration,
    /// A hook is killed after this long.
    pub hook_timeout: Duration,
    /// A transfer's connect limit.
    pub connect_timeout: Option<Duration>,
    /// A transfer's longest stall.
    pub idle_timeout: Option<Duration>,
    /// The `boardnet` program, for commands run as children (scan, open, close). The default,
    /// `/proc/self/exe`, is the daemon's own binary even after a package upgrade replaced the
    /// file (a path would then name the new version, or nothing).
    pub program: PathBuf,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            control: PathBuf::from(DEFAULT_CONTROL),
            state_dir: PathBuf::from("/var/lib/boardnet"),
            hooks_dir: PathBuf::from("/etc/boardnet/hooks.d"),
            group: None,
            socket_mode: 0o660,
            max_transfers: 2,
            max_clients: 64,
            max_jobs: 4096,
            backend: BackendChoice::Auto,
            check_url: None,
            check_retry: Duration::from_secs(60),
            check_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            keep_finished: Duration::from_secs(7 * 86400),
            hook_timeout: Duration::from_secs(30),
            connect_timeout: Some(crate::transfer::DEFAULT_CONNECT_TIMEOUT),
            idle_timeout: Some(crate::transfer::DEFAULT_IDLE_TIMEOUT),
            program: PathBuf::from("/proc/self/exe"),
        }
    }
}

/// Why the daemon could not start (or stopped).
#[derive(Debug)]
#[non_exhaustive]
pub enum DaemonError {
    /// A setting is unusable.
    Config(String),
    /// The bearer manager failed.
    Bearer(BearerError),
    /// The control socket could not be set up.
    Control(String),
    /// The state directory cannot be used.
    State(crate::fs::FileError),
    /// The event loop failed.
    Reactor(std::io::Error),
}

impl fmt::Display for DaemonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DaemonError::Config(why) | DaemonError::Control(why) => f.write_str(why),
            DaemonError::Bearer(e) => write!(f, "bearers: {e}"),
            DaemonError::State(e) => write!(f, "state directory: {e}"),
            DaemonError::Reactor(e) => write!(f, "event loop: {e}"),
        }
    }
}

impl std::error::Error for DaemonError {}

impl Classify for DaemonError {
    fn class(&self) -> ErrorClass {
        match self {
            DaemonError::Config(_) => ErrorClass::Usage,
            DaemonError::Bearer(e) => e.class(),
            DaemonError::Control(_) | DaemonError::State(_) => ErrorClass::LocalIo,
            DaemonError::Reactor(_) => ErrorClass::Other,
        }
    }
}

/// Reads the configuration again (SIGHUP, `reload`).
pub type Reload<'a> = &'a mut dyn FnMut() -> Result<Config, String>;

/// A `wait-online` request waiting for its level.
#[derive(Debug)]
struct Wait {
    client: Token,
    id: serde_json::Value,
    level: Reachability,
    timer: Option<(Token, TimerId)>,
}

/// A command running as a child for a client.
#[derive(Debug)]
struct Pending {
    client: Token,
    id: serde_json::Value,
    child: Child,
}

/// The daemon's timers, each under its own token.
#[derive(Debug)]
struct Timers {
    jobs: Token,
    check: Token,
    watchdog: Token,
    prune: Token,
    armed_jobs: Option<TimerId>,
    armed_check: Option<TimerId>,
    armed_prune: Option<TimerId>,
}

struct Daemon<'r> {
    config: Config,
    reload: Reload<'r>,
    reactor: Reactor,
    manager: Manager,
    server: Server,
    store: Store,
    jobs: BTreeMap<u64, Job>,
    workers: HashMap<u64, Worker>,
    reports: Reports,
    hooks: Hooks,
    pending: Vec<Pending>,
    waits: Vec<Wait>,
    notifier: Notifier,
    timers: Timers,
    /// Configurations that were active (for `up`/`down` hooks).
    active: BTreeSet<String>,
    announced_ready: bool,
    status_line: String,
}

/// Run the daemon until SIGTERM or SIGINT (then `Ok`, with running transfers' `.part` kept and
/// their jobs queued on disk). `reload` is called on SIGHUP and for the `reload` command.
pub fn run(config: Config, reload: Reload<'_>) -> Result<(), DaemonError> {
    let mut daemon = Daemon::start(config, reload)?;
    daemon.serve()
}

impl<'r> Daemon<'r> {
    fn start(config: Config, reload: Reload<'r>) -> Result<Daemon<'r>, DaemonError> {
        if config.max_transfers == 0 || config.max_clients == 0 {
            return Err(DaemonError::Config(
                "max-transfers and max-clients must be at least 1".into(),
            ));
        }
        let mut reactor = Reactor::new().map_err(DaemonError::Reactor)?;
        reactor.handle_child_exits().map_err(DaemonError::Reactor)?;
        let store = Store::open(&config.state_dir).map_err(DaemonError::State)?;
        let jobs = queue::load(&store).map_err(DaemonError::State)?;
        let manager = Manager::open(
            &mut reactor,
            ManagerOptions {
                check_url: config.check_url.clone(),
                check_timeout: config.check_timeout,
                backends: config.backend,
                ..ManagerOptions::default()
            },
        )
        .map_err(DaemonError::Bearer)?;
        let server = Server::bind(&mut reactor, &config, config.max_clients)
            .map_err(|e| DaemonError::Control(e.0))?;
        let timers = Timers {
            jobs: reactor.token(),
            check: reactor.token(),
            watchdog: reactor.token(),
            prune: reactor.token(),
            armed_jobs: None,
            armed_check: None,
            armed_prune: None,
        };
        let notifier = Notifier::from_env();
        if let Some(every) = notifier.watchdog {
            reactor.timer(Instant::now() + every, timers.watchdog);
        }
        log::info!(
            "daemon: control {}, state {}, hooks {}, {} job(s) on disk",
            config.control.display(),
            config.state_dir.display(),
            config.hooks_dir.display(),
            jobs.len()
        );
        Ok(Daemon {
            hooks: Hooks::new(config.hooks_dir.clone(), config.hook_timeout),
            reports: Reports::new(reactor.waker()),
            config,
            reload,
            reactor,
            manager,
            server,
            store,
            jobs,
            workers: HashMap::new(),
            pending: Vec::new(),
            waits: Vec::new(),
            notifier,
            timers,
            active: BTreeSet::new(),
            announced_ready: false,
            status_line: String::new(),
        })
    }

    fn serve(&mut self) -> Result<(), DaemonError> {
        let mut ready = Vec::new();
        let mut incoming = Vec::new();
        self.prune();
        loop {
            self.after_events();
            self.reactor
                .turn(&mut ready, None)
                .map_err(DaemonError::Reactor)?;
            for r in ready.drain(..) {
                match r {
                    Ready::Signal(libc::SIGTERM | libc::SIGINT) => {
                        self.shutdown();
                        return Ok(());
                    }
                    Ready::Signal(libc::SIGHUP) => self.reload(),
                    Ready::Signal(_) => self.children_exited(),
                    Ready::Woken => self.worker_reports(),
                    // The manager's own deadlines (its connectivity check) come first.
                    _ if self.manager_handles(&r) => {}
                    Ready::Timer { owner, .. } => self.timer(owner, &r),
                    Ready::Io { .. } => self.io(&r, &mut incoming),
                }
            }
            for request in incoming.drain(..) {
                self.request(request);
            }
        }
    }

    /// Whether `r` was the bearer manager's (a backend's socket, the check's socket or
    /// deadline). A backend's error is logged; the daemon goes on with what it knows.
    fn manager_handles(&mut self, r: &Ready) -> bool {
        self.manager
            .handle(&mut self.reactor, r)
            .unwrap_or_else(|e| {
                log::warn!("bearers: {e}");
                true
            })
    }

    fn io(&mut self, r: &Ready, incoming: &mut Vec<Incoming>) {
        if self.server.handle(&mut self.reactor, r, incoming)
            || self.hooks.handle(&mut self.reactor, r)
        {
            return;
        }
        self.pending_io(r);
    }

    fn timer(&mut self, owner: Token, r: &Ready) {
        let t = &self.timers;
        if owner == t.jobs {
            self.timers.armed_jobs = None;
            self.schedule();
        } else if owner == t.check {
            self.timers.armed_check = None;
            if self.manager.recheck(&mut self.reactor) {
                log::info!("connectivity check: trying again");
            }
        } else if owner == t.watchdog {
            self.notifier.send("WATCHDOG=1");
            if let Some(every) = self.notifier.watchdog {
                self.reactor.timer(Instant::now() + every, owner);
            }
        } else if owner == t.prune {
            self.timers.armed_prune = None;
            self.prune();
        } else if let Some(at) = self
            .waits
            .iter()
            .position(|w| w.timer.is_some_and(|(t, _)| t == owner))
        {
            let wait = self.waits.swap_remove(at);
            let line = protocol::error_reply(
                &wait.id,
                ErrorClass::Timeout,
                "Timeout",
                &format!(
                    "not {} before the timeout: now {}",
                    wait.level,
                    self.manager.reachability()
                ),
            );
            self.server.send(&mut self.reactor, wait.client, &line);
        } else if !self.hooks.handle(&mut self.reactor, r) {
            self.pending_io(r);
        }
    }

    /// Work that follows any batch of events: bearer events out, waits met, jobs scheduled,
    /// timers armed, systemd told.
    fn after_events(&mut self) {
        let mut changed = false;
        while let Some(event) = self.manager.next_event() {
            changed = true;
            self.bearer_event(&event);
        }
        if !self.manager.is_complete() {
            return;
        }
        let first = !self.announced_ready;
        if changed || first {
            self.schedule();
            self.answer_waits();
        }
        // A failed check changes nothing visible, so this looks after every turn.
        self.arm_check_retry();
        if first {
            self.announced_ready = true;
            self.notifier.send("READY=1");
            log::info!("daemon: ready ({})", self.manager.reachability());
        }
        if changed || first {
            self.update_status();
        }
    }

    fn bearer_event(&mut self, event: &BearerEvent) {
        if let Some(line) = json::event_json(&self.manager, event) {
            if self.server.has_subscribers() {
                self.server
                    .broadcast(&mut self.reactor, &protocol::line(&line));
            }
        }
        let hook = match event {
            BearerEvent::OnlineStateChanged(true) => Some(self.bearer_hook("online", None)),
            BearerEvent::OnlineStateChanged(false) => Some(self.bearer_hook("offline", None)),
            BearerEvent::PreferredConfigurationChanged(id) => {
                Some(self.bearer_hook("preferred-changed", id.as_deref()))
            }
            BearerEvent::ConfigurationAdded(id)
            | BearerEvent::ConfigurationChanged(id)
            | BearerEvent::ConfigurationRemoved(id) => self.up_or_down(id),
            _ => None,
        };
        if let Some(hook) = hook {
            self.hooks.push(&mut self.reactor, hook);
        }
    }

    /// `up` when a configuration became active, `down` when it stopped being so.
    fn up_or_down(&mut self, id: &str) -> Option<HookEvent> {
        let active = self
            .manager
            .configuration(id)
            .is_some_and(|c| c.state == StateFlags::Active);
        let was = self.active.contains(id);
        match (was, active) {
            (false, true) => {
                self.active.insert(id.to_string());
                Some(self.bearer_hook("up", Some(id)))
            }
            (true, false) => {
                let event = self.bearer_hook("down", Some(id));
                self.active.remove(id);
                Some(event)
            }
            _ => None,
        }
    }

    /// A bearer hook event, with the configuration's details when there is one.
    fn bearer_hook(&self, name: &'static str, id: Option<&str>) -> HookEvent {
        let mut env = vec![(
            "BOARDNET_REACHABILITY",
            self.manager.reachability().name().to_string(),
        )];
        let id = id.or_else(|| self.manager.default_configuration().map(|c| c.id.as_str()));
        if let Some(id) = id {
            env.push(("BOARDNET_CONFIGURATION", id.to_string()));
            if let Some(c) = self.manager.configuration(id) {
                env.push((
                    "BOARDNET_INTERFACE",
                    c.interface.clone().unwrap_or_default(),
                ));
                env.push(("BOARDNET_BEARER", c.bearer_name().to_string()));
                env.push(("BOARDNET_STATE", c.state.name().to_string()));
            } else if let Some(interface) = id.strip_prefix("netlink:") {
                env.push(("BOARDNET_INTERFACE", interface.to_string()));
            }
        }
        HookEvent {
            name,
            env,
            job_hook: None,
        }
    }

    fn answer_waits(&mut self) {
        self.forget_gone_waits();
        let reached = self.manager.reachability();
        let mut i = 0;
        while i < self.waits.len() {
            if reached >= self.waits[i].level {
                let wait = self.drop_wait(i);
                let result = serde_json::json!({
                    "level": reached.name(),
                    "configuration": self.manager.default_configuration().map(|c| c.id.clone()),
                });
                self.server.send(
                    &mut self.reactor,
                    wait.client,
                    &protocol::ok_reply(&wait.id, result),
                );
            } else {
                i += 1;
            }
        }
    }

    /// Waits of clients that disconnected.
    fn forget_gone_waits(&mut self) {
        let mut i = 0;
        while i < self.waits.len() {
            if self.server.is_connected(self.waits[i].client) {
                i += 1;
            } else {
                self.drop_wait(i);
            }
        }
    }

    fn drop_wait(&mut self, at: usize) -> Wait {
        let wait = self.waits.swap_remove(at);
        if let Some((_, id)) = wait.timer {
            self.reactor.cancel_timer(id);
        }
        wait
    }

    /// A failed connectivity check is tried again on a timer (only while one is needed).
    fn arm_check_retry(&mut self) {
        let wanted = self.manager.has_check_url()
            && self.manager.reachability() == Reachability::Site
            && !self.manager.is_checking();
        match (wanted, self.timers.armed_check) {
            (true, None) => {
                let at = Instant::now() + self.config.check_retry;
                self.timers.armed_check = Some(self.reactor.timer(at, self.timers.check));
            }
            (false, Some(id)) => {
                self.reactor.cancel_timer(id);
                self.timers.armed_check = None;
            }
            _ => {}
        }
    }

    /// systemd's STATUS= line, when it says something new (after bearer and job changes).
    pub(super) fn update_status(&mut self) {
        let running = self.workers.len();
        let waiting = self
            .jobs
            .values()
            .filter(|j| !j.state.is_finished() && j.state != jobs::JobState::Running)
            .count();
        let via = self
            .manager
            .default_configuration()
            .and_then(|c| c.interface.clone())
            .map(|i| format!(" via {i}"))
            .unwrap_or_default();
        let line = format!(
            "{}{via}; {running} transfer(s) running, {waiting} waiting",
            self.manager.reachability()
        );
        if line != self.status_line {
            self.notifier.send(&format!("STATUS={line}"));
            self.status_line = line;
        }
    }

    fn reload(&mut self) {
        match (self.reload)() {
            Ok(new) => self.apply(new),
            Err(e) => log::warn!("reload: {e}: the running configuration stays"),
        }
    }

    fn apply(&mut self, new: Config) {
        let old = &self.config;
        for (what, same) in [
            ("control", old.control == new.control),
            ("state-dir", old.state_dir == new.state_dir),
            ("backend", old.backend == new.backend),
            ("check-url", old.check_url == new.check_url),
            ("check-timeout", old.check_timeout == new.check_timeout),
        ] {
            if !same {
                log::warn!("reload: {what} changes only when the daemon restarts");
            }
        }
        self.hooks
            .reconfigure(new.hooks_dir.clone(), new.hook_timeout);
        self.server.reconfigure(new.group, new.max_clients);
        let keep = Config {
            control: old.control.clone(),
            state_dir: old.state_dir.clone(),
            backend: old.backend,
            check_url: old.check_url.clone(),
            check_timeout: old.check_timeout,
            ..new
        };
        self.config = keep;
        log::info!("reload: configuration and hooks read again");
        self.schedule();
    }

    /// SIGCHLD: hooks and command children may have exited.
    fn children_exited(&mut self) {
        self.hooks
            .handle(&mut self.reactor, &Ready::Signal(libc::SIGCHLD));
        self.pending_io(&Ready::Signal(libc::SIGCHLD));
    }

    fn shutdown(&mut self) {
        log::info!("daemon: stopping");
        self.notifier.send("STOPPING=1");
        self.stop_workers();
        self.hooks.stop();
        for p in &mut self.pending {
            p.child.kill();
        }
        self.server.close();
    }
}
