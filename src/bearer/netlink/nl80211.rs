//! nl80211 over generic netlink, sans-IO: the requests boardnet sends (family lookup,
//! interface/station/scan dumps, scan trigger) and decoding of the replies and scan events
//! into Wi-Fi records. Framing is checked by [`wire`]; attributes are decoded with neli.

use std::io::Cursor;

use linux_raw_sys::netlink::{
    nl80211_attrs, nl80211_bss, nl80211_bss_status, nl80211_commands, nl80211_iftype,
    nl80211_rate_info, nl80211_sta_info,
};
use neli::genl::Nlattr;
use neli::types::{Buffer, GenlBuffer};
use neli::FromBytesWithInput;

use super::wire::{self, DecodeError, Frame};

/// `struct genlmsghdr`: command, version, reserved.
const GENL_HEADER_LEN: usize = 4;

fn attr(a: nl80211_attrs) -> u16 {
    a as u16
}

fn cmd(c: nl80211_commands) -> u8 {
    c as u8
}

/// The attributes of a generic netlink payload (after its 4-byte header) or of a nested
/// attribute, as (type, payload) pairs.
fn attributes(bytes: &[u8]) -> Result<Vec<(u16, Vec<u8>)>, DecodeError> {
    let buffer =
        GenlBuffer::<u16, Buffer>::from_bytes_with_input(&mut Cursor::new(bytes), bytes.len())
            .map_err(|e| DecodeError(format!("attributes: {e}")))?;
    Ok(buffer
        .as_ref()
        .iter()
        .map(|a: &Nlattr<u16, Buffer>| {
            (*a.nla_type().nla_type(), a.nla_payload().as_ref().to_vec())
        })
        .collect())
}

fn u32_of(bytes: &[u8]) -> Option<u32> {
    wire::u32_at(bytes)
}

fn string_of(bytes: &[u8]) -> String {
    let text = bytes.split(|b| *b == 0).next().unwrap_or_default();
    String::from_utf8_lossy(text).into_owned()
}

fn mac_of(bytes: &[u8]) -> Option<[u8; 6]> {
    bytes.get(..6)?.try_into().ok()
}

