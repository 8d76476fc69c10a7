//! Wi-Fi through nl80211: each wireless interface, what it is associated with, and the
//! access points its last scan saw (`--trigger`: scan now and wait for the kernel to finish).
//! On a board without Wi-Fi it says so and exits with 11 (unsupported).
//!
//! ```text
//! cargo run --example wifi_scan [-- --trigger]
//! ```

use std::process::ExitCode;
use std::time::Duration;

use boardnet::bearer::wifi::{mac_text, ssid_text, Wifi};
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
            wifi.wait_for_scan(&mut reactor, iface.index, TIMEOUT)?;
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
