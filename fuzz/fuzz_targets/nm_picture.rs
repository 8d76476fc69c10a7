//! The NetworkManager backend's sans-IO picture: arbitrary bytes split on a marker into D-Bus
//! messages, each applied as a signal and as a GetManagedObjects answer, then configurations,
//! the preferred one and the reachability derived. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let chunks: Vec<&[u8]> = data.split(|b| *b == 0xfe).collect();
    boardnet::bearer::fuzzing::apply_networkmanager(&chunks);
});