/// `aa:bb:cc:dd:ee:ff`.
pub fn mac_text(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// An SSID as text: UTF-8 where it is, `\xNN` escapes for other bytes (SSIDs are 0–32
/// arbitrary bytes).
pub fn ssid_text(ssid: &[u8]) -> String {
    let mut out = String::new();
    for chunk in ssid.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                out.push_str(&format!("\\x{:02x}", c as u32));
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Requests

/// A generic netlink request to `family`: command, version 1, attributes.
fn genl_request(family: u16, flags: u16, seq: u32, command: u8, attrs: &[(u16, &[u8])]) -> Vec<u8> {
    wire::request(family, flags, seq, &[command, 1, 0, 0], attrs)
}

/// Ask the generic netlink controller for nl80211's family id and multicast groups.
pub(crate) fn family_request(seq: u32) -> Vec<u8> {
    genl_request(
        libc::GENL_ID_CTRL as u16,
        0,
        seq,
        libc::CTRL_CMD_GETFAMILY as u8,
        &[(libc::CTRL_ATTR_FAMILY_NAME as u16, b"nl80211\0")],
    )
}

/// Dump every wireless interface.
pub(crate) fn interfaces_request(family: u16, seq: u32) -> Vec<u8> {
    genl_request(
        family,
        libc::NLM_F_DUMP as u16,
        seq,
        cmd(nl80211_commands::NL80211_CMD_GET_INTERFACE),
        &[],
    )
}

/// Dump the stations (for a station-mode interface: the access point it is associated with).
pub(crate) fn stations_request(family: u16, seq: u32, ifindex: u32) -> Vec<u8> {
    genl_request(
        family,
        libc::NLM_F_DUMP as u16,
        seq,
        cmd(nl80211_commands::NL80211_CMD_GET_STATION),
        &[(
            attr(nl80211_attrs::NL80211_ATTR_IFINDEX),
            &ifindex.to_ne_bytes(),
        )],
    )
}

/// Dump the kernel's scan results (what the last scans saw, with their age).
pub(crate) fn scan_results_request(family: u16, seq: u32, ifindex: u32) -> Vec<u8> {
    genl_request(
        family,
        libc::NLM_F_DUMP as u16,
        seq,
        cmd(nl80211_commands::NL80211_CMD_GET_SCAN),
        &[(
            attr(nl80211_attrs::NL80211_ATTR_IFINDEX),
            &ifindex.to_ne_bytes(),
        )],
    )
}

/// Start a scan (needs CAP_NET_ADMIN); completion arrives on the "scan" multicast group.
pub(crate) fn trigger_scan_request(family: u16, seq: u32, ifindex: u32) -> Vec<u8> {
    genl_request(
        family,
        libc::NLM_F_ACK as u16,
        seq,
        cmd(nl80211_commands::NL80211_CMD_TRIGGER_SCAN),
        &[(
            attr(nl80211_attrs::NL80211_ATTR_IFINDEX),
            &ifindex.to_ne_bytes(),
        )],
    )
}

// ---------------------------------------------------------------------------------------------
// Replies

/// nl80211's family id and the multicast groups boardnet joins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Family {
    pub(crate) id: u16,
    /// The "scan" group: scan started / results ready / aborted.
    pub(crate) scan_group: Option<u32>,
}

/// Decode the controller's answer to [`family_request`].
pub(crate) fn decode_family(frame: &Frame<'_>) -> Result<Family, DecodeError> {
    let body = frame
        .payload
        .get(GENL_HEADER_LEN..)
        .ok_or_else(|| DecodeError("family reply shorter than its header".into()))?;
    let mut family = Family {
        id: 0,
        scan_group: None,
    };
    for (kind, data) in attributes(body)? {
        match kind {
            k if k == libc::CTRL_ATTR_FAMILY_ID as u16 => {
                family.id = data
                    .get(..2)
                    .map(|b| u16::from_ne_bytes([b[0], b[1]]))
                    .unwrap_or_default();
            }
            k if k == libc::CTRL_ATTR_MCAST_GROUPS as u16 => {
                for (_, group) in attributes(&data)? {
                    let mut name = String::new();
                    let mut id = None;
                    for (k, v) in attributes(&group)? {
                        if k == libc::CTRL_ATTR_MCAST_GRP_NAME as u16 {
                            name = string_of(&v);
                        } else if k == libc::CTRL_ATTR_MCAST_GRP_ID as u16 {
                            id = u32_of(&v);
                        }
                    }
                    if name == "scan" {
                        family.scan_group = id;
                    }
                }
            }
            _ => {}
        }
    }
    if family.id == 0 {
        return Err(DecodeError("family reply without a family id".into()));
    }
    Ok(family)
}

/// What a wireless interface is doing (nl80211_iftype, simplified).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WifiMode {
    /// A client of an access point (managed mode).
    Station,
    /// An access point.
    AccessPoint,
    /// An IBSS (ad-hoc) member.
    AdHoc,
    /// A monitor (capture) interface.
    Monitor,
    /// A mesh point.
    Mesh,
    /// A Wi-Fi Direct (P2P) role.
    P2p,
    /// Any other mode.
    Other,
}

impl WifiMode {
    /// The mode's name in output.
    pub fn name(self) -> &'static str {
        match self {
            WifiMode::Station => "station",
            WifiMode::AccessPoint => "ap",
            WifiMode::AdHoc => "adhoc",
            WifiMode::Monitor => "monitor",
            WifiMode::Mesh => "mesh",
            WifiMode::P2p => "p2p",
            WifiMode::Other => "other",
        }
    }

    fn of(iftype: u32) -> WifiMode {
        use nl80211_iftype::*;
        match iftype {
            t if t == NL80211_IFTYPE_STATION as u32 => WifiMode::Station,
            t if t == NL80211_IFTYPE_AP as u32 => WifiMode::AccessPoint,
            t if t == NL80211_IFTYPE_ADHOC as u32 => WifiMode::AdHoc,
            t if t == NL80211_IFTYPE_MONITOR as u32 => WifiMode::Monitor,
            t if t == NL80211_IFTYPE_MESH_POINT as u32 => WifiMode::Mesh,
            t if t == NL80211_IFTYPE_P2P_CLIENT as u32
                || t == NL80211_IFTYPE_P2P_GO as u32
                || t == NL80211_IFTYPE_P2P_DEVICE as u32 =>
            {
                WifiMode::P2p
            }
            _ => WifiMode::Other,
        }
    }
}

