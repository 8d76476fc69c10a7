//! oFono over D-Bus: which network interfaces belong to a modem (its active contexts'
//! Settings.Interface) and the radio technology it is registered on (NetworkRegistration
//! Technology) — the cellular generation the kernel cannot tell. Technology changes arrive as
//! PropertyChanged signals on the reactor.

use crate::bearer::bus::{BusBackend, ServiceBus, CALL_TIMEOUT};
use crate::bearer::connman::{dict, objects, property};
use crate::bearer::error::BearerError;
use crate::bearer::model::BearerType;
use crate::dbus::message::Message;
use crate::dbus::wire::Value;
use crate::reactor::Reactor;

const SERVICE: &str = "org.ofono";

/// The bearer type of an oFono technology (gsm, edge, umts, hspa, lte).
pub(crate) fn bearer_of(technology: &str) -> BearerType {
    match technology {
        "gsm" | "edge" => BearerType::Bearer2G,
        "umts" => BearerType::Wcdma,
        "hspa" => BearerType::Hspa,
        "lte" => BearerType::Lte,
        _ => BearerType::Unknown,
    }
}

/// One modem: its registration technology and its contexts' interfaces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Modem {
    pub(crate) path: String,
    pub(crate) technology: Option<String>,
    /// (context path, interface) for contexts that name one.
    pub(crate) contexts: Vec<(String, String)>,
}

impl Modem {
    /// Apply a context's Settings (its Interface, when active).
    fn set_context(&mut self, context: &str, settings: &Value) {
        self.contexts.retain(|(c, _)| c != context);
        if let Some((_, i)) = dict(settings).into_iter().find(|(k, _)| k == "Interface") {
            if let Some(name) = i.as_str().filter(|n| !n.is_empty()) {
                self.contexts.push((context.to_string(), name.to_string()));
            }
        }
    }

    pub(crate) fn bearer(&self) -> BearerType {
        self.technology
            .as_deref()
            .map_or(BearerType::Unknown, bearer_of)
    }
}

/// A connection to oFono.
#[derive(Debug)]
pub(crate) struct Ofono {
    bus: ServiceBus,
    pub(crate) modems: Vec<Modem>,
}

impl Ofono {
    /// Connect to oFono on the system bus. `Ok(None)`: no bus, or oFono is not on it.
    pub(crate) fn open(reactor: &mut Reactor) -> Result<Option<Ofono>, BearerError> {
        let Some(bus) = ServiceBus::open(reactor, SERVICE, "oFono")? else {
            return Ok(None);
        };
        let mut bus = bus;
        let listed = bus.call(
            "/",
            "org.ofono.Manager",
            "GetModems",
            Vec::new(),
            CALL_TIMEOUT,
        )?;
        let mut modems = Vec::new();
        for (path, _) in objects(listed.body.first().unwrap_or(&Value::Bool(false))) {
            let mut modem = Modem {
                path: path.to_string(),
                ..Modem::default()
            };
            // A modem without registration or data support lacks these interfaces: skip them.
            let mut ask = |interface: &str, method: &str| {
                bus.call(&modem.path, interface, method, Vec::new(), CALL_TIMEOUT)
                    .ok()
                    .and_then(|reply| reply.body.into_iter().next())
            };
            let registration = ask("org.ofono.NetworkRegistration", "GetProperties");
            let contexts = ask("org.ofono.ConnectionManager", "GetContexts");
            modem.technology = registration
                .as_ref()
                .and_then(|props| props.dict_get("Technology"))
                .and_then(Value::as_str)
                .map(str::to_string);
            for (context, props) in contexts.iter().flat_map(objects) {
                if let Some(settings) = props.dict_get("Settings") {
                    modem.set_context(context, settings);
                }
            }
            modems.push(modem);
        }
        Ok(Some(Ofono { bus, modems }))
    }

    /// The modem whose context uses `interface`.
    pub(crate) fn modem_of(&self, interface: &str) -> Option<&Modem> {
        self.modems
            .iter()
            .find(|m| m.contexts.iter().any(|(_, i)| i == interface))
    }
}

impl BusBackend for Ofono {
    fn bus(&self) -> &ServiceBus {
        &self.bus
    }

    fn drain(&mut self) -> Result<bool, BearerError> {
        let Ofono { bus, modems } = self;
        bus.drain(|msg| apply(modems, msg))
    }
}

/// Apply one signal; true if something changed.
fn apply(modems: &mut Vec<Modem>, msg: &Message) -> bool {
    let (Some(interface), Some(member), Some(path)) = (&msg.interface, &msg.member, &msg.path)
    else {
        return false;
    };
    match (interface.as_str(), member.as_str()) {
        ("org.ofono.Manager", "ModemAdded") => {
            let Some(added) = msg.body.first().and_then(Value::as_str) else {
                return false;
            };
            modems.retain(|m| m.path != added);
            modems.push(Modem {
                path: added.to_string(),
                ..Modem::default()
            });
            true
        }
        ("org.ofono.Manager", "ModemRemoved") => {
            let Some(removed) = msg.body.first().and_then(Value::as_str) else {
                return false;
            };
            let before = modems.len();
            modems.retain(|m| m.path != removed);
            before != modems.len()
        }
        ("org.ofono.NetworkRegistration", "PropertyChanged") => {
            let Some((name, value)) = property(msg) else {
                return false;
            };
            match modems.iter_mut().find(|m| m.path == *path) {
                Some(m) if name == "Technology" => {
                    let technology = value.as_str().map(str::to_string);
                    let changed = m.technology != technology;
                    m.technology = technology;
                    changed
                }
                _ => false,
            }
        }
        ("org.ofono.ConnectionContext", "PropertyChanged") => {
            let Some((name, value)) = property(msg) else {
                return false;
            };
            // Contexts live under their modem: /modem0/context1.
            let owner = modems
                .iter_mut()
                .find(|m| path.starts_with(&format!("{}/", m.path)));
            match owner {
                Some(m) if name == "Settings" => {
                    let before = m.contexts.clone();
                    m.set_context(path, value);
                    before != m.contexts
                }
                _ => false,
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn technologies_map_to_bearer_types() {
        assert_eq!(bearer_of("gsm"), BearerType::Bearer2G);
        assert_eq!(bearer_of("edge"), BearerType::Bearer2G);
        assert_eq!(bearer_of("umts"), BearerType::Wcdma);
        assert_eq!(bearer_of("hspa"), BearerType::Hspa);
        assert_eq!(bearer_of("lte"), BearerType::Lte);
        assert_eq!(bearer_of("5g-nr"), BearerType::Unknown);
    }

    #[test]
    fn contexts_name_the_modem_interface() {
        let mut m = Modem {
            path: "/modem0".into(),
            technology: Some("lte".into()),
            ..Modem::default()
        };
        let settings = Value::dict_sv([("Interface", Value::Str("wwan0".into()))]);
        m.set_context("/modem0/context1", &settings);
        assert_eq!(
            m.contexts,
            [("/modem0/context1".to_string(), "wwan0".to_string())]
        );
        assert_eq!(m.bearer(), BearerType::Lte);
        // An inactive context has empty settings: its interface is gone.
        m.set_context("/modem0/context1", &Value::dict_sv([]));
        assert!(m.contexts.is_empty());
    }
}
