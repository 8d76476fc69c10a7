//! `Request`: QNetworkRequest plus the send loop that follows redirects, applies the cookie
//! jar, and keeps credentials on the origin they were meant for.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use ureq::http::{self, Uri};
use ureq::SendBody;

use super::auth::Credentials;
use super::client::Client;
use super::error::NetworkError;
use super::multipart::Multipart;
use super::proxy::{self, Route};
use super::reply::{RedirectHistory, Reply};
use super::transport::{self, Phases, Transfer};
use super::url;
use crate::error::Quoted;
use crate::fs::FileError;
use crate::net::SpeedGuard;

/// Upload progress: bytes of the request body sent so far, and the total when known.
pub type UploadProgress = Box<dyn FnMut(u64, Option<u64>) + Send>;

/// A request body.
pub enum Body {
    /// No body.
    Empty,
    /// These bytes.
    Bytes(Vec<u8>),
    /// Streamed from this file; its size becomes the Content-Length.
    File(PathBuf),
    /// multipart/form-data; file parts stream from disk.
    Multipart(Multipart),
    /// A one-shot stream of unknown length (sent chunked); cannot be resent on a 307/308.
    Stream(Box<dyn Read + Send>),
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Empty => f.write_str("Empty"),
            Body::Bytes(b) => write!(f, "Bytes({})", b.len()),
            Body::File(p) => write!(f, "File({})", p.display()),
            Body::Multipart(m) => write!(f, "Multipart({m:?})"),
            Body::Stream(_) => f.write_str("Stream"),
        }
    }
}

impl Body {
    /// A copy to send again after a 307/308, if this body can be replayed.
    fn replay(&self) -> Option<Body> {
        Some(match self {
            Body::Empty => Body::Empty,
            Body::Bytes(b) => Body::Bytes(b.clone()),
            Body::File(p) => Body::File(p.clone()),
            Body::Multipart(m) => Body::Multipart(m.clone()),
            Body::Stream(_) => return None,
        })
    }

    fn is_empty(&self) -> bool {
        matches!(self, Body::Empty)
    }
}

/// A request being built. Nothing is validated or sent until [`send`](Request::send).
pub struct Request<'c> {
    client: &'c Client,
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
    credentials: Option<(String, String)>,
    body: Body,
    range_from: Option<u64>,
    upload_progress: Option<UploadProgress>,
    decompress: bool,
}

impl fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &self.headers.len())
            .field("body", &self.body)
            .finish()
    }
}

/// Statuses that carry a `Location` to follow.
fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// `time` as an HTTP date (before 1970: the epoch).
fn http_date_of(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    crate::calendar::http_date(secs)
}

/// Reads a request body, counting bytes for the progress callback and the speed limit.
struct Counted<R> {
    inner: R,
    sent: u64,
    total: Option<u64>,
    progress: Option<Arc<Mutex<UploadProgress>>>,
    transfer: Arc<Transfer>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.transfer.payload(n)?;
        self.sent += n as u64;
        if let Some(cb) = &self.progress {
            if let Ok(mut cb) = cb.lock() {
                cb(self.sent, self.total);
            }
        }
        Ok(n)
    }
}

impl<'c> Request<'c> {
    pub(crate) fn new(client: &'c Client, method: &str, url: &str) -> Self {
        Request {
            client,
            method: method.to_string(),
            url: url.to_string(),
            headers: Vec::new(),
            query: Vec::new(),
            credentials: None,
            body: Body::Empty,
            range_from: None,
            upload_progress: None,
            decompress: false,
        }
    }

