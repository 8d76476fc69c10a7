//! `ftp://[user[:password]@]host[:port]/path` and `ftps://…` (implicit TLS), and `~/.netrc`.
//! Pure functions over strings.

use std::fmt;

use percent_encoding::percent_decode_str;

/// How the control connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain FTP.
    None,
    /// Plain connect, then `AUTH TLS` (RFC 4217; `--ftp-ssl`).
    Explicit,
    /// TLS from the first byte (`ftps://`, port 990).
    Implicit,
}

/// A parsed FTP URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FtpUrl {
    /// The server's name or address.
    pub host: String,
    /// Its port (21, or 990 for ftps://).
    pub port: u16,
    /// `user`, `password` from the URL, percent-decoded.
    pub user: Option<String>,
    /// The password, if the URL has one.
    pub password: Option<String>,
    /// The path after the host, percent-decoded, without its leading '/': relative to the
    /// login directory as RFC 1738 says (`/%2Fetc/x` is the absolute `/etc/x`). Empty for none.
    pub path: String,
    /// `ftps://`: TLS from the first byte (implicit FTPS).
    pub implicit_tls: bool,
}

/// Why an FTP URL was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FtpUrlError(pub String);

impl fmt::Display for FtpUrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad FTP URL: {}", self.0)
    }
}

impl std::error::Error for FtpUrlError {}

/// Whether `url` is for this module (`ftp://` or `ftps://`, any case).
pub fn is_ftp_url(url: &str) -> bool {
    let lower = url.trim().get(..7).unwrap_or("").to_ascii_lowercase();
    lower.starts_with("ftp://") || lower == "ftps://"
}

fn decode(s: &str, what: &str) -> Result<String, FtpUrlError> {
    let text = percent_decode_str(s)
        .decode_utf8()
        .map_err(|_| FtpUrlError(format!("{what} is not UTF-8 after percent-decoding")))?;
    // A CR or LF would end the command early and start another one.
    if text.chars().any(|c| c == '\r' || c == '\n' || c == '\0') {
        return Err(FtpUrlError(format!(
            "{what} contains an encoded line break or NUL"
        )));
    }
    Ok(text.into_owned())
}

/// Parse an `ftp://` or `ftps://` URL.
pub fn parse(input: &str) -> Result<FtpUrl, FtpUrlError> {
    let input = input.trim();
    if input.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(FtpUrlError(
            "contains spaces or control characters (percent-encode them)".into(),
        ));
    }
    let (scheme, rest) = input
        .split_once("://")
        .ok_or_else(|| FtpUrlError("no scheme (ftp:// or ftps://)".into()))?;
    let implicit_tls = match scheme.to_ascii_lowercase().as_str() {
        "ftp" => false,
        "ftps" => true,
        other => {
            return Err(FtpUrlError(format!(
                "scheme \"{other}\" is not ftp or ftps"
            )))
        }
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let path = path.split(['?', '#']).next().unwrap_or("");
    let (userinfo, host_port) = match authority.rfind('@') {
        Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
        None => (None, authority),
    };
    let (user, password) = match userinfo {
        None => (None, None),
        Some(info) => {
            let (u, p) = match info.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (info, None),
            };
            (
                Some(decode(u, "user name")?),
                p.map(|p| decode(p, "password")).transpose()?,
            )
        }
    };
    let authority = crate::authority::split(host_port).map_err(|e| FtpUrlError(e.to_string()))?;
    let host = authority.host.to_string();
    let port = authority
        .port
        .unwrap_or(if implicit_tls { 990 } else { 21 });
    // curl's ";type=i|a|d" suffix: binary is what we always use; drop it.
    let path = match path.rfind(";type=") {
        Some(i) if path.len() == i + 7 => &path[..i],
        _ => path,
    };
    let path = decode(path.strip_prefix('/').unwrap_or(path), "path")?;
    Ok(FtpUrl {
        host,
        port,
        user,
        password,
        path,
        implicit_tls,
    })
}

impl FtpUrl {
    /// Whether the URL names a directory (no path, or one ending in '/'), not a file.
    pub fn is_directory(&self) -> bool {
        self.path.is_empty() || self.path.ends_with('/')
    }

    /// Where an upload of `local` goes: the URL's path, or for a directory URL that directory
    /// plus the local file's name (`None` when `local` has no usable name).
    pub fn upload_path(&self, local: &std::path::Path) -> Option<String> {
        if !self.is_directory() {
            return Some(self.path.clone());
        }
        let name = local.file_name()?.to_str()?;
        Some(format!("{}{name}", self.path))
    }
}

/// The last path segment, for `-O` and for `put` to a directory URL.
pub fn file_name(path: &str) -> Option<&str> {
    path.rsplit('/')
        .next()
        .filter(|n| !n.is_empty() && *n != "." && *n != "..")
}

