//! Host names to addresses and back through the system resolver (Qt's QHostInfo): what
//! `getaddrinfo` says, with /etc/resolv.conf re-read when it changed (a DHCP lease renewed).
//!
//! ```text
//! cargo run --example host_info -- NAME|ADDRESS...
//! ```

use std::net::IpAddr;
use std::process::ExitCode;

use boardnet::dns::HostInfo;
use boardnet::Classify;

fn main() -> ExitCode {
    let names: Vec<String> = std::env::args().skip(1).collect();
    if names.is_empty() {
        eprintln!("usage: host_info NAME|ADDRESS...");
        return ExitCode::from(2);
    }
    let mut status = ExitCode::SUCCESS;
    for name in &names {
        let info = match name.parse::<IpAddr>() {
            Ok(addr) => HostInfo::from_address(addr),
            Err(_) => HostInfo::from_name(name),
        };
        match info {
            Ok(info) => {
                let addresses: Vec<String> = info.addresses.iter().map(IpAddr::to_string).collect();
                println!("{}: {}", info.name, addresses.join(" "));
                if let Some(canonical) = info.canonical_name {
                    println!("  canonical name {canonical}");
                }
            }
            Err(e) => {
                eprintln!("{name}: {e}");
                status = ExitCode::from(e.class().exit_code());
            }
        }
    }
    status
}
