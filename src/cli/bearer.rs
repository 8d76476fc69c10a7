//! `boardnet status`, `boardnet bearer list|watch`, `boardnet wait-online`, `boardnet wifi`:
//! bearer management for init scripts.

use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lexopt::prelude::*;
use serde_json::{json, Value};

use super::args::{seconds, text, Globals};
use super::output::{human_bytes, json_line, outln, secs};
use super::{new_reactor, signal_exit, Failure};
use crate::bearer::wifi::{
    mac_text, ssid_text, AccessPoint, ScanEvent, Wifi, WifiInterface, WifiLink, WifiMode,
};
use crate::bearer::{
    BackendChoice, BearerEvent, BearerFamily, Configuration, Manager, ManagerOptions, Reachability,
    StateFlags,
};
use crate::daemon::json::{
    configuration_json, event_json, is_default, status_json, wifi_link_json, wifi_links,
};
use crate::reactor::{Reactor, Ready};

const STATUS_HELP: &str = "\
Usage: boardnet status [--check-url URL] [--backend B] [--json]

This board's bearers: every network configuration (one per interface, loopback left out)
with its bearer type, state and addresses; the default (preferred) configuration; the
reachability level; the capabilities and backends in use.

  --check-url URL      connectivity check: `online` only if a GET of URL answers 2xx
  --backend B          auto (default: the kernel, plus NetworkManager, ConnMan and oFono
                       when they are on the system bus), netlink (the kernel only), connman
                       (ConnMan required), networkmanager or nm (NetworkManager required)
  --json               one object: reachability, online, default, backends, capabilities,
                       technologies (ConnMan's or NetworkManager's), configurations

States: defined (the interface exists), discovered (carrier / in range), active (carrier and
an address usable beyond the link). Reachability: disconnected, local (an active
configuration), site (a default route through one), online (--check-url answered).
";

const BEARER_HELP: &str = "\
Usage: boardnet bearer list [--state STATE] [--backend B] [--json]
       boardnet bearer watch [--check-url URL] [--backend B] [--json]
       boardnet bearer open|close ID [--timeout S] [--backend B] [--json]
       boardnet bearer stats ID [--backend B] [--json]

