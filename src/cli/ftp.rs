//! `boardnet get/put ftp://…` (whole files by URL) and `boardnet ftp URL [COMMAND]` (a QFtp
//! session: one command, or a script of commands on stdin).

use std::ffi::OsString;
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use lexopt::prelude::*;
use serde_json::{json, Value};

use super::args::{output_path, text, Globals, LimitFlag, LimitFlags, TlsFlag, TlsFlags};
use super::hints::Hinted;
use super::output::{json_line, notice_line, secs, text_line, JsonArrayLine};
use super::progress::{Meter, Mode};
use super::Failure;
use crate::cancel::CancelToken;
use crate::dns::host::Family;
use crate::error::{Classify, ErrorClass};
use crate::fs::PartNotice;
use crate::ftp::{self, url, Entry, EntryKind, FtpError, FtpUrl, Limits, Security, Session};
use crate::http::parse_sha256;

const URL_HELP: &str = "\
Whole files by URL (the same commands as HTTP):
       boardnet get [OPTIONS] ftp://[USER[:PASSWORD]@]HOST[:PORT]/PATH...
       boardnet put -T FILE [OPTIONS] ftp://HOST/PATH   (PATH ending in / takes FILE's name)
       (ftps:// is implicit TLS on port 990; --ftp-ssl upgrades ftp:// with AUTH TLS)

Binary mode, streamed both ways. Several URLs on one server share one login.

  -o, --output FILE           write to FILE (one -o per URL; - is stdout) through FILE.part,
                              renamed only when complete and verified
  -O, --remote-name           name the file after the URL's last path segment
  -C, --continue-at -         resume: downloads continue FILE.part (REST), uploads append
                              what the server lacks (SIZE, then APPE)
      --sha256 HEX            verify a download before renaming it (exit 10)
  -T, --upload-file FILE      (put) the file to upload
  -u, --user USER:PASSWORD    credentials (also in the URL); default anonymous
  -n, --netrc                 credentials from ~/.netrc (or --netrc-file FILE)
      --progress bar|json|none, -s/--silent
";

const SHARED_HELP: &str = "\
Connection:
      --ftp-ssl               explicit FTPS: AUTH TLS, PBSZ 0, PROT P; never falls back to
                              plain text (aliases --ssl-reqd, --ftp-ssl-reqd)
      --cacert FILE, --cert FILE, --key FILE, --pinnedpubkey sha256//..., -k/--insecure,
      --ignore-tls-error NAME  TLS verification as for HTTPS (system store by default)
      --active                the server connects to us for data (EPRT/PORT); default passive
                              (EPSV, then PASV; a PASV address other than the server's own
                              is replaced by the control connection's address, for NAT)
      --interface IFACE       bind control and data connections (SO_BINDTODEVICE, needs root)
  -4, -6                      IPv4 or IPv6 only
      --connect-timeout S     limit for each connect (default 30; 0 = the kernel's own)
      --idle-timeout S        longest silence from the server: a reply or the next data
                              bytes (default 60; 0 = never); then exit 5. Also spelled
                              --reply-timeout
  -m, --max-time S            limit for the whole run (default: none)
  -Y, --speed-limit BYTES     abort a transfer when fewer than BYTES/s moved over the last
                              --speed-time (a sliding window; default 30 s)
  -y, --speed-time S          (--speed-time alone means --speed-limit 1)

Global: -v/--verbose (-vv shows the control connection), --json, -h/--help.
";

const SESSION_HELP: &str = "\
Usage: boardnet ftp [OPTIONS] ftp://[USER[:PASSWORD]@]HOST[:PORT][/DIR] [COMMAND [ARG...]]

Logs in (and changes to DIR), then runs COMMAND; without one, reads commands from stdin, one
per line ('#' comments, \"quoted\" or 'quoted' arguments), so cd carries to later lines.
Each command reports done or failed with the server's code and text on stderr (--json: one
object per command on stdout). A failing command stops the script with its exit code.

Commands:
  ls [-l] [PATH]              names (-l: type, size, time, name); MLSD where offered, else LIST
  cd PATH, pwd                change / print the directory
  get REMOTE [LOCAL]          download through LOCAL.part, renamed when complete
  put LOCAL [REMOTE]          upload
  rm PATH, mkdir PATH, rmdir PATH, rename FROM TO
  size PATH, mdtm PATH        size in bytes / modification time (UTC)
  quit                        end the script here

Options (before the URL):
  -u, --user USER:PASSWORD, -n/--netrc, --netrc-file FILE   as for get
      --keep-going            run the remaining commands after a failure (the exit code is
                              still the first failure's)
      --progress bar|json|none, -s/--silent
";

/// Socket and copy buffer for file transfers (FTP data arrives as fast as the disk takes it;
/// 256 KiB keeps the resident set under 3 MiB and measured no slower than 1 MiB).
const BUFFER: usize = 128 << 10;

/// A parsed argument that no longer borrows the parser (so an option's value can be read).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Flag {
    Short(char),
    Long(String),
    Value(OsString),
}

impl Flag {
    fn of(arg: lexopt::Arg<'_>) -> Flag {
        match arg {
            Short(c) => Flag::Short(c),
            Long(l) => Flag::Long(l.to_string()),
            Value(v) => Flag::Value(v),
        }
    }

    fn arg(&self) -> lexopt::Arg<'_> {
        match self {
            Flag::Short(c) => Short(*c),
            Flag::Long(l) => Long(l),
            Flag::Value(v) => Value(v.clone()),
        }
    }

    /// Not an option of this command: a global flag, or an error.
    fn global_or_unexpected(&self, globals: &mut Globals) -> Result<(), Failure> {
        if globals.accept(&self.arg()) {
            Ok(())
        } else {
            Err(self.arg().unexpected().into())
        }
    }
}

/// What [`Common::accept`] did with an argument.
enum Accepted {
    Yes,
    /// `-h`: the help was printed; stop.
    Help,
    No,
}

/// Options shared by URL transfers and sessions.
#[derive(Debug, Default)]
struct Common {
    user: Option<(String, String)>,
    netrc: Option<Option<PathBuf>>,
    ftp_ssl: bool,
    tls: TlsFlags,
    active: bool,
    interface: Option<String>,
    family: Option<Family>,
    limits: LimitFlags,
    progress: Option<Mode>,
}

impl Common {
    /// Consume `flag` if it is one of the shared options (or print the help for -h).
    fn accept(&mut self, flag: &Flag, parser: &mut lexopt::Parser) -> Result<Accepted, Failure> {
        if let Some(tls) = TlsFlag::of(&flag.arg()) {
            self.tls.set(tls, parser)?;
            return Ok(Accepted::Yes);
        }
        if let Some(limit) = LimitFlag::of(&flag.arg()) {
            self.limits.set(limit, parser)?;
            return Ok(Accepted::Yes);
        }
        let long = |name: &str| matches!(flag, Flag::Long(l) if l == name);
        let short = |c: char| *flag == Flag::Short(c);
        match () {
            _ if short('u') || long("user") => {
                let v = text(parser, "-u")?;
                let (u, p) = v.split_once(':').ok_or_else(|| {
                    Failure::usage("-u: give USER:PASSWORD (there is no password prompt)")
                })?;
                self.user = Some((u.to_string(), p.to_string()));
            }
            _ if short('n') || long("netrc") => self.netrc = Some(None),
            _ if long("netrc-file") => {
                self.netrc = Some(Some(PathBuf::from(text(parser, "--netrc-file")?)))
            }
            _ if long("ftp-ssl") || long("ssl-reqd") || long("ftp-ssl-reqd") => self.ftp_ssl = true,
            _ if long("active") => self.active = true,
            _ if long("interface") => self.interface = Some(text(parser, "--interface")?),
            _ if short('4') => self.family = Some(Family::V4),
            _ if short('6') => self.family = Some(Family::V6),
            _ if long("progress") => {
                self.progress = Some(match text(parser, "--progress")?.as_str() {
                    "bar" => Mode::Bar,
                    "json" => Mode::Json,
                    "none" => Mode::Off,
                    other => {
                        return Err(Failure::usage(format!(
                            "--progress \"{other}\": use bar, json or none"
                        )))
                    }
                })
            }
            _ if short('s') || long("silent") => self.progress = Some(Mode::Off),
            _ if short('h') || long("help") => {
                super::output::print_text(&format!("{SESSION_HELP}\n{URL_HELP}\n{SHARED_HELP}"));
                return Ok(Accepted::Help);
            }
            _ => return Ok(Accepted::No),
        }
        Ok(Accepted::Yes)
    }

    fn check(&self) -> Result<(), Failure> {
        self.tls.check()?;
        if !cfg!(feature = "tls") && self.ftp_ssl {
            return Err(Failure {
                help_hint: false,
                class: ErrorClass::Unsupported,
                message: "--ftp-ssl needs TLS, and this build has no TLS (feature tls)".into(),
            });
        }
        Ok(())
    }

    fn session_options(
        &self,
        cancel: &CancelToken,
        started: Instant,
        implicit: bool,
    ) -> ftp::SessionOptions {
        let given = &self.limits;
        ftp::SessionOptions {
            security: if implicit {
                Security::Implicit
            } else if self.ftp_ssl {
                Security::Explicit
            } else {
                Security::None
            },
            #[cfg(feature = "tls")]
            tls: self.tls.options.clone(),
            active: self.active,
            family: self.family.unwrap_or(Family::Any),
            limits: Limits {
                connect: given.connect(),
                idle: given.idle(),
                deadline: given.max_time().map(|d| (started + d, d)),
                speed: given.speed(),
                cancel: Some(cancel.clone()),
                interface: self.interface.clone(),
            },
        }
    }

    /// USER and PASSWORD for `url`: the URL's, else -u, else .netrc (when asked), else none.
    fn credentials(&self, url: &FtpUrl) -> Result<(Option<String>, Option<String>), FtpError> {
        if url.user.is_some() {
            return Ok((url.user.clone(), url.password.clone()));
        }
        if let Some((u, p)) = &self.user {
            return Ok((Some(u.clone()), Some(p.clone())));
        }
        if let Some(file) = &self.netrc {
            let path = match file {
                Some(p) => p.clone(),
                None => std::env::var_os("HOME")
                    .map(|h| Path::new(&h).join(".netrc"))
                    .ok_or_else(|| {
                        FtpError::InvalidRequest(
                            "--netrc: HOME is not set (use --netrc-file)".into(),
                        )
                    })?,
            };
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    if let Some((u, p)) = url::netrc_lookup(&text, &url.host) {
                        return Ok((Some(u), p));
                    }
                    log::info!("{}: no entry for {}", path.display(), url.host);
                }
                Err(e) => {
                    return Err(FtpError::LocalFile(crate::fs::FileError::new(
                        &path, "read", e,
                    )))
                }
            }
        }
        Ok((None, None))
    }

    fn connect(
        &self,
        url: &FtpUrl,
        cancel: &CancelToken,
        started: Instant,
    ) -> Result<Session, FtpError> {
        let (user, password) = self.credentials(url)?;
        let opts = self.session_options(cancel, started, url.implicit_tls);
        Session::connect(
            &url.host,
            url.port,
            user.as_deref(),
            password.as_deref(),
            &opts,
        )
    }
}

