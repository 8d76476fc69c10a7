//! `boardnet get|head|post|put|delete|request`: curl's spelling where the meaning is the same.

use std::fs::File;
use std::io::{self, Read, Write};
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use lexopt::prelude::*;
use serde_json::{json, Value};

use super::args::{number, output_path, text, Globals, LimitFlag, LimitFlags, TlsFlag, TlsFlags};
use super::hints::Hinted;
use super::output::{json_line, notice_line, secs};
use super::progress::{Meter, Mode};
use super::Failure;
use crate::calendar::unix_now;
use crate::cancel::CancelToken;
use crate::error::{Bounded, Classify, ErrorClass, Quoted};
use crate::fs::{FileError, PartNotice};
use crate::http::hsts::HstsStore;
use crate::http::multipart::Multipart;
use crate::http::{
    self, url, AddressFamily, AuthPolicy, Body, Client, ClientBuilder, DownloadOptions,
    NetworkError, RedirectPolicy, Reply, Request,
};
use crate::transfer::{self, TransferError};

const HELP: &str = "\
Usage: boardnet get     [OPTIONS] URL...
       boardnet head    [OPTIONS] URL...
       boardnet post    [OPTIONS] URL...     (body from -d, -F or -T)
       boardnet put     [OPTIONS] URL...     (body from -T or -d)
       boardnet delete  [OPTIONS] URL...
       boardnet request VERB [OPTIONS] URL... (PROPFIND, PATCH, ...)

Several URLs are fetched in order over kept-alive connections. The exit code is the class
of the first failure (see boardnet --help); the remaining URLs are still tried.
ftp:// and ftps:// URLs go to the FTP client: see boardnet ftp --help.

Request:
  -H, --header 'Name: value'  add a header (repeatable; 'Name;' sends it empty)
  -A, --user-agent UA         User-Agent (default boardnet/VERSION)
  -e, --referer URL           Referer
      --content-type TYPE     Content-Type of the body
  -u, --user USER:PASSWORD    credentials for the server (also http://user:pass@host/), sent
                              as Basic at once unless --digest or --anyauth
      --digest                answer the server's Digest challenge (RFC 7616: MD5, SHA-256,
                              SHA-512-256, -sess; qop=auth); nothing is sent before it asks
      --anyauth               answer whatever the server asks for, Digest before Basic
      --basic                 Basic at once (the default)
      --query NAME=VALUE      append a percent-encoded query item (repeatable)
  -d, --data DATA|@FILE|@-    body, application/x-www-form-urlencoded unless a type is given;
                              repeated -d are joined with '&'; @FILE drops newlines (curl);
                              with get/head the data goes into the query instead
      --data-binary DATA|@FILE  body as is; a single --data-binary @FILE streams from disk
      --data-raw DATA         like -d without the @ meaning
      --data-urlencode [NAME]=VALUE|[NAME]@FILE  a percent-encoded form item
  -F, --form NAME=VALUE|NAME=@PATH[;type=MIME][;filename=NAME]|NAME=<PATH
                              multipart/form-data part (repeatable; files stream from disk)
  -T, --upload-file FILE|-    stream FILE (or stdin, chunked) as the body

Response:
  -o, --output FILE           write the body to FILE (one -o per URL, in order; - is stdout);
                              written to FILE.part and renamed only when complete and
                              verified (a device or FIFO such as /dev/null is written as is)
  -O, --remote-name           name the file after the URL's last path segment (per URL)
      --remote-name-all       -O for every URL
  -C, --continue-at -         resume FILE.part with a Range request
      --sha256 HEX            verify the downloaded file before renaming it (exit 10)
      --compressed            ask for gzip or deflate and decode as it arrives (bounded
                              memory; more than 100:1 past 16 MiB is refused as a bomb,
                              exit 7); --sha256 and sizes are of the decoded bytes; a resume
                              (-C -) asks for the file as it is
  -z, --time-cond FILE|DATE   only if changed after FILE's modification time or DATE (an
                              HTTP date: 'Sun, 06 Nov 1994 08:49:37 GMT'); -DATE or -FILE:
                              only if not changed since (412 otherwise, exit 8)
      --etag-compare FILE     only if the ETag differs from the one in FILE (none sent when
                              FILE is missing or empty)
      --etag-save FILE        write the reply's ETag to FILE (empty when it has none)
                              An unchanged resource answers 304: the destination is left as
                              it is, exit 0, 'not modified' on stderr and not_modified in --json
  -i, --include               print the response status line and headers before the body
  -I, --head                  HEAD request, print the headers
      --keep-error-body       on HTTP 4xx/5xx still write the body: to stdout, or with -o
                              to FILE.error, never to FILE (exit 8 either way)
      --progress bar|json|none  progress on stderr (default: bar on a terminal, else none)
  -s, --silent                no progress meter

Redirects and cookies:
      --no-follow             do not follow redirects (-L/--location is the default)
      --max-redirs N          at most N redirects (default 10)
      --allow-insecure-redirect  follow https:// -> http:// redirects
      --location-trusted      send credentials and -H cookies to other hosts after redirects
  -b, --cookie FILE|'N=V; N2=V2'  load cookies (Netscape file) or send these
  -c, --cookie-jar FILE       save all cookies to FILE (Netscape format) at the end
      --hsts FILE             HSTS (curl's cache format): http:// URLs of hosts in FILE, and
                              redirects to them, go over https://; Strict-Transport-Security
                              from verified https replies (not with -k) updates FILE at the end

TLS:
      --cacert FILE           trust only the CAs in FILE (default: system store)
      --cert FILE             client certificate (PEM); --key FILE its key
      --pinnedpubkey sha256//BASE64[;sha256//...]  require one of these server keys
      --ignore-tls-error NAME  accept a certificate whose only problems are the named ones
                              (unknown-issuer, expired, not-yet-valid, hostname-mismatch;
                              repeatable; each is judged on its own)
  -k, --insecure              do not verify the server certificate (pins still apply)

Network:
      --interface IFACE       send through this interface (SO_BINDTODEVICE, needs root)
      --roam                  follow the preferred bearer: when the default route moves to
                              another interface mid-download, reconnect through it and resume
                              FILE.part with Range (needs -o/-O; binds, so needs root)
  -x, --proxy URL             http://, https://, socks5:// or socks5h:// proxy
                              (user:password@ in it for the proxy). Through an HTTP proxy,
                              http:// URLs are sent to it as absolute URLs (GET http://...),
                              https:// ones through a CONNECT tunnel
  -p, --proxytunnel           tunnel http:// URLs with CONNECT too (most proxies allow
                              CONNECT to port 443 only)
      --proxy-digest, --proxy-anyauth, --proxy-basic  as --digest, --anyauth, --basic, for
                              the proxy's credentials (407 challenges)
      --noproxy HOSTS         comma-separated hosts that bypass the proxy
      --proxy-from-env        honour http_proxy/https_proxy/ALL_PROXY/NO_PROXY
  -4, -6                      IPv4 or IPv6 only
      --connect-timeout S     limit for connecting: DNS, TCP, proxy and TLS handshake
                              (default 30; 0 = the kernel's own, about 2 minutes)
      --idle-timeout S        give up when not one byte is sent or received for S seconds:
                              a server that accepts and never answers, a stalled TLS
                              handshake, a body that stops (default 60; 0 = never)
  -m, --max-time S            limit for the whole transfer (default: none)
  -Y, --speed-limit BYTES     abort when fewer than BYTES/s of body moved over the last
                              --speed-time (a sliding window; default 30 s)
  -y, --speed-time S          (default --speed-limit 1 when only this is given)

Global: -v/--verbose, --json (one result object per URL on stdout), -h/--help.
";

/// Where a body goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Output {
    File(PathBuf),
    RemoteName,
}

