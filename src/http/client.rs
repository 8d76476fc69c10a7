//! `Client`: one per process, like QNetworkAccessManager — connection pool, cookie jar, TLS
//! configuration, proxy and interface binding, and the redirect policy.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ureq::config::IpFamily;
use ureq::http::Uri;
use ureq::unversioned::transport::Connector as _;
use ureq::Agent;

use super::auth::{AuthPolicy, Credentials};
use super::cookies::CookieJar;
use super::error::NetworkError;
use super::hsts::HstsStore;
use super::proxy::{self, HttpProxy, HttpProxyConnector};
use super::request::Request;
#[cfg(feature = "tls")]
use super::tls::TlsConnector;
use super::transport::{SocksConnector, SystemResolver, TcpConnector, TimeoutLimits};
use crate::cancel::CancelToken;
use crate::error::Quoted;
use crate::net::ConnectOptions;
#[cfg(feature = "tls")]
use crate::tls::TlsOptions;

/// The default `User-Agent`.
pub const USER_AGENT: &str = concat!("boardnet/", env!("CARGO_PKG_VERSION"));

pub use crate::net::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDLE_TIMEOUT};

/// Which address families to connect over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AddressFamily {
    #[default]
    /// IPv6 and IPv4, as the resolver orders them.
    Any,
    /// IPv4 only.
    Ipv4,
    /// IPv6 only.
    Ipv6,
}

/// How redirects are followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedirectPolicy {
    /// Follow 301/302/303/307/308 (default true).
    pub follow: bool,
    /// At most this many hops (default 10, curl's `--max-redirs`).
    pub max: u32,
    /// Permit an https → http redirect (default false).
    pub allow_insecure: bool,
    /// Keep sending credentials and user-supplied cookies after the origin changes (curl's
    /// `--location-trusted`; default false).
    pub trusted: bool,
}

impl Default for RedirectPolicy {
    fn default() -> Self {
        RedirectPolicy {
            follow: true,
            max: 10,
            allow_insecure: false,
            trusted: false,
        }
    }
}

/// Builder for [`Client`]. Every setting has the safe default: verified TLS, no proxy (even
/// if `http_proxy` is set — a daemon must not be surprised by its environment), follow up to
/// 10 redirects, [`DEFAULT_CONNECT_TIMEOUT`] to connect and [`DEFAULT_IDLE_TIMEOUT`] without a
/// byte moving, no limit on the whole transfer.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    user_agent: String,
    connect_timeout: Option<Duration>,
    idle_timeout: Option<Duration>,
    max_time: Option<Duration>,
    speed_limit: Option<(u64, Duration)>,
    interface: Option<String>,
    family: AddressFamily,
    proxy: Option<String>,
    no_proxy: Option<String>,
    proxy_from_env: bool,
    proxy_tunnel: bool,
    auth: AuthPolicy,
    proxy_auth: AuthPolicy,
    #[cfg(feature = "tls")]
    tls: TlsOptions,
    redirects: RedirectPolicy,
    cancel: Option<CancelToken>,
    max_header_size: usize,
    buffer_size: usize,
    hsts: Option<HstsStore>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            user_agent: USER_AGENT.to_string(),
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            max_time: None,
            speed_limit: None,
            interface: None,
            family: AddressFamily::Any,
            proxy: None,
            no_proxy: None,
            proxy_from_env: false,
            proxy_tunnel: false,
            auth: AuthPolicy::Basic,
            proxy_auth: AuthPolicy::Basic,
            #[cfg(feature = "tls")]
            tls: TlsOptions::default(),
            redirects: RedirectPolicy::default(),
            cancel: None,
            max_header_size: 64 * 1024,
            buffer_size: 256 * 1024,
            hsts: None,
        }
    }
}

