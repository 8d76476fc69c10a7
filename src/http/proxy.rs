//! HTTP proxies the way curl and Qt use them: a plain `http://` request goes to the proxy in
//! absolute form (`GET http://host/path HTTP/1.1`), which every forward proxy serves; an
//! `https://` request — or any request when a tunnel is asked for — goes through a CONNECT
//! tunnel. ureq 3 tunnels everything, and standard proxies (squid, tinyproxy as packaged)
//! allow CONNECT to port 443 only, so this connector replaces ureq's.
//!
//! ureq-proto always writes the origin form (`GET /path`); [`AbsoluteForm`] puts the scheme and
//! authority in front of the request-target of each request head it carries to the proxy.

use std::fmt;
use std::io::Write as _;
use std::sync::{Arc, Mutex};

use ureq::config::AutoHeaderValue;
use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, NextTimeout, Transport, TransportAdapter,
};
use ureq::ProxyProtocol;

use super::auth::{AuthPolicy, Credentials};
use super::error::NetworkError;
use super::transport::{uri_host, uri_port, PlainTransport};

/// How a request reaches its server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// Straight, or through a SOCKS proxy (its own connector).
    Direct,
    /// To the HTTP proxy, in absolute form.
    Forward,
    /// Through a CONNECT tunnel.
    Tunnel,
}

/// The client's HTTP proxy: where it is, whether to tunnel plain http too, and the proxy
/// credentials with their Digest state (shared by the connector, for CONNECT, and the request
/// loop, for absolute-form requests).
#[derive(Debug)]
pub(crate) struct HttpProxy {
    /// The same client configuration without the proxy: connecting to the proxy itself.
    direct: Config,
    tunnel_all: bool,
    credentials: Mutex<Option<Credentials>>,
}

impl HttpProxy {
    pub(crate) fn new(
        direct: Config,
        proxy: &ureq::Proxy,
        tunnel_all: bool,
        policy: AuthPolicy,
    ) -> Self {
        let credentials = proxy
            .username()
            .map(|u| Credentials::new(u, proxy.password().unwrap_or(""), policy));
        HttpProxy {
            direct,
            tunnel_all,
            credentials: Mutex::new(credentials),
        }
    }

    /// The `Proxy-Authorization` for a request to (or through) the proxy.
    pub(crate) fn authorization(&self, method: &str, target: &str) -> Option<String> {
        self.lock().as_mut()?.header(method, target)
    }