/// A `-d`-family item, joined with '&' into one body.
#[derive(Debug, Clone)]
enum DataItem {
    /// Ready bytes.
    Bytes(Vec<u8>),
    /// `--data-binary @FILE`: streamed when it is the only item.
    File(PathBuf),
}

#[derive(Debug, Default)]
struct HttpArgs {
    method: String,
    urls: Vec<String>,
    outputs: Vec<Output>,
    remote_name_all: bool,
    headers: Vec<(String, String)>,
    user: Option<(String, String)>,
    query: Vec<(String, String)>,
    data: Vec<DataItem>,
    form: Option<Multipart>,
    upload: Option<String>,
    include: bool,
    resume: bool,
    sha256: Option<[u8; 32]>,
    compressed: bool,
    time_cond: Option<TimeCondition>,
    etag_compare: Option<PathBuf>,
    etag_save: Option<PathBuf>,
    progress: Option<Mode>,
    keep_error_body: bool,
    no_follow: bool,
    max_redirs: Option<u32>,
    allow_insecure_redirect: bool,
    location_trusted: bool,
    cookies_in: Vec<String>,
    cookie_jar: Option<PathBuf>,
    hsts_file: Option<PathBuf>,
    /// The known hosts read from `hsts_file`.
    hsts: Option<HstsStore>,
    tls: TlsFlags,
    interface: Option<String>,
    roam: bool,
    proxy: Option<String>,
    noproxy: Option<String>,
    proxy_from_env: bool,
    proxy_tunnel: bool,
    auth: AuthPolicy,
    proxy_auth: AuthPolicy,
    family: AddressFamily,
    limits: LimitFlags,
}

/// `-z`: a time the resource is compared with.
#[derive(Debug, Clone, Copy)]
enum TimeCondition {
    ModifiedSince(SystemTime),
    UnmodifiedSince(SystemTime),
}

/// `-z FILE|DATE`: a file's modification time, else an HTTP date; a leading `-` inverts.
fn parse_time_cond(spec: &str) -> Result<TimeCondition, Failure> {
    let (unmodified, what) = match spec.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, spec),
    };
    let time = match std::fs::metadata(what).and_then(|m| m.modified()) {
        Ok(time) => time,
        Err(_) => crate::calendar::parse_date(what.as_bytes())
            .map(|secs| std::time::UNIX_EPOCH + Duration::from_secs(secs))
            .ok_or_else(|| {
                Failure::usage(format!(
                    "-z: {} is neither a file nor a date ('Sun, 06 Nov 1994 08:49:37 GMT')",
                    Quoted(what)
                ))
            })?,
    };
    Ok(match unmodified {
        true => TimeCondition::UnmodifiedSince(time),
        false => TimeCondition::ModifiedSince(time),
    })
}

/// The entity tag saved in `path` by `--etag-save` (its first line; `None` when the file is
/// missing or empty). Read bounded: an ETag is a short quoted string.
fn read_etag(path: &Path) -> Result<Option<String>, FileError> {
    let text = read_state_file(path, MAX_ETAG_FILE)?;
    let etag = text.lines().next().unwrap_or_default().trim();
    Ok((!etag.is_empty()).then(|| etag.to_string()))
}

/// A small file this command keeps between runs (ETag, HSTS list), at most `max` bytes of it;
/// empty when it does not exist yet.
fn read_state_file(path: &Path, max: u64) -> Result<String, FileError> {
    let mut text = String::new();
    match File::open(path) {
        Ok(f) => f
            .take(max)
            .read_to_string(&mut text)
            .map_err(|e| FileError::new(path, "read", e))?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
        Err(e) => return Err(FileError::new(path, "open", e)),
    };
    Ok(text)
}

/// Most of an `--etag-compare` file read.
const MAX_ETAG_FILE: u64 = 8 * 1024;

/// Socket buffer when bodies go to files: large reads and writes (measured: 1 MiB writes a
/// 1 GiB download to ext4 in 0.6 s, 64 KiB in 1.4 s).
const FILE_BUFFER: usize = 1 << 20;
/// Socket and copy buffer when bodies go to stdout or a device (measured, 1 GiB to /dev/null:
/// 0.40 s with 256 KiB, 0.48 s with 64 or 128 KiB; the buffers are calloc'd, so a small
/// request keeps only the pages it touches resident).
const STREAM_BUFFER: usize = 256 << 10;

/// Largest `-d @FILE` read into memory (use --data-binary @FILE or -T to stream more).
const MAX_INLINE_DATA: u64 = 16 * 1024 * 1024;