fn parse_url(raw: &str) -> Result<FtpUrl, FtpError> {
    url::parse(raw).map_err(|e| FtpError::InvalidRequest(e.to_string()))
}

fn progress_mode(common: &Common) -> Mode {
    common.progress.unwrap_or_else(Mode::default_for_stderr)
}

fn error_json(e: &FtpError) -> Value {
    json!({
        "class": e.class().name(),
        "code": e.class().exit_code(),
        "kind": e.kind(),
        "message": Hinted(e).to_string(),
    })
}

// ---------------------------------------------------------------------------------------------
// get/put by URL

#[derive(Debug, Default)]
struct UrlArgs {
    common: Common,
    urls: Vec<String>,
    outputs: Vec<Option<PathBuf>>,
    upload: Option<PathBuf>,
    resume: bool,
    sha256: Option<[u8; 32]>,
}

fn parse_url_args(
    command: &str,
    parser: &mut lexopt::Parser,
    globals: &mut Globals,
) -> Result<Option<UrlArgs>, Failure> {
    let mut a = UrlArgs::default();
    while let Some(arg) = parser.next()? {
        let flag = Flag::of(arg);
        match a.common.accept(&flag, parser)? {
            Accepted::Yes => continue,
            Accepted::Help => return Ok(None),
            Accepted::No => {}
        }
        match flag.arg() {
            Value(v) => a.urls.push(
                v.into_string()
                    .map_err(|_| Failure::usage("URLs must be valid UTF-8"))?,
            ),
            Short('o') | Long("output") => a.outputs.push(Some(output_path(parser, "-o")?)),
            Short('O') | Long("remote-name") => a.outputs.push(None),
            Short('C') | Long("continue-at") => {
                if text(parser, "-C")? != "-" {
                    return Err(Failure::usage(
                        "-C: only '-C -' (resume from what is there) is supported",
                    ));
                }
                a.resume = true;
            }
            Long("sha256") => {
                let v = text(parser, "--sha256")?;
                a.sha256 = Some(parse_sha256(&v).ok_or_else(|| {
                    Failure::usage(format!("--sha256 '{v}': expected 64 hex digits"))
                })?);
            }
            Short('T') | Long("upload-file") => a.upload = Some(PathBuf::from(text(parser, "-T")?)),
            _ => flag.global_or_unexpected(globals)?,
        }
    }
    a.common.check()?;
    if a.urls.is_empty() {
        return Err(Failure::usage(format!("{command}: no URL given")));
    }
    if let Some(bad) = a.urls.iter().find(|u| !url::is_ftp_url(u)) {
        return Err(Failure::usage(format!(
            "{bad}: cannot mix FTP and other URLs in one command"
        )));
    }
    match command {
        "put" if a.upload.is_none() => {
            return Err(Failure::usage("put ftp://: give the file with -T FILE"))
        }
        "put" if a.urls.len() > 1 => return Err(Failure::usage("put ftp://: one URL per upload")),
        "get" if a.upload.is_some() => return Err(Failure::usage("-T is for put")),
        "get" | "put" => {}
        _ => {
            return Err(Failure::usage(format!(
                "{command} does not apply to ftp:// URLs"
            )))
        }
    }
    if a.sha256.is_some() && (a.urls.len() > 1 || a.upload.is_some()) {
        return Err(Failure::usage("--sha256 applies to a single download"));
    }
    if a.outputs.len() > a.urls.len() {
        return Err(Failure::usage("more -o/-O than URLs"));
    }
    Ok(Some(a))
}

