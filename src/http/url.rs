//! URL handling the HTTP client needs beyond `http::Uri`: credentials in the authority, query
//! items, redirect targets (RFC 3986 reference resolution) and file names for `-O`.
//! Pure functions over strings; no I/O.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use ureq::http::Uri;

use crate::error::Quoted;

/// Characters left as they are in query names/values: RFC 3986 "unreserved".
const QUERY_ITEM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A URL the client can request: scheme http or https, a host, credentials split off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The URL without user information (what goes on the wire).
    pub uri: Uri,
    /// `user:password` from the URL's authority, percent-decoded.
    pub credentials: Option<(String, String)>,
}

/// Why a URL was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// Not a URL at all, or not one `http::Uri` accepts.
    Malformed(String),
    /// A scheme this client does not speak.
    UnsupportedScheme(String),
    /// No host in the URL.
    MissingHost,
}

impl std::fmt::Display for UrlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UrlError::Malformed(why) => write!(f, "malformed URL: {why}"),
            UrlError::UnsupportedScheme(s) => {
                write!(
                    f,
                    "unsupported scheme {} (use http:// or https://)",
                    Quoted(s)
                )
            }
            UrlError::MissingHost => f.write_str("URL has no host"),
        }
    }
}

/// Parse a user-supplied URL. Like curl, a URL without a scheme means http://.
pub fn parse(input: &str) -> Result<Target, UrlError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(UrlError::Malformed("empty".into()));
    }
    if input.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(UrlError::Malformed(
            "contains spaces or control characters (percent-encode them)".into(),
        ));
    }
    let (scheme, rest) = match input.find("://") {
        Some(i) => (&input[..i], &input[i + 3..]),
        None => ("http", input),
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(UrlError::UnsupportedScheme(scheme));
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path_etc) = rest.split_at(authority_end);
    // A '#fragment' is never sent.
    let path_etc = path_etc.split('#').next().unwrap_or("");
    let (credentials, host_port) = match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
            (Some((decode(user), decode(pass))), &authority[at + 1..])
        }
        None => (None, authority),
    };
    let host_port = checked_authority(host_port)?;
    let path_etc = if path_etc.is_empty() || path_etc.starts_with('?') {
        format!("/{path_etc}")
    } else {
        path_etc.to_string()
    };
    let uri: Uri = format!("{scheme}://{host_port}{path_etc}")
        .parse()
        .map_err(|e: ureq::http::uri::InvalidUri| UrlError::Malformed(e.to_string()))?;
    if uri.host().is_none_or(str::is_empty) {
        return Err(UrlError::MissingHost);
    }
    Ok(Target { uri, credentials })
}

/// The authority as `http::Uri` should see it: host and port checked (a port out of range is
/// an error, never the default port), an empty port dropped.
fn checked_authority(host_port: &str) -> Result<&str, UrlError> {
    use crate::authority::{split, AuthorityError};
    match split(host_port) {
        Ok(_) => Ok(host_port.strip_suffix(':').unwrap_or(host_port)),
        Err(AuthorityError::MissingHost) => Err(UrlError::MissingHost),
        Err(e) => Err(UrlError::Malformed(e.to_string())),
    }
}

/// Append `name=value` items, percent-encoded, to the URL's query.
pub fn with_query(uri: &Uri, items: &[(String, String)]) -> Result<Uri, UrlError> {
    if items.is_empty() {
        return Ok(uri.clone());
    }
    let mut query = uri.query().unwrap_or("").to_string();
    for (name, value) in items {
        if !query.is_empty() {
            query.push('&');
        }
        query.extend(utf8_percent_encode(name, QUERY_ITEM));
        query.push('=');
        query.extend(utf8_percent_encode(value, QUERY_ITEM));
    }
    let base = uri.to_string();
    let base = base.split('?').next().unwrap_or(&base);
    format!("{base}?{query}")
        .parse()
        .map_err(|e: ureq::http::uri::InvalidUri| UrlError::Malformed(e.to_string()))
}

