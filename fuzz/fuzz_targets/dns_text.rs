//! The text parsers of the DNS module: domain names (presentation form with escapes),
//! resolv.conf and /etc/hosts. Input: UTF-8 text (anything else is skipped). Properties:
//! a name that parses prints back to text that parses to the same name; the search list
//! built from any resolv.conf yields valid names.
#![no_main]

use boardnet::dns::host::{Family, HostsFile};
use boardnet::dns::{Name, ResolvConf};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(name) = Name::from_text(text) {
        let shown = name.to_string();
        let back = Name::from_text(&shown).expect("a printed name parses");
        assert_eq!(back, name, "{shown}");
    }
    let conf = ResolvConf::parse(text);
    assert!(!conf.servers.is_empty() && conf.servers.len() <= 3);
    for line in text.lines().take(4) {
        if let Ok(candidates) = conf.candidates(line) {
            assert!(!candidates.is_empty());
        }
    }
    let hosts = HostsFile::parse(text);
    for line in text.lines().take(4) {
        let _ = hosts.lookup(line, Family::Any);
    }
});