/// What one URL's transfer produced.
#[derive(Debug, Default)]
struct UrlReport {
    bytes: u64,
    path: Option<PathBuf>,
    resumed_from: u64,
    sha256: Option<String>,
    /// What happened to the `.part` (restarted, unverified, already complete).
    notices: Vec<String>,
}

/// One connected server, reused by the next URL with the same server and login.
struct Connected {
    key: (String, u16, bool, Option<String>),
    session: Session,
}

/// `boardnet get|put ftp://…`.
pub(crate) fn transfer(
    command: &str,
    parser: &mut lexopt::Parser,
    globals: &mut Globals,
) -> Result<ExitCode, Failure> {
    let Some(args) = parse_url_args(command, parser, globals)? else {
        return Ok(ExitCode::SUCCESS);
    };
    globals.init_logging();
    let cancel = super::signal_cancel_token()?;
    let started = Instant::now();
    let mut buf = vec![0u8; BUFFER];
    let mut connected: Option<Connected> = None;
    let mut first_failure: Option<ErrorClass> = None;
    for (index, raw) in args.urls.iter().enumerate() {
        let t0 = Instant::now();
        let mut report = UrlReport::default();
        let result = one_url(
            &args,
            index,
            raw,
            &cancel,
            started,
            &mut connected,
            &mut buf,
            &mut report,
        );
        let reply = connected
            .as_ref()
            .and_then(|c| c.session.last_reply().cloned());
        if let Err(e) = &result {
            // A session that failed mid-way may be out of step: do not reuse it.
            if !matches!(
                e,
                FtpError::Refused { .. }
                    | FtpError::ChecksumMismatch { .. }
                    | FtpError::LocalFile(_)
            ) {
                connected = None;
            }
        }
        if globals.json {
            let reply = result
                .as_ref()
                .err()
                .and_then(|e| e.reply().cloned())
                .or(reply);
            let mut v = json!({
                "url": raw,
                "method": if command == "put" { "STOR" } else { "RETR" },
                "ok": result.is_ok(),
                "code": reply.as_ref().map(|r| r.code),
                "text": reply.as_ref().map(|r| r.text.clone()),
                "bytes": report.bytes,
                "path": report.path.as_ref().map(|p| p.display().to_string()),
                "resumed_from": report.resumed_from,
                "sha256": report.sha256,
                "notices": report.notices,
                "total_time": secs(t0.elapsed()),
            });
            if let (Err(e), Some(obj)) = (&result, v.as_object_mut()) {
                obj.insert("error".into(), error_json(e));
            }
            json_line(&v);
        }
        if let Err(e) = result {
            super::item_failed(globals, command, raw, &e);
            first_failure.get_or_insert(e.class());
            if e.class() == ErrorClass::Cancelled {
                break;
            }
        }
    }
    if let Some(c) = connected {
        let _ = c.session.quit();
    }
    Ok(first_failure.map_or(ExitCode::SUCCESS, |class| ExitCode::from(class.exit_code())))
}