impl ClientBuilder {
    /// The `User-Agent` header (default [`USER_AGENT`]).
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = ua.into();
        self
    }

    /// Limit for resolving, TCP connect, proxy negotiation and TLS handshake together
    /// (default [`DEFAULT_CONNECT_TIMEOUT`]; `None`: the kernel's own, about two minutes).
    pub fn connect_timeout(mut self, t: Option<Duration>) -> Self {
        self.connect_timeout = t;
        self
    }

    /// Give up when not one byte is sent or received for this long (default
    /// [`DEFAULT_IDLE_TIMEOUT`]; `None`: wait for ever). A server that accepts and never
    /// answers, a TLS handshake that stalls, a body that stops.
    pub fn idle_timeout(mut self, t: Option<Duration>) -> Self {
        self.idle_timeout = t;
        self
    }

    /// Limit for a whole request: connect, redirects and the complete body.
    pub fn max_time(mut self, t: Option<Duration>) -> Self {
        self.max_time = t;
        self
    }

    /// Abort a transfer slower than `bytes_per_sec` on average over `window` (curl's
    /// `--speed-limit`/`--speed-time`).
    pub fn speed_limit(mut self, bytes_per_sec: u64, window: Duration) -> Self {
        self.speed_limit = Some((bytes_per_sec, window));
        self
    }

    /// Strict Transport Security (RFC 6797; Qt's setStrictTransportSecurityEnabled, curl's
    /// `--hsts`), starting from the known hosts in `store` (empty, or read from a file with
    /// [`HstsStore::parse`]): `http://` URLs of known hosts, redirects included, go over
    /// `https://`; `Strict-Transport-Security` headers from https replies add, renew or drop
    /// hosts — only when the certificate was fully verified, and never for IP literals. Save
    /// the list afterwards from [`Client::hsts`].
    pub fn hsts(mut self, store: HstsStore) -> Self {
        self.hsts = Some(store);
        self
    }

    /// Send every connection through this network interface (SO_BINDTODEVICE; needs root or
    /// CAP_NET_RAW).
    pub fn interface(mut self, iface: Option<String>) -> Self {
        self.interface = iface;
        self
    }

    /// Which address family to connect with.
    pub fn address_family(mut self, family: AddressFamily) -> Self {
        self.family = family;
        self
    }

    /// `http://[user:pass@]host:port`, `https://…` (TLS to the proxy), `socks5://…` or
    /// `socks5h://…`. Through an HTTP(S) proxy, `http://` requests go in absolute form and
    /// `https://` ones through a CONNECT tunnel.
    pub fn proxy(mut self, url: Option<String>) -> Self {
        self.proxy = url;
        self
    }

    /// Tunnel plain `http://` requests through an HTTP proxy with CONNECT too (curl's
    /// `--proxytunnel`; most proxies allow CONNECT to port 443 only).
    pub fn proxy_tunnel(mut self, yes: bool) -> Self {
        self.proxy_tunnel = yes;
        self
    }

    /// How credentials given to requests are sent to servers (default: Basic, at once).
    pub fn auth(mut self, policy: AuthPolicy) -> Self {
        self.auth = policy;
        self
    }

    /// How the proxy URL's credentials are sent to the proxy (default: Basic, at once).
    pub fn proxy_auth(mut self, policy: AuthPolicy) -> Self {
        self.proxy_auth = policy;
        self
    }

    /// Comma-separated hosts (and `.domain` suffixes) that bypass the proxy; `*` for all.
    pub fn no_proxy(mut self, list: Option<String>) -> Self {
        self.no_proxy = list;
        self
    }

    /// Use `http_proxy`/`https_proxy`/`ALL_PROXY`/`NO_PROXY` from the environment when no
    /// explicit proxy is given.
    pub fn proxy_from_env(mut self, yes: bool) -> Self {
        self.proxy_from_env = yes;
        self
    }

    #[cfg(feature = "tls")]
    /// Certificate verification and client certificates for https://.
    pub fn tls(mut self, tls: TlsOptions) -> Self {
        self.tls = tls;
        self
    }

    /// Whether and how far to follow redirects.
    pub fn redirects(mut self, policy: RedirectPolicy) -> Self {
        self.redirects = policy;
        self
    }

    /// Every wait of every request of this client also wakes on this token.
    pub fn cancel_token(mut self, token: CancelToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// Largest accepted response header block (default 64 KiB).
    pub fn max_header_size(mut self, bytes: usize) -> Self {
        self.max_header_size = bytes;
        self
    }

    /// Socket read buffer per connection (default 256 KiB). Large reads make bulk transfers
    /// fast (1 MiB writes a download to ext4 about twice as fast as 64 KiB here); the buffer
    /// is allocated zeroed by the allocator, so a connection that carries only small replies
    /// keeps just the pages it touched resident.
    pub fn buffer_size(mut self, bytes: usize) -> Self {
        self.buffer_size = bytes.max(16 * 1024);
        self
    }

    /// The client (fails on unreadable TLS files or a bad proxy URL).
    pub fn build(self) -> Result<Client, NetworkError> {
        let proxy =
            match (&self.proxy, self.proxy_from_env) {
                (Some(url), _) => {
                    let mut builder = parse_proxy(url)?;
                    // ureq takes one entry per call; curl's --noproxy is a comma-separated list.
                    for host in self.no_proxy.iter().flat_map(|l| l.split(',')) {
                        let host = host.trim();
                        if !host.is_empty() {
                            builder = builder.no_proxy(host);
                        }
                    }
                    Some(builder.build().map_err(|e| {
                        NetworkError::InvalidRequest(format!("proxy \"{url}\": {e}"))
                    })?)
                }
                (None, true) => ureq::Proxy::try_from_env(),
                (None, false) => None,
            };
        let http_kind = proxy.as_ref().filter(|p| {
            matches!(
                p.protocol(),
                ureq::ProxyProtocol::Http | ureq::ProxyProtocol::Https
            )
        });
        let proxy_authority = http_kind.map(|p| (p.host().to_string(), p.port()));
        let configure = |proxy: Option<ureq::Proxy>| {
            Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .save_redirect_history(false)
                .allow_non_standard_methods(true)
                .user_agent(self.user_agent.as_str())
                .proxy(proxy)
                .ip_family(match self.family {
                    AddressFamily::Any => IpFamily::Any,
                    AddressFamily::Ipv4 => IpFamily::Ipv4Only,
                    AddressFamily::Ipv6 => IpFamily::Ipv6Only,
                })
                .timeout_connect(self.connect_timeout)
                .timeout_global(self.max_time)
                .max_response_header_size(self.max_header_size)
                // ureq can only tell a header block is too large if it fits in the buffer with
                // room to spare; a full buffer reads as end of stream.
                .input_buffer_size(self.buffer_size.max(self.max_header_size + 1024))
                .output_buffer_size(self.buffer_size.min(128 * 1024))
                .build()
        };
        let config = configure(proxy.clone());
        let http_proxy = http_kind.map(|p| {
            Arc::new(HttpProxy::new(
                configure(None),
                p,
                self.proxy_tunnel,
                self.proxy_auth,
            ))
        });
        let opts = Arc::new(ConnectOptions {
            interface: self.interface.clone(),
        });
        let chain = ()
            .chain(SocksConnector {
                opts: Arc::clone(&opts),
            })
            .chain(HttpProxyConnector {
                proxy: http_proxy.clone(),
            })
            .chain(TcpConnector {
                opts,
                proxy: proxy_authority,
            });
        #[cfg(feature = "tls")]
        let chain = chain.chain(TlsConnector::new(self.tls.clone()));
        #[cfg(feature = "tls")]
        let verified = !self.tls.insecure && self.tls.ignore.is_empty();
        #[cfg(not(feature = "tls"))]
        let verified = false;
        let agent = Agent::with_parts(config, chain, SystemResolver);
        Ok(Client {
            agent,
            jar: Mutex::new(CookieJar::new()),
            redirects: self.redirects,
            http_proxy,
            auth: self.auth,
            server_auth: Mutex::new(None),
            hsts: self.hsts.map(|store| Hsts {
                store: Mutex::new(store),
                record: verified,
            }),
            cancel: self.cancel,
            idle: self.idle_timeout,
            speed_limit: self.speed_limit,
            limits: TimeoutLimits {
                connect: self.connect_timeout,
                total: self.max_time,
                header_bytes: self.max_header_size,
            },
        })
    }
}

