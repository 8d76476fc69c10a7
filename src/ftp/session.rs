//! One logged-in FTP session: QFtp's commands as blocking calls (`cd`, `list`, `get`, `put`,
//! `remove`, `mkdir`, `rmdir`, `rename`, `size`, `mdtm`, `pwd`, `quit`), over a control
//! connection and one data connection per transfer.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use super::error::FtpError;
use super::io::{self, Channel, Limits};
use super::listing::{self, Entry};
use super::proto::{self, Features, Reply, ReplyReader};
use super::url::Security;
use crate::dns::host::{self, Family};
use crate::net::Progress;

/// How to reach and talk to a server.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// Plain, explicit (AUTH TLS) or implicit FTPS.
    pub security: Security,
    /// Verification settings for FTPS (as for HTTPS: system store or a CA file, pins, or none).
    #[cfg(feature = "tls")]
    pub tls: crate::tls::TlsOptions,
    /// The server connects to us for data (PORT/EPRT) instead of passive mode.
    pub active: bool,
    /// Which address family to connect with.
    pub family: Family,
    /// Timeouts, speed limit, cancellation and interface of every wait.
    pub limits: Limits,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            security: Security::None,
            #[cfg(feature = "tls")]
            tls: crate::tls::TlsOptions::default(),
            active: false,
            family: Family::Any,
            limits: Limits::default(),
        }
    }
}

/// A progress callback for transfers.
pub type ProgressFn<'a> = &'a mut dyn FnMut(&Progress);

/// A logged-in session.
#[derive(Debug)]
pub struct Session {
    control: Control,
    /// The name data connections verify the server's certificate against.
    #[cfg(feature = "tls")]
    host: String,
    peer: SocketAddr,
    limits: Arc<Limits>,
    /// Set once PROT P is in force: data connections are TLS with this configuration.
    #[cfg(feature = "tls")]
    data_tls: Option<Arc<rustls::ClientConfig>>,
    features: Features,
    epsv_refused: bool,
    active: bool,
    welcome: Reply,
}

/// A data connection asked for, not yet connected (active mode: the server connects later).
enum DataSetup {
    Connected(io::Socket),
    Listening(std::net::TcpListener),
}

/// The control connection: commands out, replies in.
#[derive(Debug)]
struct Control {
    channel: Channel,
    replies: ReplyReader,
    /// The command being sent (reused).
    command: Vec<u8>,
    last: Option<Reply>,
}

impl Control {
    fn read_reply(&mut self) -> Result<Reply, FtpError> {
        loop {
            if let Some(reply) = self
                .replies
                .next_reply()
                .map_err(|e| FtpError::Protocol(e.to_string()))?
            {
                log::debug!("<- {reply}");
                self.last = Some(reply.clone());
                return Ok(reply);
            }
            let n = self
                .channel
                .read(self.replies.buffer())
                .map_err(|e| FtpError::from_io(e, "control connection"))?;
            if n == 0 {
                return Err(FtpError::Connection(
                    "server closed the control connection".into(),
                ));
            }
            self.replies.filled(n);
        }
    }

    /// Send one command and read its reply, whatever the code.
    fn send(&mut self, verb: &str, arg: Option<&str>) -> Result<Reply, FtpError> {
        proto::write_command(&mut self.command, verb, arg)
            .map_err(|e| FtpError::InvalidRequest(e.to_string()))?;
        if verb == "PASS" {
            log::debug!("-> PASS ****");
        } else {
            log::debug!("-> {}", String::from_utf8_lossy(&self.command).trim_end());
        }
        self.channel
            .write_all(&self.command)
            .map_err(|e| FtpError::from_io(e, "control connection"))?;
        self.read_reply()
    }

    #[cfg(feature = "tls")]
    fn start_tls(self, config: Arc<rustls::ClientConfig>, host: &str) -> Result<Control, FtpError> {
        if self.replies.has_partial() {
            // Bytes after the 234 would be plaintext injected before the handshake.
            return Err(FtpError::Protocol(
                "the server sent more after accepting AUTH TLS".into(),
            ));
        }
        Ok(Control {
            channel: self.channel.start_tls(config, host)?,
            ..self
        })
    }
}