fn read_data_file(spec: &str) -> Result<Vec<u8>, FileError> {
    let mut data = Vec::new();
    let path = Path::new(if spec == "-" { "stdin" } else { spec });
    let read = if spec == "-" {
        io::stdin().take(MAX_INLINE_DATA + 1).read_to_end(&mut data)
    } else {
        File::open(spec).and_then(|f| f.take(MAX_INLINE_DATA + 1).read_to_end(&mut data))
    };
    read.map_err(|e| FileError::new(path, "read", e))?;
    if data.len() as u64 > MAX_INLINE_DATA {
        return Err(FileError::new(
            path,
            "read",
            io::Error::other("more than 16 MiB; use --data-binary @FILE or -T to stream it"),
        ));
    }
    Ok(data)
}

/// curl's `--data-urlencode` forms: `content`, `=content`, `name=content`, `@file`,
/// `name@file`.
fn data_urlencode(spec: &str) -> Result<Vec<u8>, Failure> {
    let encode = |bytes: &[u8]| url::encode_component(&String::from_utf8_lossy(bytes));
    let eq = spec.find('=');
    let at = spec.find('@');
    let item = match (eq, at) {
        (Some(e), a) if a.is_none_or(|a| e < a) => {
            let (name, value) = (&spec[..e], &spec[e + 1..]);
            if name.is_empty() {
                encode(value.as_bytes())
            } else {
                format!("{name}={}", encode(value.as_bytes()))
            }
        }
        (_, Some(a)) => {
            let (name, file) = (&spec[..a], &spec[a + 1..]);
            let content = read_data_file(file)?;
            if name.is_empty() {
                encode(&content)
            } else {
                format!("{name}={}", encode(&content))
            }
        }
        _ => encode(spec.as_bytes()),
    };
    Ok(item.into_bytes())
}

fn parse_header(raw: &str) -> Result<(String, String), Failure> {
    if let Some(name) = raw.strip_suffix(';') {
        if !name.contains(':') && !name.trim().is_empty() {
            return Ok((name.trim().to_string(), String::new()));
        }
    }
    let (name, value) = raw
        .split_once(':')
        .ok_or_else(|| Failure::usage(format!("-H '{raw}': expected 'Name: value'")))?;
    let name = name.trim();
    if name.is_empty() || name.bytes().any(|b| !(b.is_ascii_graphic()) || b == b':') {
        return Err(Failure::usage(format!("-H '{raw}': invalid header name")));
    }
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(Failure::usage(format!(
            "-H '{raw}': header value contains a line break"
        )));
    }
    Ok((name.to_string(), value.trim().to_string()))
}

fn split_pair(raw: &str, flag: &str, sep: char) -> Result<(String, String), Failure> {
    raw.split_once(sep)
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .ok_or_else(|| Failure::usage(format!("{flag} '{raw}': expected NAME{sep}VALUE")))
}

