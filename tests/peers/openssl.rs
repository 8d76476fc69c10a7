//! `openssl s_server` / `openssl s_client` as TLS test peers: an independent
//! TLS implementation to check boardnet's TLS client and server against —
//! ALPN, client certificates, protocol version pins — for real.
//!
//! [`OpenSslServer`] runs `openssl s_server -rev` on 127.0.0.1 (port chosen
//! by the kernel, read from its `ACCEPT 127.0.0.1:P` line) with the `Pki`'s
//! valid leaf. What a client gets back (`-rev`):
//! * every line it sends (ended by LF or CRLF) comes back **reversed**,
//!   without the CR, ended by a single LF: `"hello\r\n"` → `"olleh\n"`;
//!   bytes after the last newline are not answered until a newline comes;
//!   a line longer than s_server's 16 KiB buffer is reversed piecewise;
//! * the line `CLOSE` makes the server close the connection (close_notify);
//!   the client closing (close_notify or EOF) ends it too;
//! * it serves **one connection at a time** (others wait in the backlog)
//!   and keeps accepting until dropped;
//! * with ALPN configured and no protocol in common, OpenSSL 3 aborts the
//!   handshake with the fatal alert `no_application_protocol`; with ALPN
//!   configured the server's preference order wins;
//! * per connection it logs (see [`OpenSslServer::log`]) e.g.
//!   `CONNECTION ESTABLISHED`, `Protocol version: TLSv1.3`,
//!   `Peer certificate: CN = boardnet test client`, `Verification: OK`, or
//!   `CONNECTION FAILURE` with the reason (`peer did not return a certificate`).
//!
//! [`openssl_client`] runs `openssl s_client -brief -nocommands -msg …`
//! against a port, feeds input and parses [`TlsClientInfo`]: whether the
//! handshake completed, protocol, cipher, the server certificate's subject,
//! the verification result, the **negotiated ALPN protocol** (decoded from
//! the ServerHello / EncryptedExtensions in the `-msg` dump; s_client's brief
//! summary does not print it), TLS alerts received/sent, and the data that
//! came back. s_client quits as soon as its stdin ends (without waiting for
//! the answer), so stdin is held open until the expected number of bytes has
//! arrived ([`OpenSslClientOpts::expect`]) or `reply_wait` has passed since
//! both the input was written and the handshake completed; then it is
//! closed (s_client sends close_notify and exits).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::net::START_TIMEOUT;
use super::pki::Pki;
use super::process::{require_program, RunOutput};
use super::socat::GroupKillOnDrop;
use super::workdir::{read_lossy, WorkDir};

/// Pin the TLS version (`-tls1_2` / `-tls1_3` on either side).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

impl TlsVersion {
    pub fn flag(self) -> &'static str {
        match self {
            TlsVersion::Tls12 => "-tls1_2",
            TlsVersion::Tls13 => "-tls1_3",
        }
    }
    /// As OpenSSL prints it ("TLSv1.2", "TLSv1.3").
    pub fn name(self) -> &'static str {
        match self {
            TlsVersion::Tls12 => "TLSv1.2",
            TlsVersion::Tls13 => "TLSv1.3",
        }
    }
}

/// Client certificate policy of [`OpenSslServer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// No certificate requested.
    #[default]
    None,
    /// Requested, not required (`-verify 1 -CAfile CA
    /// -verify_return_error`); a certificate that is sent must verify
    /// against the test CA (else alert `unknown_ca`).
    Optional,
    /// Required (`-Verify 1 -CAfile CA -verify_return_error`): without one
    /// the handshake fails (TLS 1.3: alert `certificate_required` after the
    /// client's Finished); one by another CA gets `unknown_ca`.
    Required,
}

/// Options of [`OpenSslServer::start`].
#[derive(Debug, Clone, Default)]
pub struct OpenSslServerOpts {
    pub client_auth: ClientAuth,
    /// `-alpn a,b`: protocols the server accepts, in its preference order.
    pub alpn: Vec<String>,
    pub version: Option<TlsVersion>,
    /// Extra s_server arguments.
    pub extra_args: Vec<String>,
}

