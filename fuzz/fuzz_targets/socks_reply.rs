//! The SOCKS5 reply parsers (`boardnet::http::fuzzing::socks_*`), in the order the connector
//! reads a proxy's answers: method choice (2 bytes), the RFC 1929 authentication reply
//! (2 bytes) when username/password was chosen, then the CONNECT reply head (5 bytes). Each
//! parser also runs on its own on the start of the input.
#![no_main]

use boardnet::http::fuzzing::{socks_auth_reply, socks_connect_reply_rest, socks_method_choice};
use libfuzzer_sys::fuzz_target;

/// The longest rest of a CONNECT reply: a 255-byte domain name and the port.
const MAX_REST: usize = 255 + 2;

fn check_rest(head: [u8; 5]) {
    if let Ok(rest) = socks_connect_reply_rest(head) {
        assert!(rest <= MAX_REST, "{head:?}: {rest} more bytes");
    }
}

fuzz_target!(|data: &[u8]| {
    if let Some(&[a, b]) = data.first_chunk::<2>() {
        let _ = socks_method_choice([a, b]);
        let _ = socks_auth_reply([a, b]);
    }
    if let Some(head) = data.first_chunk::<5>() {
        check_rest(*head);
    }

    // The conversation.
    let Some((choice, mut rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let Ok(with_password) = socks_method_choice(*choice) else {
        return;
    };
    if with_password {
        let Some((reply, after)) = rest.split_first_chunk::<2>() else {
            return;
        };
        if socks_auth_reply(*reply).is_err() {
            return;
        }
        rest = after;
    }
    if let Some(head) = rest.first_chunk::<5>() {
        check_rest(*head);
    }
});
