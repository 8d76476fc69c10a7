//! The lookup state machine fed arbitrary replies: `Exchange::on_reply` with the fuzz input
//! as a reply to the query it just sent (its ID patched in half of the time, so deeper paths
//! are reached), then timeouts until it finishes. Property: no panic, and it always finishes.
#![no_main]

use std::time::{Duration, Instant};

use boardnet::dns::fuzzing::drive_exchange;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let steps = drive_exchange(data, Instant::now(), Duration::from_secs(1));
    assert!(steps < 64, "the exchange did not finish");
});