/// Percent-encode one form item (`application/x-www-form-urlencoded` as curl's
/// `--data-urlencode` does: unreserved characters stay, everything else is %XX).
pub fn encode_component(value: &str) -> String {
    utf8_percent_encode(value, QUERY_ITEM).to_string()
}

/// The name `-O` saves to: the last path segment, percent-decoded. `None` when the URL ends in
/// `/` or the segment would escape the directory (`..`, a decoded `/`) — never trust a server
/// or URL with a path.
pub fn remote_file_name(uri: &Uri) -> Option<String> {
    let segment = uri.path().rsplit('/').next()?;
    let name = percent_decode_str(segment).decode_utf8().ok()?;
    let bad =
        name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0');
    (!bad).then(|| name.into_owned())
}

/// Scheme, host and port: two URLs with the same origin may share credentials.
pub fn same_origin(a: &Uri, b: &Uri) -> bool {
    a.scheme_str() == b.scheme_str()
        && a.host().map(str::to_ascii_lowercase) == b.host().map(str::to_ascii_lowercase)
        && port_or_default(a) == port_or_default(b)
}

/// The port, defaulted from the scheme.
pub fn port_or_default(uri: &Uri) -> u16 {
    uri.port_u16()
        .unwrap_or(if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        })
}

/// Resolve a `Location` header against the URL that was requested (RFC 3986 section 5.2).
pub fn resolve_reference(base: &Uri, reference: &str) -> Result<Uri, UrlError> {
    let reference = reference.trim();
    let reference = reference.split('#').next().unwrap_or("");
    let scheme = base.scheme_str().unwrap_or("http");
    let authority = base.authority().map(|a| a.as_str()).unwrap_or("");
    // An absolute URL: a scheme followed by ':' before any '/', '?' or '#'.
    let has_scheme = reference
        .find(':')
        .is_some_and(|i| !reference[..i].contains(['/', '?']) && i > 0);
    let target = if has_scheme {
        reference.to_string()
    } else if let Some(rest) = reference.strip_prefix("//") {
        format!("{scheme}://{rest}")
    } else {
        let (ref_path, ref_query) = match reference.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (reference, None),
        };
        let (path, query) = if ref_path.is_empty() {
            (base.path().to_string(), ref_query.or(base.query()))
        } else if ref_path.starts_with('/') {
            (remove_dot_segments(ref_path), ref_query)
        } else {
            let base_path = base.path();
            let dir = &base_path[..base_path.rfind('/').map_or(0, |i| i + 1)];
            let merged = if dir.is_empty() {
                format!("/{ref_path}")
            } else {
                format!("{dir}{ref_path}")
            };
            (remove_dot_segments(&merged), ref_query)
        };
        match query {
            Some(q) => format!("{scheme}://{authority}{path}?{q}"),
            None => format!("{scheme}://{authority}{path}"),
        }
    };
    parse(&target).map(|t| t.uri)
}