impl HttpArgs {
    fn parse(
        command: &str,
        parser: &mut lexopt::Parser,
        globals: &mut Globals,
    ) -> Result<Option<Self>, Failure> {
        let mut a = HttpArgs {
            method: command.to_ascii_uppercase(),
            ..HttpArgs::default()
        };
        let mut verb_pending = command == "request";
        while let Some(arg) = parser.next()? {
            if let Some(flag) = TlsFlag::of(&arg) {
                a.tls.set(flag, parser)?;
                continue;
            }
            if let Some(flag) = LimitFlag::of(&arg) {
                a.limits.set(flag, parser)?;
                continue;
            }
            match arg {
                Short('h') | Long("help") => {
                    super::output::print_text(HELP);
                    return Ok(None);
                }
                Value(v) => {
                    let v = v
                        .into_string()
                        .map_err(|_| Failure::usage("arguments must be valid UTF-8"))?;
                    if verb_pending {
                        if v.is_empty()
                            || !v.bytes().all(|b| {
                                b.is_ascii_alphanumeric() || b"-_!#$%&'*+.^`|~".contains(&b)
                            })
                        {
                            return Err(Failure::usage(format!(
                                "\"{v}\" is not a valid HTTP method"
                            )));
                        }
                        a.method = v;
                        verb_pending = false;
                    } else {
                        a.urls.push(v);
                    }
                }
                Short('H') | Long("header") => a.headers.push(parse_header(&text(parser, "-H")?)?),
                Short('A') | Long("user-agent") => {
                    a.headers.push(("User-Agent".into(), text(parser, "-A")?))
                }
                Short('e') | Long("referer") => {
                    a.headers.push(("Referer".into(), text(parser, "-e")?))
                }
                Long("content-type") => a
                    .headers
                    .push(("Content-Type".into(), text(parser, "--content-type")?)),
                Short('u') | Long("user") => {
                    let v = text(parser, "-u")?;
                    let (u, p) = v.split_once(':').ok_or_else(|| {
                        Failure::usage("-u: give USER:PASSWORD (there is no password prompt)")
                    })?;
                    a.user = Some((u.to_string(), p.to_string()));
                }
                Long("query") | Long("url-query") => {
                    a.query
                        .push(split_pair(&text(parser, "--query")?, "--query", '=')?)
                }
                Short('d') | Long("data") | Long("data-ascii") => {
                    let v = text(parser, "-d")?;
                    let bytes = match v.strip_prefix('@') {
                        Some(file) => {
                            let mut b = read_data_file(file)?;
                            b.retain(|c| *c != b'\r' && *c != b'\n');
                            b
                        }
                        None => v.into_bytes(),
                    };
                    a.data.push(DataItem::Bytes(bytes));
                }
                Long("data-binary") => {
                    let v = text(parser, "--data-binary")?;
                    a.data.push(match v.strip_prefix('@') {
                        Some("-") => DataItem::Bytes(read_data_file("-")?),
                        Some(file) => DataItem::File(file.into()),
                        None => DataItem::Bytes(v.into_bytes()),
                    });
                }
                Long("data-raw") => a
                    .data
                    .push(DataItem::Bytes(text(parser, "--data-raw")?.into_bytes())),
                Long("data-urlencode") => a.data.push(DataItem::Bytes(data_urlencode(&text(
                    parser,
                    "--data-urlencode",
                )?)?)),
                Short('F') | Long("form") => {
                    let spec = text(parser, "-F")?;
                    if a.form.is_none() {
                        a.form = Some(Multipart::new().map_err(|e| Failure {
                            help_hint: false,
                            class: ErrorClass::Other,
                            message: format!("multipart boundary: {e}"),
                        })?);
                    }
                    if let Some(form) = a.form.as_mut() {
                        form.add_curl_spec(&spec).map_err(|e| Failure {
                            help_hint: false,
                            class: if e.to_string().contains("No such file") {
                                ErrorClass::LocalIo
                            } else {
                                ErrorClass::Usage
                            },
                            message: e.to_string(),
                        })?;
                    }
                }
                Short('T') | Long("upload-file") => a.upload = Some(text(parser, "-T")?),
                Short('o') | Long("output") => {
                    a.outputs.push(Output::File(output_path(parser, "-o")?))
                }
                Short('O') | Long("remote-name") => a.outputs.push(Output::RemoteName),
                Long("remote-name-all") => a.remote_name_all = true,
                Short('C') | Long("continue-at") => {
                    let v = text(parser, "-C")?;
                    if v != "-" {
                        return Err(Failure::usage(
                            "-C: only '-C -' (continue where FILE.part ends) is supported",
                        ));
                    }
                    a.resume = true;
                }
                Long("sha256") => {
                    let v = text(parser, "--sha256")?;
                    a.sha256 = Some(http::parse_sha256(&v).ok_or_else(|| {
                        Failure::usage(format!("--sha256: \"{v}\" is not 64 hex digits"))
                    })?);
                }
                Long("compressed") => a.compressed = true,
                Short('z') | Long("time-cond") => {
                    a.time_cond = Some(parse_time_cond(&text(parser, "-z")?)?)
                }
                Long("etag-compare") => {
                    a.etag_compare = Some(text(parser, "--etag-compare")?.into())
                }
                Long("etag-save") => a.etag_save = Some(output_path(parser, "--etag-save")?),
                Short('i') | Long("include") => a.include = true,
                Short('I') | Long("head") => a.method = "HEAD".into(),
                Long("keep-error-body") => a.keep_error_body = true,
                Long("progress") => {
                    a.progress = Some(match text(parser, "--progress")?.as_str() {
                        "bar" => Mode::Bar,
                        "json" => Mode::Json,
                        "none" => Mode::Off,
                        other => {
                            return Err(Failure::usage(format!(
                                "--progress: \"{other}\" is not bar, json or none"
                            )))
                        }
                    })
                }
                Short('s') | Long("silent") => a.progress = Some(Mode::Off),
                Short('S') | Long("show-error") | Short('f') | Long("fail") | Short('L')
                | Long("location") => {} // curl habits that are our defaults
                Long("no-follow") => a.no_follow = true,
                Long("max-redirs") => a.max_redirs = Some(number(parser, "--max-redirs")?),
                Long("allow-insecure-redirect") => a.allow_insecure_redirect = true,
                Long("location-trusted") => a.location_trusted = true,
                Short('b') | Long("cookie") => a.cookies_in.push(text(parser, "-b")?),
                Short('c') | Long("cookie-jar") => a.cookie_jar = Some(text(parser, "-c")?.into()),
                Long("hsts") => a.hsts_file = Some(output_path(parser, "--hsts")?),
                Long("interface") => a.interface = Some(text(parser, "--interface")?),
                Long("roam") => a.roam = true,
                Short('x') | Long("proxy") => a.proxy = Some(text(parser, "--proxy")?),
                Long("noproxy") => a.noproxy = Some(text(parser, "--noproxy")?),
                Long("proxy-from-env") => a.proxy_from_env = true,
                Short('p') | Long("proxytunnel") => a.proxy_tunnel = true,
                Long("basic") => a.auth = AuthPolicy::Basic,
                Long("digest") => a.auth = AuthPolicy::Digest,
                Long("anyauth") => a.auth = AuthPolicy::Any,
                Long("proxy-basic") => a.proxy_auth = AuthPolicy::Basic,
                Long("proxy-digest") => a.proxy_auth = AuthPolicy::Digest,
                Long("proxy-anyauth") => a.proxy_auth = AuthPolicy::Any,
                Short('4') | Long("ipv4") => a.family = AddressFamily::Ipv4,
                Short('6') | Long("ipv6") => a.family = AddressFamily::Ipv6,
                other => {
                    if !globals.accept(&other) {
                        return Err(other.unexpected().into());
                    }
                }
            }
        }
        if verb_pending {
            return Err(Failure::usage(
                "request: give the method, e.g. boardnet request PROPFIND URL",
            ));
        }
        a.validate()?;
        Ok(Some(a))
    }

    fn validate(&self) -> Result<(), Failure> {
        if self.urls.is_empty() {
            return Err(Failure::usage("no URL given"));
        }
        if self.outputs.len() > self.urls.len() {
            return Err(Failure::usage(format!(
                "{} outputs (-o/-O) for {} URLs",
                self.outputs.len(),
                self.urls.len()
            )));
        }
        let bodies = usize::from(!self.data.is_empty() && !self.sends_data_in_query())
            + usize::from(self.form.is_some())
            + usize::from(self.upload.is_some());
        if bodies > 1 {
            return Err(Failure::usage("use only one of -d, -F and -T"));
        }
        if self.upload.as_deref() == Some("-") && self.urls.len() > 1 {
            return Err(Failure::usage("-T - (stdin) can be sent to one URL only"));
        }
        if (self.form.is_some() || self.upload.is_some()) && self.sends_data_in_query() {
            return Err(Failure::usage(format!(
                "{} sends no body: use post or put for -F/-T",
                self.method
            )));
        }
        let has_file_output = self.remote_name_all || !self.outputs.is_empty();
        if (self.sha256.is_some() || self.resume) && !has_file_output {
            return Err(Failure::usage("--sha256 and -C - need -o FILE or -O"));
        }
        if self.roam && (0..self.urls.len()).any(|i| self.output_for(i).is_none()) {
            return Err(Failure::usage(
                "--roam needs -o FILE or -O for every URL (it resumes FILE.part on the new bearer)",
            ));
        }
        if self.roam && self.interface.is_some() {
            return Err(Failure::usage(
                "--roam picks the interface itself (the preferred bearer's); drop --interface",
            ));
        }
        self.tls.check()?;
        Ok(())
    }

    /// GET and HEAD carry -d data in the query (curl's -G).
    fn sends_data_in_query(&self) -> bool {
        self.method == "GET" || self.method == "HEAD"
    }

    /// Where URL number `index` goes; `None` is stdout (also spelled `-o -`).
    fn output_for(&self, index: usize) -> Option<Output> {
        self.outputs
            .get(index)
            .cloned()
            .or_else(|| self.remote_name_all.then_some(Output::RemoteName))
            .filter(|o| *o != Output::File(PathBuf::from("-")))
    }

