//! HTTP Strict Transport Security (RFC 6797), sans-IO: the known-host list a client keeps,
//! read from and written to curl's HSTS cache file format, fed `Strict-Transport-Security`
//! headers, and asked whether an `http://` URL must go over `https://` instead.
//!
//! curl's format, one host per line (`#` comments):
//!
//! ```text
//! .example.com "20271231 23:59:59"    (leading dot: includeSubDomains; UTC expiry)
//! updates.example "unlimited"
//! ```

use std::fmt::Write as _;
use std::net::IpAddr;

/// Most hosts kept: a board talks to few servers, and a hostile list stays small. When full,
/// the entry that expires first makes room.
pub const MAX_ENTRIES: usize = 1000;

/// Longest line of an HSTS file that is read (a host name is at most 253 bytes).
pub const MAX_LINE: usize = 512;

/// One known HSTS host.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    /// Lower case, without a trailing dot.
    host: String,
    include_subdomains: bool,
    /// Unix seconds; `None`: never (curl's "unlimited").
    expires: Option<u64>,
}

impl Entry {
    fn live(&self, now: u64) -> bool {
        self.expires.is_none_or(|t| t > now)
    }
}

/// The known HSTS hosts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HstsStore {
    entries: Vec<Entry>,
}

/// A host name as HSTS compares it, or `None` for an IP literal (never an HSTS host).
fn canonical(host: &str) -> Option<String> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || bare.parse::<IpAddr>().is_ok() {
        return None;
    }
    Some(host)
}

impl HstsStore {
    /// An empty store.
    pub fn new() -> HstsStore {
        HstsStore::default()
    }

    /// Read curl's HSTS file text, line by line. Unusable lines (too long, no host, a bad
    /// date) are skipped, as curl does; their count is returned for a warning.
    pub fn parse(text: &str, now: u64) -> (HstsStore, usize) {
        let mut store = HstsStore::new();
        let mut skipped = 0;
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match parse_line(line) {
                Some(entry) if entry.live(now) => store.insert(entry),
                Some(_) => {}
                None => skipped += 1,
            }
        }
        (store, skipped)
    }

    /// The file text: a header comment and one line per live host.
    pub fn to_text(&self, now: u64) -> String {
        let mut out = String::from(
            "# HSTS cache (curl's format): host, or .host for includeSubDomains, and expiry (UTC)\n",
        );
        for e in self.entries.iter().filter(|e| e.live(now)) {
            let dot = if e.include_subdomains { "." } else { "" };
            let expiry = e.expires.map_or("unlimited".to_string(), format_expiry);
            let _ = writeln!(out, "{dot}{} \"{expiry}\"", e.host);
        }
        out
    }

    /// Whether `http://HOST` must be contacted over https instead (a live entry for the host,
    /// or for a parent domain with includeSubDomains).
    pub fn must_upgrade(&self, host: &str, now: u64) -> bool {
        let Some(host) = canonical(host) else {
            return false;
        };
        self.entries.iter().filter(|e| e.live(now)).any(|e| {
            e.host == host
                || (e.include_subdomains
                    && host
                        .strip_suffix(e.host.as_str())
                        .is_some_and(|head| head.ends_with('.')))
        })
    }

    /// Take the `Strict-Transport-Security` value a host sent over a verified https
    /// connection: add or renew it, or forget it on `max-age=0`. An invalid value changes
    /// nothing. Returns whether it was valid.
    pub fn record(&mut self, host: &str, header: &str, now: u64) -> bool {
        let Some(host) = canonical(host) else {
            return false;
        };
        let Some((max_age, include_subdomains)) = parse_sts(header) else {
            return false;
        };
        self.entries.retain(|e| e.host != host);
        if max_age > 0 {
            self.insert(Entry {
                host,
                include_subdomains,
                expires: Some(now.saturating_add(max_age)),
            });
        }
        true
    }

    /// Hosts known.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no host is known.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn insert(&mut self, entry: Entry) {
        self.entries.retain(|e| e.host != entry.host);
        if self.entries.len() >= MAX_ENTRIES {
            let soonest = self
                .entries
                .iter()
                .enumerate()
                .min_by_key(|(_, e)| e.expires.unwrap_or(u64::MAX))
                .map(|(i, _)| i);
            if let Some(i) = soonest {
                self.entries.swap_remove(i);
            }
        }
        self.entries.push(entry);
    }
}

/// `[.]host "YYYYMMDD HH:MM:SS"` or `[.]host "unlimited"`.
fn parse_line(line: &str) -> Option<Entry> {
    if line.len() > MAX_LINE {
        return None;
    }
    let (name, rest) = line.split_once(char::is_whitespace)?;
    let quoted = rest.trim();
    let when = quoted.strip_prefix('"')?.strip_suffix('"')?;
    let (include_subdomains, name) = match name.strip_prefix('.') {
        Some(n) => (true, n),
        None => (false, name),
    };
    let host = canonical(name)?;
    if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return None;
    }
    let expires = match when {
        "unlimited" => None,
        date => Some(parse_expiry(date)?),
    };
    Some(Entry {
        host,
        include_subdomains,
        expires,
    })
}

