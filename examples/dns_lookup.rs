//! Typed DNS lookups (Qt's QDnsLookup): addresses, mail exchangers by preference, services
//! in RFC 2782 order, texts as bytes — from the system's servers or one you name.
//!
//! ```text
//! cargo run --example dns_lookup -- NAME [TYPE] [@SERVER[:PORT]]
//! cargo run --example dns_lookup -- example.com MX
//! ```

use std::error::Error;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use boardnet::dns::{Lookup, RecordType};

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = args
        .first()
        .ok_or("usage: dns_lookup NAME [TYPE] [@SERVER[:PORT]]")?;
    let rtype: RecordType = match args.get(1).filter(|a| !a.starts_with('@')) {
        Some(t) => t.parse()?,
        None => "A".parse()?,
    };
    let mut lookup = Lookup::new(rtype, name).timeout(Duration::from_secs(3));
    if let Some(server) = args.iter().find_map(|a| a.strip_prefix('@')) {
        lookup = lookup.server(server_address(server)?);
    }
    let answer = lookup.run()?;
    println!(";; {} {} from {}", answer.name, rtype, answer.server);
    for mx in answer.mail_exchanges() {
        println!(
            "mail exchanger {} (preference {})",
            mx.exchange, mx.preference
        );
    }
    for srv in answer.services() {
        println!(
            "service {}:{} (priority {}, weight {})",
            srv.target, srv.port, srv.priority, srv.weight
        );
    }
    for text in answer.texts() {
        let strings: Vec<String> = text
            .strings
            .iter()
            .map(|s| format!("{:?}", String::from_utf8_lossy(s)))
            .collect();
        println!("text {}", strings.join(" "));
    }
    for a in answer.host_addresses() {
        println!("address {} (ttl {})", a.address, a.ttl);
    }
    for c in answer.canonical_names() {
        println!("alias {} -> {}", c.name, c.target);
    }
    if answer.records.is_empty() {
        println!("no {rtype} records (the name exists)");
    }
    Ok(())
}

/// `IP` or `IP:PORT` or `[IPv6]:PORT`; port 53 by default.
fn server_address(text: &str) -> Result<SocketAddr, Box<dyn Error>> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    Ok(SocketAddr::new(text.parse::<IpAddr>()?, 53))
}
