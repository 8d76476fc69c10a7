//! The D-Bus codec (`boardnet::dbus`): arbitrary bytes as one message. Whatever decodes must
//! encode again, and that encoding must decode and encode to the same bytes (bytes, not
//! values: a NaN is not equal to itself); `message_len` must agree with what decode reads.
//! Nothing may panic.
#![no_main]

use boardnet::dbus::message::{message_len, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(message) = Message::decode(data) else {
        return;
    };
    assert!(message_len(data).is_ok_and(|n| n <= data.len()));
    let again = message.encode(message.serial);
    let back = Message::decode(&again).expect("an encoded message decodes");
    assert_eq!(back.encode(back.serial), again);
});