/// Login and password for `host` from a `.netrc` text (`machine`, `default`, `login`,
/// `password`, `account` and `macdef` blocks; a `default` entry applies when no machine
/// matches).
pub fn netrc_lookup(text: &str, host: &str) -> Option<(String, Option<String>)> {
    let mut tokens = NetrcTokens { rest: text };
    let mut found: Option<(String, Option<String>)> = None;
    let mut default: Option<(String, Option<String>)> = None;
    // Which entry the login/password tokens now belong to.
    enum Current {
        Skip,
        Match,
        Default,
    }
    let mut current = Current::Skip;
    let mut entry = (None::<String>, None::<String>);
    let mut flush = |current: &Current, entry: &mut (Option<String>, Option<String>)| {
        let (login, password) = (entry.0.take(), entry.1.take());
        let Some(login) = login else { return };
        match current {
            Current::Match if found.is_none() => found = Some((login, password)),
            Current::Default if default.is_none() => default = Some((login, password)),
            _ => {}
        }
    };
    while let Some(token) = tokens.next() {
        match token {
            "machine" => {
                flush(&current, &mut entry);
                current = match tokens.next() {
                    Some(name) if name.eq_ignore_ascii_case(host) => Current::Match,
                    _ => Current::Skip,
                };
            }
            "default" => {
                flush(&current, &mut entry);
                current = Current::Default;
            }
            "login" => entry.0 = tokens.next().map(str::to_string),
            "password" => entry.1 = tokens.next().map(str::to_string),
            "account" => {
                tokens.next();
            }
            "macdef" => {
                flush(&current, &mut entry);
                current = Current::Skip;
                tokens.skip_macro();
            }
            _ => {}
        }
    }
    flush(&current, &mut entry);
    found.or(default)
}

/// Whitespace-separated words, `"quoted words"` with backslash escapes kept as one.
struct NetrcTokens<'a> {
    rest: &'a str,
}

impl<'a> NetrcTokens<'a> {
    fn next(&mut self) -> Option<&'a str> {
        let text = self.rest.trim_start();
        if text.is_empty() {
            self.rest = text;
            return None;
        }
        if let Some(quoted) = text.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            self.rest = quoted.get(end + 1..).unwrap_or("");
            return Some(&quoted[..end]);
        }
        let end = text.find(char::is_whitespace).unwrap_or(text.len());
        self.rest = &text[end..];
        Some(&text[..end])
    }

    /// A macro runs to the next empty line.
    fn skip_macro(&mut self) {
        self.rest = match self.rest.find("\n\n") {
            Some(i) => &self.rest[i + 2..],
            None => "",
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = parse("ftp://us%40er:p%3Ass@Host.example:2121/dir/a%20b.bin").unwrap();
        assert_eq!(u.host, "Host.example");
        assert_eq!(u.port, 2121);
        assert_eq!(u.user.as_deref(), Some("us@er"));
        assert_eq!(u.password.as_deref(), Some("p:ss"));
        assert_eq!(u.path, "dir/a b.bin");
        assert!(!u.implicit_tls);
        let v6 = parse("FTPS://[::1]/%2Fetc/x;type=i").unwrap();
        assert_eq!(
            (v6.host.as_str(), v6.port, v6.implicit_tls),
            ("::1", 990, true)
        );
        assert_eq!(v6.path, "/etc/x");
        let bare = parse("ftp://127.0.0.1").unwrap();
        assert_eq!((bare.port, bare.path.as_str(), bare.user), (21, "", None));
        let user_only = parse("ftp://anna@h/").unwrap();
        assert_eq!(
            (user_only.user.as_deref(), user_only.password),
            (Some("anna"), None)
        );
        for bad in [
            "http://x/",
            "ftp://",
            "ftp://:21/",
            "ftp://h:0/",
            "ftp://h:x/",
            "ftp://h:70000/",
            "ftp://h:+21/",
            "ftp://::1:21/",
            "ftp://[::1/",
            "ftp://h/a%0d%0aDELE%20b",
            "ftp://h/a b",
            "ftp://h/%ff",
            "ftp:/h",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(is_ftp_url("FTP://h/") && is_ftp_url("ftps://h/"));
        assert!(!is_ftp_url("http://h/") && !is_ftp_url("ftpx://h/") && !is_ftp_url("ftp"));
    }

    #[test]
    fn file_names() {
        assert_eq!(file_name("dir/fw.bin"), Some("fw.bin"));
        assert_eq!(file_name("fw.bin"), Some("fw.bin"));
        assert_eq!(file_name("dir/"), None);
        assert_eq!(file_name(""), None);
        assert_eq!(file_name("a/.."), None);
    }

    #[test]
    fn netrc() {
        let text = "machine other login o password op\n\
                    machine board.local\n  login anna\n  password \"s3cret word\"\n\
                    macdef init\ncd /pub\nbin\n\n\
                    default login anonymous password guest@\n";
        assert_eq!(
            netrc_lookup(text, "BOARD.local"),
            Some(("anna".into(), Some("s3cret word".into())))
        );
        assert_eq!(
            netrc_lookup(text, "other"),
            Some(("o".into(), Some("op".into())))
        );
        assert_eq!(
            netrc_lookup(text, "elsewhere"),
            Some(("anonymous".into(), Some("guest@".into())))
        );
        assert_eq!(netrc_lookup("machine a password p", "a"), None);
        assert_eq!(netrc_lookup("", "a"), None);
        assert_eq!(netrc_lookup("machine", "a"), None);
        assert_eq!(
            netrc_lookup("machine a login \"unterminated", "a"),
            Some(("unterminated".into(), None))
        );
    }
}
