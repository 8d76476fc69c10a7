//! The netlink decoders boardnet owns: framing (`bearer::netlink::wire`), rtnetlink link,
//! address and route messages applied to the route table, nl80211 interface/station/scan
//! messages (with 802.11 information elements) and the generic netlink family reply. Input:
//! one datagram as received. Property: nothing panics or allocates without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = boardnet::bearer::fuzzing::decode_netlink(data);
});