/// curl's `YYYYMMDD HH:MM:SS` (UTC) in unix seconds.
fn parse_expiry(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() != 17 || b[8] != b' ' || b[11] != b':' || b[14] != b':' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = text.get(range)?;
        digits
            .bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| digits.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hour, minute, second) = (num(9..11)?, num(12..14)?, num(15..17)?);
    let unix = crate::calendar::unix_seconds(year, month, day, hour, minute, second)?;
    u64::try_from(unix).ok()
}

fn format_expiry(unix: u64) -> String {
    let ((y, m, d), (hour, minute, second)) = crate::calendar::civil_time(unix);
    format!("{y:04}{m:02}{d:02} {hour:02}:{minute:02}:{second:02}")
}

/// RFC 6797 §6.1: `max-age` (required, once) and `includeSubDomains` (once); unknown
/// directives are ignored, a repeated one makes the header invalid.
fn parse_sts(header: &str) -> Option<(u64, bool)> {
    let mut max_age = None;
    let mut include_subdomains = false;
    for directive in header.split(';').map(str::trim).filter(|d| !d.is_empty()) {
        let (name, value) = match directive.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
            None => (directive, None),
        };
        if name.eq_ignore_ascii_case("max-age") {
            let seconds = value?.parse::<u64>().ok()?;
            if max_age.replace(seconds).is_some() {
                return None;
            }
        } else if name.eq_ignore_ascii_case("includesubdomains") {
            if include_subdomains || value.is_some() {
                return None;
            }
            include_subdomains = true;
        }
    }
    Some((max_age?, include_subdomains))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_796_000_000; // 2026-11-30

    #[test]
    fn curl_files_read_and_write_back() {
        let text = "# a comment\n\
                    .example.com \"20271231 23:59:59\"\n\
                    updates.example \"unlimited\"\n\
                    old.example \"20000101 00:00:00\"\n\
                    bad line\n\
                    192.0.2.1 \"unlimited\"\n";
        let (store, skipped) = HstsStore::parse(text, NOW);
        assert_eq!((store.len(), skipped), (2, 2), "{store:?}");
        let out = store.to_text(NOW);
        assert!(
            out.contains(".example.com \"20271231 23:59:59\"\n"),
            "{out}"
        );
        assert!(out.contains("updates.example \"unlimited\"\n"), "{out}");
        assert_eq!(HstsStore::parse(&out, NOW).0, store);
    }

    #[test]
    fn upgrades_follow_hosts_subdomains_and_expiry() {
        let mut store = HstsStore::new();
        assert!(store.record("Example.COM.", "max-age=600; includeSubDomains", NOW));
        assert!(store.record("plain.test", "max-age=\"60\"", NOW));
        assert!(store.must_upgrade("example.com", NOW));
        assert!(store.must_upgrade("fw.updates.example.com", NOW));
        assert!(!store.must_upgrade("notexample.com", NOW));
        assert!(store.must_upgrade("plain.test", NOW));
        assert!(
            !store.must_upgrade("sub.plain.test", NOW),
            "no includeSubDomains"
        );
        assert!(!store.must_upgrade("plain.test", NOW + 61), "expired");
        // max-age=0 forgets; IP literals are never HSTS hosts.
        assert!(store.record("plain.test", "max-age=0", NOW));
        assert!(!store.must_upgrade("plain.test", NOW));
        assert!(!store.record("127.0.0.1", "max-age=600", NOW));
        assert!(!store.record("[::1]", "max-age=600", NOW));
        assert!(!store.must_upgrade("[::1]", NOW));
    }

    #[test]
    fn invalid_headers_change_nothing() {
        let mut store = HstsStore::new();
        for bad in [
            "",
            "includeSubDomains",
            "max-age=abc",
            "max-age=1; max-age=2",
            "max-age=1; includeSubDomains; includeSubDomains",
            "max-age=-5",
        ] {
            assert!(!store.record("h.test", bad, NOW), "{bad:?}");
        }
        assert!(store.is_empty());
        assert!(store.record("h.test", "MAX-AGE=5; preload; foo=bar", NOW));
    }

    #[test]
    fn the_store_is_bounded() {
        let mut store = HstsStore::new();
        for i in 0..(MAX_ENTRIES as u64 + 50) {
            store.record(&format!("h{i}.test"), &format!("max-age={}", 1000 + i), NOW);
        }
        assert_eq!(store.len(), MAX_ENTRIES);
        assert!(
            !store.must_upgrade("h0.test", NOW),
            "the soonest to expire made room"
        );
        assert!(store.must_upgrade(&format!("h{}.test", MAX_ENTRIES + 49), NOW));
        let long = format!("{} \"unlimited\"", "a".repeat(MAX_LINE));
        assert_eq!(HstsStore::parse(&long, NOW).1, 1);
    }
}
