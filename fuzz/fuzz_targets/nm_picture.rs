//! The NetworkManager backend's sans-IO picture: the input is a sequence of D-Bus messages,
//! each a 2-byte little-endian length and that many bytes (a short last one is taken as it
//! is); each is applied as a signal and as a GetManagedObjects answer, then configurations,
//! the preferred one and the reachability are derived. Nothing may panic. The seed is a
//! recording of a real NetworkManager starting, the cable pulled and put back.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut chunks = Vec::new();
    let mut rest = data;
    while let [a, b, tail @ ..] = rest {
        let len = usize::from(u16::from_le_bytes([*a, *b])).min(tail.len());
        chunks.push(&tail[..len]);
        rest = &tail[len..];
    }
    boardnet::bearer::fuzzing::apply_networkmanager(&chunks);
});