fn parse_proxy(url: &str) -> Result<ureq::ProxyBuilder, NetworkError> {
    let invalid =
        |why: String| NetworkError::InvalidRequest(format!("proxy {}: {why}", Quoted(url)));
    let with_scheme = if url.contains("://") {
        url.to_string()
    } else {
        format!("http://{url}")
    };
    let (scheme, rest) = with_scheme
        .split_once("://")
        .ok_or_else(|| invalid("missing scheme".into()))?;
    let protocol = match scheme.to_ascii_lowercase().as_str() {
        "http" => ureq::ProxyProtocol::Http,
        "https" => ureq::ProxyProtocol::Https,
        "socks5" => ureq::ProxyProtocol::Socks5,
        "socks5h" => ureq::ProxyProtocol::Socks5h,
        "socks4" | "socks4a" => {
            return Err(NetworkError::Unsupported(
                "SOCKS4 proxies (use socks5:// or socks5h://)".into(),
            ))
        }
        other => return Err(invalid(format!("unknown proxy scheme \"{other}\""))),
    };
    let authority = rest.split('/').next().unwrap_or("");
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let authority = crate::authority::split(hostport).map_err(|e| invalid(e.to_string()))?;
    let host = match authority.bracketed {
        true => format!("[{}]", authority.host),
        false => authority.host.to_string(),
    };
    let mut builder = ureq::Proxy::builder(protocol).host(&host);
    if let Some(port) = authority.port {
        builder = builder.port(port);
    }
    if let Some(userinfo) = userinfo {
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        builder = builder.username(&decode(user)).password(&decode(pass));
    }
    Ok(builder)
}

