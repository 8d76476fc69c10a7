//! `WWW-Authenticate` / `Proxy-Authenticate` values (`boardnet::http::auth`): the challenge
//! lexer, the choice of an answer, and the Digest response computed from what was chosen. Each
//! input line is one header value, as a server may send several.
#![no_main]

use boardnet::http::auth::{choose, parse_challenges, Answer, AuthPolicy, MAX_VALUE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for value in text.lines() {
        for challenge in parse_challenges(value) {
            for (_, v) in &challenge.params {
                assert!(v.len() <= MAX_VALUE, "a parameter longer than the cap");
            }
        }
    }
    for policy in [AuthPolicy::Basic, AuthPolicy::Digest, AuthPolicy::Any] {
        if let Ok(Answer::Digest(digest)) = choose(text.lines(), policy) {
            let header = digest.authorization("user", "pass word", "GET", "/fw.bin", 1, "c0ffee");
            assert!(header.starts_with("Digest "), "{header}");
        }
    }
});
