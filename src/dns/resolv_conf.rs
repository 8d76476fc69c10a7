//! resolv.conf(5): servers, search list and options as glibc reads them, and noticing when the
//! file changes under a long-running process (a bearer change rewrites it).

use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::name::Name;

/// glibc's MAXNS: later `nameserver` lines are ignored.
pub const MAX_SERVERS: usize = 3;
/// glibc's MAXDNSRCH.
const MAX_SEARCH: usize = 6;

/// The resolver configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvConf {
    /// In file order, port 53.
    pub servers: Vec<SocketAddr>,
    /// Search domains, in order.
    pub search: Vec<Name>,
    /// Names with at least this many dots are tried as given before the search list.
    pub ndots: u8,
    /// Per try, per server.
    pub timeout: Duration,
    /// Rounds over all servers.
    pub attempts: u8,
    /// Start each lookup at the next server instead of the first.
    pub rotate: bool,
    /// `use-vc`: always TCP.
    pub use_tcp: bool,
}

impl Default for ResolvConf {
    /// glibc's defaults for a missing or empty file: the local server, no search list.
    fn default() -> Self {
        ResolvConf {
            servers: vec![SocketAddr::from(([127, 0, 0, 1], 53))],
            search: Vec::new(),
            ndots: 1,
            timeout: Duration::from_secs(5),
            attempts: 2,
            rotate: false,
            use_tcp: false,
        }
    }
}

impl ResolvConf {
    /// Parse the file's text. Unknown lines and options are ignored, as glibc does; bad
    /// values fall back to the defaults. `RES_OPTIONS` and `LOCALDOMAIN` are applied by
    /// [`ResolvConf::load`], not here.
    pub fn parse(text: &str) -> ResolvConf {
        let mut conf = ResolvConf {
            servers: Vec::new(),
            ..ResolvConf::default()
        };
        let mut search_given = false;
        for line in text.lines() {
            let line = line.split(['#', ';']).next().unwrap_or("");
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => {
                    if let Some(addr) = words.next().and_then(parse_server) {
                        if conf.servers.len() < MAX_SERVERS {
                            conf.servers.push(addr);
                        }
                    }
                }
                // The last of `domain` and `search` wins (glibc).
                Some("domain") => {
                    conf.search = words.next().and_then(parse_domain).into_iter().collect();
                    search_given = true;
                }
                Some("search") => {
                    conf.search = words.filter_map(parse_domain).take(MAX_SEARCH).collect();
                    search_given = true;
                }
                Some("options") => conf.apply_options(words),
                _ => {}
            }
        }
        if conf.servers.is_empty() {
            conf.servers = ResolvConf::default().servers;
        }
        if !search_given {
            conf.search = local_domain().into_iter().collect();
        }
        conf
    }

    /// Apply `options` words (also used for `RES_OPTIONS`).
    pub fn apply_options<'a>(&mut self, words: impl Iterator<Item = &'a str>) {
        for word in words {
            let (key, value) = word.split_once(':').unwrap_or((word, ""));
            let num = || value.parse::<u32>().ok();
            match key {
                "ndots" => self.ndots = num().map_or(self.ndots, |n| n.min(15) as u8),
                "timeout" => {
                    if let Some(n) = num() {
                        self.timeout = Duration::from_secs(u64::from(n.clamp(1, 30)));
                    }
                }
                "attempts" => self.attempts = num().map_or(self.attempts, |n| n.clamp(1, 5) as u8),
                "rotate" => self.rotate = true,
                "use-vc" => self.use_tcp = true,
                _ => {}
            }
        }
    }

    /// Read `path` (a missing file means glibc's defaults), then apply `LOCALDOMAIN` and
    /// `RES_OPTIONS` from the environment as glibc does.
    pub fn load(path: &Path) -> std::io::Result<ResolvConf> {
        let mut conf = match std::fs::read_to_string(path) {
            Ok(text) => ResolvConf::parse(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => ResolvConf::parse(""),
            Err(e) => return Err(e),
        };
        if let Ok(domains) = std::env::var("LOCALDOMAIN") {
            conf.search = domains
                .split_whitespace()
                .filter_map(parse_domain)
                .take(MAX_SEARCH)
                .collect();
        }
        if let Ok(options) = std::env::var("RES_OPTIONS") {
            conf.apply_options(options.split_whitespace());
        }
        Ok(conf)
    }

    /// The names to try for what the user typed, in order (res_search's rules): an absolute
    /// name only as given; one with at least `ndots` dots as given first, then with each
    /// search domain; a shorter one with the search domains first, then as given.
    pub fn candidates(&self, text: &str) -> Result<Vec<Name>, super::name::NameError> {
        let name = Name::from_text(text)?;
        if super::name::is_absolute_text(text) || self.search.is_empty() {
            return Ok(vec![name]);
        }
        let searched = self
            .search
            .iter()
            .filter_map(|domain| name.append(domain).ok());
        let as_given_first = super::name::dots_in_text(text) >= usize::from(self.ndots);
        let mut out = Vec::with_capacity(self.search.len() + 1);
        if as_given_first {
            out.push(name.clone());
            out.extend(searched);
        } else {
            out.extend(searched);
            out.push(name);
        }
        Ok(out)
    }
}

fn parse_server(text: &str) -> Option<SocketAddr> {
    // `fe80::1%eth0`: an interface scope.
    let (addr, scope) = match text.split_once('%') {
        Some((a, s)) => (a, Some(s)),
        None => (text, None),
    };
    match addr.parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => Some(SocketAddr::from((v4, 53))),
        IpAddr::V6(v6) => {
            let scope_id = match scope {
                None => 0,
                Some(s) => s.parse::<u32>().ok().or_else(|| if_index(s))?,
            };
            Some(SocketAddr::V6(std::net::SocketAddrV6::new(
                v6, 53, 0, scope_id,
            )))
        }
    }
}