    /// Whether any URL is saved to a regular file (not stdout, not a device like /dev/null).
    fn saves_to_files(&self) -> bool {
        (0..self.urls.len()).any(|i| match self.output_for(i) {
            None => false,
            Some(Output::RemoteName) => true,
            Some(Output::File(path)) => std::fs::metadata(&path).map_or(true, |m| m.is_file()),
        })
    }

    /// A client bound to `interface` (or unbound), cancelled through `cancel`.
    fn client(
        &self,
        cancel: CancelToken,
        interface: Option<String>,
    ) -> Result<Client, NetworkError> {
        self.configure(Client::builder())
            .interface(interface)
            .cancel_token(cancel)
            .build()
    }

    /// Everything the flags say about the client except its interface and cancel token.
    fn configure(&self, builder: ClientBuilder) -> ClientBuilder {
        let buffer = if self.saves_to_files() {
            FILE_BUFFER
        } else {
            STREAM_BUFFER
        };
        let limits = &self.limits;
        let mut builder = builder
            .buffer_size(buffer)
            .connect_timeout(limits.connect())
            .idle_timeout(limits.idle())
            .max_time(limits.max_time())
            .address_family(self.family)
            .proxy(self.proxy.clone())
            .no_proxy(self.noproxy.clone())
            .proxy_from_env(self.proxy_from_env)
            .proxy_tunnel(self.proxy_tunnel)
            .auth(self.auth)
            .proxy_auth(self.proxy_auth)
            .redirects(RedirectPolicy {
                follow: !self.no_follow,
                max: self.max_redirs.unwrap_or(10),
                allow_insecure: self.allow_insecure_redirect,
                trusted: self.location_trusted,
            });
        if let Some((bytes_per_sec, window)) = limits.speed() {
            builder = builder.speed_limit(bytes_per_sec, window);
        }
        #[cfg(feature = "tls")]
        {
            builder = builder.tls(self.tls.options.clone());
        }
        if let Some(store) = &self.hsts {
            builder = builder.hsts(store.clone());
        }
        builder
    }

    /// The body for one request (bodies are consumed by sending, so one per URL).
    fn body(&self) -> Result<Body, FileError> {
        if let Some(form) = &self.form {
            return Ok(Body::Multipart(form.clone()));
        }
        if let Some(upload) = &self.upload {
            return Ok(if upload == "-" {
                Body::Stream(Box::new(io::stdin()))
            } else {
                Body::File(upload.into())
            });
        }
        if self.data.is_empty() || self.sends_data_in_query() {
            return Ok(Body::Empty);
        }
        if let [DataItem::File(path)] = self.data.as_slice() {
            return Ok(Body::File(path.clone()));
        }
        Ok(Body::Bytes(self.joined_data()?))
    }

    fn joined_data(&self) -> Result<Vec<u8>, FileError> {
        let mut out = Vec::new();
        for (i, item) in self.data.iter().enumerate() {
            if i > 0 {
                out.push(b'&');
            }
            match item {
                DataItem::Bytes(b) => out.extend_from_slice(b),
                DataItem::File(path) => {
                    out.extend_from_slice(&read_data_file(&path.to_string_lossy())?)
                }
            }
        }
        Ok(out)
    }

    fn build<'c>(&self, client: &'c Client, url: &str) -> Result<Request<'c>, NetworkError> {
        let mut req = client.request(&self.method, url);
        for (name, value) in &self.headers {
            req = req.header(name, value);
        }
        for (name, value) in &self.query {
            req = req.query(name, value);
        }
        if self.sends_data_in_query() && !self.data.is_empty() {
            // curl -G: the joined data becomes query text as given (already encoded).
            let data = String::from_utf8_lossy(&self.joined_data()?).into_owned();
            for item in data.split('&').filter(|s| !s.is_empty()) {
                let (n, v) = item.split_once('=').unwrap_or((item, ""));
                let decode = |s: &str| {
                    percent_encoding::percent_decode_str(s)
                        .decode_utf8_lossy()
                        .into_owned()
                };
                req = req.query(&decode(n), &decode(v));
            }
        }
        if let Some((u, p)) = &self.user {
            req = req.credentials(u, p);
        }
        req = req.decompress(self.compressed);
        req = match self.time_cond {
            Some(TimeCondition::ModifiedSince(t)) => req.if_modified_since(t),
            Some(TimeCondition::UnmodifiedSince(t)) => req.if_unmodified_since(t),
            None => req,
        };
        if let Some(path) = &self.etag_compare {
            if let Some(etag) = read_etag(path)? {
                req = req.if_none_match(&etag);
            }
        }
        let body = self.body()?;
        let has_type = self
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"));
        if !has_type {
            if let Body::Multipart(form) = &body {
                req = req.header("Content-Type", &form.content_type());
            } else if !self.data.is_empty() && !self.sends_data_in_query() {
                req = req.header("Content-Type", "application/x-www-form-urlencoded");
            }
        }
        Ok(req.body(body))
    }
}

/// What one URL's transfer produced, for the JSON line or the human report.
#[derive(Debug, Default)]
struct Report {
    url: String,
    method: String,
    status: Option<u16>,
    effective_url: Option<String>,
    headers: Option<Value>,
    bytes: u64,
    path: Option<PathBuf>,
    resumed_from: u64,
    sha256: Option<String>,
    redirects: Vec<String>,
    redirect_count: u32,
    /// What happened to the `.part` (restarted, unverified, already complete).
    notices: Vec<String>,
    /// A conditional request was answered 304: nothing was written.
    not_modified: bool,
    /// The reply's ETag (for --etag-save).
    etag: Option<String>,
    remote: Option<String>,
    timings: Option<http::Timings>,
    error: Option<(ErrorClass, String, &'static str)>,
}

impl Report {
    fn record_reply(&mut self, reply: &Reply) {
        self.status = Some(reply.status());
        self.not_modified = reply.is_not_modified();
        self.etag = reply.header("etag").map(str::to_string);
        self.effective_url = Some(reply.url().to_string());
        self.redirects = reply.redirects().recent().map(str::to_string).collect();
        self.redirect_count = reply.redirects().count();
        self.remote = reply.remote_addr().map(|a| a.to_string());
        self.timings = Some(reply.timings());
        let mut headers = serde_json::Map::new();
        for (name, value) in reply.headers() {
            let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
            match headers.get_mut(name.as_str()) {
                Some(Value::String(existing)) => {
                    existing.push_str(", ");
                    existing.push_str(&v);
                }
                _ => {
                    headers.insert(name.as_str().to_string(), Value::String(v));
                }
            }
        }
        self.headers = Some(Value::Object(headers));
    }

