//! A misbehaving HTTP server in the test process (std TcpListener + threads).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the server does with each connection. Every behaviour first reads the
/// request head (and a Content-Length or chunked body) — except where noted.
#[derive(Debug, Clone)]
pub enum Fault {
    /// `Content-Length: 1000000`, then 1000 bytes, then close.
    CloseMidBody,
    /// `Transfer-Encoding: chunked`, one 5-byte chunk "hello", then close
    /// without the terminating 0-chunk.
    TruncatedChunked,
    /// `Content-Length: 100`, then 50 bytes, then close.
    ContentLengthTooLong,
    /// Read the request, never answer; the socket stays open until drop.
    NeverAnswers,
    /// 200 with a ~200 KiB header block (`X-Filler-N: …` lines), then
    /// `Content-Length: 2` body "ok", then close.
    HugeHeaders,
    /// Every request gets `302 Location: <its own request target>` with
    /// `Content-Length: 0`; keep-alive (many requests per connection).
    RedirectLoop,
    /// `Content-Length: N`, then one byte ('x') per second.
    SlowBody(usize),
    /// `Content-Length: 100000000`, these many bytes ('s') at once, then nothing more; the
    /// connection stays open until drop.
    StallAfter(usize),
    /// Status line + headers with `Content-Length: 1000`, then close.
    CloseAfterHeaders,
    /// Send these raw bytes, then close.
    Script(Vec<u8>),
    /// A well-behaved keep-alive server: 200 with this body and
    /// Content-Length, many requests per connection (for connection-reuse
    /// assertions with `connections()`).
    Ok(Vec<u8>),
}

/// Size of the `HugeHeaders` header block (at least this many bytes).
pub const HUGE_HEADERS_BYTES: usize = 200 * 1024;

struct Shared {
    fault: Fault,
    stop: AtomicBool,
    connections: AtomicUsize,
    streams: Mutex<Vec<TcpStream>>,
    requests: Mutex<Vec<String>>,
}