    /// The proxy answered 407: whether to send again (see [`Credentials::challenged`]).
    pub(crate) fn challenged<'a>(
        &self,
        values: impl IntoIterator<Item = &'a str>,
    ) -> Result<bool, String> {
        match self.lock().as_mut() {
            Some(c) => c.challenged(values),
            None => Ok(false),
        }
    }

    pub(crate) fn request_done(&self) {
        if let Some(c) = self.lock().as_mut() {
            c.request_done();
        }
    }

    pub(crate) fn has_credentials(&self) -> bool {
        self.lock().is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Credentials>> {
        // The state is a nonce and a counter: after a panic elsewhere it is still usable.
        self.credentials
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// How a request to `target` goes with the client's configuration.
pub(crate) fn route(config: &Config, http_proxy: Option<&HttpProxy>, target: &Uri) -> Route {
    let Some(proxy) = config.proxy() else {
        return Route::Direct;
    };
    if !matches!(proxy.protocol(), ProxyProtocol::Http | ProxyProtocol::Https)
        || proxy.is_no_proxy(target)
    {
        return Route::Direct;
    }
    let tunnel_all = http_proxy.is_some_and(|p| p.tunnel_all);
    if target.scheme_str() == Some("https") || tunnel_all {
        Route::Tunnel
    } else {
        Route::Forward
    }
}

/// `scheme://authority`, the part absolute form adds in front of the path.
pub(crate) fn origin_prefix(target: &Uri) -> String {
    format!(
        "{}://{}",
        target.scheme_str().unwrap_or("http"),
        target.authority().map_or("", |a| a.as_str())
    )
}

/// The connector: CONNECT tunnels and absolute-form connections to an HTTP(S) proxy; passes
/// everything else down the chain.
#[derive(Debug)]
pub(crate) struct HttpProxyConnector {
    pub(crate) proxy: Option<Arc<HttpProxy>>,
}

impl Connector<PlainTransport> for HttpProxyConnector {
    type Out = Either<PlainTransport, Box<dyn Transport>>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<PlainTransport>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        if let Some(socks) = chained {
            return Ok(Some(Either::A(socks)));
        }
        let Some(shared) = &self.proxy else {
            return Ok(None);
        };
        let route = route(details.config, Some(shared), details.uri);
        let Some(proxy) = details.config.proxy().filter(|_| route != Route::Direct) else {
            return Ok(None);
        };
        let proxy_addrs = details
            .resolver
            .resolve(proxy.uri(), &shared.direct, details.timeout)?;
        let proxy_details = ConnectionDetails {
            uri: proxy.uri(),
            addrs: proxy_addrs,
            config: &shared.direct,
            request_level: details.request_level,
            resolver: details.resolver,
            now: details.now,
            timeout: details.timeout,
            current_time: details.current_time.clone(),
            run_connector: details.run_connector.clone(),
            register_shutdown: details.register_shutdown.clone(),
        };
        if route == Route::Forward {
            let transport = (details.run_connector)(&proxy_details)?;
            log::debug!(
                "to {} through proxy {} in absolute form",
                details.uri,
                proxy.uri()
            );
            return Ok(Some(Either::B(Box::new(AbsoluteForm::new(
                transport,
                details.uri,
            )))));
        }
        // A 407 with a Digest challenge is answered once, on a new connection.
        for _ in 0..3 {
            let transport = (details.run_connector)(&proxy_details)?;
            match connect_tunnel(transport, details, shared)? {
                Tunnel::Open(t) => return Ok(Some(Either::B(Box::new(t)))),
                Tunnel::Again => continue,
            }
        }
        Err(proxy_error(NetworkError::ProxyAuthenticationRequired {
            rejected: true,
        }))
    }
}

fn proxy_error(e: NetworkError) -> ureq::Error {
    ureq::Error::Other(Box::new(e))
}

enum Tunnel {
    Open(TunnelTransport),
    /// The proxy asked for credentials we can answer: try again.
    Again,
}

/// Largest CONNECT reply head read.
const MAX_CONNECT_REPLY: usize = 16 * 1024;

fn connect_tunnel(
    transport: Box<dyn Transport>,
    details: &ConnectionDetails,
    shared: &HttpProxy,
) -> Result<Tunnel, ureq::Error> {
    let target = format!("{}:{}", uri_host(details.uri), uri_port(details.uri));
    let authority = match uri_host(details.uri).contains(':') {
        true => format!("[{}]:{}", uri_host(details.uri), uri_port(details.uri)),
        false => target.clone(),
    };
    let mut w = TransportAdapter::new(transport, details.current_time.clone());
    w.set_timeout(details.timeout);
    write!(w, "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n")?;
    let agent = match details.config.user_agent() {
        AutoHeaderValue::Provided(ua) => Some(ua.as_str()),
        AutoHeaderValue::Default => Some(super::USER_AGENT),
        AutoHeaderValue::None => None,
    };
    if let Some(agent) = agent {
        write!(w, "User-Agent: {agent}\r\n")?;
    }
    if let Some(auth) = shared.authorization("CONNECT", &authority) {
        write!(w, "Proxy-Authorization: {auth}\r\n")?;
    }
    write!(w, "\r\n")?;
    w.flush()?;
    let mut transport = w.into_inner();
    let response = loop {
        let progressed = transport.await_input(details.timeout)?;
        let input = transport.buffers().input();
        if let Some((used, response)) = ureq_proto::parser::try_parse_response::<64>(input)? {
            transport.buffers().input_consume(used);
            break response;
        }
        if !progressed {
            return Err(proxy_error(NetworkError::ProxyFailure(format!(
                "the proxy closed the connection instead of answering CONNECT {authority}"
            ))));
        }
        if transport.buffers().input().len() > MAX_CONNECT_REPLY {
            return Err(proxy_error(NetworkError::ProxyFailure(format!(
                "the proxy's answer to CONNECT is over {} KiB",
                MAX_CONNECT_REPLY / 1024
            ))));
        }
    };
    let status = response.status();
    if status.is_success() {
        shared.request_done();
        log::debug!("tunnel to {authority} open");
        return Ok(Tunnel::Open(TunnelTransport(transport)));
    }
    if status.as_u16() == 407 {
        let challenges = response
            .headers()
            .get_all("proxy-authenticate")
            .iter()
            .filter_map(|v| v.to_str().ok());
        let again = shared.challenged(challenges).map_err(|why| {
            proxy_error(NetworkError::ProxyFailure(format!(
                "the proxy asks for credentials, but {why}"
            )))
        })?;
        if again {
            return Ok(Tunnel::Again);
        }
        shared.request_done();
        return Err(proxy_error(NetworkError::ProxyAuthenticationRequired {
            rejected: shared.has_credentials(),
        }));
    }
    let hint = if target.ends_with(":443") {
        ""
    } else {
        " (proxies often allow tunnels to port 443 only)"
    };
    Err(proxy_error(NetworkError::ProxyFailure(format!(
        "the proxy refused a tunnel to {authority}: {} {}{hint}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    ))))
}

/// A CONNECT tunnel: the transport to the proxy, now carrying bytes to the target. It may be
/// TLS to an `https://` proxy, but it is not TLS to the target yet.
#[derive(Debug)]
struct TunnelTransport(Box<dyn Transport>);

impl Transport for TunnelTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.0.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.0.transmit_output(amount, timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.0.await_input(timeout)
    }

    fn is_open(&mut self) -> bool {
        self.0.is_open()
    }

    fn is_tls(&self) -> bool {
        false
    }
}

/// A connection to the proxy that sends each request head in absolute form.
pub(crate) struct AbsoluteForm {
    inner: Box<dyn Transport>,
    /// `http://host:port`, put in front of each request-target.
    prefix: String,
    /// The next bytes sent start a request head.
    head_pending: bool,
    /// The last head asked for `100 Continue`: the first reply read is not the end of it.
    continue_expected: bool,
}

impl fmt::Debug for AbsoluteForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbsoluteForm")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl AbsoluteForm {
    fn new(inner: Box<dyn Transport>, target: &Uri) -> Self {
        AbsoluteForm {
            inner,
            prefix: origin_prefix(target),
            head_pending: true,
            continue_expected: false,
        }
    }
}

/// Where the request-target starts in a request head (`METHOD SP /…`), if `head` is one.
fn origin_form_target(head: &[u8]) -> Option<usize> {
    let method = head
        .iter()
        .take_while(|b| b.is_ascii_graphic() && **b != b'/')
        .count();
    let line_end = head.windows(2).position(|w| w == b"\r\n")?;
    let line = &head[..line_end];
    let valid = method > 0
        && head.get(method) == Some(&b' ')
        && head.get(method + 1) == Some(&b'/')
        && (line.ends_with(b" HTTP/1.1") || line.ends_with(b" HTTP/1.0"));
    valid.then_some(method + 1)
}

fn asks_continue(head: &[u8]) -> bool {
    let needle = b"\r\nexpect: 100-continue";
    head.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

impl Transport for AbsoluteForm {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        if !self.head_pending {
            return self.inner.transmit_output(amount, timeout);
        }
        self.head_pending = false;
        let out = &self.inner.buffers().output()[..amount];
        let Some(at) = origin_form_target(out) else {
            // The body after a 100 Continue.
            return self.inner.transmit_output(amount, timeout);
        };
        self.continue_expected = asks_continue(out);
        let mut head = Vec::with_capacity(amount + self.prefix.len());
        head.extend_from_slice(&out[..at]);
        head.extend_from_slice(self.prefix.as_bytes());
        head.extend_from_slice(&out[at..]);
        let room = self.inner.buffers().output().len().max(1);
        for piece in head.chunks(room) {
            self.inner.buffers().output()[..piece.len()].copy_from_slice(piece);
            self.inner.transmit_output(piece.len(), timeout)?;
        }
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        if self.continue_expected {
            self.continue_expected = false;
        } else {
            self.head_pending = true;
        }
        self.inner.await_input(timeout)
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_heads_are_recognised() {
        assert_eq!(
            origin_form_target(b"GET /a?b HTTP/1.1\r\nHost: h\r\n\r\n"),
            Some(4)
        );
        assert_eq!(origin_form_target(b"PROPFIND / HTTP/1.1\r\n\r\n"), Some(9));
        assert_eq!(origin_form_target(b"binary body GET /x HTTP/1.1\r\n"), None);
        assert_eq!(origin_form_target(b"GET /x HTTP/1.1"), None);
        assert_eq!(origin_form_target(b"GET http://h/ HTTP/1.1\r\n"), None);
        assert!(asks_continue(
            b"PUT / HTTP/1.1\r\nExpect: 100-Continue\r\n\r\n"
        ));
        assert!(!asks_continue(b"PUT / HTTP/1.1\r\n\r\n"));
    }

    #[test]
    fn routes() {
        let with = |proxy: &str| {
            ureq::Agent::config_builder()
                .proxy(Some(ureq::Proxy::new(proxy).unwrap()))
                .build()
        };
        let http: Uri = "http://h/x".parse().unwrap();
        let https: Uri = "https://h/x".parse().unwrap();
        let config = with("http://p:3128");
        assert_eq!(route(&config, None, &http), Route::Forward);
        assert_eq!(route(&config, None, &https), Route::Tunnel);
        let tunnel = HttpProxy::new(
            with("http://p:3128"),
            config.proxy().unwrap(),
            true,
            AuthPolicy::Basic,
        );
        assert_eq!(route(&config, Some(&tunnel), &http), Route::Tunnel);
        assert_eq!(route(&with("socks5://p:1080"), None, &http), Route::Direct);
        assert_eq!(
            route(&ureq::Agent::config_builder().build(), None, &http),
            Route::Direct
        );
        assert_eq!(
            origin_prefix(&"http://[::1]:8080/a".parse().unwrap()),
            "http://[::1]:8080"
        );
    }
}