/// RFC 3986 section 5.2.4.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.len().saturating_sub(1);
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." => {
                if i == last {
                    out.push("");
                }
            }
            ".." => {
                if out.len() > 1 {
                    out.pop();
                }
                if i == last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    if joined.starts_with('/') {
        joined
    } else {
        format!("/{joined}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_splits_credentials() {
        let t = parse("http://us%40er:p%3Ass@Example.com:8080/a/b?x=1#frag").unwrap();
        assert_eq!(t.uri.to_string(), "http://Example.com:8080/a/b?x=1");
        assert_eq!(
            t.credentials,
            Some(("us@er".to_string(), "p:ss".to_string()))
        );
        assert_eq!(
            parse("example.com").unwrap().uri.to_string(),
            "http://example.com/"
        );
        assert_eq!(
            parse("https://h?q=1").unwrap().uri.to_string(),
            "https://h/?q=1"
        );
        assert_eq!(
            parse("http://[::1]:99/x").unwrap().uri.host(),
            Some("[::1]")
        );
    }

    #[test]
    fn rejects_bad_urls_with_reasons() {
        assert_eq!(
            parse("gopher://h/").unwrap_err(),
            UrlError::UnsupportedScheme("gopher".into())
        );
        assert_eq!(parse("http://").unwrap_err(), UrlError::MissingHost);
        assert_eq!(parse("http://user@/x").unwrap_err(), UrlError::MissingHost);
        assert_eq!(parse("http://:80/").unwrap_err(), UrlError::MissingHost);
        assert!(matches!(parse("http://h/a b"), Err(UrlError::Malformed(_))));
        assert!(matches!(parse(""), Err(UrlError::Malformed(_))));
        assert!(matches!(parse("http://h^/"), Err(UrlError::Malformed(_))));
    }

    #[test]
    fn ports_out_of_range_are_errors_not_port_80() {
        for url in [
            "http://h:70000/",
            "http://h:65536/",
            "http://h:abc/",
            "http://h:18446744073709551696/",
            "http://h:0/",
            "https://[::1]:99999/",
        ] {
            let err = parse(url).unwrap_err();
            assert!(err.to_string().contains("1 to 65535"), "{url}: {err}");
        }
        assert_eq!(parse("http://h:/x").unwrap().uri.to_string(), "http://h/x");
        assert_eq!(
            parse("http://h:65535/").unwrap().uri.port_u16(),
            Some(65535)
        );
        let err = parse("http://::1:8080/").unwrap_err();
        assert!(err.to_string().contains("brackets"), "{err}");
    }

    #[test]
    fn query_items_are_percent_encoded_and_appended() {
        let items = vec![
            ("a b".to_string(), "x&y=z".to_string()),
            ("ü".to_string(), "~ok-._".to_string()),
        ];
        assert_eq!(
            with_query(&uri("http://h/p?k=v"), &items)
                .unwrap()
                .to_string(),
            "http://h/p?k=v&a%20b=x%26y%3Dz&%C3%BC=~ok-._"
        );
        assert_eq!(
            with_query(&uri("http://h/p"), &items[..1])
                .unwrap()
                .to_string(),
            "http://h/p?a%20b=x%26y%3Dz"
        );
    }

    #[test]
    fn remote_names_never_escape() {
        assert_eq!(
            remote_file_name(&uri("http://h/dir/fw%20v2.img?x=1")).as_deref(),
            Some("fw v2.img")
        );
        assert_eq!(remote_file_name(&uri("http://h/dir/")), None);
        assert_eq!(remote_file_name(&uri("http://h/")), None);
        assert_eq!(remote_file_name(&uri("http://h/a/..")), None);
        assert_eq!(remote_file_name(&uri("http://h/a/..%2Fetc%2Fpasswd")), None);
    }

    #[test]
    fn reference_resolution_follows_rfc3986_examples() {
        let base = uri("http://a/b/c/d;p?q");
        for (r, want) in [
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g/"),
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            ("#s", "http://a/b/c/d;p?q"),
            ("", "http://a/b/c/d;p?q"),
            (".", "http://a/b/c/"),
            ("./", "http://a/b/c/"),
            ("..", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../g", "http://a/g"),
            ("../../../g", "http://a/g"),
            ("/./g", "http://a/g"),
            ("g/../h", "http://a/b/c/h"),
            ("https://other:8443/x", "https://other:8443/x"),
        ] {
            assert_eq!(
                resolve_reference(&base, r).unwrap().to_string(),
                want,
                "{r}"
            );
        }
        assert!(matches!(
            resolve_reference(&base, "ftp://x/y"),
            Err(UrlError::UnsupportedScheme(_))
        ));
    }

    #[test]
    fn origins() {
        assert!(same_origin(&uri("http://H:80/a"), &uri("http://h/b")));
        assert!(!same_origin(&uri("http://h/a"), &uri("https://h/a")));
        assert!(!same_origin(&uri("http://h/a"), &uri("http://h:81/a")));
        assert!(!same_origin(&uri("http://h/a"), &uri("http://g/a")));
    }
}