    /// Add a header (several with the same name are all sent).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Append a `name=value` item to the URL's query, percent-encoded.
    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_string(), value.to_string()));
        self
    }

    /// Credentials for the server (override those in the URL), sent as the client's
    /// [`AuthPolicy`](super::AuthPolicy) says: Basic at once, or in answer to a challenge.
    pub fn credentials(mut self, user: &str, password: &str) -> Self {
        self.credentials = Some((user.to_string(), password.to_string()));
        self
    }

    /// Send `body` (replacing any before).
    pub fn body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }

    /// Ask for the body only if it changed after `time` (`If-Modified-Since`, whole seconds):
    /// an unchanged resource answers 304 Not Modified without a body, and a
    /// [`download`](super::download) leaves the destination as it is.
    pub fn if_modified_since(self, time: SystemTime) -> Self {
        self.header("If-Modified-Since", &http_date_of(time))
    }

    /// Go ahead only if the resource did not change after `time` (`If-Unmodified-Since`); a
    /// changed one answers 412 Precondition Failed.
    pub fn if_unmodified_since(self, time: SystemTime) -> Self {
        self.header("If-Unmodified-Since", &http_date_of(time))
    }

    /// Ask for the body only if the resource's entity tag is no longer `etag` (as the server
    /// sent it in `ETag`, quotes included): 304 Not Modified otherwise.
    pub fn if_none_match(self, etag: &str) -> Self {
        self.header("If-None-Match", etag)
    }

    /// Ask for the body from this offset on (`Range: bytes=N-`), to resume a download.
    pub fn range_from(mut self, offset: u64) -> Self {
        self.range_from = (offset > 0).then_some(offset);
        self
    }

    /// The same request — URL, query, headers, credentials — with another method and no
    /// body (a HEAD to look at the file a download wants).
    pub fn with_method(&self, method: &str) -> Request<'c> {
        Request {
            client: self.client,
            method: method.to_string(),
            url: self.url.clone(),
            headers: self.headers.clone(),
            query: self.query.clone(),
            credentials: self.credentials.clone(),
            body: Body::Empty,
            range_from: None,
            upload_progress: None,
            decompress: self.decompress,
        }
    }

    /// Ask for a compressed body (`Accept-Encoding: gzip, deflate`, unless a header of that
    /// name was added) and decode it as it is read, as Qt does by default and curl with
    /// `--compressed`. Memory stays bounded (a 32 KiB window); a body that expands more than
    /// [`decode::MAX_RATIO`](super::decode::MAX_RATIO):1 is refused as a decompression bomb.
    /// Sizes and checksums are of the decoded bytes. Off by default: a firmware image is
    /// better fetched as it is, resumable and with a known length.
    pub fn decompress(mut self, on: bool) -> Self {
        self.decompress = on;
        self
    }

    /// Called as the request body is sent.
    pub fn upload_progress(mut self, f: UploadProgress) -> Self {
        self.upload_progress = Some(f);
        self
    }

    /// Send it, following redirects by the client's policy and answering authentication
    /// challenges by its [`AuthPolicy`](super::AuthPolicy). A 4xx/5xx answer is an `Ok`
    /// reply.
    pub fn send(self) -> Result<Reply, NetworkError> {
        let client = self.client;
        let started = Instant::now();
        let target = url::parse(&self.url)?;
        let uri = client.hsts_upgrade(
            url::with_query(&target.uri, &self.query)?,
            crate::calendar::unix_now(),
        );
        let credentials = self
            .credentials
            .or(target.credentials)
            .map(|(user, password)| client.server_credentials(&uri, &user, &password));
        let mut exchange = Exchange {
            client,
            started,
            transfer: Arc::new(Transfer {
                cancel: client.cancel.clone(),
                idle: client.idle,
                speed: client
                    .speed_limit
                    .map(|(limit, window)| Mutex::new(SpeedGuard::new(limit, window, started))),
                phases: Mutex::new(Phases::default()),
            }),
            uri,
            method: self.method,
            headers: with_accept_encoding(self.headers, self.decompress),
            credentials,
            range_from: self.range_from,
            progress: self.upload_progress.map(|p| Arc::new(Mutex::new(p))),
            redirects: RedirectHistory::default(),
            decompress: self.decompress,
        };
        let mut body = self.body;
        loop {
            let replay = body.replay();
            let (response, route) = exchange.send_hop(body)?;
            let status = response.status().as_u16();
            if exchange.challenge_answered(&response, route) {
                exchange.discard(response);
                body = replay.ok_or(NetworkError::AuthNeedsRewind { status })?;
                continue;
            }
            exchange.done_authenticating();
            match exchange.redirect_target(&response)? {
                None => return exchange.into_reply(response),
                Some(next) => {
                    exchange.discard(response);
                    body = exchange.follow(status, next, replay)?;
                }
            }
        }
    }
}