impl Session {
    /// Connect, greet, secure the control connection if asked, and log in (`user` None:
    /// anonymous). Binary mode is set and the server's features are read.
    pub fn connect(
        host: &str,
        port: u16,
        user: Option<&str>,
        password: Option<&str>,
        opts: &SessionOptions,
    ) -> Result<Session, FtpError> {
        #[cfg(not(feature = "tls"))]
        if opts.security != Security::None {
            return Err(FtpError::Unsupported(
                "FTPS needs TLS, and this build has no TLS (feature tls)".into(),
            ));
        }
        let limits = Arc::new(opts.limits.clone());
        let addrs: Vec<SocketAddr> = host::addresses(host, opts.family)
            .map_err(|e| FtpError::HostNotFound {
                host: host.to_string(),
                reason: match e {
                    crate::dns::HostError::HostNotFound { reason, .. }
                    | crate::dns::HostError::Unknown { reason, .. } => reason,
                    other => other.to_string(),
                },
            })?
            .into_iter()
            .map(|ip| SocketAddr::new(ip, port))
            .collect();
        let socket = io::connect(&addrs, &limits, "waiting for the server's reply", false)?;
        let peer = socket
            .peer_addr()
            .map_err(|e| FtpError::from_io(e, "control connection"))?;
        #[cfg(feature = "tls")]
        let tls_host = host.trim_start_matches('[').trim_end_matches(']');
        #[cfg(feature = "tls")]
        let tls_config = match opts.security {
            Security::None => None,
            _ => Some(crate::tls::client_config(&opts.tls).map_err(FtpError::Tls)?),
        };
        let mut control = Control {
            channel: Channel::Plain(socket),
            replies: ReplyReader::new(),
            command: Vec::with_capacity(128),
            last: None,
        };
        #[cfg(feature = "tls")]
        if let (Security::Implicit, Some(config)) = (opts.security, &tls_config) {
            control = control.start_tls(Arc::clone(config), tls_host)?;
        }
        let mut greeting = control.read_reply()?;
        // 120: "ready in a few minutes" — the real greeting follows.
        while greeting.is_preliminary() {
            greeting = control.read_reply()?;
        }
        if greeting.code != 220 {
            return Err(FtpError::Refused {
                command: "connect".into(),
                reply: greeting,
            });
        }
        #[cfg(feature = "tls")]
        if let (Security::Explicit, Some(config)) = (opts.security, &tls_config) {
            let reply = control.send("AUTH", Some("TLS"))?;
            if reply.code != 234 {
                return Err(FtpError::Refused {
                    command: "AUTH TLS (the server does not offer FTPS)".into(),
                    reply,
                });
            }
            control = control.start_tls(Arc::clone(config), tls_host)?;
        }
        let mut session = Session {
            control,
            #[cfg(feature = "tls")]
            host: tls_host.to_string(),
            peer,
            limits,
            #[cfg(feature = "tls")]
            data_tls: None,
            features: Features::default(),
            epsv_refused: false,
            active: opts.active,
            welcome: greeting,
        };
        session.login(user.unwrap_or("anonymous"), password)?;
        #[cfg(feature = "tls")]
        if let Some(config) = tls_config {
            session.expect_completion("PBSZ", Some("0"))?;
            session.expect_completion("PROT", Some("P"))?;
            session.data_tls = Some(config);
        }
        session.expect_completion("TYPE", Some("I"))?;
        let feat = session.send("FEAT", None)?;
        if feat.code == 211 {
            session.features = Features::parse(&feat.text);
        }
        if session.features.utf8 {
            // Names are sent as UTF-8 either way; this only tells servers that care.
            let _ = session.send("OPTS", Some("UTF8 ON"));
        }
        log::debug!("server features: {:?}", session.features);
        Ok(session)
    }

    fn login(&mut self, user: &str, password: Option<&str>) -> Result<(), FtpError> {
        let reply = self.send("USER", Some(user))?;
        let reply = match reply.code {
            230 => return Ok(()),
            331 | 332 => {
                let anonymous = user == "anonymous" || user == "ftp";
                let pass = password.unwrap_or(if anonymous { "boardnet@" } else { "" });
                self.send("PASS", Some(pass))?
            }
            _ => reply,
        };
        match reply.code {
            230 | 202 => Ok(()),
            332 => Err(FtpError::Unsupported(format!(
                "the server wants an account (ACCT) after the password: {reply}"
            ))),
            _ => Err(FtpError::LoginFailed(reply)),
        }
    }

    /// The server's greeting (220).
    pub fn welcome(&self) -> &Reply {
        &self.welcome
    }

    /// What the server said it supports (FEAT).
    pub fn features(&self) -> &Features {
        &self.features
    }

    /// The last reply the server sent.
    pub fn last_reply(&self) -> Option<&Reply> {
        self.control.last.as_ref()
    }

    /// Whether the control connection is encrypted.
    pub fn is_secure(&self) -> bool {
        self.control.channel.is_tls()
    }

    fn send(&mut self, verb: &str, arg: Option<&str>) -> Result<Reply, FtpError> {
        self.control.send(verb, arg)
    }