#[allow(clippy::too_many_arguments)]
fn one_url(
    args: &UrlArgs,
    index: usize,
    raw: &str,
    cancel: &CancelToken,
    started: Instant,
    connected: &mut Option<Connected>,
    buf: &mut [u8],
    report: &mut UrlReport,
) -> Result<(), FtpError> {
    let url = parse_url(raw)?;
    let key = (
        url.host.clone(),
        url.port,
        url.implicit_tls,
        url.user.clone(),
    );
    if connected.as_ref().is_none_or(|c| c.key != key) {
        if let Some(old) = connected.take() {
            let _ = old.session.quit();
        }
        let session = args.common.connect(&url, cancel, started)?;
        *connected = Some(Connected { key, session });
    }
    let Some(Connected { session, .. }) = connected.as_mut() else {
        return Err(FtpError::Connection("not connected".into()));
    };
    let mode = progress_mode(&args.common);
    if let Some(local) = &args.upload {
        let remote = url.upload_path(local).ok_or_else(|| {
            FtpError::InvalidRequest(format!("{}: no file name to upload as", local.display()))
        })?;
        let mut meter = Meter::new(mode, raw, true);
        let mut progress = |p: &crate::http::Progress| meter.update(p);
        let result = ftp::upload(
            session,
            local,
            &remote,
            args.resume,
            buf,
            Some(&mut progress),
        );
        meter.finish();
        let done = result?;
        report.bytes = done.bytes;
        report.resumed_from = done.resumed_from;
        return Ok(());
    }
    if url.is_directory() {
        return Err(FtpError::InvalidRequest(format!(
            "{raw} names a directory; use boardnet ftp {raw} ls"
        )));
    }
    let dest = match args.outputs.get(index) {
        Some(Some(path)) if path.as_os_str() == "-" => None,
        Some(Some(path)) => Some(path.clone()),
        Some(None) => Some(PathBuf::from(url::file_name(&url.path).ok_or_else(
            || FtpError::InvalidRequest(format!("cannot name a file after {raw}; use -o FILE")),
        )?)),
        None => None,
    };
    let mut meter = Meter::new(mode, raw, false);
    let mut progress = |p: &crate::http::Progress| meter.update(p);
    let Some(dest) = dest else {
        if args.resume || args.sha256.is_some() {
            return Err(FtpError::InvalidRequest(
                "-C - and --sha256 need -o FILE or -O".into(),
            ));
        }
        let mut out = super::http::raw_stdout();
        let mut sink = |chunk: &[u8]| {
            out.write_all(chunk).map_err(|e| {
                FtpError::LocalFile(crate::fs::FileError::new(Path::new("stdout"), "write", e))
            })
        };
        let result = session.retrieve(&url.path, 0, None, buf, &mut sink, Some(&mut progress));
        meter.finish();
        report.bytes = result?;
        return Ok(());
    };
    report.path = Some(dest.clone());
    let mut notices = Vec::new();
    let mut notice = |n: &PartNotice| notices.push(notice_line(raw, n));
    let opts = ftp::DownloadOptions {
        resume: args.resume,
        sha256: args.sha256,
        progress: Some(&mut progress),
        notice: Some(&mut notice),
    };
    let result = ftp::download(session, &url.path, &dest, buf, opts);
    meter.finish();
    report.notices = notices;
    let done = result?;
    report.bytes = done.size - done.resumed_from;
    report.resumed_from = done.resumed_from;
    report.sha256 = done.sha256;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// boardnet ftp URL [COMMAND]

#[derive(Debug, Default)]
struct SessionArgs {
    common: Common,
    url: String,
    command: Vec<String>,
    keep_going: bool,
}

fn parse_session_args(
    parser: &mut lexopt::Parser,
    globals: &mut Globals,
) -> Result<Option<SessionArgs>, Failure> {
    let mut a = SessionArgs::default();
    while let Some(arg) = parser.next()? {
        let flag = Flag::of(arg);
        match a.common.accept(&flag, parser)? {
            Accepted::Yes => continue,
            Accepted::Help => return Ok(None),
            Accepted::No => {}
        }
        match flag.arg() {
            Long("keep-going") => a.keep_going = true,
            Value(v) => {
                a.url = v
                    .into_string()
                    .map_err(|_| Failure::usage("the URL must be valid UTF-8"))?;
                // Everything after the URL is the command, options included (ls -l).
                for word in parser.raw_args()? {
                    a.command
                        .push(word.into_string().map_err(|_| {
                            Failure::usage("command arguments must be valid UTF-8")
                        })?);
                }
            }
            _ => flag.global_or_unexpected(globals)?,
        }
    }
    a.common.check()?;
    if a.url.is_empty() {
        return Err(Failure::usage(
            "ftp: no URL given (boardnet ftp ftp://HOST/ [COMMAND])",
        ));
    }
    Ok(Some(a))
}

/// Split a script line into words: whitespace separates, "…" and '…' quote, \ escapes.
fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '"' | '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        None => return Err(format!("unclosed {c}")),
                        Some(q) if q == c => break,
                        Some('\\') if c == '"' => match chars.next() {
                            Some(e) => word.push(e),
                            None => return Err("line ends in a backslash".into()),
                        },
                        Some(other) => word.push(other),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(e) => word.push(e),
                    None => return Err("line ends in a backslash".into()),
                }
            }
            '#' if !in_word => break,
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// What a command printed, besides its reply.
enum Outcome {
    /// A listing, printed as it arrived.
    Listed,
    Path(String),
    Size(u64),
    Modified(String),
    Transferred {
        bytes: u64,
        path: String,
    },
    Done,
    Quit,
}