/// The state of one [`Request::send`] across its redirects and authentication rounds.
struct Exchange<'c> {
    client: &'c Client,
    started: Instant,
    transfer: Arc<Transfer>,
    uri: Uri,
    method: String,
    headers: Vec<(String, String)>,
    credentials: Option<Credentials>,
    range_from: Option<u64>,
    progress: Option<Arc<Mutex<UploadProgress>>>,
    redirects: RedirectHistory,
    decompress: bool,
}

/// The request's headers, with `Accept-Encoding: gzip, deflate` when a decoded body is
/// wanted and the caller did not name encodings itself.
fn with_accept_encoding(
    mut headers: Vec<(String, String)>,
    decompress: bool,
) -> Vec<(String, String)> {
    let named = headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("accept-encoding"));
    if decompress && !named {
        headers.push(("Accept-Encoding".into(), "gzip, deflate".into()));
    }
    headers
}

impl Exchange<'_> {
    /// Send the request to the current URL once; the response head and how it went.
    fn send_hop(
        &mut self,
        body: Body,
    ) -> Result<(http::Response<ureq::Body>, Route), NetworkError> {
        let client = self.client;
        let route = proxy::route(
            client.agent.config(),
            client.http_proxy.as_deref(),
            &self.uri,
        );
        let request = self.head(route)?;
        let send_body = into_send_body(body, self.progress.clone(), &self.transfer)?;
        let (request, send_body) = match send_body {
            (Some(len), b) => (with_header(request, "content-length", &len.to_string())?, b),
            (None, b) => (request, b),
        };
        let request = request
            .body(send_body)
            .map_err(|e| NetworkError::InvalidRequest(e.to_string()))?;
        log::info!("> {} {}", self.method, self.uri);
        let response = transport::within(&self.transfer, || client.agent.run(request))
            .map_err(|e| transport::to_network_error(e, &client.limits))?;
        log::info!(
            "< {} {} ({})",
            response.status().as_u16(),
            response.status().canonical_reason().unwrap_or(""),
            self.uri
        );
        store_cookies(client, &self.uri, response.headers());
        client.hsts_record(&self.uri, response.headers(), crate::calendar::unix_now());
        Ok((response, route))
    }

    /// The request head for the current hop, with the credentials' answer.
    fn head(&mut self, route: Route) -> Result<http::request::Builder, NetworkError> {
        // Digest answers name the request-target as sent: absolute to a forward proxy.
        let target = match route {
            Route::Forward => self.uri.to_string(),
            _ => self
                .uri
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_string(),
        };
        let user_authorization = self
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("authorization"));
        let authorization = match (&mut self.credentials, user_authorization) {
            (Some(c), false) => c.header(&self.method, &target),
            _ => None,
        };
        let proxy_authorization = match (route, &self.client.http_proxy) {
            (Route::Forward, Some(p)) => p.authorization(&self.method, &target),
            _ => None,
        };
        let mut request = build(
            &self.method,
            &self.uri,
            &self.headers,
            self.range_from,
            self.client,
        )?;
        if let Some(value) = authorization {
            request = with_header(request, "authorization", &value)?;
        }
        if let Some(value) = proxy_authorization {
            request = with_header(request, "proxy-authorization", &value)?;
        }
        Ok(request)
    }

    /// Whether a 401 (from the server) or 407 (from a forward proxy) was answered: the request
    /// goes again with credentials.
    fn challenge_answered(&mut self, response: &http::Response<ureq::Body>, route: Route) -> bool {
        let values = |name| {
            response
                .headers()
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
        };
        let answer = match (response.status().as_u16(), route, &self.client.http_proxy) {
            (401, _, _) => match &mut self.credentials {
                Some(c) => c.challenged(values(http::header::WWW_AUTHENTICATE)),
                None => Ok(false),
            },
            (407, Route::Forward, Some(proxy)) => {
                proxy.challenged(values(http::header::PROXY_AUTHENTICATE))
            }
            _ => Ok(false),
        };
        answer.unwrap_or_else(|why| {
            log::warn!(
                "cannot answer the authentication challenge of {}: {why}",
                self.uri
            );
            false
        })
    }

    /// The request is answered for good: keep the Digest state for the next request.
    fn done_authenticating(&mut self) {
        if let Some(proxy) = &self.client.http_proxy {
            proxy.request_done();
        }
        if let Some(c) = &mut self.credentials {
            c.request_done();
            self.client.remember_server_credentials(&self.uri, c);
        }
    }

    /// Where a redirect points, if the response is one to follow.
    fn redirect_target(
        &self,
        response: &http::Response<ureq::Body>,
    ) -> Result<Option<Uri>, NetworkError> {
        let policy = self.client.redirects;
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok());
        let Some(location) = location.filter(|_| policy.follow && is_redirect(status)) else {
            return Ok(None);
        };
        if self.redirects.count() >= policy.max {
            return Err(NetworkError::TooManyRedirects { max: policy.max });
        }
        // A bad Location is the server's mistake, not a usage error.
        let next = url::resolve_reference(&self.uri, location).map_err(|e| {
            NetworkError::ProtocolFailure(format!(
                "redirect to {} that cannot be followed: {e}",
                Quoted(location)
            ))
        })?;
        let next = self.client.hsts_upgrade(next, crate::calendar::unix_now());
        if self.uri.scheme_str() == Some("https")
            && next.scheme_str() == Some("http")
            && !policy.allow_insecure
        {
            return Err(NetworkError::InsecureRedirect {
                from: self.uri.to_string(),
                to: next.to_string(),
            });
        }
        Ok(Some(next))
    }

    /// Move on to `next` after a redirect with `status`; the body to send there.
    fn follow(
        &mut self,
        status: u16,
        next: Uri,
        replay: Option<Body>,
    ) -> Result<Body, NetworkError> {
        let keep_method =
            matches!(status, 307 | 308) || self.method == "HEAD" || self.method == "GET";
        let body = if keep_method {
            replay.ok_or(NetworkError::RedirectNeedsRewind { status })?
        } else {
            // 301/302/303 turn a POST (or anything else) into a GET without a body, as
            // curl and browsers do.
            self.method = "GET".into();
            self.progress = None;
            self.headers.retain(|(n, _)| {
                !n.eq_ignore_ascii_case("content-type") && !n.eq_ignore_ascii_case("content-length")
            });
            Body::Empty
        };
        if !url::same_origin(&self.uri, &next) && !self.client.redirects.trusted {
            if self.credentials.take().is_some() {
                log::info!("not sending credentials to {next}: a different origin");
            }
            self.headers.retain(|(n, _)| {
                !n.eq_ignore_ascii_case("authorization") && !n.eq_ignore_ascii_case("cookie")
            });
        }
        log::info!("redirect {status} to {next}");
        self.redirects.push(self.uri.to_string());
        self.uri = next;
        Ok(body)
    }

    /// Read the small body of a redirect or challenge so the connection goes back to the pool.
    fn discard(&self, response: http::Response<ureq::Body>) {
        let mut reply = Reply::new(
            response,
            self.uri.clone(),
            RedirectHistory::default(),
            Arc::clone(&self.transfer),
            self.started,
            self.client.limits,
        );
        reply.discard_body(64 * 1024);
    }

    fn into_reply(self, response: http::Response<ureq::Body>) -> Result<Reply, NetworkError> {
        let mut reply = Reply::new(
            response,
            self.uri,
            self.redirects,
            self.transfer,
            self.started,
            self.client.limits,
        );
        if self.decompress {
            reply.decode_content()?;
        }
        Ok(reply)
    }
}