impl OpenSslServerOpts {
    pub fn new() -> OpenSslServerOpts {
        OpenSslServerOpts::default()
    }
    pub fn require_client_cert(mut self) -> Self {
        self.client_auth = ClientAuth::Required;
        self
    }
    pub fn optional_client_cert(mut self) -> Self {
        self.client_auth = ClientAuth::Optional;
        self
    }
    pub fn alpn(mut self, protocols: &[&str]) -> Self {
        self.alpn = protocols.iter().map(|s| s.to_string()).collect();
        self
    }
    pub fn version(mut self, v: TlsVersion) -> Self {
        self.version = Some(v);
        self
    }
    pub fn arg(mut self, a: &str) -> Self {
        self.extra_args.push(a.to_string());
        self
    }
}

/// `openssl s_server -rev` on 127.0.0.1 (see the module docs). Killed on drop.
pub struct OpenSslServer {
    proc_: GroupKillOnDrop,
    port: u16,
    log: PathBuf,
    dir: WorkDir,
}

impl OpenSslServer {
    /// Start with the Pki's valid leaf (`server.crt`); returns once it
    /// listens. Panics with its output if it does not start.
    pub fn start(pki: &Pki, opts: &OpenSslServerOpts) -> OpenSslServer {
        require_program("openssl");
        let dir = WorkDir::named("openssl-server");
        let copy = |from: PathBuf, name: &str| {
            let to = dir.join(name);
            std::fs::copy(&from, &to).unwrap_or_else(|e| {
                panic!("cannot copy {} to {}: {}", from.display(), to.display(), e)
            });
            to
        };
        let cert = copy(pki.server_cert(), "server.crt");
        let key = copy(pki.server_key(), "server.key");
        let ca = copy(pki.ca_cert(), "ca.crt");
        let log = dir.join("s_server.log");
        let mut cmd = Command::new("openssl");
        cmd.current_dir(dir.path())
            .args(["s_server", "-accept", "127.0.0.1:0", "-rev"])
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key);
        match opts.client_auth {
            ClientAuth::None => {}
            // Without -verify_return_error s_server only logs a bad client
            // certificate and carries on.
            ClientAuth::Optional => {
                cmd.args(["-verify_return_error", "-verify", "1", "-CAfile"])
                    .arg(&ca);
            }
            ClientAuth::Required => {
                cmd.args(["-verify_return_error", "-Verify", "1", "-CAfile"])
                    .arg(&ca);
            }
        }
        if !opts.alpn.is_empty() {
            cmd.arg("-alpn").arg(opts.alpn.join(","));
        }
        if let Some(v) = opts.version {
            cmd.arg(v.flag());
        }
        cmd.args(&opts.extra_args);
        let mut proc_ = GroupKillOnDrop::spawn(&mut cmd, &log, "openssl s_server");
        let deadline = Instant::now() + START_TIMEOUT;
        let port = loop {
            let text = read_lossy(&log);
            if let Some(p) = text.lines().find_map(|l| {
                l.trim()
                    .strip_prefix("ACCEPT 127.0.0.1:")
                    .and_then(|p| p.parse::<u16>().ok())
            }) {
                break p;
            }
            if let Some(st) = proc_.exited() {
                panic!(
                    "openssl s_server exited ({}) before listening; output:\n{}",
                    st, text
                );
            }
            if Instant::now() >= deadline {
                panic!(
                    "openssl s_server not listening after {:?}; output:\n{}",
                    START_TIMEOUT, text
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        OpenSslServer {
            proc_,
            port,
            log,
            dir,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// `tls://127.0.0.1:P` (the leaf's SAN has IP 127.0.0.1).
    pub fn url(&self) -> String {
        format!("tls://127.0.0.1:{}", self.port)
    }

    /// `tls://localhost:P`. It listens on 127.0.0.1 only: a client that
    /// tries [::1] first is refused there before it reaches the server.
    pub fn url_localhost(&self) -> String {
        format!("tls://localhost:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.proc_.pid()
    }

    /// Everything s_server printed so far (see the module docs).
    pub fn log(&self) -> String {
        read_lossy(&self.log)
    }

    /// Wait until the log contains `needle` (e.g. `"Peer certificate: CN =
    /// boardnet test client"`); returns whether it did within `timeout`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.log().contains(needle) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Options of [`openssl_client`].
#[derive(Debug, Clone)]
pub struct OpenSslClientOpts {
    /// Host part of `-connect HOST:PORT` (default "127.0.0.1"; "[::1]" works).
    pub host: String,
    /// SNI (`-servername`); `None` sends none (`-noservername`). Default "localhost".
    pub servername: Option<String>,
    /// `-CAfile`; without it the server certificate does not verify
    /// (s_client still connects unless `verify_return_error`).
    pub cafile: Option<PathBuf>,
    /// `-verify_hostname`: also check the certificate's name.
    pub verify_hostname: Option<String>,
    /// `-cert` / `-key` for client authentication.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// `-alpn a,b` (client's offer).
    pub alpn: Vec<String>,
    pub version: Option<TlsVersion>,
    /// `-verify_return_error`: abort the handshake when verification fails.
    pub verify_return_error: bool,
    /// Sent after the handshake.
    pub input: Vec<u8>,
    /// Close stdin (and so the connection) as soon as this many bytes came back.
    pub expect_bytes: Option<usize>,
    /// Otherwise close it this long after both the input was written and
    /// the handshake completed (default 500 ms).
    pub reply_wait: Duration,
    /// Kill s_client after this long (default 30 s).
    pub timeout: Duration,
    /// Extra s_client arguments.
    pub extra_args: Vec<String>,
}

impl Default for OpenSslClientOpts {
    fn default() -> Self {
        OpenSslClientOpts {
            host: "127.0.0.1".into(),
            servername: Some("localhost".into()),
            cafile: None,
            verify_hostname: None,
            cert: None,
            key: None,
            alpn: Vec::new(),
            version: None,
            verify_return_error: false,
            input: Vec::new(),
            expect_bytes: None,
            reply_wait: Duration::from_millis(500),
            timeout: Duration::from_secs(30),
            extra_args: Vec::new(),
        }
    }
}

impl OpenSslClientOpts {
    /// No CA (verification fails but the connection proceeds).
    pub fn new() -> OpenSslClientOpts {
        OpenSslClientOpts::default()
    }
    /// Trusting the Pki's test CA.
    pub fn trusting(pki: &Pki) -> OpenSslClientOpts {
        OpenSslClientOpts {
            cafile: Some(pki.ca_cert()),
            ..OpenSslClientOpts::default()
        }
    }
    /// Trusting the test CA and presenting the Pki's client certificate.
    pub fn mutual(pki: &Pki) -> OpenSslClientOpts {
        OpenSslClientOpts::trusting(pki).client_cert(&pki.client_cert(), &pki.client_key())
    }
    pub fn host(mut self, host: &str) -> Self {
        self.host = host.into();
        self
    }
    pub fn servername(mut self, name: Option<&str>) -> Self {
        self.servername = name.map(|s| s.to_string());
        self
    }
    pub fn cafile(mut self, ca: &Path) -> Self {
        self.cafile = Some(ca.to_path_buf());
        self
    }
    pub fn verify_hostname(mut self, name: &str) -> Self {
        self.verify_hostname = Some(name.into());
        self
    }
    pub fn client_cert(mut self, cert: &Path, key: &Path) -> Self {
        self.cert = Some(cert.to_path_buf());
        self.key = Some(key.to_path_buf());
        self
    }
    pub fn alpn(mut self, protocols: &[&str]) -> Self {
        self.alpn = protocols.iter().map(|s| s.to_string()).collect();
        self
    }
    pub fn version(mut self, v: TlsVersion) -> Self {
        self.version = Some(v);
        self
    }
    pub fn verify_return_error(mut self) -> Self {
        self.verify_return_error = true;
        self
    }
    pub fn input(mut self, data: &[u8]) -> Self {
        self.input = data.to_vec();
        self
    }
    pub fn expect(mut self, bytes: usize) -> Self {
        self.expect_bytes = Some(bytes);
        self
    }
    pub fn reply_wait(mut self, d: Duration) -> Self {
        self.reply_wait = d;
        self
    }
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }
    pub fn arg(mut self, a: &str) -> Self {
        self.extra_args.push(a.to_string());
        self
    }
}

/// What [`openssl_client`] found out.
#[derive(Debug, Clone, Default)]
pub struct TlsClientInfo {
    /// s_client reported `CONNECTION ESTABLISHED` (handshake done on its
    /// side; with TLS 1.3 a server may still reject the client certificate
    /// afterwards: check `alerts_received`).
    pub connected: bool,
    /// "TLSv1.3", "TLSv1.2".
    pub protocol: Option<String>,
    pub cipher: Option<String>,
    /// Server certificate subject, e.g. "CN = localhost".
    pub peer_certificate: Option<String>,
    /// After "Verification": "OK", or the error, e.g. "error: unable to get
    /// local issuer certificate".
    pub verification: Option<String>,
    /// `verification == Some("OK")`.
    pub verified: bool,
    /// The ALPN protocol the server selected, if any.
    pub alpn: Option<String>,
    /// TLS alerts from the server, e.g. "fatal certificate_required",
    /// "warning close_notify".
    pub alerts_received: Vec<String>,
    /// Alerts s_client sent.
    pub alerts_sent: Vec<String>,
    /// OpenSSL error lines from stderr.
    pub errors: Vec<String>,
    /// The application data that came back (same as RunOutput::stdout).
    pub data: Vec<u8>,
}

impl TlsClientInfo {
    pub fn data_str(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
    /// Whether the server sent a fatal alert whose name contains `name`.
    pub fn got_fatal_alert(&self, name: &str) -> bool {
        self.alerts_received
            .iter()
            .any(|a| a.starts_with("fatal") && a.contains(name))
    }
}

/// `input` reversed line by line as `s_server -rev` answers it (lines ended
/// by LF, CR stripped; a trailing partial line gets no answer).
pub fn rev_reply(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = input;
    while let Some(i) = rest.iter().position(|&b| b == b'\n') {
        let mut line = &rest[..i];
        while let Some((&b'\r', l)) = line.split_last() {
            line = l;
        }
        out.extend(line.iter().rev());
        out.push(b'\n');
        rest = &rest[i + 1..];
    }
    out
}

fn quote(a: &str) -> String {
    if a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == '\'') {
        format!("{:?}", a)
    } else {
        a.to_string()
    }
}

/// Run `openssl s_client -connect HOST:PORT -brief -nocommands -msg …`
/// with `opts` (see the module docs for when stdin is closed). Returns the
/// run (stdout = the data that came back, stderr = s_client's summary and
/// errors) and the parsed [`TlsClientInfo`]. Never panics on a failed
/// handshake: check the info.
pub fn openssl_client(port: u16, opts: &OpenSslClientOpts) -> (RunOutput, TlsClientInfo) {
    require_program("openssl");
    let dir = WorkDir::named("openssl-client");
    let msgfile = dir.join("msg.txt");
    let mut args: Vec<String> = vec![
        "s_client".into(),
        "-connect".into(),
        format!("{}:{}", opts.host, port),
        "-brief".into(),
        "-nocommands".into(),
        "-no_ign_eof".into(),
        "-msg".into(),
        "-msgfile".into(),
        msgfile.to_string_lossy().into_owned(),
    ];
    match &opts.servername {
        Some(n) => args.extend(["-servername".into(), n.clone()]),
        None => args.push("-noservername".into()),
    }
    if let Some(ca) = &opts.cafile {
        args.extend(["-CAfile".into(), ca.to_string_lossy().into_owned()]);
    }
    if let Some(h) = &opts.verify_hostname {
        args.extend(["-verify_hostname".into(), h.clone()]);
    }
    if let Some(c) = &opts.cert {
        args.extend(["-cert".into(), c.to_string_lossy().into_owned()]);
    }
    if let Some(k) = &opts.key {
        args.extend(["-key".into(), k.to_string_lossy().into_owned()]);
    }
    if !opts.alpn.is_empty() {
        args.extend(["-alpn".into(), opts.alpn.join(",")]);
    }
    if let Some(v) = opts.version {
        args.push(v.flag().into());
    }
    if opts.verify_return_error {
        args.push("-verify_return_error".into());
    }
    args.extend(opts.extra_args.iter().cloned());
    let cmdline = std::iter::once("openssl".to_string())
        .chain(args.iter().map(|a| quote(a)))
        .collect::<Vec<_>>()
        .join(" ");

    let start = Instant::now();
    let mut child = Command::new("openssl")
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `{}`: {}", cmdline, e));

    let out = Arc::new(Mutex::new(Vec::new()));
    let err = Arc::new(Mutex::new(Vec::new()));
    let mut readers = Vec::new();
    for (src, buf) in [
        (
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            out.clone(),
        ),
        (
            Box::new(child.stderr.take().unwrap()) as Box<dyn Read + Send>,
            err.clone(),
        ),
    ] {
        readers.push(std::thread::spawn(move || {
            let mut src = src;
            let mut chunk = [0u8; 16384];
            loop {
                match src.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.lock().unwrap().extend_from_slice(&chunk[..n]),
                }
            }
        }));
    }
    // The writer hands stdin back when all input is written, so that it
    // can be held open until the answer is in.
    let (tx, rx) = mpsc::channel();
    let mut stdin = child.stdin.take().unwrap();
    let input = opts.input.clone();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
        let _ = stdin.flush();
        let _ = tx.send(stdin);
    });

    let deadline = start + opts.timeout;
    let mut held = None;
    let mut written_at = None;
    let mut established_at = None;
    let mut stdin_closed = false;
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) => {}
            Err(e) => panic!("waiting for `{}`: {}", cmdline, e),
        }
        let now = Instant::now();
        if now >= deadline {
            timed_out = true;
            let _ = child.kill();
            break child.wait().ok();
        }
        if written_at.is_none() {
            if let Ok(s) = rx.try_recv() {
                held = Some(s);
                written_at = Some(now);
            }
        }
        if established_at.is_none()
            && String::from_utf8_lossy(&err.lock().unwrap()).contains("CONNECTION ESTABLISHED")
        {
            established_at = Some(now);
        }
        if !stdin_closed {
            if let (Some(w), Some(e)) = (written_at, established_at) {
                let got = out.lock().unwrap().len();
                let enough = opts.expect_bytes.is_some_and(|n| got >= n);
                if enough || now >= w.max(e) + opts.reply_wait {
                    drop(held.take());
                    stdin_closed = true;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    drop(held);
    let elapsed = start.elapsed();
    for r in readers {
        let _ = r.join();
    }
    let _ = writer.join();
    let stdout = std::mem::take(&mut *out.lock().unwrap());
    let stderr = String::from_utf8_lossy(&err.lock().unwrap()).into_owned();
    let msg = read_lossy(&msgfile);
    let info = parse_client_output(&stderr, &msg, &stdout);
    (
        RunOutput {
            code: status.and_then(|s| s.code()),
            stdout,
            stderr,
            timed_out,
            elapsed,
            cmdline,
        },
        info,
    )
}

fn parse_client_output(stderr: &str, msg: &str, data: &[u8]) -> TlsClientInfo {
    let mut info = TlsClientInfo {
        data: data.to_vec(),
        ..TlsClientInfo::default()
    };
    for l in stderr.lines() {
        let l = l.trim_end();
        if l == "CONNECTION ESTABLISHED" {
            info.connected = true;
        } else if let Some(v) = l.strip_prefix("Protocol version: ") {
            info.protocol = Some(v.to_string());
        } else if let Some(v) = l.strip_prefix("Ciphersuite: ") {
            info.cipher = Some(v.to_string());
        } else if let Some(v) = l.strip_prefix("Peer certificate: ") {
            info.peer_certificate = Some(v.to_string());
        } else if let Some(v) = l.strip_prefix("Verification: ") {
            info.verification = Some(v.to_string());
        } else if let Some(v) = l.strip_prefix("Verification error: ") {
            info.verification = Some(format!("error: {}", v));
        } else if l.contains(":error:") {
            info.errors.push(l.to_string());
        }
    }
    info.verified = info.verification.as_deref() == Some("OK");
    let (alpn, received, sent) = parse_msg_dump(msg);
    info.alpn = alpn;
    info.alerts_received = received;
    info.alerts_sent = sent;
    info
}

/// From an `openssl s_client -msg` dump: the ALPN protocol in the server's
/// ServerHello (TLS 1.2) or EncryptedExtensions (TLS 1.3), alerts received
/// and alerts sent.
pub fn parse_msg_dump(msg: &str) -> (Option<String>, Vec<String>, Vec<String>) {
    // Messages: (incoming, header line, bytes).
    let mut msgs: Vec<(bool, String, Vec<u8>)> = Vec::new();
    for line in msg.lines() {
        let incoming = line.starts_with("<<< ");
        if incoming || line.starts_with(">>> ") {
            msgs.push((incoming, line.to_string(), Vec::new()));
        } else if let Some((_, _, bytes)) = msgs.last_mut() {
            for tok in line.split_whitespace() {
                match u8::from_str_radix(tok, 16) {
                    Ok(b) if tok.len() == 2 => bytes.push(b),
                    _ => break,
                }
            }
        }
    }
    let mut alpn = None;
    let mut received = Vec::new();
    let mut sent = Vec::new();
    for (incoming, header, bytes) in &msgs {
        if let Some(i) = header.find("Alert [") {
            // OpenSSL prints "???" for alerts it has no name for (e.g. 120
            // no_application_protocol in 3.0): name them from the bytes.
            let text = header[i..].split_once("], ").map(|x| x.1).unwrap_or("");
            let desc = match bytes.as_slice() {
                [level, code] => format!(
                    "{} {}",
                    match level {
                        1 => "warning",
                        2 => "fatal",
                        _ => "unknown-level",
                    },
                    alert_name(*code)
                ),
                _ => text.to_string(),
            };
            if *incoming {
                received.push(desc);
            } else {
                sent.push(desc);
            }
        } else if *incoming && header.contains("Handshake [") && alpn.is_none() {
            let kind = header.rsplit(", ").next().unwrap_or("").trim();
            if kind == "ServerHello" || kind == "EncryptedExtensions" {
                alpn = alpn_from_handshake(kind, bytes);
            }
        }
    }
    (alpn, received, sent)
}

/// TLS alert description names (RFC 8446 §6 and older ones).
fn alert_name(code: u8) -> String {
    match code {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        111 => "certificate_unobtainable",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        114 => "bad_certificate_hash_value",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        _ => return format!("alert_{}", code),
    }
    .to_string()
}

/// The ALPN protocol in a ServerHello / EncryptedExtensions message
/// (with its 4-byte handshake header).
fn alpn_from_handshake(kind: &str, m: &[u8]) -> Option<String> {
    let body = m.get(4..)?;
    let exts = if kind == "ServerHello" {
        // version(2) random(32) session_id(1+n) cipher(2) compression(1)
        let sid = *body.get(34)? as usize;
        let off = 35 + sid + 3;
        body.get(off..)?
    } else {
        body
    };
    let total = u16::from_be_bytes([*exts.first()?, *exts.get(1)?]) as usize;
    let mut e = exts.get(2..2 + total)?;
    while e.len() >= 4 {
        let typ = u16::from_be_bytes([e[0], e[1]]);
        let len = u16::from_be_bytes([e[2], e[3]]) as usize;
        let data = e.get(4..4 + len)?;
        if typ == 0x0010 {
            // protocol_name_list: len(2), then len(1) + name
            let n = *data.get(2)? as usize;
            let name = data.get(3..3 + n)?;
            return Some(String::from_utf8_lossy(name).into_owned());
        }
        e = &e[4 + len..];
    }
    None
}