/// One line of `ls -l`.
/// An entry in `--json` listings: its fields, those the server did not give left out.
fn entry_json(e: &Entry) -> Value {
    let mut v = json!({ "name": e.name, "type": e.kind.name() });
    let optional = [
        ("size", e.size.map(Value::from)),
        ("modified", e.modified.as_deref().map(Value::from)),
        ("permissions", e.permissions.as_deref().map(Value::from)),
        ("target", e.target.as_deref().map(Value::from)),
    ];
    if let Some(obj) = v.as_object_mut() {
        for (key, value) in optional {
            if let Some(value) = value {
                obj.insert(key.into(), value);
            }
        }
    }
    v
}

fn long_line(e: &Entry) -> String {
    let kind = match e.kind {
        EntryKind::Directory => 'd',
        EntryKind::Link => 'l',
        EntryKind::File => '-',
        EntryKind::Other => '?',
    };
    let size = e.size.map_or_else(|| "-".to_string(), |s| s.to_string());
    let mut line = format!(
        "{kind} {size:>12} {:<20} {}",
        e.modified.as_deref().unwrap_or("-"),
        e.name
    );
    if let Some(t) = &e.target {
        line.push_str(" -> ");
        line.push_str(t);
    }
    line
}

fn usage(what: &str) -> FtpError {
    FtpError::InvalidRequest(format!("usage: {what}"))
}