fn with_header(
    request: http::request::Builder,
    name: &str,
    value: &str,
) -> Result<http::request::Builder, NetworkError> {
    let value = http::HeaderValue::from_str(value)
        .map_err(|_| NetworkError::InvalidRequest(format!("header {name}: invalid value")))?;
    Ok(request.header(name, value))
}

/// One hop's request head, without credentials.
fn build(
    method: &str,
    uri: &Uri,
    headers: &[(String, String)],
    range_from: Option<u64>,
    client: &Client,
) -> Result<http::request::Builder, NetworkError> {
    let method = http::Method::from_bytes(method.as_bytes())
        .map_err(|_| NetworkError::InvalidRequest(format!("invalid method \"{method}\"")))?;
    let mut request = http::Request::builder().method(method).uri(uri.clone());
    // RFC 6265 wants exactly one Cookie header: the user's cookies first, then the jar's.
    let mut cookies: Vec<&str> = Vec::new();
    for (name, value) in headers {
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(NetworkError::InvalidRequest(format!(
                "invalid header name \"{name}\""
            )));
        }
        if name.eq_ignore_ascii_case("cookie") {
            cookies.push(value);
        } else {
            request = with_header(request, name, value)?;
        }
    }
    if let Some(offset) = range_from {
        request = with_header(request, "range", &format!("bytes={offset}-"))?;
    }
    let host = uri.host().unwrap_or("");
    let secure = uri.scheme_str() == Some("https");
    let jar = client
        .cookies()
        .header_for(host, uri.path(), secure, crate::calendar::unix_now());
    if let Some(jar) = &jar {
        cookies.push(jar);
    }
    if !cookies.is_empty() {
        request = with_header(request, "cookie", &cookies.join("; "))?;
    }
    Ok(request)
}