    fn read_reply(&mut self) -> Result<Reply, FtpError> {
        self.control.read_reply()
    }

    /// Send a command that must complete (2xx).
    fn expect_completion(&mut self, verb: &str, arg: Option<&str>) -> Result<Reply, FtpError> {
        let reply = self.send(verb, arg)?;
        if reply.is_completion() {
            Ok(reply)
        } else {
            Err(refused(verb, arg, reply))
        }
    }

    // -----------------------------------------------------------------------------------------
    // Commands without data

    /// The current directory (PWD).
    pub fn pwd(&mut self) -> Result<String, FtpError> {
        let reply = self.expect_completion("PWD", None)?;
        proto::parse_quoted_path(&reply.text)
            .ok_or_else(|| FtpError::Protocol(format!("PWD reply without a quoted path: {reply}")))
    }

    /// Change directory (CWD; `..` is CDUP).
    pub fn cd(&mut self, path: &str) -> Result<Reply, FtpError> {
        if path == ".." {
            return self.expect_completion("CDUP", None);
        }
        self.expect_completion("CWD", Some(path))
    }

    /// Make directory `path` (MKD).
    pub fn mkdir(&mut self, path: &str) -> Result<Reply, FtpError> {
        self.expect_completion("MKD", Some(path))
    }

    /// Remove the empty directory `path` (RMD).
    pub fn rmdir(&mut self, path: &str) -> Result<Reply, FtpError> {
        self.expect_completion("RMD", Some(path))
    }

    /// Remove the file `path` (DELE).
    pub fn remove(&mut self, path: &str) -> Result<Reply, FtpError> {
        self.expect_completion("DELE", Some(path))
    }

    /// Rename `from` to `to` (RNFR, RNTO).
    pub fn rename(&mut self, from: &str, to: &str) -> Result<Reply, FtpError> {
        let reply = self.send("RNFR", Some(from))?;
        if reply.code != 350 {
            return Err(refused("RNFR", Some(from), reply));
        }
        self.expect_completion("RNTO", Some(to))
    }

    /// Size in bytes (SIZE, in binary mode).
    pub fn size(&mut self, path: &str) -> Result<u64, FtpError> {
        let reply = self.expect_completion("SIZE", Some(path))?;
        proto::parse_size(&reply.text)
            .ok_or_else(|| FtpError::Protocol(format!("SIZE reply is not a number: {reply}")))
    }

    /// Modification time as ISO 8601 UTC (MDTM).
    pub fn mdtm(&mut self, path: &str) -> Result<String, FtpError> {
        let reply = self.expect_completion("MDTM", Some(path))?;
        proto::parse_timeval(&reply.text)
            .ok_or_else(|| FtpError::Protocol(format!("MDTM reply is not a time: {reply}")))
    }

    /// Say goodbye (QUIT) and close.
    pub fn quit(mut self) -> Result<Reply, FtpError> {
        let reply = self.send("QUIT", None)?;
        #[cfg(feature = "tls")]
        if let Channel::Tls(s) = &mut self.control.channel {
            s.conn.send_close_notify();
            let _ = s.conn.write_tls(&mut s.sock);
        }
        Ok(reply)
    }

    // -----------------------------------------------------------------------------------------
    // Data connections

    /// Ask for a data connection: EPSV (then PASV if refused) or, in active mode, a listener
    /// announced with EPRT/PORT.
    fn setup_data(&mut self) -> Result<DataSetup, FtpError> {
        if self.active {
            let local = self
                .control
                .channel
                .socket()
                .local_addr()
                .map_err(|e| FtpError::from_io(e, "control connection"))?;
            let listener = io::listen(local.ip(), &self.limits)?;
            let addr = listener
                .local_addr()
                .map_err(|e| FtpError::from_io(e, "data connection"))?;
            let reply = match proto::port_argument(addr) {
                Some(arg) => self.send("PORT", Some(&arg))?,
                None => self.send("EPRT", Some(&proto::eprt_argument(addr)))?,
            };
            if !reply.is_completion() {
                return Err(refused("PORT", None, reply));
            }
            return Ok(DataSetup::Listening(listener));
        }
        let addr = self.passive_address()?;
        let socket = io::connect(&[addr], &self.limits, "waiting for data", true)?;
        Ok(DataSetup::Connected(socket))
    }