/// An HTTP client. Cheap to share by reference; requests on one thread reuse keep-alive
/// connections from the pool.
#[derive(Debug)]
pub struct Client {
    pub(crate) agent: Agent,
    pub(crate) jar: Mutex<CookieJar>,
    pub(crate) redirects: RedirectPolicy,
    /// The HTTP(S) proxy's settings and credentials (not SOCKS).
    pub(crate) http_proxy: Option<Arc<HttpProxy>>,
    pub(crate) auth: AuthPolicy,
    /// The last server answered with Digest — its origin and nonce — so the next request to
    /// it authenticates at once (one entry: a board talks to few servers).
    pub(crate) server_auth: Mutex<Option<(String, Credentials)>>,
    hsts: Option<Hsts>,
    pub(crate) cancel: Option<CancelToken>,
    pub(crate) idle: Option<Duration>,
    pub(crate) speed_limit: Option<(u64, Duration)>,
    pub(crate) limits: TimeoutLimits,
}

impl Client {
    /// A builder with the defaults.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client with all defaults.
    pub fn new() -> Result<Client, NetworkError> {
        ClientBuilder::default().build()
    }

    /// A request with any method (`PROPFIND`, `PATCH`…). The URL is checked when sent.
    pub fn request(&self, method: &str, url: &str) -> Request<'_> {
        Request::new(self, method, url)
    }

    /// A GET request.
    pub fn get(&self, url: &str) -> Request<'_> {
        self.request("GET", url)
    }

    /// A HEAD request.
    pub fn head(&self, url: &str) -> Request<'_> {
        self.request("HEAD", url)
    }

    /// A POST request.
    pub fn post(&self, url: &str) -> Request<'_> {
        self.request("POST", url)
    }

    /// A PUT request.
    pub fn put(&self, url: &str) -> Request<'_> {
        self.request("PUT", url)
    }

    /// A DELETE request.
    pub fn delete(&self, url: &str) -> Request<'_> {
        self.request("DELETE", url)
    }

    /// Credentials for a request to `uri`: the remembered ones (with their Digest nonce) when
    /// they are for the same origin and user, else fresh ones.
    pub(crate) fn server_credentials(&self, uri: &Uri, user: &str, password: &str) -> Credentials {
        let origin = proxy::origin_prefix(uri);
        let fresh = Credentials::new(user, password, self.auth);
        match &*lock(&self.server_auth) {
            Some((o, c)) if *o == origin && c.is_for(user, password) => c.clone(),
            _ => fresh,
        }
    }

    /// Keep `credentials` (used for `uri`) for the next request.
    pub(crate) fn remember_server_credentials(&self, uri: &Uri, credentials: &Credentials) {
        *lock(&self.server_auth) = Some((proxy::origin_prefix(uri), credentials.clone()));
    }

    /// The cookie jar: load a file into it before requests, save it after.
    pub fn cookies(&self) -> MutexGuard<'_, CookieJar> {
        lock(&self.jar)
    }

    /// The HSTS known hosts, when [`ClientBuilder::hsts`] turned HSTS on.
    pub fn hsts(&self) -> Option<MutexGuard<'_, HstsStore>> {
        self.hsts.as_ref().map(|h| lock(&h.store))
    }

    /// `uri` as it must be contacted: an `http://` URL of a known HSTS host becomes
    /// `https://` (port 80 becomes 443; another port is kept, RFC 6797 §8.3).
    pub(crate) fn hsts_upgrade(&self, uri: Uri, now: u64) -> Uri {
        let (Some(hsts), Some(authority)) = (&self.hsts, uri.authority()) else {
            return uri;
        };
        if uri.scheme_str() != Some("http")
            || !lock(&hsts.store).must_upgrade(authority.host(), now)
        {
            return uri;
        }
        let port = match authority.port_u16() {
            Some(p) if p != 80 => format!(":{p}"),
            _ => String::new(),
        };
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let upgraded = format!("https://{}{port}{path}", authority.host());
        match upgraded.parse::<Uri>() {
            Ok(next) => {
                log::info!("HSTS: {uri} goes over https: {next}");
                next
            }
            Err(_) => uri,
        }
    }

    /// Take a reply's `Strict-Transport-Security` from `uri` (https, verified) into the list.
    pub(crate) fn hsts_record(&self, uri: &Uri, headers: &ureq::http::HeaderMap, now: u64) {
        let Some(hsts) = self.hsts.as_ref().filter(|h| h.record) else {
            return;
        };
        let value = headers
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok());
        if let (Some(value), Some("https"), Some(host)) = (value, uri.scheme_str(), uri.host()) {
            if lock(&hsts.store).record(host, value, now) {
                log::debug!("HSTS: {host}: {value}");
            }
        }
    }
}