/// A wireless interface (NL80211_CMD_NEW_INTERFACE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WifiInterface {
    /// The kernel's interface index.
    pub index: u32,
    /// The interface name.
    pub name: String,
    /// Its operating mode.
    pub mode: WifiMode,
    /// Its MAC address.
    pub mac: Option<[u8; 6]>,
    /// The network it is on (station: associated; AP: serving), if any.
    pub ssid: Option<Vec<u8>>,
    /// The channel frequency, when it is on one.
    pub frequency_mhz: Option<u32>,
}

/// The peer of a station-mode interface: the access point (NL80211_CMD_NEW_STATION).
#[derive(Debug, Clone, PartialEq)]
pub struct StationInfo {
    /// The access point's MAC address.
    pub bssid: [u8; 6],
    /// Signal strength of the last frames received.
    pub signal_dbm: Option<i8>,
    /// Transmit bitrate in Mbit/s.
    pub tx_bitrate_mbps: Option<f32>,
    /// Receive bitrate in Mbit/s.
    pub rx_bitrate_mbps: Option<f32>,
    /// Seconds since the association.
    pub connected_secs: Option<u32>,
}

/// One access point a scan saw (NL80211_CMD_NEW_SCAN_RESULTS, attribute NL80211_ATTR_BSS).
#[derive(Debug, Clone, PartialEq)]
pub struct AccessPoint {
    /// The access point's MAC address.
    pub bssid: [u8; 6],
    /// The network name as bytes (SSIDs need not be UTF-8).
    pub ssid: Vec<u8>,
    /// The channel frequency.
    pub frequency_mhz: u32,
    /// Signal strength, when the driver reports it.
    pub signal_dbm: Option<f32>,
    /// ConnMan's names: none, wep, psk, sae, ieee8021x, owe (several for mixed modes).
    pub security: Vec<&'static str>,
    /// How long ago the AP was last seen (ms).
    pub age_ms: Option<u32>,
    /// The interface is associated with (or joined to) this AP.
    pub associated: bool,
}

/// A decoded nl80211 message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum WifiMessage {
    Interface(WifiInterface),
    Station(StationInfo),
    AccessPoint(AccessPoint),
    /// A scan started on the interface (someone triggered it).
    ScanStarted(u32),
    /// Results are ready on the interface.
    ScanDone(u32),
    ScanAborted(u32),
    Other,
}

