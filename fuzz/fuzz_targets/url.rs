//! `boardnet::http::url`: `parse`, `resolve_reference`, `remote_file_name`, `with_query`.
//!
//! Input: UTF-8 text (anything else is skipped). The first half is parsed as the base URL (a
//! fixed base stands in when it does not parse), the rest is the `Location` reference; the
//! rest's `&`-separated `name=value` pairs are also appended to the base with `with_query`.
#![no_main]

use boardnet::http::url::{parse, remote_file_name, resolve_reference, with_query};
use libfuzzer_sys::fuzz_target;

/// `remote_file_name`'s contract: `None`, or a name that cannot leave the download directory.
/// (A macro because boardnet does not re-export `Uri`'s type.)
macro_rules! check_file_name {
    ($uri:expr) => {
        let uri = $uri;
        if let Some(name) = remote_file_name(uri) {
            assert!(
                !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0']),
                "remote_file_name({uri}) = {name:?}"
            );
        }
    };
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut mid = text.len() / 2;
    while !text.is_char_boundary(mid) {
        mid -= 1;
    }
    let (first, rest) = text.split_at(mid);

    if let Ok(whole) = parse(text) {
        check_file_name!(&whole.uri);
    }
    let base = match parse(first) {
        Ok(target) => target.uri,
        Err(_) => "http://example.com/a/b/c?q=1".parse().expect("fixed base"),
    };
    check_file_name!(&base);
    if let Ok(resolved) = resolve_reference(&base, rest) {
        check_file_name!(&resolved);
    }
    let items: Vec<(String, String)> = rest
        .split('&')
        .take(16)
        .map(|item| {
            let (name, value) = item.split_once('=').unwrap_or((item, ""));
            (name.to_owned(), value.to_owned())
        })
        .collect();
    if let Ok(uri) = with_query(&base, &items) {
        check_file_name!(&uri);
    }
});