/// Scripted misbehaving HTTP/1.1 server on 127.0.0.1; serves each connection
/// in its own thread until dropped.
pub struct FaultServer {
    port: u16,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl FaultServer {
    pub fn start(fault: Fault) -> FaultServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .unwrap_or_else(|e| panic!("FaultServer: cannot bind 127.0.0.1:0: {}", e));
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            fault,
            stop: AtomicBool::new(false),
            connections: AtomicUsize::new(0),
            streams: Mutex::new(Vec::new()),
            requests: Mutex::new(Vec::new()),
        });
        let sh = shared.clone();
        let acceptor = std::thread::Builder::new()
            .name(format!("fault-server-{}", port))
            .spawn(move || {
                for conn in listener.incoming() {
                    if sh.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let stream = match conn {
                        Ok(s) => s,
                        Err(_) => continue,
                    };
                    sh.connections.fetch_add(1, Ordering::SeqCst);
                    if let Ok(c) = stream.try_clone() {
                        sh.streams.lock().unwrap().push(c);
                    }
                    let sh2 = sh.clone();
                    let _ = std::thread::Builder::new()
                        .name("fault-conn".into())
                        .spawn(move || serve(stream, &sh2));
                }
            })
            .expect("spawn fault server thread");
        FaultServer {
            port,
            shared,
            acceptor: Some(acceptor),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT<path>` (`path` starts with '/').
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Request heads received so far (request line + headers, as text).
    pub fn requests(&self) -> Vec<String> {
        self.shared.requests.lock().unwrap().clone()
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept().
        let _ =
            TcpStream::connect_timeout(&([127, 0, 0, 1], self.port).into(), Duration::from_secs(1));
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
        for s in self.shared.streams.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// Read one request (head + body). Returns (head, target) or None on EOF/error.
fn read_request(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(String, String)> {
    let mut tmp = [0u8; 16384];
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 1 << 20 {
            return None;
        }
        let n = s.read(&mut tmp).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    buf.drain(..head_end);
    let target = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("/")
        .to_string();
    let header = |name: &str| {
        head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            if k.trim().eq_ignore_ascii_case(name) {
                Some(v.trim().to_string())
            } else {
                None
            }
        })
    };
    let expects_continue = header("expect")
        .map(|v| v.eq_ignore_ascii_case("100-continue"))
        .unwrap_or(false);
    if expects_continue {
        let _ = s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    if header("transfer-encoding")
        .map(|v| v.to_ascii_lowercase().contains("chunked"))
        .unwrap_or(false)
    {
        // Skip chunks until the terminating "0\r\n...\r\n\r\n".
        while !drain_chunks(buf)? {
            let n = s.read(&mut tmp).ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&tmp[..n]);
        }
    } else if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        let mut left = len;
        let have = left.min(buf.len());
        buf.drain(..have);
        left -= have;
        while left > 0 {
            let n = s.read(&mut tmp[..left.min(16384)]).ok()?;
            if n == 0 {
                return None;
            }
            left -= n;
        }
    }
    Some((head, target))
}

/// Drop complete chunks from the front of `buf`. Some(true) once the last
/// chunk and trailers are consumed, Some(false) if more input is needed,
/// None on bad framing.
fn drain_chunks(buf: &mut Vec<u8>) -> Option<bool> {
    loop {
        let line_end = match find(buf, b"\r\n") {
            Some(e) => e,
            None => return if buf.len() > 4096 { None } else { Some(false) },
        };
        let size_s = String::from_utf8_lossy(&buf[..line_end]).into_owned();
        let size = usize::from_str_radix(size_s.split(';').next()?.trim(), 16).ok()?;
        let data = line_end + 2;
        if size == 0 {
            let mut pos = data;
            loop {
                let e = match find(&buf[pos..], b"\r\n") {
                    Some(e) => e + pos,
                    None => return Some(false),
                };
                let empty = e == pos;
                pos = e + 2;
                if empty {
                    buf.drain(..pos);
                    return Some(true);
                }
            }
        }
        if buf.len() < data + size + 2 {
            return Some(false);
        }
        buf.drain(..data + size + 2);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn close(mut s: TcpStream) {
    let _ = s.flush();
    // FIN now; the clone kept for Drop holds the descriptor until then, so
    // the peer sees a clean EOF rather than a reset.
    let _ = s.shutdown(Shutdown::Write);
}

fn serve(mut s: TcpStream, sh: &Shared) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(120)));
    let _ = s.set_nodelay(true);
    let mut buf = Vec::new();
    loop {
        let (head, target) = match read_request(&mut s, &mut buf) {
            Some(r) => r,
            None => return,
        };
        let head_only = head.starts_with("HEAD ");
        sh.requests.lock().unwrap().push(head);
        if sh.stop.load(Ordering::SeqCst) {
            return;
        }
        let w = &mut s;
        match &sh.fault {
            Fault::CloseMidBody => {
                let _ = w.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n");
                let _ = w.write_all(&[b'a'; 1000]);
                return close(s);
            }
            Fault::TruncatedChunked => {
                let _ = w.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
                return close(s);
            }
            Fault::ContentLengthTooLong => {
                let _ = w.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 100\r\n\r\n");
                let _ = w.write_all(&[b'b'; 50]);
                return close(s);
            }
            Fault::NeverAnswers => {
                // The accept loop keeps a clone in `streams`; it is shut down on drop.
                while !sh.stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(50));
                }
                return;
            }
            Fault::HugeHeaders => {
                let mut r = Vec::with_capacity(HUGE_HEADERS_BYTES + 4096);
                r.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n");
                let filler = "f".repeat(90);
                let mut i = 0;
                while r.len() < HUGE_HEADERS_BYTES {
                    r.extend_from_slice(format!("X-Filler-{}: {}\r\n", i, filler).as_bytes());
                    i += 1;
                }
                r.extend_from_slice(b"Content-Length: 2\r\nConnection: close\r\n\r\nok");
                let _ = w.write_all(&r);
                return close(s);
            }
            Fault::RedirectLoop => {
                let r = format!(
                    "HTTP/1.1 302 Found\r\nLocation: {}\r\nContent-Length: 0\r\n\r\n",
                    target
                );
                if w.write_all(r.as_bytes()).is_err() {
                    return;
                }
            }
            Fault::SlowBody(n) => {
                let r = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
                    n
                );
                if w.write_all(r.as_bytes()).is_err() {
                    return;
                }
                for _ in 0..*n {
                    if w.write_all(b"x").is_err() {
                        return;
                    }
                    for _ in 0..20 {
                        if sh.stop.load(Ordering::SeqCst) {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
                return close(s);
            }
            Fault::StallAfter(n) => {
                let r = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000000\r\n\r\n{}",
                    "s".repeat(*n)
                );
                let _ = w.write_all(r.as_bytes());
                while !sh.stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(50));
                }
                return;
            }
            Fault::CloseAfterHeaders => {
                let _ = w.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n");
                return close(s);
            }
            Fault::Script(bytes) => {
                let _ = w.write_all(bytes);
                return close(s);
            }
            Fault::Ok(body) => {
                let r = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                if w.write_all(r.as_bytes()).is_err() || (!head_only && w.write_all(body).is_err())
                {
                    return;
                }
            }
        }
    }
}
