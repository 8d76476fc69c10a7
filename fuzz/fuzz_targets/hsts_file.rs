//! HSTS (`boardnet::http::hsts`): curl's cache file as read by `--hsts FILE`, and
//! `Strict-Transport-Security` values. The first line is a header value recorded for a host;
//! the whole input is also read as a file, written back, and read again to the same list.
#![no_main]

use boardnet::http::hsts::{HstsStore, MAX_ENTRIES};
use libfuzzer_sys::fuzz_target;

const NOW: u64 = 1_796_000_000;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (mut store, _) = HstsStore::parse(&text, NOW);
    assert!(store.len() <= MAX_ENTRIES);
    let written = store.to_text(NOW);
    assert_eq!(HstsStore::parse(&written, NOW).0, store, "{written}");
    let header = text.lines().next().unwrap_or_default();
    if store.record("fw.example.test", header, NOW) {
        let _ = store.must_upgrade("fw.example.test", NOW);
    }
    let _ = store.must_upgrade("a.b.example.test", NOW + 1);
});