struct Runner {
    session: Session,
    json: bool,
    progress: Mode,
    buf: Vec<u8>,
    /// The `--json` line of a listing being printed entry by entry.
    listing: Option<JsonArrayLine>,
}

/// The fields of a command's `--json` line known before it runs.
fn command_head(id: usize, words: &[String]) -> Value {
    json!({ "event": "command", "id": id, "command": words[0], "args": &words[1..] })
}

impl Runner {
    fn execute(&mut self, id: usize, words: &[String]) -> Result<Outcome, FtpError> {
        let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
        let s = &mut self.session;
        Ok(match (words[0].as_str(), args.as_slice()) {
            ("ls" | "dir", rest) => {
                let (long, path) = match rest {
                    [] => (false, None),
                    ["-l"] => (true, None),
                    ["-l", p] => (true, Some(*p)),
                    [p] => (false, Some(*p)),
                    _ => return Err(usage("ls [-l] [PATH]")),
                };
                let long = long || words[0] == "dir";
                let listing = &mut self.listing;
                if self.json {
                    let head = command_head(id, words);
                    *listing = Some(JsonArrayLine::begin(std::io::stdout(), &head, "entries"));
                }
                s.list(path, &mut |entry, raw| match (entry, listing.as_mut()) {
                    (Some(e), Some(json)) => json.item(&entry_json(&e)),
                    (None, Some(json)) => json.item(&json!({ "raw": raw })),
                    (Some(e), None) if long => text_line(format_args!("{}", long_line(&e))),
                    (Some(e), None) => text_line(format_args!("{}", e.name)),
                    (None, None) => text_line(format_args!("{raw}")),
                })?;
                Outcome::Listed
            }
            ("cd", [p]) => {
                s.cd(p)?;
                Outcome::Done
            }
            ("pwd", []) => Outcome::Path(s.pwd()?),
            ("get", [remote, rest @ ..]) if rest.len() <= 1 => {
                let local = match rest.first() {
                    Some(l) => PathBuf::from(l),
                    None => PathBuf::from(url::file_name(remote).ok_or_else(|| {
                        FtpError::InvalidRequest(format!("get {remote}: give a local name"))
                    })?),
                };
                let mut meter = Meter::new(self.progress, remote, false);
                let mut progress = |p: &crate::http::Progress| meter.update(p);
                let opts = ftp::DownloadOptions {
                    progress: Some(&mut progress),
                    ..Default::default()
                };
                let result = ftp::download(s, remote, &local, &mut self.buf, opts);
                meter.finish();
                let done = result?;
                Outcome::Transferred {
                    bytes: done.size,
                    path: done.path.display().to_string(),
                }
            }
            ("put", [local, rest @ ..]) if rest.len() <= 1 => {
                let remote = match rest.first() {
                    Some(r) => r.to_string(),
                    None => Path::new(local)
                        .file_name()
                        .and_then(|n| n.to_str())
                        .ok_or_else(|| FtpError::InvalidRequest(format!("put {local}: give a remote name")))?
                        .to_string(),
                };
                let mut meter = Meter::new(self.progress, local, true);
                let mut progress = |p: &crate::http::Progress| meter.update(p);
                let result = ftp::upload(s, Path::new(local), &remote, false, &mut self.buf, Some(&mut progress));
                meter.finish();
                Outcome::Transferred {
                    bytes: result?.bytes,
                    path: remote,
                }
            }
            ("rm" | "delete", [p]) => {
                s.remove(p)?;
                Outcome::Done
            }
            ("mkdir", [p]) => {
                s.mkdir(p)?;
                Outcome::Done
            }
            ("rmdir", [p]) => {
                s.rmdir(p)?;
                Outcome::Done
            }
            ("rename" | "mv", [from, to]) => {
                s.rename(from, to)?;
                Outcome::Done
            }
            ("size", [p]) => Outcome::Size(s.size(p)?),
            ("mdtm", [p]) => Outcome::Modified(s.mdtm(p)?),
            ("quit" | "bye", []) => Outcome::Quit,
            (name, _) => {
                return Err(match name {
                    "ls" | "dir" => usage("ls [-l] [PATH]"),
                    "cd" => usage("cd PATH"),
                    "pwd" => usage("pwd"),
                    "get" => usage("get REMOTE [LOCAL]"),
                    "put" => usage("put LOCAL [REMOTE]"),
                    "rm" | "delete" | "mkdir" | "rmdir" | "size" | "mdtm" => {
                        usage(&format!("{name} PATH"))
                    }
                    "rename" | "mv" => usage("rename FROM TO"),
                    "quit" | "bye" => usage("quit"),
                    other => FtpError::InvalidRequest(format!(
                        "unknown command \"{other}\" (ls, cd, pwd, get, put, rm, mkdir, rmdir, rename, size, mdtm, quit)"
                    )),
                })
            }
        })
    }

