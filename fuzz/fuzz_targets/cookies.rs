//! `boardnet::http::cookies::CookieJar`: `store_response`, `load_netscape`, `header_for`,
//! `to_netscape`, and the save/load round trip.
//!
//! Input layout:
//! - byte 0: flags; bit 0: the response came over https, bit 1: `header_for` asks for https,
//!   bit 2: use bytes 1..9 as `now` verbatim (else they pick a `now` in 2023..2118);
//! - bytes 1..9: `now`, little-endian (missing bytes are zero);
//! - the rest, up to the first NUL byte: LF-separated lines: request host, request path, then
//!   one `Set-Cookie` value per line (raw bytes, need not be UTF-8);
//! - after the NUL: cookie-file text for `load_netscape` (invalid UTF-8 replaced).
#![no_main]

use boardnet::http::cookies::CookieJar;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, data)) = data.split_first() else {
        return;
    };
    let mut now_bytes = [0u8; 8];
    let n = data.len().min(8);
    now_bytes[..n].copy_from_slice(&data[..n]);
    let data = &data[n..];
    let raw_now = u64::from_le_bytes(now_bytes);
    let now = if flags & 4 != 0 {
        raw_now
    } else {
        1_700_000_000 + raw_now % 3_000_000_000
    };

    let (response, file) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let mut lines = response.split(|&b| b == b'\n');
    let host = String::from_utf8_lossy(lines.next().unwrap_or_default());
    let path = String::from_utf8_lossy(lines.next().unwrap_or_default());
    let file = String::from_utf8_lossy(file);

    let mut jar = CookieJar::new();
    jar.store_response(&host, &path, flags & 1 != 0, lines, now);
    let _ = jar.load_netscape(&file, now);
    let _ = jar.header_for(&host, &path, flags & 2 != 0, now);
    for cookie in jar.iter() {
        let _ = jar.header_for(&cookie.domain, &cookie.path, true, now);
    }

    // Round trip: what the jar writes loads back, every live cookie of it.
    let text = jar.to_netscape(now);
    let live = jar
        .iter()
        .filter(|c| c.expires.is_none_or(|t| t > now))
        .count();
    let mut again = CookieJar::new();
    match again.load_netscape(&text, now) {
        Ok(loaded) => assert!(
            loaded == live && again.len() == live,
            "wrote {live} live cookies, load_netscape accepted {loaded} and the jar holds {}:\n{text}",
            again.len()
        ),
        Err(e) => panic!("to_netscape output does not load: {e}:\n{text}"),
    }
});