/// Decode the generic netlink payload of an nl80211 message.
pub(crate) fn decode(frame: &Frame<'_>) -> Result<WifiMessage, DecodeError> {
    let header = frame
        .payload
        .get(..GENL_HEADER_LEN)
        .ok_or_else(|| DecodeError("nl80211 message shorter than its header".into()))?;
    let command = header[0];
    let attrs = attributes(&frame.payload[GENL_HEADER_LEN..])?;
    let find = |a: nl80211_attrs| {
        attrs
            .iter()
            .find(|(k, _)| *k == attr(a))
            .map(|(_, v)| v.as_slice())
    };
    let ifindex = find(nl80211_attrs::NL80211_ATTR_IFINDEX)
        .and_then(u32_of)
        .unwrap_or(0);
    use nl80211_commands::*;
    Ok(match command {
        c if c == cmd(NL80211_CMD_NEW_INTERFACE) => WifiMessage::Interface(WifiInterface {
            index: ifindex,
            name: find(nl80211_attrs::NL80211_ATTR_IFNAME)
                .map(string_of)
                .unwrap_or_default(),
            mode: WifiMode::of(
                find(nl80211_attrs::NL80211_ATTR_IFTYPE)
                    .and_then(u32_of)
                    .unwrap_or(0),
            ),
            mac: find(nl80211_attrs::NL80211_ATTR_MAC).and_then(mac_of),
            ssid: find(nl80211_attrs::NL80211_ATTR_SSID).map(<[u8]>::to_vec),
            frequency_mhz: find(nl80211_attrs::NL80211_ATTR_WIPHY_FREQ).and_then(u32_of),
        }),
        c if c == cmd(NL80211_CMD_NEW_STATION) => {
            let Some(bssid) = find(nl80211_attrs::NL80211_ATTR_MAC).and_then(mac_of) else {
                return Ok(WifiMessage::Other);
            };
            let mut info = StationInfo {
                bssid,
                signal_dbm: None,
                tx_bitrate_mbps: None,
                rx_bitrate_mbps: None,
                connected_secs: None,
            };
            if let Some(sta) = find(nl80211_attrs::NL80211_ATTR_STA_INFO) {
                for (k, v) in attributes(sta)? {
                    match k {
                        k if k == nl80211_sta_info::NL80211_STA_INFO_SIGNAL as u16 => {
                            info.signal_dbm = v.first().map(|b| *b as i8);
                        }
                        k if k == nl80211_sta_info::NL80211_STA_INFO_TX_BITRATE as u16 => {
                            info.tx_bitrate_mbps = bitrate(&v)?;
                        }
                        k if k == nl80211_sta_info::NL80211_STA_INFO_RX_BITRATE as u16 => {
                            info.rx_bitrate_mbps = bitrate(&v)?;
                        }
                        k if k == nl80211_sta_info::NL80211_STA_INFO_CONNECTED_TIME as u16 => {
                            info.connected_secs = u32_of(&v);
                        }
                        _ => {}
                    }
                }
            }
            WifiMessage::Station(info)
        }
        c if c == cmd(NL80211_CMD_NEW_SCAN_RESULTS) => {
            match find(nl80211_attrs::NL80211_ATTR_BSS) {
                // A dump entry carries the BSS; the multicast event (results ready) does not.
                Some(bss) => match access_point(bss)? {
                    Some(ap) => WifiMessage::AccessPoint(ap),
                    None => WifiMessage::Other,
                },
                None => WifiMessage::ScanDone(ifindex),
            }
        }
        c if c == cmd(NL80211_CMD_TRIGGER_SCAN) => WifiMessage::ScanStarted(ifindex),
        c if c == cmd(NL80211_CMD_SCAN_ABORTED) => WifiMessage::ScanAborted(ifindex),
        _ => WifiMessage::Other,
    })
}

/// NL80211_RATE_INFO_BITRATE32 (or the 16-bit one), in units of 100 kbit/s.
fn bitrate(nested: &[u8]) -> Result<Option<f32>, DecodeError> {
    let mut rate = None;
    for (k, v) in attributes(nested)? {
        if k == nl80211_rate_info::NL80211_RATE_INFO_BITRATE32 as u16 {
            rate = u32_of(&v).map(|r| r as f32 / 10.0);
        } else if k == nl80211_rate_info::NL80211_RATE_INFO_BITRATE as u16 && rate.is_none() {
            rate = v
                .get(..2)
                .map(|b| u16::from_ne_bytes([b[0], b[1]]) as f32 / 10.0);
        }
    }
    Ok(rate)
}

fn access_point(bss: &[u8]) -> Result<Option<AccessPoint>, DecodeError> {
    let mut bssid = None;
    let mut ap = AccessPoint {
        bssid: [0; 6],
        ssid: Vec::new(),
        frequency_mhz: 0,
        signal_dbm: None,
        security: Vec::new(),
        age_ms: None,
        associated: false,
    };
    let mut privacy = false;
    let mut ies: Vec<u8> = Vec::new();
    for (k, v) in attributes(bss)? {
        use nl80211_bss::*;
        match k {
            k if k == NL80211_BSS_BSSID as u16 => bssid = mac_of(&v),
            k if k == NL80211_BSS_FREQUENCY as u16 => ap.frequency_mhz = u32_of(&v).unwrap_or(0),
            // mBm: hundredths of a dBm, signed.
            k if k == NL80211_BSS_SIGNAL_MBM as u16 => {
                ap.signal_dbm = u32_of(&v).map(|m| m as i32 as f32 / 100.0);
            }
            k if k == NL80211_BSS_SEEN_MS_AGO as u16 => ap.age_ms = u32_of(&v),
            k if k == NL80211_BSS_CAPABILITY as u16 => {
                // IEEE 802.11 capability information: bit 4 is Privacy.
                privacy = v.first().is_some_and(|b| b & 0x10 != 0);
            }
            k if k == NL80211_BSS_STATUS as u16 => {
                let status = u32_of(&v).unwrap_or(u32::MAX);
                ap.associated = status == nl80211_bss_status::NL80211_BSS_STATUS_ASSOCIATED as u32
                    || status == nl80211_bss_status::NL80211_BSS_STATUS_IBSS_JOINED as u32;
            }
            // Probe response IEs are preferred; beacon IEs fill in when there are none.
            k if k == NL80211_BSS_INFORMATION_ELEMENTS as u16 => ies = v,
            k if k == NL80211_BSS_BEACON_IES as u16 && ies.is_empty() => ies = v,
            _ => {}
        }
    }
    let Some(bssid) = bssid else {
        return Ok(None);
    };
    ap.bssid = bssid;
    let elements = InformationElements::parse(&ies);
    ap.security = security(&elements, privacy);
    ap.ssid = elements.ssid;
    Ok(Some(ap))
}