    /// Run one command and report it; the error class if it failed.
    fn run(&mut self, id: usize, words: &[String]) -> Result<bool, ErrorClass> {
        let result = self.execute(id, words);
        let reply = match &result {
            Err(e) => e.reply().cloned(),
            Ok(_) => self.session.last_reply().cloned(),
        };
        let command_text = words.join(" ");
        if self.json {
            let mut v = json!({
                "ok": result.is_ok(),
                "code": reply.as_ref().map(|r| r.code),
                "text": reply.as_ref().map(|r| r.text.clone()),
            });
            if let Some(obj) = v.as_object_mut() {
                match &result {
                    Ok(Outcome::Path(p)) => {
                        obj.insert("path".into(), json!(p));
                    }
                    Ok(Outcome::Size(n)) => {
                        obj.insert("size".into(), json!(n));
                    }
                    Ok(Outcome::Modified(t)) => {
                        obj.insert("modified".into(), json!(t));
                    }
                    Ok(Outcome::Transferred { bytes, path }) => {
                        obj.insert("bytes".into(), json!(bytes));
                        obj.insert("path".into(), json!(path));
                    }
                    Ok(Outcome::Listed | Outcome::Done | Outcome::Quit) => {}
                    Err(e) => {
                        obj.insert("error".into(), error_json(e));
                    }
                }
            }
            match self.listing.take() {
                Some(listing) => {
                    listing.end(&v);
                }
                None => {
                    let mut line = command_head(id, words);
                    if let (Some(line), Value::Object(tail)) = (line.as_object_mut(), v) {
                        line.extend(tail);
                    }
                    json_line(&line);
                }
            }
        } else {
            match &result {
                Ok(Outcome::Path(p)) => text_line(format_args!("{p}")),
                Ok(Outcome::Size(n)) => text_line(format_args!("{n}")),
                Ok(Outcome::Modified(t)) => text_line(format_args!("{t}")),
                _ => {}
            }
            match (&result, &reply) {
                (Ok(_), Some(r)) => eprintln!("boardnet: ftp: [{id}] {command_text}: done ({r})"),
                (Ok(_), None) => eprintln!("boardnet: ftp: [{id}] {command_text}: done"),
                (Err(e), _) => {
                    eprintln!(
                        "boardnet: ftp: [{id}] {command_text}: failed: {}",
                        Hinted(e)
                    )
                }
            }
        }
        match result {
            Ok(Outcome::Quit) => Ok(false),
            Ok(_) => Ok(true),
            Err(e) => Err(e.class()),
        }
    }
}