    fn passive_address(&mut self) -> Result<SocketAddr, FtpError> {
        if !self.epsv_refused {
            let reply = self.send("EPSV", None)?;
            if reply.code == 229 {
                let port = proto::parse_epsv(&reply.text).ok_or_else(|| {
                    FtpError::Protocol(format!("EPSV reply without a port: {reply}"))
                })?;
                return Ok(SocketAddr::new(self.peer.ip(), port));
            }
            if !(500..600).contains(&reply.code) {
                return Err(refused("EPSV", None, reply));
            }
            log::debug!("EPSV refused ({reply}); using PASV from now on");
            self.epsv_refused = true;
        }
        if self.peer.is_ipv6() {
            return Err(FtpError::PassiveOverIpv6);
        }
        let reply = self.send("PASV", None)?;
        if reply.code != 227 {
            return Err(refused("PASV", None, reply));
        }
        let addr = proto::parse_pasv(&reply.text)
            .ok_or_else(|| FtpError::Protocol(format!("PASV reply without an address: {reply}")))?;
        if addr.ip() != self.peer.ip() {
            // A server behind NAT announces its private address; the control connection's
            // address is the one that reaches it (curl's default, too).
            log::info!(
                "PASV announced {}, using the control connection's address {}",
                addr.ip(),
                self.peer.ip()
            );
        }
        Ok(SocketAddr::new(self.peer.ip(), addr.port()))
    }

    /// Set up a data connection, send `verb arg` (after `REST offset`), and return the data
    /// channel once the server said 125/150.
    fn open_transfer(
        &mut self,
        verb: &str,
        arg: Option<&str>,
        offset: u64,
    ) -> Result<Channel, FtpError> {
        let setup = self.setup_data()?;
        if offset > 0 {
            let reply = self.send("REST", Some(&offset.to_string()))?;
            if reply.code != 350 {
                return Err(FtpError::Unsupported(format!(
                    "the server cannot resume at byte {offset} (REST: {reply})"
                )));
            }
        }
        let reply = self.send(verb, arg)?;
        if !reply.is_preliminary() {
            return Err(refused(verb, arg, reply));
        }
        let socket = match setup {
            DataSetup::Connected(s) => s,
            DataSetup::Listening(listener) => io::accept(&listener, &self.limits)?,
        };
        let data = Channel::Plain(socket);
        #[cfg(feature = "tls")]
        if let Some(config) = &self.data_tls {
            return data.start_tls(Arc::clone(config), &self.host);
        }
        Ok(data)
    }

    /// After the data connection closed: the transfer's final reply (226/250).
    fn close_transfer(&mut self, verb: &str, arg: Option<&str>) -> Result<Reply, FtpError> {
        let reply = self.read_reply()?;
        if reply.is_completion() {
            Ok(reply)
        } else {
            Err(refused(verb, arg, reply))
        }
    }

    /// A transfer that failed on our side: the server still sends its final reply
    /// (426/451/226), which must be read so the next command gets its own.
    fn abandon_transfer(&mut self, data: Channel, error: FtpError) -> FtpError {
        drop(data);
        if !matches!(
            error,
            FtpError::Cancelled
                | FtpError::Timeout { .. }
                | FtpError::Connection(_)
                | FtpError::Truncated { .. }
        ) {
            let _ = self.read_reply();
        }
        error
    }

    /// Download `path` from byte `offset` into `sink`, reading through `buf`. `expected` (from
    /// SIZE) lets a cut transfer be told from a complete one even when the server says 226.
    /// Returns the bytes transferred.
    pub fn retrieve(
        &mut self,
        path: &str,
        offset: u64,
        expected: Option<u64>,
        buf: &mut [u8],
        sink: &mut dyn FnMut(&[u8]) -> Result<(), FtpError>,
        mut progress: Option<ProgressFn<'_>>,
    ) -> Result<u64, FtpError> {
        let mut data = self.open_transfer("RETR", Some(path), offset)?;
        let started = Instant::now();
        let mut done = 0u64;
        loop {
            let n = match read_data(&mut data, buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(err) => return Err(self.abandon_transfer(data, err)),
            };
            if let Err(err) = sink(&buf[..n]) {
                return Err(self.abandon_transfer(data, err));
            }
            done += n as u64;
            if let Some(p) = progress.as_mut() {
                p(&Progress {
                    bytes: offset + done,
                    total: expected,
                    elapsed: started.elapsed(),
                });
            }
        }
        drop(data);
        self.close_transfer("RETR", Some(path))?;
        if let Some(total) = expected {
            if offset + done != total {
                return Err(FtpError::Truncated {
                    at: offset + done,
                    total,
                });
            }
        }
        Ok(done)
    }