fn store_cookies(client: &Client, uri: &Uri, headers: &http::HeaderMap) {
    let values: Vec<&[u8]> = headers
        .get_all(http::header::SET_COOKIE)
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    if values.is_empty() {
        return;
    }
    let host = uri.host().unwrap_or("");
    let secure = uri.scheme_str() == Some("https");
    let stored = client.cookies().store_response(
        host,
        uri.path(),
        secure,
        values,
        crate::calendar::unix_now(),
    );
    log::debug!("stored {stored} cookies from {host}");
}

/// The body as ureq wants it, with its length when known (sent as Content-Length).
fn into_send_body(
    body: Body,
    progress: Option<Arc<Mutex<UploadProgress>>>,
    transfer: &Arc<Transfer>,
) -> Result<(Option<u64>, SendBody<'static>), NetworkError> {
    let counted = |inner: Box<dyn Read + Send>, total, progress| {
        SendBody::from_owned_reader(Counted {
            inner,
            sent: 0,
            total,
            progress,
            transfer: Arc::clone(transfer),
        })
    };
    Ok(match body {
        Body::Empty => (None, SendBody::none()),
        Body::Bytes(bytes) => {
            let len = bytes.len() as u64;
            (
                Some(len),
                counted(Box::new(io::Cursor::new(bytes)), Some(len), progress),
            )
        }
        Body::File(path) => {
            let file = File::open(&path).map_err(|e| FileError::new(&path, "open", e))?;
            let meta = file
                .metadata()
                .map_err(|e| FileError::new(&path, "stat", e))?;
            if meta.is_file() {
                let len = meta.len();
                (
                    Some(len),
                    counted(Box::new(file.take(len)), Some(len), progress),
                )
            } else {
                // A FIFO or device: stream it chunked.
                (None, counted(Box::new(file), None, progress))
            }
        }
        Body::Multipart(form) => {
            let len = form.content_length();
            (
                Some(len),
                counted(Box::new(form.into_reader()), Some(len), progress),
            )
        }
        Body::Stream(reader) => (None, counted(reader, None, progress)),
    })
}

impl Request<'_> {
    /// Whether the request has a body (for callers choosing a default Content-Type).
    pub fn has_body(&self) -> bool {
        !self.body.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_statuses() {
        for s in [301, 302, 303, 307, 308] {
            assert!(is_redirect(s));
        }
        for s in [200, 300, 304, 305, 404] {
            assert!(!is_redirect(s));
        }
    }

    #[test]
    fn only_streams_cannot_be_replayed() {
        assert!(Body::Bytes(vec![1]).replay().is_some());
        assert!(Body::File("/x".into()).replay().is_some());
        assert!(Body::Stream(Box::new(io::empty())).replay().is_none());
    }

    #[test]
    fn counted_reader_reports_progress() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let cb: UploadProgress =
            Box::new(move |sent, total| sink.lock().unwrap().push((sent, total)));
        let mut r = Counted {
            inner: io::Cursor::new(vec![0u8; 10]),
            sent: 0,
            total: Some(10),
            progress: Some(Arc::new(Mutex::new(cb))),
            transfer: Arc::new(Transfer::default()),
        };
        let mut buf = [0u8; 4];
        while r.read(&mut buf).unwrap() > 0 {}
        assert_eq!(
            *seen.lock().unwrap(),
            vec![(4, Some(10)), (8, Some(10)), (10, Some(10)), (10, Some(10))]
        );
    }
}