/// HSTS state: the known hosts, and whether replies may add to them (only when certificates
/// are fully verified: `-k` or ignored problems would let anyone pin a host).
#[derive(Debug)]
struct Hsts {
    store: Mutex<HstsStore>,
    record: bool,
}

/// A panic while a client's state was locked cannot leave it half-updated in a way that
/// matters more than losing it would (cookies, a nonce): keep using it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxies_parse_with_credentials_and_defaults() {
        let p = parse_proxy("socks5h://u%40x:p@127.0.0.1:1081")
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(p.protocol(), ureq::ProxyProtocol::Socks5h);
        assert_eq!((p.host(), p.port()), ("127.0.0.1", 1081));
        assert_eq!((p.username(), p.password()), (Some("u@x"), Some("p")));
        let p = parse_proxy("proxy.lan:3128").unwrap().build().unwrap();
        assert_eq!(p.protocol(), ureq::ProxyProtocol::Http);
        assert_eq!(p.port(), 3128);
        assert!(matches!(
            parse_proxy("socks4://h"),
            Err(NetworkError::Unsupported(_))
        ));
        assert!(matches!(
            parse_proxy("gopher://h"),
            Err(NetworkError::InvalidRequest(_))
        ));
        assert!(matches!(
            parse_proxy("http://h:99999"),
            Err(NetworkError::InvalidRequest(_))
        ));
    }

    #[test]
    fn environment_proxies_are_ignored_by_default() {
        // Agent config shows what ureq will use; the env var must not leak in.
        std::env::set_var("http_proxy", "http://127.0.0.1:9");
        let c = Client::new().unwrap();
        assert!(c.agent.config().proxy().is_none());
        std::env::remove_var("http_proxy");
    }
}
