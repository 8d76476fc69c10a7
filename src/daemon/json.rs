//! The JSON shapes of the bearer state, shared by `boardnet status --json`, `bearer watch
//! --json` and the daemon's `status` and events, so the two can never drift apart.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::bearer::wifi::{mac_text, ssid_text, Wifi, WifiLink};
use crate::bearer::{BearerEvent, BearerFamily, Configuration, Manager, StateFlags};
use crate::reactor::Reactor;

/// How long one nl80211 request for a link's Wi-Fi details may take.
const WIFI_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether `c` is the manager's preferred configuration.
pub fn is_default(manager: &Manager, c: &Configuration) -> bool {
    manager.default_configuration().map(|d| &d.id) == Some(&c.id)
}

/// One configuration.
pub fn configuration_json(c: &Configuration, default: bool) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "type": c.kind.name(),
        "bearer": c.bearer_name(),
        "family": c.family.name(),
        "state": c.state.name(),
        "flags": c.state.flag_names(),
        "interface": c.interface,
        "addresses": c.addresses.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        "default_route": c.default_route,
        "default": default,
        "nameservers": c.nameservers,
        "metered": c.metered,
        "network": c.wifi.as_ref().map(|w| json!({
            "ssid": w.ssid,
            "strength": w.strength,
            "security": w.security,
        })),
        "backend": c.backend,
    })
}

/// The associated access point of a Wi-Fi link.
pub fn wifi_link_json(link: &WifiLink) -> Value {
    json!({
        "ssid": ssid_text(&link.ssid),
        "bssid": mac_text(&link.bssid),
        "frequency_mhz": link.frequency_mhz,
        "signal_dbm": link.signal_dbm,
        "security": link.security,
        "tx_bitrate_mbps": link.tx_bitrate_mbps,
        "rx_bitrate_mbps": link.rx_bitrate_mbps,
        "connected_seconds": link.connected_secs,
    })
}

/// The Wi-Fi links of the wireless configurations, by interface name. Best effort: without
/// nl80211 (or on any error) there are none. Asks the kernel only (no network wait), and only
/// when a wireless configuration is at least discovered.
pub fn wifi_links(reactor: &mut Reactor, manager: &Manager) -> BTreeMap<String, WifiLink> {
    let mut links = BTreeMap::new();
    let wanted: Vec<&String> = manager
        .configurations(StateFlags::Discovered)
        .filter(|c| c.family == BearerFamily::Wlan)
        .filter_map(|c| c.interface.as_ref())
        .collect();
    if wanted.is_empty() {
        return links;
    }
    let result = (|| -> Result<(), crate::bearer::BearerError> {
        let mut wifi = Wifi::open(reactor, WIFI_REQUEST_TIMEOUT)?;
        for i in wifi.interfaces(reactor, WIFI_REQUEST_TIMEOUT)? {
            if wanted.contains(&&i.name) {
                if let Some(link) = wifi.link(reactor, &i, WIFI_REQUEST_TIMEOUT)? {
                    links.insert(i.name.clone(), link);
                }
            }
        }
        Ok(())
    })();
    if let Err(e) = result {
        log::info!("Wi-Fi details: {e}");
    }
    links
}

/// The whole state: what `boardnet status --json` prints and the daemon's `status` returns.
pub fn status_json(manager: &Manager, links: &BTreeMap<String, WifiLink>) -> Value {
    let configs: Vec<Value> = manager
        .configurations(StateFlags::Defined)
        .map(|c| {
            let mut v = configuration_json(c, is_default(manager, c));
            let link = c.interface.as_ref().and_then(|i| links.get(i));
            if let (Value::Object(map), Some(l)) = (&mut v, link) {
                map.insert("wifi".into(), wifi_link_json(l));
            }
            v
        })
        .collect();
    json!({
        "reachability": manager.reachability().name(),
        "online": manager.is_online(),
        "default": manager.default_configuration().map(|c| c.id.clone()),
        "backends": manager.backends(),
        "capabilities": manager.capabilities().names(),
        "technologies": manager.technologies().iter().map(|t| json!({
            "name": t.name,
            "powered": t.powered,
            "connected": t.connected,
        })).collect::<Vec<_>>(),
        "configurations": configs,
    })
}

/// Seconds since the epoch with milliseconds, the `time` of every event.
pub fn unix_time() -> f64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (now.as_secs_f64() * 1e3).round() / 1e3
}

/// A bearer event as `{"event": NAME, "time": …, …}`; `None` for a configuration that is
/// already gone again.
pub fn event_json(manager: &Manager, event: &BearerEvent) -> Option<Value> {
    let (name, mut object) = match event {
        BearerEvent::ConfigurationAdded(id) | BearerEvent::ConfigurationChanged(id) => {
            let name = if matches!(event, BearerEvent::ConfigurationAdded(_)) {
                "added"
            } else {
                "changed"
            };
            let c = manager.configuration(id)?;
            let default = is_default(manager, c);
            (
                name,
                json!({"configuration": configuration_json(c, default)}),
            )
        }
        BearerEvent::ConfigurationRemoved(id) => ("removed", json!({"id": id})),
        BearerEvent::PreferredConfigurationChanged(id) => ("preferred", json!({"id": id})),
        BearerEvent::ReachabilityChanged(level) => ("reachability", json!({"level": level.name()})),
        BearerEvent::OnlineStateChanged(online) => ("online", json!({"online": online})),
        BearerEvent::UpdateCompleted => ("update-completed", json!({})),
    };
    if let Value::Object(map) = &mut object {
        map.insert("event".into(), name.into());
        map.insert("time".into(), unix_time().into());
    }
    Some(object)
}