/// What boardnet reads from 802.11 information elements.
#[derive(Debug, Default, PartialEq, Eq)]
struct InformationElements {
    ssid: Vec<u8>,
    /// AKM suite types from the RSN element (00-0F-AC:n).
    rsn_akms: Vec<u8>,
    /// A WPA (version 1) vendor element is present.
    wpa1: bool,
    wpa1_akms: Vec<u8>,
}

impl InformationElements {
    /// Walk the elements (id, length, data); a truncated element ends the walk.
    fn parse(mut ies: &[u8]) -> InformationElements {
        let mut out = InformationElements::default();
        while let [id, len, rest @ ..] = ies {
            let len = *len as usize;
            let Some(data) = rest.get(..len) else { break };
            match id {
                0 => out.ssid = data.to_vec(),
                48 => {
                    out.rsn_akms = akm_suites(data.get(2..).unwrap_or_default(), [0x00, 0x0f, 0xac])
                }
                221 if data.starts_with(&[0x00, 0x50, 0xf2, 0x01]) => {
                    out.wpa1 = true;
                    out.wpa1_akms =
                        akm_suites(data.get(6..).unwrap_or_default(), [0x00, 0x50, 0xf2]);
                }
                _ => {}
            }
            ies = &rest[len..];
        }
        out
    }
}

/// The AKM suite types of an RSN/WPA element body that starts at the group cipher: group
/// cipher (4), pairwise count (2) + suites (4 each), AKM count (2) + suites (4 each).
fn akm_suites(body: &[u8], oui: [u8; 3]) -> Vec<u8> {
    let count_at = |at: usize| {
        body.get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
    };
    let Some(pairwise) = count_at(4) else {
        return Vec::new();
    };
    let akm_at = 6 + 4 * pairwise;
    let Some(akms) = count_at(akm_at) else {
        return Vec::new();
    };
    (0..akms)
        .filter_map(|i| body.get(akm_at + 2 + 4 * i..akm_at + 6 + 4 * i))
        .filter(|s| s[..3] == oui)
        .map(|s| s[3])
        .collect()
}