fn if_index(name: &str) -> Option<u32> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: a valid NUL-terminated string.
    let index = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (index != 0).then_some(index)
}

fn parse_domain(text: &str) -> Option<Name> {
    let text = text.trim_end_matches('.');
    (!text.is_empty())
        .then(|| Name::from_text(text).ok())
        .flatten()
}

/// The local domain: the host name after its first dot (glibc's default search list).
fn local_domain() -> Option<Name> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let len = buf.iter().position(|&b| b == 0)?;
    let host = std::str::from_utf8(&buf[..len]).ok()?;
    parse_domain(host.split_once('.')?.1)
}

/// The identity of a file version: changes when it is rewritten in place or replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    Some(Stamp {
        dev: m.dev(),
        ino: m.ino(),
        size: m.size(),
        mtime: m.mtime(),
        mtime_nsec: m.mtime_nsec(),
    })
}

/// Notices that resolv.conf changed, checking at most once per `interval` (a burst of
/// lookups costs one `stat`).
#[derive(Debug)]
pub struct Freshness {
    path: PathBuf,
    interval: Duration,
    seen: Option<Stamp>,
    checked: Option<Instant>,
}

impl Freshness {
    /// Start watching; the file as it is now counts as seen.
    pub fn new(path: impl Into<PathBuf>, interval: Duration) -> Freshness {
        let path = path.into();
        let seen = stamp(&path);
        Freshness {
            path,
            interval,
            seen,
            checked: Some(Instant::now()),
        }
    }

    /// The file this configuration was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file changed (or appeared, or vanished) since the last time this said so.
    pub fn changed(&mut self, now: Instant) -> bool {
        if self
            .checked
            .is_some_and(|t| now.saturating_duration_since(t) < self.interval)
        {
            return false;
        }
        self.checked = Some(now);
        let current = stamp(&self.path);
        if current == self.seen {
            return false;
        }
        self.seen = current;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Name {
        Name::from_text(s).unwrap()
    }

    #[test]
    fn parses_like_glibc() {
        let conf = ResolvConf::parse(
            "# comment\nnameserver 10.0.0.1\nnameserver ::1 ; trailing\nnameserver bogus\n\
             nameserver 10.0.0.2\nnameserver 10.0.0.3\nnameserver 10.0.0.4\n\
             domain ignored.test\nsearch a.test b.test.\n\
             options ndots:3 timeout:2 attempts:4 rotate use-vc unknown:9\n",
        );
        assert_eq!(
            conf.servers,
            vec![
                "10.0.0.1:53".parse().unwrap(),
                "[::1]:53".parse().unwrap(),
                "10.0.0.2:53".parse().unwrap(),
            ]
        );
        assert_eq!(conf.search, vec![name("a.test"), name("b.test")]);
        assert_eq!(conf.ndots, 3);
        assert_eq!(conf.timeout, Duration::from_secs(2));
        assert_eq!(conf.attempts, 4);
        assert!(conf.rotate && conf.use_tcp);
    }

    #[test]
    fn defaults_and_clamps() {
        let conf = ResolvConf::parse("search x.test\noptions timeout:0 attempts:99 ndots:40\n");
        assert_eq!(conf.servers, vec!["127.0.0.1:53".parse().unwrap()]);
        assert_eq!(conf.timeout, Duration::from_secs(1));
        assert_eq!(conf.attempts, 5);
        assert_eq!(conf.ndots, 15);
        let conf = ResolvConf::parse("search a.test\ndomain d.test\n");
        assert_eq!(
            conf.search,
            vec![name("d.test")],
            "the last of domain/search wins"
        );
    }

    #[test]
    fn search_order_follows_ndots() {
        let mut conf = ResolvConf::parse("search s1.test s2.test\n");
        let names = |c: &ResolvConf, t: &str| -> Vec<String> {
            c.candidates(t)
                .unwrap()
                .iter()
                .map(Name::to_string)
                .collect()
        };
        assert_eq!(
            names(&conf, "host"),
            ["host.s1.test.", "host.s2.test.", "host."]
        );
        assert_eq!(
            names(&conf, "a.b"),
            ["a.b.", "a.b.s1.test.", "a.b.s2.test."]
        );
        assert_eq!(names(&conf, "a.b."), ["a.b."]);
        conf.ndots = 2;
        assert_eq!(
            names(&conf, "a.b"),
            ["a.b.s1.test.", "a.b.s2.test.", "a.b."]
        );
        assert!(conf.candidates("a..b").is_err());
    }

    #[test]
    fn freshness_notices_rewrites_in_place_and_replacement() {
        let dir = std::env::temp_dir().join(format!("boardnet-resolv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("resolv.conf");
        std::fs::write(&path, "nameserver 10.0.0.1\n").unwrap();
        let mut f = Freshness::new(&path, Duration::from_secs(1));
        let t0 = Instant::now();
        assert!(!f.changed(t0 + Duration::from_secs(2)));
        // In place, same size: the mtime moves.
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&path, "nameserver 10.0.0.2\n").unwrap();
        assert!(!f.changed(t0 + Duration::from_millis(2500)), "rate-limited");
        assert!(f.changed(t0 + Duration::from_secs(4)));
        assert!(!f.changed(t0 + Duration::from_secs(6)));
        // Replaced by rename (new inode), as most tools do it.
        let tmp = dir.join("new");
        std::fs::write(&tmp, "nameserver 10.0.0.3\n").unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        assert!(f.changed(t0 + Duration::from_secs(8)));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