    /// A file saved, with the reply it came in (when HTTP answered).
    fn record_saved(
        &mut self,
        reply: Option<&Reply>,
        size: u64,
        resumed_from: u64,
        sha256: Option<String>,
    ) {
        if let Some(reply) = reply {
            self.record_reply(reply);
        }
        self.bytes = size - resumed_from;
        self.resumed_from = resumed_from;
        self.sha256 = sha256;
    }

    /// A download that failed after the server answered.
    fn record_unsaved(&mut self, reply: Option<&Reply>) {
        if let Some(reply) = reply {
            self.record_reply(reply);
            self.bytes = reply.bytes_received();
        }
    }

    fn fail(&mut self, e: &TransferError) {
        if let TransferError::Http(failure) = e {
            if let NetworkError::Status { code, .. } = failure.error {
                self.status.get_or_insert(code);
            }
        }
        self.error = Some((e.class(), Hinted(e).to_string(), e.kind()));
    }

    fn to_json(&self) -> Value {
        let mut v = json!({
            "url": self.url,
            "method": self.method,
            "ok": self.error.is_none(),
            "status": self.status,
            "effective_url": self.effective_url,
            "bytes": self.bytes,
            "path": self.path.as_ref().map(|p| p.display().to_string()),
            "resumed_from": self.resumed_from,
            "sha256": self.sha256,
            "redirects": self.redirects,
            "redirect_count": self.redirect_count,
            "notices": self.notices,
            "not_modified": self.not_modified,
            "remote": self.remote,
            "headers": self.headers,
            "timings": self.timings.map(|t| json!({
                "dns": secs(t.dns),
                "connect": secs(t.connect),
                "tls": secs(t.tls),
                "first_byte": secs(t.first_byte),
                "total": secs(t.total),
            })),
        });
        if let (Some((class, message, kind)), Some(obj)) = (&self.error, v.as_object_mut()) {
            obj.insert(
                "error".into(),
                json!({
                    "class": class.name(),
                    "code": class.exit_code(),
                    "kind": kind,
                    "message": message,
                }),
            );
        }
        v
    }
}

/// Standard output as an unbuffered file: bodies are written in large pieces straight to
/// the descriptor (Rust's stdout is line-buffered, which splits binary data at newlines).
pub(crate) fn raw_stdout() -> ManuallyDrop<File> {
    let _ = io::stdout().flush();
    // SAFETY: fd 1 is open for the life of the process; ManuallyDrop never closes it.
    ManuallyDrop::new(unsafe { File::from_raw_fd(1) })
}

fn stdout_error(e: io::Error) -> NetworkError {
    NetworkError::LocalFile(FileError::new(Path::new("stdout"), "write", e))
}

fn write_head(reply: &Reply) -> Result<(), NetworkError> {
    let mut head = format!("{}\r\n", reply.status_line());
    for (name, value) in reply.headers() {
        head.push_str(name.as_str());
        head.push_str(": ");
        head.push_str(&String::from_utf8_lossy(value.as_bytes()));
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    raw_stdout()
        .write_all(head.as_bytes())
        .map_err(stdout_error)
}

/// What one invocation shares across its URLs.
struct Transfers<'a> {
    args: &'a HttpArgs,
    client: &'a Client,
    /// Cancelled by SIGINT/SIGTERM.
    cancel: CancelToken,
    progress: Mode,
    json: bool,
    /// Copy buffer for bodies that go to stdout, reused by every URL.
    buf: Vec<u8>,
}

impl Transfers<'_> {
    /// Fetch URL number `index`, filling `report` as far as it got.
    fn one(&mut self, index: usize, url: &str, report: &mut Report) -> Result<(), TransferError> {
        if self.args.roam {
            return self.roam(index, url, report);
        }
        let req = self.args.build(self.client, url)?;
        if !req.has_body() || self.progress == Mode::Off {
            return Ok(self.deliver(req, index, url, report)?);
        }
        let meter = Arc::new(Mutex::new(Meter::new(self.progress, url, true)));
        let sink = Arc::clone(&meter);
        let started = std::time::Instant::now();
        let req = req.upload_progress(Box::new(move |sent, total| {
            if let Ok(mut m) = sink.lock() {
                m.update(&http::Progress {
                    bytes: sent,
                    total,
                    elapsed: started.elapsed(),
                });
            }
        }));
        let result = self.deliver(req, index, url, report);
        if let Ok(mut m) = meter.lock() {
            m.finish();
        }
        Ok(result?)
    }

    /// Send `req` and put its body where URL number `index` goes.
    fn deliver(
        &mut self,
        req: Request<'_>,
        index: usize,
        url: &str,
        report: &mut Report,
    ) -> Result<(), NetworkError> {
        match self.destination(index, url)? {
            None => self.save_to_stdout(req, report),
            Some(path) => self.save_to_file(req, &path, self.args.resume, report),
        }
    }