/// Security names (ConnMan's) from the elements: RSN/WPA AKMs, else WEP when the privacy bit
/// is set, else none.
fn security(ies: &InformationElements, privacy: bool) -> Vec<&'static str> {
    let mut names = Vec::new();
    for akm in ies.rsn_akms.iter().chain(&ies.wpa1_akms) {
        let name = match akm {
            1 | 3 | 5 | 11 | 12 | 13 => "ieee8021x",
            2 | 4 | 6 => "psk",
            8 | 9 => "sae",
            18 => "owe",
            _ => continue,
        };
        if !names.contains(&name) {
            names.push(name);
        }
    }
    if names.is_empty() {
        names.push(if ies.wpa1 || !ies.rsn_akms.is_empty() {
            "psk"
        } else if privacy {
            "wep"
        } else {
            "none"
        });
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(attrs: &[(u16, &[u8])]) -> Vec<u8> {
        // The attribute block of a request without its 16+4 header bytes.
        wire::request(0, 0, 0, &[], attrs)[16..].to_vec()
    }

    fn nl80211(command: nl80211_commands, attrs: &[(u16, &[u8])]) -> Vec<u8> {
        genl_request(30, 0, 1, cmd(command), attrs)
    }

    fn decode_bytes(bytes: &[u8]) -> WifiMessage {
        let frame = wire::frames(bytes).next().unwrap().unwrap();
        decode(&frame).unwrap()
    }

    const RSN_PSK: [u8; 20] = [
        1, 0, // version
        0x00, 0x0f, 0xac, 4, // group CCMP
        1, 0, 0x00, 0x0f, 0xac, 4, // one pairwise: CCMP
        1, 0, 0x00, 0x0f, 0xac, 2, // one AKM: PSK
        0, 0, // capabilities
    ];

    fn ies(ssid: &[u8], rsn: Option<&[u8]>) -> Vec<u8> {
        let mut v = vec![0, ssid.len() as u8];
        v.extend_from_slice(ssid);
        if let Some(r) = rsn {
            v.push(48);
            v.push(r.len() as u8);
            v.extend_from_slice(r);
        }
        v
    }

    #[test]
    fn family_reply_gives_the_id_and_the_scan_group() {
        let group = |name: &[u8], id: u32| {
            nested(&[
                (libc::CTRL_ATTR_MCAST_GRP_ID as u16, &id.to_ne_bytes()),
                (libc::CTRL_ATTR_MCAST_GRP_NAME as u16, name),
            ])
        };
        let (g1, g2) = (group(b"config\0", 5), group(b"scan\0", 6));
        let groups = nested(&[(1, &g1), (2, &g2)]);
        let reply = genl_request(
            libc::GENL_ID_CTRL as u16,
            0,
            1,
            libc::CTRL_CMD_NEWFAMILY as u8,
            &[
                (libc::CTRL_ATTR_FAMILY_ID as u16, &30u16.to_ne_bytes()),
                (libc::CTRL_ATTR_FAMILY_NAME as u16, b"nl80211\0"),
                (libc::CTRL_ATTR_MCAST_GROUPS as u16 | 0x8000, &groups),
            ],
        );
        let frame = wire::frames(&reply).next().unwrap().unwrap();
        assert_eq!(
            decode_family(&frame),
            Ok(Family {
                id: 30,
                scan_group: Some(6)
            })
        );
    }

    #[test]
    fn interfaces_stations_and_scan_events_decode() {
        let i = decode_bytes(&nl80211(
            nl80211_commands::NL80211_CMD_NEW_INTERFACE,
            &[
                (
                    attr(nl80211_attrs::NL80211_ATTR_IFINDEX),
                    &4u32.to_ne_bytes(),
                ),
                (attr(nl80211_attrs::NL80211_ATTR_IFNAME), b"wlan0\0"),
                (
                    attr(nl80211_attrs::NL80211_ATTR_IFTYPE),
                    &2u32.to_ne_bytes(),
                ),
                (attr(nl80211_attrs::NL80211_ATTR_SSID), b"lab"),
                (
                    attr(nl80211_attrs::NL80211_ATTR_WIPHY_FREQ),
                    &2412u32.to_ne_bytes(),
                ),
            ],
        ));
        let WifiMessage::Interface(i) = i else {
            panic!("{i:?}")
        };
        assert_eq!(
            (i.index, i.name.as_str(), i.mode),
            (4, "wlan0", WifiMode::Station)
        );
        assert_eq!(
            (i.ssid.as_deref(), i.frequency_mhz),
            (Some(&b"lab"[..]), Some(2412))
        );

        let rate = nested(&[(
            nl80211_rate_info::NL80211_RATE_INFO_BITRATE32 as u16,
            &540u32.to_ne_bytes(),
        )]);
        let sta = nested(&[
            (
                nl80211_sta_info::NL80211_STA_INFO_SIGNAL as u16,
                &[(-42i8) as u8],
            ),
            (
                nl80211_sta_info::NL80211_STA_INFO_TX_BITRATE as u16 | 0x8000,
                &rate,
            ),
        ]);
        let s = decode_bytes(&nl80211(
            nl80211_commands::NL80211_CMD_NEW_STATION,
            &[
                (attr(nl80211_attrs::NL80211_ATTR_MAC), &[2, 0, 0, 0, 1, 0]),
                (attr(nl80211_attrs::NL80211_ATTR_STA_INFO) | 0x8000, &sta),
            ],
        ));
        let WifiMessage::Station(s) = s else {
            panic!("{s:?}")
        };
        assert_eq!((s.signal_dbm, s.tx_bitrate_mbps), (Some(-42), Some(54.0)));

        let done = decode_bytes(&nl80211(
            nl80211_commands::NL80211_CMD_NEW_SCAN_RESULTS,
            &[(
                attr(nl80211_attrs::NL80211_ATTR_IFINDEX),
                &4u32.to_ne_bytes(),
            )],
        ));
        assert_eq!(done, WifiMessage::ScanDone(4));
    }

    #[test]
    fn scan_results_carry_ssid_signal_and_security() {
        let ie = ies(b"lab-psk", Some(&RSN_PSK));
        let bss = nested(&[
            (nl80211_bss::NL80211_BSS_BSSID as u16, &[2, 0, 0, 0, 1, 0]),
            (
                nl80211_bss::NL80211_BSS_FREQUENCY as u16,
                &2412u32.to_ne_bytes(),
            ),
            (
                nl80211_bss::NL80211_BSS_SIGNAL_MBM as u16,
                &(-3000i32).to_ne_bytes(),
            ),
            (
                nl80211_bss::NL80211_BSS_SEEN_MS_AGO as u16,
                &120u32.to_ne_bytes(),
            ),
            (
                nl80211_bss::NL80211_BSS_CAPABILITY as u16,
                &0x0411u16.to_ne_bytes(),
            ),
            (nl80211_bss::NL80211_BSS_INFORMATION_ELEMENTS as u16, &ie),
            (nl80211_bss::NL80211_BSS_STATUS as u16, &1u32.to_ne_bytes()),
        ]);
        let m = decode_bytes(&nl80211(
            nl80211_commands::NL80211_CMD_NEW_SCAN_RESULTS,
            &[(attr(nl80211_attrs::NL80211_ATTR_BSS) | 0x8000, &bss)],
        ));
        let WifiMessage::AccessPoint(ap) = m else {
            panic!("{m:?}")
        };
        assert_eq!(mac_text(&ap.bssid), "02:00:00:00:01:00");
        assert_eq!(ap.ssid, b"lab-psk");
        assert_eq!(
            (ap.frequency_mhz, ap.signal_dbm, ap.age_ms),
            (2412, Some(-30.0), Some(120))
        );
        assert_eq!(ap.security, ["psk"]);
        assert!(ap.associated);
    }

    #[test]
    fn security_from_elements() {
        let open = InformationElements::parse(&ies(b"open", None));
        assert_eq!(security(&open, false), ["none"]);
        assert_eq!(security(&open, true), ["wep"]);
        let mut sae = RSN_PSK;
        sae[17] = 8;
        assert_eq!(
            security(&InformationElements::parse(&ies(b"x", Some(&sae))), true),
            ["sae"]
        );
        let mut eap = RSN_PSK;
        eap[17] = 1;
        assert_eq!(
            security(&InformationElements::parse(&ies(b"x", Some(&eap))), true),
            ["ieee8021x"]
        );
        // WPA1 vendor element with PSK.
        let wpa1 = [
            221, 22, 0x00, 0x50, 0xf2, 1, 1, 0, 0x00, 0x50, 0xf2, 2, 1, 0, 0x00, 0x50, 0xf2, 2, 1,
            0, 0x00, 0x50, 0xf2, 2,
        ];
        assert_eq!(security(&InformationElements::parse(&wpa1), true), ["psk"]);
        assert_eq!(ssid_text(b"caf\xc3\xa9\x01\xff"), "café\\x01\\xff");
    }

    #[test]
    fn truncated_and_garbled_input_never_panics() {
        let ie = ies(b"lab-psk", Some(&RSN_PSK));
        for cut in 0..ie.len() {
            let _ = security(&InformationElements::parse(&ie[..cut]), true);
        }
        let bss = nested(&[
            (nl80211_bss::NL80211_BSS_BSSID as u16, &[2, 0, 0, 0, 1, 0]),
            (nl80211_bss::NL80211_BSS_INFORMATION_ELEMENTS as u16, &ie),
        ]);
        let msg = nl80211(
            nl80211_commands::NL80211_CMD_NEW_SCAN_RESULTS,
            &[(attr(nl80211_attrs::NL80211_ATTR_BSS) | 0x8000, &bss)],
        );
        for i in 0..msg.len() {
            for bit in [0x01u8, 0x80, 0xff] {
                let mut bad = msg.clone();
                bad[i] ^= bit;
                for frame in wire::frames(&bad).flatten() {
                    let _ = decode(&frame);
                }
            }
        }
    }
}
