//! `boardnet::dns::wire::Message::parse` and everything reachable from a parsed reply: every
//! record's owner name and typed data, the question, the response code. Input: the bytes of a
//! DNS message as received. Property: a message that parses can be read completely without
//! errors for the types boardnet validates up front, and nothing panics.
#![no_main]

use boardnet::dns::wire::{rtype, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = Message::parse(data) else {
        return;
    };
    let _ = msg.rcode();
    let _ = msg.edns_payload();
    if let Some((name, _)) = msg.question() {
        let _ = name.to_string();
    }
    for record in msg.answers().chain(msg.authorities()).chain(msg.additionals()) {
        let owner = record.name.to_name().expect("validated by parse");
        assert!(owner.as_wire().len() <= 255);
        if record.rtype != rtype::OPT {
            // parse() checked the layout of every record; typing it cannot fail now.
            record.data().expect("validated by parse");
        }
    }
});