list: the configurations, one per line (ID BEARER STATE INTERFACE ADDRESSES; * marks the
default one). --state defined|discovered|active shows only those at least that far.
watch: the configurations, then every change as it happens (added, changed, removed,
preferred, reachability, online), one line each with the time, until SIGINT/SIGTERM (exit 0).
Events come from the kernel (rtnetlink), NetworkManager and ConnMan (D-Bus signals), never
from polling.
open: start a session and wait until the configuration is active (--timeout, default 60 s):
ConnMan services are connected (Service.Connect), NetworkManager connections (nm:UUID)
activated (ActivateConnection); kernel links (netlink:IF) cannot be started, so open waits
until the link is active by itself. close: stop a ConnMan service or NetworkManager connection
(Service.Disconnect, DeactivateConnection) and wait until it is no longer active; a kernel
link: exit 11.
stats: bytes received and sent through the configuration's interface, asked from the kernel
now (its IFLA_STATS64 counters; a session's traffic is the difference of two readings).
--backend auto|netlink|connman|networkmanager: as for boardnet status.
";

const WAIT_ONLINE_HELP: &str = "\
Usage: boardnet wait-online [--timeout S] [--level local|site|online] [--check-url URL]
                            [--interface IF]... [--any] [--bearer FAMILY] [--backend B]

Exit 0 as soon as the board reaches the level (event-driven: no sleep loop), 5 on timeout
with what was seen. By default any one interface suffices, so an unplugged second port never
holds up the boot.

  --timeout S          give up after S seconds (default 120; 0 waits forever)
  --level L            local (an address), site (default, a default route) or online (needs
                       --check-url, ConnMan or NetworkManager; the default level when
                       --check-url is given)
  --check-url URL      connectivity check: online when a GET of URL answers 2xx
  --interface IF       only this interface counts (repeatable: all of them must reach the
                       level, unless --any)
  --any                with several --interface: one of them is enough
  --bearer FAMILY      only configurations of this family count: ethernet, wlan, cellular,
                       bluetooth
  --backend B          auto (default), netlink, connman or networkmanager: as for
                       boardnet status

Exit: 0 reached, 5 timed out, 2 bad input, 12 interrupted.
";

/// How long `status` and `list` wait for the kernel's first full answer.
const DUMP_TIMEOUT: Duration = Duration::from_secs(5);

fn bearer_failure(e: &crate::bearer::BearerError) -> Failure {
    Failure::from_error(e)
}

fn backend_choice(parser: &mut lexopt::Parser) -> Result<BackendChoice, Failure> {
    let v = text(parser, "--backend")?;
    BackendChoice::parse(&v).ok_or_else(|| {
        Failure::usage(format!(
            "--backend: \"{v}\" is not one of auto, netlink, connman, networkmanager"
        ))
    })
}

fn open_manager(
    reactor: &mut Reactor,
    check_url: Option<String>,
    backends: BackendChoice,
) -> Result<Manager, Failure> {
    let options = ManagerOptions {
        check_url,
        backends,
        ..ManagerOptions::default()
    };
    Manager::open(reactor, options).map_err(|e| bearer_failure(&e))
}

/// An event loop and a manager with its first full picture (for the one-shot commands).
fn complete_manager(
    check_url: Option<String>,
    backends: BackendChoice,
) -> Result<(Reactor, Manager), Failure> {
    let mut reactor = new_reactor()?;
    let mut manager = open_manager(&mut reactor, check_url, backends)?;
    manager
        .wait_for_update(&mut reactor, DUMP_TIMEOUT)
        .map_err(|e| bearer_failure(&e))?;
    Ok((reactor, manager))
}

/// ID BEARER STATE INTERFACE ADDRESSES, in columns.
fn configuration_line(c: &Configuration) -> String {
    let addresses: Vec<String> = c.addresses.iter().map(|a| a.to_string()).collect();
    table_row(
        &c.id,
        c.bearer_name(),
        c.state.name(),
        c.interface.as_deref(),
        &addresses,
    )
}

/// A row of the configuration table (also `ctl status`, from the daemon's JSON).
pub(super) fn table_row(
    id: &str,
    bearer: &str,
    state: &str,
    interface: Option<&str>,
    addresses: &[impl AsRef<str>],
) -> String {
    let addresses: Vec<&str> = addresses.iter().map(AsRef::as_ref).collect();
    format!(
        "{id:<20} {bearer:<10} {state:<11} {:<10} {}",
        interface.unwrap_or("-"),
        if addresses.is_empty() {
            "-".to_string()
        } else {
            addresses.join(" ")
        }
    )
}

/// The configuration table's header line.
pub(super) fn print_table_header() {
    outln!(
        " {:<20} {:<10} {:<11} {:<10} ADDRESSES",
        "ID",
        "BEARER",
        "STATE",
        "INTERFACE"
    );
}

pub(crate) fn status(
    parser: &mut lexopt::Parser,
    globals: &mut Globals,
) -> Result<ExitCode, Failure> {
    let mut check_url = None;
    let mut backend = BackendChoice::Auto;
    while let Some(arg) = parser.next()? {
        match arg {
            Short('h') | Long("help") => {
                super::output::print_text(STATUS_HELP);
                return Ok(ExitCode::SUCCESS);
            }
            Long("check-url") => check_url = Some(text(parser, "--check-url")?),
            Long("backend") => backend = backend_choice(parser)?,
            other => {
                if !globals.accept(&other) {
                    return Err(other.unexpected().into());
                }
            }
        }
    }
    globals.init_logging();
    let (mut reactor, manager) = complete_manager(check_url.clone(), backend)?;
    let default = manager.default_configuration().map(|c| c.id.clone());
    let links = wifi_links(&mut reactor, &manager);
    if globals.json {
        json_line(&status_json(&manager, &links));
        return Ok(ExitCode::SUCCESS);
    }
    let via = manager
        .default_configuration()
        .map(|c| format!(" (default route via {})", c.name))
        .unwrap_or_default();
    outln!("reachability: {}{via}", manager.reachability());
    let online = match (manager.is_online(), &check_url) {
        (true, Some(url)) => format!("yes ({url} answered)"),
        (false, Some(url)) => format!("no ({url} did not answer)"),
        (_, None) => "not checked (give --check-url URL)".to_string(),
    };
    outln!("online:       {online}");
    outln!("default:      {}", default.as_deref().unwrap_or("none"));
    outln!("backends:     {}", manager.backends().join(", "));
    let technologies: Vec<String> = manager
        .technologies()
        .iter()
        .map(|t| {
            let state = match (t.powered, t.connected) {
                (true, true) => "connected",
                (true, false) => "powered",
                _ => "off",
            };
            format!("{} ({state})", t.name)
        })
        .collect();
    if !technologies.is_empty() {
        outln!("technologies: {}", technologies.join(", "));
    }
    let caps = manager.capabilities().names();
    outln!(
        "capabilities: {}",
        if caps.is_empty() {
            "none".to_string()
        } else {
            caps.join(", ")
        }
    );
    outln!();
    print_table(&manager, StateFlags::Defined);
    for (interface, link) in &links {
        outln!("  {interface}: {}", wifi_link_text(link));
    }
    Ok(ExitCode::SUCCESS)
}

fn print_table(manager: &Manager, at_least: StateFlags) {
    print_table_header();
    for c in manager.configurations(at_least) {
        let mark = if is_default(manager, c) { "*" } else { " " };
        outln!("{mark}{}", configuration_line(c));
    }
}

pub(crate) fn bearer(
    parser: &mut lexopt::Parser,
    globals: &mut Globals,
) -> Result<ExitCode, Failure> {
    let mut action: Option<String> = None;
    let mut ids: Vec<String> = Vec::new();
    let mut at_least = StateFlags::Defined;
    let mut check_url = None;
    let mut backend = BackendChoice::Auto;
    let mut session_timeout = Duration::from_secs(60);
    while let Some(arg) = parser.next()? {
        match arg {
            Short('h') | Long("help") => {
                super::output::print_text(BEARER_HELP);
                return Ok(ExitCode::SUCCESS);
            }
            Long("state") => {
                let v = text(parser, "--state")?;
                at_least = StateFlags::parse(&v).ok_or_else(|| {
                    Failure::usage(format!(
                        "--state: \"{v}\" is not one of defined, discovered, active"
                    ))
                })?;
            }
            Long("check-url") => check_url = Some(text(parser, "--check-url")?),
            Long("backend") => backend = backend_choice(parser)?,
            Long("timeout") => session_timeout = seconds(parser, "--timeout")?,
            Value(v) if action.is_none() => action = Some(v.string()?),
            Value(v) => ids.push(v.string()?),
            other => {
                if !globals.accept(&other) {
                    return Err(other.unexpected().into());
                }
            }
        }
    }
    globals.init_logging();
    let takes_ids = matches!(action.as_deref(), Some("open" | "close" | "stats"));
    if takes_ids && ids.len() != 1 {
        return Err(Failure::usage(
            "bearer open|close|stats: give one configuration ID",
        ));
    }
    if !takes_ids && !ids.is_empty() {
        return Err(Failure::usage(format!("bearer: unexpected \"{}\"", ids[0])));
    }
    match action.as_deref() {
        Some("list") => bearer_list(globals, backend, at_least),
        Some("watch") => bearer_watch(globals, backend, check_url),
        Some(action @ ("open" | "close")) => {
            bearer_session(globals, backend, &ids[0], action == "open", session_timeout)
        }
        Some("stats") => bearer_stats(globals, backend, &ids[0]),
        Some(other) => Err(Failure::usage(format!(
            "bearer: unknown action \"{other}\" (list, watch, open, close, stats)"
        ))),
        None => Err(Failure::usage("bearer: give an action (list or watch)")),
    }
}

fn bearer_session(
    globals: &Globals,
    backend: BackendChoice,
    id: &str,
    open: bool,
    timeout: Duration,
) -> Result<ExitCode, Failure> {
    let (mut reactor, mut manager) = complete_manager(None, backend)?;
    manager
        .set_session(&mut reactor, id, open, timeout)
        .map_err(|e| bearer_failure(&e))?;
    if let Some(c) = manager.configuration(id) {
        if globals.json {
            json_line(&configuration_json(c, is_default(&manager, c)));
        } else {
            outln!("{}", configuration_line(c));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn bearer_stats(globals: &Globals, backend: BackendChoice, id: &str) -> Result<ExitCode, Failure> {
    let (mut reactor, mut manager) = complete_manager(None, backend)?;
    let stats = manager
        .statistics(&mut reactor, id, DUMP_TIMEOUT)
        .map_err(|e| bearer_failure(&e))?;
    let interface = manager
        .configuration(id)
        .and_then(|c| c.interface.clone())
        .unwrap_or_default();
    if globals.json {
        json_line(&json!({
            "id": id,
            "interface": interface,
            "rx_bytes": stats.rx_bytes,
            "tx_bytes": stats.tx_bytes,
        }));
    } else {
        outln!(
            "{id} ({interface}): received {} ({} bytes), sent {} ({} bytes)",
            human_bytes(stats.rx_bytes),
            stats.rx_bytes,
            human_bytes(stats.tx_bytes),
            stats.tx_bytes
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn bearer_list(
    globals: &Globals,
    backend: BackendChoice,
    at_least: StateFlags,
) -> Result<ExitCode, Failure> {
    let (_reactor, manager) = complete_manager(None, backend)?;
    if globals.json {
        for c in manager.configurations(at_least) {
            json_line(&configuration_json(c, is_default(&manager, c)));
        }
    } else {
        print_table(&manager, at_least);
    }
    Ok(ExitCode::SUCCESS)
}

/// Wall-clock time of day (UTC) with milliseconds, for event lines.
pub(super) fn clock() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let s = now.as_secs();
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        (s / 3600) % 24,
        (s / 60) % 60,
        s % 60,
        now.subsec_millis()
    )
}

fn print_event(manager: &Manager, event: &BearerEvent, json: bool) {
    if json {
        if let Some(object) = event_json(manager, event) {
            json_line(&object);
        }
        return;
    }
    let time = clock();
    let config = |id: &str| manager.configuration(id);
    let (name, human) = match event {
        BearerEvent::ConfigurationAdded(id) | BearerEvent::ConfigurationChanged(id) => {
            let name = if matches!(event, BearerEvent::ConfigurationAdded(_)) {
                "added"
            } else {
                "changed"
            };
            let Some(c) = config(id) else { return };
            (name, configuration_line(c))
        }
        BearerEvent::ConfigurationRemoved(id) => ("removed", id.clone()),
        BearerEvent::PreferredConfigurationChanged(id) => {
            ("preferred", id.clone().unwrap_or_else(|| "none".into()))
        }
        BearerEvent::ReachabilityChanged(level) => ("reachability", level.name().to_string()),
        BearerEvent::OnlineStateChanged(online) => {
            ("online", if *online { "yes" } else { "no" }.to_string())
        }
        BearerEvent::UpdateCompleted => ("update-completed", String::new()),
    };
    outln!("{time} {name} {human}");
}

fn bearer_watch(
    globals: &Globals,
    backend: BackendChoice,
    check_url: Option<String>,
) -> Result<ExitCode, Failure> {
    let mut reactor = new_reactor()?;
    let mut manager = open_manager(&mut reactor, check_url, backend)?;
    let mut ready = Vec::new();
    loop {
        while let Some(event) = manager.next_event() {
            print_event(&manager, &event, globals.json);
        }
        reactor
            .turn(&mut ready, None)
            .map_err(super::os_failure("event loop"))?;
        for r in ready.drain(..) {
            if let Ready::Signal(sig) = r {
                if signal_exit(sig) {
                    return Ok(ExitCode::SUCCESS);
                }
            }
            manager
                .handle(&mut reactor, &r)
                .map_err(|e| bearer_failure(&e))?;
        }
    }
}

/// What `wait-online` waits for.
struct Condition {
    level: Reachability,
    interfaces: Vec<String>,
    any: bool,
    family: Option<BearerFamily>,
}

impl Condition {
    /// The level one configuration gives (online: the check passed through it).
    fn level_of(manager: &Manager, c: &Configuration) -> Reachability {
        let level = c.reachability();
        if level == Reachability::Site && manager.is_online() && is_default(manager, c) {
            Reachability::Online
        } else {
            level
        }
    }

    fn counts(&self, c: &Configuration) -> bool {
        self.family.is_none_or(|f| c.family == f)
            && (self.interfaces.is_empty()
                || c.interface
                    .as_ref()
                    .is_some_and(|i| self.interfaces.contains(i)))
    }

    /// The configuration that satisfies the condition (for "all": the last of them).
    fn met<'m>(&self, manager: &'m Manager) -> Option<&'m Configuration> {
        let mut reached = manager
            .configurations(StateFlags::Defined)
            .filter(|c| self.counts(c) && Self::level_of(manager, c) >= self.level);
        if self.interfaces.len() > 1 && !self.any {
            let all: Vec<&Configuration> = reached.collect();
            let every = self
                .interfaces
                .iter()
                .all(|i| all.iter().any(|c| c.interface.as_ref() == Some(i)));
            return every.then(|| all.last().copied()).flatten();
        }
        reached.next()
    }

    /// What was seen, for the timeout message.
    fn seen(&self, manager: &Manager) -> String {
        let mut parts: Vec<String> = manager
            .configurations(StateFlags::Defined)
            .filter(|c| self.counts(c))
            .map(|c| {
                format!(
                    "{} {} ({})",
                    c.name,
                    c.state.name(),
                    Self::level_of(manager, c)
                )
            })
            .collect();
        for i in &self.interfaces {
            if !manager
                .configurations(StateFlags::Defined)
                .any(|c| c.interface.as_ref() == Some(i))
            {
                parts.push(format!("{i} absent"));
            }
        }
        if parts.is_empty() {
            "no matching interface".into()
        } else {
            parts.join(", ")
        }
    }
}

pub(crate) fn wait_online(
    parser: &mut lexopt::Parser,
    globals: &mut Globals,
) -> Result<ExitCode, Failure> {
    let mut timeout = Some(Duration::from_secs(120));
    let mut level = None;
    let mut check_url = None;
    let mut backend = BackendChoice::Auto;
    let mut interfaces = Vec::new();
    let mut any = false;
    let mut family = None;
    while let Some(arg) = parser.next()? {
        match arg {
            Short('h') | Long("help") => {
                super::output::print_text(WAIT_ONLINE_HELP);
                return Ok(ExitCode::SUCCESS);
            }
            Long("timeout") => {
                let t = seconds(parser, "--timeout")?;
                timeout = (!t.is_zero()).then_some(t);
            }
            Long("level") => {
                let v = text(parser, "--level")?;
                level = Some(match Reachability::parse(&v) {
                    Some(l) if l != Reachability::Disconnected => l,
                    _ => {
                        return Err(Failure::usage(format!(
                            "--level: \"{v}\" is not one of local, site, online"
                        )))
                    }
                });
            }
            Long("check-url") => check_url = Some(text(parser, "--check-url")?),
            Long("backend") => backend = backend_choice(parser)?,
            Long("interface") => interfaces.push(text(parser, "--interface")?),
            Long("any") => any = true,
            Long("bearer") => {
                let v = text(parser, "--bearer")?;
                family = Some(BearerFamily::parse(&v).ok_or_else(|| {
                    Failure::usage(format!(
                        "--bearer: \"{v}\" is not one of ethernet, wlan, cellular, bluetooth"
                    ))
                })?);
            }
            other => {
                if !globals.accept(&other) {
                    return Err(other.unexpected().into());
                }
            }
        }
    }
    globals.init_logging();
    let level = match (level, &check_url) {
        (Some(l), _) => l,
        (None, Some(_)) => Reachability::Online,
        (None, None) => Reachability::Site,
    };
    let condition = Condition {
        level,
        interfaces,
        any,
        family,
    };
    let started = Instant::now();
    let deadline = timeout.map(|t| started + t);
    let mut reactor = new_reactor()?;
    let mut manager = open_manager(&mut reactor, check_url, backend)?;
    if level == Reachability::Online && !manager.can_reach_online() {
        return Err(Failure::usage(
            "--level online needs --check-url URL (or ConnMan or NetworkManager, whose own \
             online checks count): boardnet checks connectivity only against a URL you choose",
        ));
    }
    let mut ready = Vec::new();
    loop {
        while manager.next_event().is_some() {}
        if manager.is_complete() {
            if let Some(c) = condition.met(&manager) {
                let took = started.elapsed();
                if globals.json {
                    json_line(&json!({
                        "event": "reached",
                        "level": level.name(),
                        "configuration": c.id,
                        "interface": c.interface,
                        "seconds": secs(took),
                    }));
                } else {
                    log::info!(
                        "{} reached via {} after {:.3} s",
                        level,
                        c.name,
                        took.as_secs_f64()
                    );
                }
                return Ok(ExitCode::SUCCESS);
            }
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(Failure {
                class: crate::ErrorClass::Timeout,
                message: format!(
                    "wait-online: not {level} after {:.1} s: {}",
                    started.elapsed().as_secs_f64(),
                    condition.seen(&manager)
                ),
                help_hint: false,
            });
        }
        reactor
            .turn(&mut ready, deadline)
            .map_err(super::os_failure("event loop"))?;
        for r in ready.drain(..) {
            if let Ready::Signal(sig) = r {
                if signal_exit(sig) {
                    return Err(Failure::from_error(
                        &crate::bearer::BearerError::Interrupted,
                    ));
                }
            }
            manager
                .handle(&mut reactor, &r)
                .map_err(|e| bearer_failure(&e))?;
        }
    }
}

const WIFI_HELP: &str = "\
Usage: boardnet wifi status [--json]
       boardnet wifi scan [--trigger] [--interface IF] [--timeout S] [--json]

Wi-Fi from the kernel (nl80211).
status: every wireless interface with its mode and, for a station, the access point it is
  associated with: SSID, BSSID, frequency, signal (dBm), bitrates.
scan: the networks nearby from the kernel's scan results, strongest first: SSID, BSSID,
  frequency (MHz), signal (dBm), security (none, wep, psk, sae, ieee8021x, owe), age;
  * marks the one associated with. --trigger starts a fresh scan first (needs root) and
  waits for the kernel's scan-done event (up to --timeout, default 15 s); without
  --interface, radios that are down are left out (said on stderr). With NetworkManager on
  the system bus the scan is NetworkManager's (RequestScan, awaited on its LastScan): it
  owns the radios it manages.

Exit: 0 ok, 11 no wireless devices or no nl80211 in this kernel, 5 scan timed out,
1 not permitted to scan (not root), or the interface (every one) is down.
";

/// With NetworkManager on the bus, the scan is its (RequestScan, awaited); true if it ran.
#[cfg(feature = "networkmanager")]
fn scanned_by_networkmanager(
    reactor: &mut Reactor,
    only: Option<&str>,
    timeout: Duration,
) -> Result<bool, Failure> {
    match crate::bearer::wifi::scan_through_networkmanager(reactor, only, timeout) {
        Ok(Some(names)) => {
            log::info!("NetworkManager scanned with {}", names.join(", "));
            Ok(true)
        }
        Ok(None) => Ok(false),
        Err(e) => Err(bearer_failure(&e)),
    }
}

#[cfg(not(feature = "networkmanager"))]
fn scanned_by_networkmanager(
    _: &mut Reactor,
    _: Option<&str>,
    _: Duration,
) -> Result<bool, Failure> {
    Ok(false)
}

/// Limit for one nl80211 request (dumps answer in milliseconds).
const WIFI_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) fn wifi(
    parser: &mut lexopt::Parser,
    globals: &mut Globals,
) -> Result<ExitCode, Failure> {
    let mut action: Option<String> = None;
    let mut trigger = false;
    let mut only: Option<String> = None;
    let mut timeout = Duration::from_secs(15);
    while let Some(arg) = parser.next()? {
        match arg {
            Short('h') | Long("help") => {
                super::output::print_text(WIFI_HELP);
                return Ok(ExitCode::SUCCESS);
            }
            Long("trigger") => trigger = true,
            Long("interface") => only = Some(text(parser, "--interface")?),
            Long("timeout") => timeout = seconds(parser, "--timeout")?,
            Value(v) if action.is_none() => action = Some(v.string()?),
            other => {
                if !globals.accept(&other) {
                    return Err(other.unexpected().into());
                }
            }
        }
    }
    globals.init_logging();
    let scan = match action.as_deref() {
        Some("status") => false,
        Some("scan") => true,
        Some(other) => {
            return Err(Failure::usage(format!(
                "wifi: unknown action \"{other}\" (status, scan)"
            )))
        }
        None => return Err(Failure::usage("wifi: give an action (status or scan)")),
    };
    if !scan && (trigger || only.is_some()) {
        return Err(Failure::usage(
            "--trigger and --interface go with wifi scan",
        ));
    }
    let mut reactor = new_reactor()?;
    let fail = |e: crate::bearer::BearerError| bearer_failure(&e);
    let mut wifi = Wifi::open(&mut reactor, WIFI_REQUEST_TIMEOUT).map_err(fail)?;
    let mut interfaces = wifi
        .interfaces(&mut reactor, WIFI_REQUEST_TIMEOUT)
        .map_err(fail)?;
    if let Some(name) = &only {
        interfaces.retain(|i| &i.name == name);
        if interfaces.is_empty() {
            return Err(Failure::usage(format!(
                "--interface {name}: not a wireless interface"
            )));
        }
    }
    if interfaces.is_empty() {
        return Err(Failure::from_error(
            &crate::bearer::BearerError::Unsupported("no wireless devices".into()),
        ));
    }
    if !scan {
        for i in &interfaces {
            let link = wifi
                .link(&mut reactor, i, WIFI_REQUEST_TIMEOUT)
                .map_err(fail)?;
            print_wifi_interface(i, link.as_ref(), globals.json);
        }
        return Ok(ExitCode::SUCCESS);
    }
    // Scan results are per station-mode interface (an AP does not scan for others).
    interfaces.retain(|i| i.mode == WifiMode::Station);
    if interfaces.is_empty() {
        return Err(Failure::from_error(
            &crate::bearer::BearerError::Unsupported(
                "no wireless interface in station mode to scan with".into(),
            ),
        ));
    }
    if trigger && scanned_by_networkmanager(&mut reactor, only.as_deref(), timeout)? {
        // NetworkManager scanned; the kernel's results below are what it lists.
    } else if trigger {
        // Without --interface, a radio that is down is left out (said on stderr); the scan
        // fails only when no radio could scan.
        let mut down = Vec::new();
        for i in &interfaces {
            match wifi.trigger_scan(&mut reactor, i.index, WIFI_REQUEST_TIMEOUT) {
                Ok(()) => {}
                Err(crate::bearer::BearerError::KernelRefused { errno, .. })
                    if errno == -libc::ENETDOWN =>
                {
                    down.push(i.name.clone())
                }
                Err(other) => return Err(bearer_failure(&other)),
            }
        }
        crate::sort::sort_small(&mut down);
        if !down.is_empty() && (only.is_some() || down.len() == interfaces.len()) {
            let message = match down.as_slice() {
                [one] => format!("{one} is down: bring it up to scan (ip link set {one} up)"),
                all => format!("{} are down: bring one up to scan", all.join(", ")),
            };
            return Err(Failure {
                class: crate::ErrorClass::Other,
                message,
                help_hint: false,
            });
        }
        for name in &down {
            log::warn!("{name} is down: left out of the scan");
        }
        interfaces.retain(|i| !down.contains(&i.name));
        for i in &interfaces {
            match wifi
                .wait_for_scan(&mut reactor, i.index, timeout)
                .map_err(fail)?
            {
                ScanEvent::Aborted(_) => log::warn!("{}: the scan was aborted", i.name),
                _ => log::info!("{}: scan done", i.name),
            }
        }
    }
    if !globals.json {
        outln!(
            " {:<24} {:<17} {:>5} {:>7} {:<12} {:>6} INTERFACE",
            "SSID",
            "BSSID",
            "MHZ",
            "DBM",
            "SECURITY",
            "AGE"
        );
    }
    for i in &interfaces {
        for ap in wifi
            .scan_results(&mut reactor, i.index, WIFI_REQUEST_TIMEOUT)
            .map_err(fail)?
        {
            print_access_point(i, &ap, globals.json);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `connected to "SSID" (BSSID), 2412 MHz, -42 dBm, psk, tx 54.0 Mbit/s`.
fn wifi_link_text(link: &WifiLink) -> String {
    let mut parts = vec![format!(
        "connected to \"{}\" ({})",
        ssid_text(&link.ssid),
        mac_text(&link.bssid)
    )];
    parts.extend(link.frequency_mhz.map(|f| format!("{f} MHz")));
    parts.extend(link.signal_dbm.map(|d| format!("{d} dBm")));
    if !link.security.is_empty() {
        parts.push(link.security.join(","));
    }
    parts.extend(link.tx_bitrate_mbps.map(|r| format!("tx {r:.1} Mbit/s")));
    parts.join(", ")
}

fn print_wifi_interface(i: &WifiInterface, link: Option<&WifiLink>, json: bool) {
    let ssid = i.ssid.as_deref().map(ssid_text);
    if json {
        let mut v = json!({
            "interface": i.name,
            "index": i.index,
            "mode": i.mode.name(),
            "mac": i.mac.as_ref().map(mac_text),
            "ssid": ssid,
            "frequency_mhz": i.frequency_mhz,
            "associated": link.is_some(),
        });
        if let (Value::Object(map), Some(Value::Object(l))) = (&mut v, link.map(wifi_link_json)) {
            map.extend(l);
        }
        json_line(&v);
        return;
    }
    let mac = i.mac.as_ref().map(mac_text).unwrap_or_else(|| "-".into());
    let what = match (i.mode, link, &ssid) {
        (WifiMode::Station, Some(l), _) => wifi_link_text(l),
        (WifiMode::Station, None, _) => "not connected".into(),
        (WifiMode::AccessPoint, _, Some(ssid)) => format!(
            "serving \"{ssid}\"{}",
            i.frequency_mhz
                .map(|f| format!(", {f} MHz"))
                .unwrap_or_default()
        ),
        _ => String::new(),
    };
    outln!("{:<10} {:<8} {mac}  {what}", i.name, i.mode.name());
}

fn print_access_point(i: &WifiInterface, ap: &AccessPoint, json: bool) {
    let ssid = ssid_text(&ap.ssid);
    if json {
        json_line(&json!({
            "interface": i.name,
            "ssid": ssid,
            "bssid": mac_text(&ap.bssid),
            "frequency_mhz": ap.frequency_mhz,
            "signal_dbm": ap.signal_dbm,
            "security": ap.security,
            "age_ms": ap.age_ms,
            "associated": ap.associated,
        }));
        return;
    }
    outln!(
        "{}{:<24} {:<17} {:>5} {:>7} {:<12} {:>6} {}",
        if ap.associated { "*" } else { " " },
        if ssid.is_empty() { "(hidden)" } else { &ssid },
        mac_text(&ap.bssid),
        ap.frequency_mhz,
        ap.signal_dbm
            .map(|d| format!("{d:.1}"))
            .unwrap_or_else(|| "?".into()),
        ap.security.join(","),
        ap.age_ms
            .map(|a| format!("{:.1}s", a as f64 / 1000.0))
            .unwrap_or_else(|| "?".into()),
        i.name
    );
}