    /// `--roam`: the library's roaming download ([`transfer::Roam::Follow`]) with this
    /// command's client and request settings.
    fn roam(&mut self, index: usize, url: &str, report: &mut Report) -> Result<(), TransferError> {
        let dest = self
            .destination(index, url)?
            .ok_or_else(|| NetworkError::InvalidRequest("--roam needs -o FILE or -O".into()))?;
        report.path = Some(dest.clone());
        let args = self.args;
        let meter = Arc::new(Mutex::new(Meter::new(self.progress, url, false)));
        let sink = Arc::clone(&meter);
        let mut notices = Vec::new();
        let mut notice = |n: &PartNotice| notices.push(notice_line(url, n));
        let mut moved = |m: &transfer::BearerMove| {
            eprintln!(
                "boardnet: {url}: the preferred bearer moved from {} to {}: resuming at {} bytes",
                m.from, m.to, m.resume_at
            )
        };
        let limits = &args.limits;
        let result = transfer::download(
            url,
            &dest,
            transfer::Options {
                resume: args.resume,
                sha256: args.sha256,
                progress: Some(Box::new(move |p| {
                    if let Ok(mut m) = sink.lock() {
                        m.update(p)
                    }
                })),
                notice: Some(&mut notice),
                cancel: Some(self.cancel.clone()),
                connect_timeout: limits.connect(),
                idle_timeout: limits.idle(),
                max_time: limits.max_time(),
                speed_limit: limits.speed(),
                roam: transfer::Roam::Follow,
                bearer_moved: Some(&mut moved),
                keep_error_body: args.keep_error_body,
                http_client: Some(&|builder| args.configure(builder)),
                http_request: Some(&|client, url| args.build(client, url)),
                ..transfer::Options::default()
            },
        );
        if let Ok(mut m) = meter.lock() {
            m.finish();
        }
        report.notices = notices;
        match result {
            Ok(done) => {
                report.record_saved(
                    done.reply.as_ref(),
                    done.size,
                    done.resumed_from,
                    done.sha256,
                );
                Ok(())
            }
            Err(TransferError::Http(failure)) => {
                report.record_unsaved(failure.reply.as_deref());
                Err(TransferError::Http(failure))
            }
            Err(e) => Err(e),
        }
    }

    /// The file URL number `index` goes to (`None`: stdout).
    fn destination(&self, index: usize, url: &str) -> Result<Option<PathBuf>, NetworkError> {
        Ok(match self.args.output_for(index) {
            None => None,
            Some(Output::File(path)) => Some(path),
            Some(Output::RemoteName) => {
                let target = url::parse(url)?;
                let name = url::remote_file_name(&target.uri).ok_or_else(|| {
                    NetworkError::InvalidRequest(format!(
                        "cannot name a file after {url} (no file name at the end of its path); use -o FILE"
                    ))
                })?;
                Some(PathBuf::from(name))
            }
        })
    }

    fn save_to_stdout(
        &mut self,
        req: Request<'_>,
        report: &mut Report,
    ) -> Result<(), NetworkError> {
        let mut reply = req.send()?;
        report.record_reply(&reply);
        // -I and -i print the head as curl does; in JSON mode it is in the result object.
        if (self.args.include || self.args.method == "HEAD") && !self.json {
            write_head(&reply)?;
        }
        let error = reply.error_for_status();
        if error.is_none() || self.args.keep_error_body {
            let mut out = raw_stdout();
            let mut meter = Meter::new(self.progress, &report.url, false);
            let mut sink = |chunk: &[u8]| out.write_all(chunk).map_err(stdout_error);
            let mut progress = |p: &http::Progress| meter.update(p);
            let copied =
                http::copy_body(&mut reply, &mut self.buf, 0, &mut sink, Some(&mut progress));
            meter.finish();
            report.bytes = reply.bytes_received();
            report.timings = Some(reply.timings());
            copied?;
        }
        error.map_or(Ok(()), Err)
    }

    fn save_to_file(
        &mut self,
        req: Request<'_>,
        dest: &Path,
        resume: bool,
        report: &mut Report,
    ) -> Result<(), NetworkError> {
        report.path = Some(dest.to_path_buf());
        let mut meter = Meter::new(self.progress, &report.url, false);
        let mut progress = |p: &http::Progress| meter.update(p);
        let mut notices = Vec::new();
        let mut notice = |n: &PartNotice| notices.push(notice_line(&report.url, n));
        let opts = DownloadOptions {
            resume,
            sha256: self.args.sha256,
            keep_error_body: self.args.keep_error_body,
            buffer_size: Some(FILE_BUFFER),
            progress: Some(&mut progress),
            notice: Some(&mut notice),
        };
        let result = http::download(req, dest, opts);
        meter.finish();
        report.notices = notices;
        match result {
            Ok(done) => {
                report.record_saved(Some(&done.reply), done.size, done.resumed_from, done.sha256);
                Ok(())
            }
            Err(failure) => {
                report.record_unsaved(failure.reply.as_deref());
                Err(failure.error)
            }
        }
    }
}

/// After a transfer that succeeded: say that a conditional request found nothing new, and keep
/// the reply's ETag for the next `--etag-compare`.
fn conclude(args: &HttpArgs, report: &Report) -> Result<(), NetworkError> {
    if report.not_modified {
        let kept = match &report.path {
            Some(path) => format!("{} kept as it is", path.display()),
            None => "no body".to_string(),
        };
        eprintln!(
            "boardnet: {}: not modified (304): {kept}",
            Bounded(&report.url)
        );
    }
    if let Some(path) = &args.etag_save {
        let etag = report
            .etag
            .as_deref()
            .map_or(String::new(), |e| format!("{e}\n"));
        save_text(path, &etag)?;
    }
    Ok(())
}

fn load_cookies(a: &HttpArgs, client: &Client) -> Result<(), Failure> {
    let now = unix_now();
    for spec in &a.cookies_in {
        if spec.contains('=') {
            // curl: a value with '=' is cookies, not a file; bind them to each URL's host.
            for url in &a.urls {
                if let Ok(target) = url::parse(url) {
                    let host = target.uri.host().unwrap_or("").to_string();
                    client.cookies().add_literal(&host, spec);
                }
            }
            continue;
        }
        match std::fs::read_to_string(spec) {
            Ok(text) => {
                let n = client
                    .cookies()
                    .load_netscape(&text, now)
                    .map_err(|e| Failure::usage(format!("-b {spec}: {e}")))?;
                log::info!("loaded {n} cookies from {spec}");
            }
            // curl: a missing cookie file is not an error (it is often the -c file of a
            // previous run that has not happened yet).
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                log::info!("cookie file {spec} does not exist yet");
            }
            Err(e) => {
                return Err(Failure {
                    help_hint: false,
                    class: ErrorClass::LocalIo,
                    message: format!("cannot read cookie file {spec}: {e}"),
                })
            }
        }
    }
    Ok(())
}

/// Most of an `--hsts` file read (1000 hosts of curl's lines are about 100 KiB).
const MAX_HSTS_FILE: u64 = 1 << 20;