/// `boardnet ftp URL [COMMAND ARGS...]`.
pub(crate) fn session(
    parser: &mut lexopt::Parser,
    globals: &mut Globals,
) -> Result<ExitCode, Failure> {
    let Some(args) = parse_session_args(parser, globals)? else {
        return Ok(ExitCode::SUCCESS);
    };
    globals.init_logging();
    let url = parse_url(&args.url).map_err(|e| Failure::usage(e.to_string()))?;
    let cancel = super::signal_cancel_token()?;
    let session = args
        .common
        .connect(&url, &cancel, Instant::now())
        .map_err(|e| Failure::from_error(&e))?;
    let mut runner = Runner {
        session,
        json: globals.json,
        progress: progress_mode(&args.common),
        buf: vec![0u8; BUFFER],
        listing: None,
    };
    if !url.path.is_empty() {
        runner
            .session
            .cd(&url.path)
            .map_err(|e| Failure::from_error(&e))?;
    }
    let mut first_failure: Option<ErrorClass> = None;
    let mut id = 0;
    let mut step = |words: Vec<String>, first_failure: &mut Option<ErrorClass>| -> bool {
        id += 1;
        match runner.run(id, &words) {
            Ok(more) => more,
            Err(class) => {
                first_failure.get_or_insert(class);
                args.keep_going
                    && class != ErrorClass::Cancelled
                    && class != ErrorClass::Connection
                    && class != ErrorClass::Timeout
            }
        }
    };
    if !args.command.is_empty() {
        step(args.command.clone(), &mut first_failure);
    } else {
        let stdin = io::stdin();
        for line in stdin.lock().lines() {
            let line = line.map_err(super::os_failure("reading commands from stdin"))?;
            let words = match split_words(&line) {
                Ok(w) if w.is_empty() => continue,
                Ok(w) => w,
                Err(why) => {
                    let e = FtpError::InvalidRequest(format!("\"{line}\": {why}"));
                    eprintln!("boardnet: ftp: {}", Hinted(&e));
                    first_failure.get_or_insert(e.class());
                    if args.keep_going {
                        continue;
                    }
                    break;
                }
            };
            if !step(words, &mut first_failure) {
                break;
            }
        }
    }
    let _ = runner.session.quit();
    Ok(first_failure.map_or(ExitCode::SUCCESS, |class| ExitCode::from(class.exit_code())))
}

/// Whether `get`/`put` arguments name an FTP URL (then [`transfer`] handles them).
pub(crate) fn wants(args: &[OsString]) -> bool {
    args.iter().any(|a| a.to_str().is_some_and(url::is_ftp_url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_words() {
        assert_eq!(
            split_words("get  fw.bin /tmp/x").unwrap(),
            ["get", "fw.bin", "/tmp/x"]
        );
        assert_eq!(
            split_words(r#"put "a b.txt" 'c d' e\ f "q\"x""#).unwrap(),
            ["put", "a b.txt", "c d", "e f", "q\"x"]
        );
        assert_eq!(split_words("  # comment").unwrap(), Vec::<String>::new());
        assert_eq!(split_words("cd a#b # tail").unwrap(), ["cd", "a#b"]);
        assert_eq!(split_words("ls \"\"").unwrap(), ["ls", ""]);
        assert!(split_words("get \"open").is_err());
        assert!(split_words("get x\\").is_err());
    }

    #[test]
    fn url_args() {
        let parse = |args: &[&str]| {
            let mut p = lexopt::Parser::from_args(args.iter().map(|s| s.to_string()));
            parse_url_args(
                args.first().map_or("get", |_| "get"),
                &mut p,
                &mut Globals::default(),
            )
        };
        let a = parse(&["-o", "f", "-C", "-", "--ftp-ssl", "-u", "a:b", "ftp://h/x"])
            .unwrap()
            .unwrap();
        assert!(a.resume && a.common.ftp_ssl);
        assert_eq!(a.common.user, Some(("a".into(), "b".into())));
        assert!(parse(&["-C", "10", "ftp://h/x"]).is_err());
        assert!(parse(&["ftp://h/x", "http://h/y"]).is_err());
        assert!(parse(&["-u", "nopass", "ftp://h/x"]).is_err());
        let never = parse(&["--reply-timeout", "0", "ftp://h/x"])
            .unwrap()
            .unwrap();
        assert_eq!(never.common.limits.idle, Some(std::time::Duration::ZERO));
        assert!(parse(&["-T", "f", "ftp://h/x"]).is_err());
    }
}
