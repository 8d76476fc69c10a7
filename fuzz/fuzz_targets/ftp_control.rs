//! `boardnet::ftp`: the control-reply reader, the 227/229/257/213 payload parsers, FEAT,
//! MLSD and LIST lines, FTP URLs and `.netrc` — everything that reads what a server (or a
//! user's file) sends.
//!
//! Input: raw bytes. They are fed to the reply reader in pieces of varying size (the first
//! byte picks the piece size), so every split of a reply is exercised; each complete reply's
//! text goes through the payload parsers, and each line of the input through the listing,
//! URL and netrc parsers. Invariants: no panic, replies have 100–599 codes, nothing exceeds
//! the documented bounds.
#![no_main]

use boardnet::ftp::listing::{parse_list_line, parse_mlsd_line};
use boardnet::ftp::proto::{
    parse_epsv, parse_pasv, parse_quoted_path, parse_size, parse_timeval, Features, ReplyReader,
    MAX_REPLY,
};
use boardnet::ftp::url::{netrc_lookup, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&step, body)) = data.split_first() else {
        return;
    };
    let step = usize::from(step % 64) + 1;
    let mut reader = ReplyReader::new();
    'feed: for piece in body.chunks(step) {
        let buf = reader.buffer();
        assert!(buf.len() >= piece.len());
        buf[..piece.len()].copy_from_slice(piece);
        reader.filled(piece.len());
        loop {
            match reader.next_reply() {
                Ok(Some(reply)) => {
                    assert!((100..600).contains(&reply.code), "{}", reply.code);
                    assert!(reply.text.len() <= MAX_REPLY + 4);
                    let _ = parse_pasv(&reply.text);
                    let _ = parse_epsv(&reply.text);
                    let _ = parse_quoted_path(&reply.text);
                    let _ = parse_size(&reply.text);
                    let _ = parse_timeval(&reply.text);
                    let _ = Features::parse(&reply.text);
                }
                Ok(None) => break,
                Err(_) => break 'feed,
            }
        }
    }
    let text = String::from_utf8_lossy(body);
    for line in text.lines().take(64) {
        let _ = parse_mlsd_line(line);
        let _ = parse_list_line(line, (2026, 11));
        if let Ok(url) = parse(line) {
            assert!(!url.host.is_empty() && url.port != 0);
            assert!(!url.path.contains(['\r', '\n', '\0']));
        }
    }
    let _ = netrc_lookup(&text, "127.0.0.1");
});