/// The known hosts in `--hsts FILE` (none yet when it does not exist).
fn load_hsts(path: &Path) -> Result<HstsStore, Failure> {
    let text = read_state_file(path, MAX_HSTS_FILE)?;
    let (store, skipped) = HstsStore::parse(&text, unix_now());
    if skipped > 0 {
        eprintln!(
            "boardnet: {}: {skipped} unusable line(s) skipped",
            path.display()
        );
    }
    Ok(store)
}

fn save_cookies(path: &Path, client: &Client) -> Result<(), Failure> {
    Ok(save_text(path, &client.cookies().to_netscape(unix_now()))?)
}

/// Write `text` to `path` through `path.part`, so a crash never leaves half a file.
fn save_text(path: &Path, text: &str) -> Result<(), FileError> {
    let mut part = crate::fs::PartFile::create(path)?;
    part.write_chunk(text.as_bytes())
        .and_then(|()| part.commit().map(drop))
}

pub(crate) fn run(
    command: &str,
    parser: &mut lexopt::Parser,
    globals: &mut Globals,
) -> Result<ExitCode, Failure> {
    let Some(mut args) = HttpArgs::parse(command, parser, globals)? else {
        return Ok(ExitCode::SUCCESS);
    };
    if let Some(path) = &args.hsts_file {
        args.hsts = Some(load_hsts(path)?);
    }
    globals.init_logging();
    let cancel = super::signal_cancel_token()?;
    let client = args
        .client(cancel.clone(), args.interface.clone())
        .map_err(|e| Failure::from_error(&e))?;
    load_cookies(&args, &client)?;
    let mut transfers = Transfers {
        args: &args,
        client: &client,
        cancel,
        progress: args.progress.unwrap_or_else(Mode::default_for_stderr),
        json: globals.json,
        buf: vec![0u8; STREAM_BUFFER],
    };
    let mut first_failure: Option<ErrorClass> = None;
    for (index, url) in args.urls.iter().enumerate() {
        let mut report = Report {
            url: url.clone(),
            method: args.method.clone(),
            ..Report::default()
        };
        let result = transfers
            .one(index, url, &mut report)
            .and_then(|()| Ok(conclude(&args, &report)?));
        if let Err(e) = &result {
            report.fail(e);
        }
        if globals.json {
            json_line(&report.to_json());
        }
        if let Err(e) = result {
            super::item_failed(globals, command, url, &e);
            first_failure.get_or_insert(e.class());
            if e.class() == ErrorClass::Cancelled {
                break;
            }
        }
    }
    if let Some(path) = &args.cookie_jar {
        save_cookies(path, &client)?;
    }
    if let (Some(path), Some(store)) = (&args.hsts_file, client.hsts()) {
        save_text(path, &store.to_text(unix_now())).map_err(Failure::from)?;
    }
    Ok(first_failure.map_or(ExitCode::SUCCESS, |class| ExitCode::from(class.exit_code())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<HttpArgs, Failure> {
        let mut parser = lexopt::Parser::from_args(args.iter().skip(1).copied());
        let mut g = Globals::default();
        HttpArgs::parse(args[0], &mut parser, &mut g).map(|a| a.unwrap())
    }

    #[test]
    fn curl_spellings_parse() {
        let a = parse(&[
            "post",
            "-H",
            "X-A: 1",
            "-A",
            "ua",
            "-u",
            "u:p:w",
            "--query",
            "q=a b",
            "-d",
            "x=1",
            "-d",
            "y=2",
            "-o",
            "out",
            "-C",
            "-",
            "-k",
            "-m",
            "2.5",
            "http://h/",
        ])
        .unwrap();
        assert_eq!(a.method, "POST");
        assert_eq!(a.headers[0], ("X-A".into(), "1".into()));
        assert_eq!(a.headers[1], ("User-Agent".into(), "ua".into()));
        assert_eq!(a.user, Some(("u".into(), "p:w".into())));
        assert_eq!(a.joined_data().unwrap(), b"x=1&y=2");
        assert_eq!(a.outputs, vec![Output::File("out".into())]);
        assert!(a.resume && a.tls.options.insecure);
        assert_eq!(a.limits.max_time, Some(Duration::from_millis(2500)));
    }

    #[test]
    fn bad_input_is_a_usage_error_naming_the_problem() {
        for (args, needle) in [
            (&["get"][..], "no URL"),
            (&["get", "-H", "NoColon", "http://h/"][..], "Name: value"),
            (&["get", "-H", "X: a\nb", "http://h/"][..], "line break"),
            (&["get", "-u", "user", "http://h/"][..], "USER:PASSWORD"),
            (&["get", "-C", "100", "-o", "f", "http://h/"][..], "-C -"),
            (
                &["get", "--sha256", "zz", "-o", "f", "http://h/"][..],
                "64 hex",
            ),
            (
                &["get", "--sha256", &"a".repeat(64), "http://h/"][..],
                "need -o",
            ),
            (
                &["post", "-d", "a", "-T", "f", "http://h/"][..],
                "only one of",
            ),
            (&["get", "-o", "a", "-o", "b", "http://h/"][..], "2 outputs"),
            (&["request"][..], "give the method"),
            (
                &["request", "BAD VERB", "http://h/"][..],
                "not a valid HTTP method",
            ),
            (&["get", "--bogus", "http://h/"][..], "bogus"),
            (&["get", "-m", "soon", "http://h/"][..], "seconds"),
        ] {
            let err = parse(args)
                .err()
                .unwrap_or_else(|| panic!("{args:?} parsed"));
            assert_eq!(err.class, ErrorClass::Usage, "{args:?}");
            assert!(err.message.contains(needle), "{args:?}: {}", err.message);
        }
    }

    #[test]
    fn data_urlencode_forms() {
        assert_eq!(data_urlencode("a b").unwrap(), b"a%20b");
        assert_eq!(data_urlencode("=a&b").unwrap(), b"a%26b");
        assert_eq!(data_urlencode("n=a=b c").unwrap(), b"n=a%3Db%20c");
    }

    #[test]
    fn empty_header_and_request_verb() {
        assert_eq!(
            parse_header("X-Empty;").unwrap(),
            ("X-Empty".into(), String::new())
        );
        let a = parse(&["request", "PROPFIND", "http://h/"]).unwrap();
        assert_eq!(a.method, "PROPFIND");
        assert_eq!(a.urls, vec!["http://h/"]);
        let a = parse(&["get", "-I", "http://h/"]).unwrap();
        assert_eq!(a.method, "HEAD");
    }
}
