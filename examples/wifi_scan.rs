//! Wi-Fi through nl80211: each wireless interface, what it is associated with, and the
//! access points its last scan saw (`--trigger`: scan now and wait for the kernel to finish).
//! On a board without Wi-Fi it says so and exits with 11 (unsupported).
//!
//! ```text
//! cargo run --example wifi_scan [-- --trigger]
//! ```

use std::process::ExitCode;
use std::time::Duration;

use boardnet::bearer::wifi::{mac_text, ssid_text, ScanEvent, Wifi};
use boardnet::bearer::BearerError;
use boardnet::reactor::Reactor;
use boardnet::Classify;

const TIMEOUT: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    let trigger = std::env::args().any(|a| a == "--trigger");
    match scan(trigger) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wifi_scan: {e}");
            ExitCode::from(e.class().exit_code())
        }
    }
}

fn scan(trigger: bool) -> Result<(), BearerError> {
    let mut reactor = Reactor::new().map_err(BearerError::Reactor)?;
    let mut wifi = Wifi::open(&mut reactor, TIMEOUT)?;
    let interfaces = wifi.interfaces(&mut reactor, TIMEOUT)?;
    if interfaces.is_empty() {
        return Err(BearerError::Unsupported(
            "no wireless interface on this board".into(),
        ));
    }
    for iface in interfaces {
        println!("{} ({:?})", iface.name, iface.mode);
        if trigger {
            wifi.join_scan_group()?;
            wifi.trigger_scan(&mut reactor, iface.index, TIMEOUT)?;
            wait_for_scan(&mut wifi, &mut reactor, iface.index)?;
        }
        for ap in wifi.scan_results(&mut reactor, iface.index, TIMEOUT)? {
            println!(
                "  {} {:32} {:5} MHz {:>7} {}{}",
                mac_text(&ap.bssid),
                ssid_text(&ap.ssid),
                ap.frequency_mhz,
                ap.signal_dbm
                    .map(|s| format!("{s:.0} dBm"))
                    .unwrap_or_default(),
                ap.security.join("/"),
                if ap.associated { " (associated)" } else { "" }
            );
        }
    }
    Ok(())
}

/// Turn the reactor until the kernel says the scan on `ifindex` ended.
fn wait_for_scan(wifi: &mut Wifi, reactor: &mut Reactor, ifindex: u32) -> Result<(), BearerError> {
    let deadline = std::time::Instant::now() + TIMEOUT;
    let mut ready = Vec::new();
    while std::time::Instant::now() < deadline {
        reactor
            .turn(&mut ready, Some(deadline))
            .map_err(BearerError::Reactor)?;
        for r in ready.drain(..) {
            wifi.handle(&r)?;
        }
        while let Some(event) = wifi.next_scan_event() {
            match event {
                ScanEvent::Done(i) | ScanEvent::Aborted(i) if i == ifindex => return Ok(()),
                _ => {}
            }
        }
    }
    Err(BearerError::Timeout(TIMEOUT))
}