    /// Upload from `source` to `path` (STOR; APPE when `append`), through `buf`. Returns the
    /// bytes sent.
    pub fn store(
        &mut self,
        path: &str,
        append: bool,
        source: &mut dyn Read,
        total: Option<u64>,
        buf: &mut [u8],
        mut progress: Option<ProgressFn<'_>>,
    ) -> Result<u64, FtpError> {
        let verb = if append { "APPE" } else { "STOR" };
        let mut data = self.open_transfer(verb, Some(path), 0)?;
        let started = Instant::now();
        let mut done = 0u64;
        loop {
            let n = match source.read(buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let err = FtpError::LocalFile(crate::fs::FileError::new(
                        std::path::Path::new("upload source"),
                        "read",
                        e,
                    ));
                    return Err(self.abandon_transfer(data, err));
                }
            };
            if let Err(e) = data.write_all(&buf[..n]) {
                let err = FtpError::from_io(e, "data connection");
                return Err(self.abandon_transfer(data, err));
            }
            done += n as u64;
            if let Some(p) = progress.as_mut() {
                p(&Progress {
                    bytes: done,
                    total,
                    elapsed: started.elapsed(),
                });
            }
        }
        if let Err(e) = data.finish_upload() {
            let err = FtpError::from_io(e, "data connection");
            return Err(self.abandon_transfer(data, err));
        }
        drop(data);
        self.close_transfer(verb, Some(path))?;
        Ok(done)
    }

    /// List a directory (MLSD when the server offers it, LIST otherwise), one call of `each`
    /// per line: the parsed entry, or `None` with the raw line when it could not be parsed.
    pub fn list(
        &mut self,
        path: Option<&str>,
        each: &mut dyn FnMut(Option<Entry>, &str),
    ) -> Result<Reply, FtpError> {
        let mlsd = self.features.mlsd;
        let verb = if mlsd { "MLSD" } else { "LIST" };
        let mut data = self.open_transfer(verb, path, 0)?;
        let today = listing::current_year_month();
        let mut parse = |line: &str| {
            let entry = if mlsd {
                listing::parse_mlsd_line(line)
            } else {
                listing::parse_list_line(line, today)
            };
            // MLSD's "." and ".." come back as None too; drop them quietly.
            if entry.is_some() || !(mlsd && line.contains("dir;")) {
                each(entry, line);
            }
        };
        let mut lines = ReplyLines::default();
        let mut buf = [0u8; 4096];
        loop {
            let fed = match read_data(&mut data, &mut buf) {
                Ok(0) => break,
                Ok(n) => lines.feed(&buf[..n], &mut parse),
                Err(e) => Err(e),
            };
            if let Err(e) = fed {
                return Err(self.abandon_transfer(data, e));
            }
        }
        lines.finish(&mut parse);
        drop(data);
        self.close_transfer(verb, path)
    }
}

/// Read from a data connection; `Ok(0)` at its end. A TLS data connection closed without
/// close_notify counts as the end too — many servers do that; truncation still shows, because
/// the transfer's final reply (and for downloads the SIZE check) must agree.
fn read_data(data: &mut Channel, buf: &mut [u8]) -> Result<usize, FtpError> {
    match data.read(buf) {
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && data.is_tls() => Ok(0),
        Err(e) => Err(FtpError::from_io(e, "data connection")),
        Ok(n) => Ok(n),
    }
}

/// The error for a command the server refused.
fn refused(verb: &str, arg: Option<&str>, reply: Reply) -> FtpError {
    FtpError::Refused {
        command: match arg {
            Some(a) => format!("{verb} {a}"),
            None => verb.to_string(),
        },
        reply,
    }
}

/// Splits a listing into lines, each at most [`proto::MAX_LINE`] bytes.
#[derive(Default)]
struct ReplyLines {
    partial: Vec<u8>,
}

impl ReplyLines {
    fn feed(&mut self, mut bytes: &[u8], each: &mut dyn FnMut(&str)) -> Result<(), FtpError> {
        while let Some(nl) = bytes.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&bytes[..nl]);
            bytes = &bytes[nl + 1..];
            self.emit(each);
        }
        self.partial.extend_from_slice(bytes);
        if self.partial.len() > proto::MAX_LINE {
            return Err(FtpError::Protocol(format!(
                "listing line longer than {} KiB",
                proto::MAX_LINE / 1024
            )));
        }
        Ok(())
    }

    fn emit(&mut self, each: &mut dyn FnMut(&str)) {
        let line = String::from_utf8_lossy(&self.partial);
        let line = line.trim_end_matches('\r');
        if !line.is_empty() {
            each(line);
        }
        self.partial.clear();
    }

    fn finish(&mut self, each: &mut dyn FnMut(&str)) {
        if !self.partial.is_empty() {
            self.emit(each);
        }
    }
}
