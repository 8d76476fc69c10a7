//! The control protocol, sans I/O: JSON lines in, typed requests out; replies and events as
//! JSON lines. Documented for clients in `docs/protocol.md` (this is [`VERSION`] of it).
//!
//! A request is one object on one line: `{"id": ANY, "command": NAME, …fields}`. Every request
//! gets one reply carrying its `id`: `{"id":…,"ok":true,"result":…}` or
//! `{"id":…,"ok":false,"error":{"class","code","kind","message"}}`, with the tool's exit-code
//! classes. Unknown commands, unknown fields and fields of the wrong type are errors, so a
//! typo never silently changes what a request does.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::jobs::{JobKind, JobSpec, Policy, UploadMethod};
use crate::bearer::Reachability;
use crate::error::{ErrorClass, Quoted};

/// The protocol's version, in the `version` reply; raised when a change could break a client.
pub const VERSION: u32 = 1;

/// Longest request line, newline excluded.
pub const MAX_LINE: usize = 64 * 1024;

/// What a client asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// The same object as `boardnet status --json`.
    Status,
    /// The configurations alone.
    Configurations,
    /// Stream events from now on.
    Subscribe,
    /// Stop the stream.
    Unsubscribe,
    /// Reply once the level is reached (or time out).
    WaitOnline {
        /// Level to reach.
        level: Reachability,
        /// Give up after this long; `None` waits as long as the connection stays.
        timeout: Option<Duration>,
    },
    /// Queue a job.
    Submit(JobSpec),
    /// All jobs.
    Jobs,
    /// One job.
    Job(u64),
    /// Stop a job for good.
    Cancel(u64),
    /// Stop a job, keeping its `.part`, until resumed.
    Pause(u64),
    /// Let a paused (or failed) job run again.
    Resume(u64),
    /// Scan for Wi-Fi networks.
    Scan,
    /// Open (`true`) or close a bearer session.
    Session {
        /// The configuration.
        id: String,
        /// Open or close.
        open: bool,
        /// How long to wait for the state.
        timeout: Duration,
    },
    /// Read the configuration file and the hooks again.
    Reload,
    /// Version of the daemon and of the protocol.
    Version,
}

impl Command {
    /// Whether the command changes something (and so needs root or the control group).
    pub fn changes_something(&self) -> bool {
        matches!(
            self,
            Command::Submit(_)
                | Command::Cancel(_)
                | Command::Pause(_)
                | Command::Resume(_)
                | Command::Scan
                | Command::Session { .. }
                | Command::Reload
        )
    }
}

/// A parsed request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Echoed in the reply.
    pub id: Value,
    /// What to do.
    pub command: Command,
}

/// A request that cannot be carried out, as its error reply says.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// The request's id, when it had one.
    pub id: Value,
    /// Exit-code class.
    pub class: ErrorClass,
    /// Stable name of the cause.
    pub kind: &'static str,
    /// What was wrong.
    pub message: String,
}

impl Refusal {
    /// A malformed request.
    pub fn bad(id: &Value, message: impl Into<String>) -> Refusal {
        Refusal {
            id: id.clone(),
            class: ErrorClass::Usage,
            kind: "BadRequest",
            message: message.into(),
        }
    }

    /// The reply line.
    pub fn reply(&self) -> Vec<u8> {
        error_reply(&self.id, self.class, self.kind, &self.message)
    }
}

/// `{"id":…,"ok":true,"result":…}` and a newline.
pub fn ok_reply(id: &Value, result: Value) -> Vec<u8> {
    line(&json!({"id": id, "ok": true, "result": result}))
}

/// `{"id":…,"ok":false,"error":{…}}` and a newline.
pub fn error_reply(id: &Value, class: ErrorClass, kind: &str, message: &str) -> Vec<u8> {
    line(&json!({"id": id, "ok": false, "error": {
        "class": class.name(),
        "code": class.exit_code(),
        "kind": kind,
        "message": message,
    }}))
}

/// A value as one line.
pub fn line(value: &Value) -> Vec<u8> {
    let mut out = serde_json::to_vec(value).unwrap_or_default();
    out.push(b'\n');
    out
}

/// Parse one request line (without its newline).
pub fn parse(bytes: &[u8]) -> Result<Request, Refusal> {
    let no_id = Value::Null;
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        let text = String::from_utf8_lossy(bytes);
        Refusal::bad(
            &no_id,
            format!("malformed JSON ({e}): {}", Quoted(text.trim())),
        )
    })?;
    let Value::Object(object) = value else {
        return Err(Refusal::bad(&no_id, "a request is a JSON object"));
    };
    let mut fields = Fields::new(object);
    let id = fields.object.remove("id").unwrap_or(Value::Null);
    fields.id = id.clone();
    let name = fields
        .string("command")?
        .ok_or_else(|| Refusal::bad(&id, "no \"command\""))?;
    let command = command(&name, &mut fields)?;
    fields.finish()?;
    Ok(Request { id, command })
}

fn command(name: &str, f: &mut Fields) -> Result<Command, Refusal> {
    Ok(match name {
        "status" => Command::Status,
        "configurations" => Command::Configurations,
        "subscribe" => Command::Subscribe,
        "unsubscribe" => Command::Unsubscribe,
        "wait-online" => wait_online(f)?,
        "fetch" => Command::Submit(fetch(f)?),
        "upload" => Command::Submit(upload(f)?),
        "jobs" => Command::Jobs,
        "job" => Command::Job(f.job_id()?),
        "cancel" => Command::Cancel(f.job_id()?),
        "pause" => Command::Pause(f.job_id()?),
        "resume" => Command::Resume(f.job_id()?),
        "scan" => Command::Scan,
        "open" | "close" => Command::Session {
            id: f.required_string("configuration")?,
            open: name == "open",
            timeout: f.seconds("timeout")?.unwrap_or(Duration::from_secs(60)),
        },
        "reload" => Command::Reload,
        "version" => Command::Version,
        _ => {
            return Err(Refusal {
                id: f.id.clone(),
                class: ErrorClass::Usage,
                kind: "UnknownCommand",
                message: format!(
                    "unknown command {} (status, configurations, subscribe, unsubscribe, \
                     wait-online, fetch, upload, jobs, job, cancel, pause, resume, scan, open, \
                     close, reload, version)",
                    Quoted(name)
                ),
            })
        }
    })
}

fn wait_online(f: &mut Fields) -> Result<Command, Refusal> {
    let level = match f.string("level")? {
        None => Reachability::Site,
        Some(l) => match Reachability::parse(&l) {
            Some(level) if level != Reachability::Disconnected => level,
            _ => {
                return Err(f.bad(format!(
                    "level {} is not one of local, site, online",
                    Quoted(&l)
                )))
            }
        },
    };
    let timeout = f.seconds("timeout")?.filter(|t| !t.is_zero());
    Ok(Command::WaitOnline { level, timeout })
}

fn fetch(f: &mut Fields) -> Result<JobSpec, Refusal> {
    let url = f.required_string("url")?;
    let path = f.absolute_path("path")?;
    let sha256 = match f.string("sha256")? {
        None => None,
        Some(hex) => Some(parse_sha256(&hex).ok_or_else(|| {
            f.bad(format!(
                "sha256 {} is not 64 hexadecimal digits",
                Quoted(&hex)
            ))
        })?),
    };
    Ok(JobSpec {
        kind: JobKind::Fetch { url, path, sha256 },
        policy: policy(f)?,
        hook: hook(f)?,
    })
}

fn upload(f: &mut Fields) -> Result<JobSpec, Refusal> {
    let path = f.absolute_path("path")?;
    let url = f.required_string("url")?;
    let method = match f.string("method")?.as_deref() {
        None | Some("PUT") => UploadMethod::Put,
        Some("POST") => UploadMethod::Post,
        Some(other) => return Err(f.bad(format!("method {} is not PUT or POST", Quoted(other)))),
    };
    let remove = f.bool("remove")?.unwrap_or(false);
    Ok(JobSpec {
        kind: JobKind::Upload {
            path,
            url,
            method,
            remove,
        },
        policy: policy(f)?,
        hook: hook(f)?,
    })
}

fn policy(f: &mut Fields) -> Result<Policy, Refusal> {
    match f.string("policy")? {
        None => Ok(Policy::Any),
        Some(text) => Policy::parse(&text).ok_or_else(|| {
            f.bad(format!(
                "policy {} is not one of any, not-cellular, interface:IF, online",
                Quoted(&text)
            ))
        }),
    }
}

/// A job's own completion hook: a file name in the hooks directory's `jobs/`.
fn hook(f: &mut Fields) -> Result<Option<String>, Refusal> {
    let Some(name) = f.string("hook")? else {
        return Ok(None);
    };
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return Err(f.bad(format!(
            "hook {} must be a file name in the hooks directory's jobs/ (no '/', no leading '.')",
            Quoted(&name)
        )));
    }
    Ok(Some(name))
}

/// 64 hex digits.
pub fn parse_sha256(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The fields of a request object, taken one by one; what is left at the end is unknown.
struct Fields {
    id: Value,
    object: Map<String, Value>,
}

impl Fields {
    fn new(object: Map<String, Value>) -> Fields {
        Fields {
            id: Value::Null,
            object,
        }
    }

    fn bad(&self, message: String) -> Refusal {
        Refusal::bad(&self.id, message)
    }

    fn wrong_type(&self, name: &str, wanted: &str) -> Refusal {
        self.bad(format!("field \"{name}\" must be {wanted}"))
    }

    fn string(&mut self, name: &str) -> Result<Option<String>, Refusal> {
        match self.object.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.wrong_type(name, "a string")),
        }
    }

    fn required_string(&mut self, name: &str) -> Result<String, Refusal> {
        self.string(name)?
            .ok_or_else(|| self.bad(format!("field \"{name}\" is required")))
    }

    fn bool(&mut self, name: &str) -> Result<Option<bool>, Refusal> {
        match self.object.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(_) => Err(self.wrong_type(name, "true or false")),
        }
    }

    fn seconds(&mut self, name: &str) -> Result<Option<Duration>, Refusal> {
        match self.object.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_f64()
                .filter(|s| (0.0..=1e9).contains(s))
                .map(|s| Some(Duration::from_secs_f64(s)))
                .ok_or_else(|| self.wrong_type(name, "seconds from 0 to 1e9")),
            Some(_) => Err(self.wrong_type(name, "a number of seconds")),
        }
    }

    fn job_id(&mut self) -> Result<u64, Refusal> {
        match self.object.remove("job") {
            Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64().unwrap_or(0)),
            None => Err(self.bad("field \"job\" is required".into())),
            Some(_) => Err(self.wrong_type("job", "a job number")),
        }
    }

    /// An absolute path without `..` (the daemon's working directory is `/`, and a client
    /// must not reach outside the directory it names).
    fn absolute_path(&mut self, name: &str) -> Result<PathBuf, Refusal> {
        let text = self.required_string(name)?;
        let path = Path::new(&text);
        let dotdot = path
            .components()
            .any(|c| c == std::path::Component::ParentDir);
        if !path.is_absolute() || dotdot || text.ends_with('/') {
            return Err(self.bad(format!(
                "{name} {} must be an absolute file path without \"..\"",
                Quoted(&text)
            )));
        }
        Ok(path.to_path_buf())
    }

    /// Error on any field nobody took.
    fn finish(self) -> Result<(), Refusal> {
        match self.object.keys().next() {
            None => Ok(()),
            Some(unknown) => Err(self.bad(format!("unknown field {}", Quoted(unknown)))),
        }
    }
}

/// Splits a byte stream into request lines of at most [`MAX_LINE`] bytes. An overlong line is
/// reported once (with its first bytes) and skipped up to its newline, so the connection
/// stays usable; nothing more than the current line is ever held.
#[derive(Debug, Default)]
pub struct LineReader {
    partial: Vec<u8>,
    /// Bytes of an overlong line seen so far (skipping to its end).
    skipping: Option<usize>,
}

/// One unit of input.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// A complete line, newline removed.
    Complete(&'a [u8]),
    /// A line longer than [`MAX_LINE`]: its first bytes (for the error message).
    TooLong(Vec<u8>),
}

impl LineReader {
    /// Feed `data`, calling `each` for every line it completes.
    pub fn feed(&mut self, mut data: &[u8], mut each: impl FnMut(Line<'_>)) {
        while !data.is_empty() {
            let newline = data.iter().position(|&b| b == b'\n');
            let (chunk, rest) = match newline {
                Some(at) => (&data[..at], Some(&data[at + 1..])),
                None => (data, None),
            };
            if let Some(seen) = self.skipping.as_mut() {
                *seen += chunk.len();
            } else if self.partial.len() + chunk.len() > MAX_LINE {
                let mut head = std::mem::take(&mut self.partial);
                head.extend_from_slice(&chunk[..chunk.len().min(64)]);
                head.truncate(64);
                each(Line::TooLong(head));
                self.skipping = Some(0);
            } else if rest.is_some() && self.partial.is_empty() {
                each(Line::Complete(chunk));
            } else {
                self.partial.extend_from_slice(chunk);
                if rest.is_some() {
                    each(Line::Complete(&self.partial));
                    self.partial.clear();
                }
            }
            match rest {
                Some(rest) => {
                    self.skipping = None;
                    data = rest;
                }
                None => break,
            }
        }
        if self.partial.is_empty() && self.partial.capacity() > 4096 {
            self.partial = Vec::new();
        }
    }

    /// Bytes held for an incomplete line.
    pub fn held(&self) -> usize {
        self.partial.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(reader: &mut LineReader, data: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        reader.feed(data, |l| {
            out.push(match l {
                Line::Complete(b) => String::from_utf8_lossy(b).into_owned(),
                Line::TooLong(head) => format!("TOO LONG {}", head.len()),
            })
        });
        out
    }

    #[test]
    fn lines_split_across_reads_and_overlong_ones_are_skipped_once() {
        let mut r = LineReader::default();
        assert_eq!(lines(&mut r, b"{\"a\":1}\n{\"b\""), ["{\"a\":1}"]);
        assert_eq!(lines(&mut r, b":2}\n"), ["{\"b\":2}"]);
        let big = vec![b'x'; MAX_LINE + 10];
        assert_eq!(lines(&mut r, &big), ["TOO LONG 64"]);
        assert_eq!(lines(&mut r, &big), Vec::<String>::new());
        assert_eq!(lines(&mut r, b"tail\nnext\n"), ["next"]);
        assert!(r.held() <= 4096);
        let exactly = vec![b'y'; MAX_LINE];
        let mut input = exactly.clone();
        input.push(b'\n');
        assert_eq!(lines(&mut r, &input).len(), 1);
    }

    #[test]
    fn requests_parse_and_bad_ones_say_what_was_wrong() {
        let r = parse(br#"{"id":7,"command":"status"}"#).unwrap();
        assert_eq!((r.id, r.command), (json!(7), Command::Status));
        let r = parse(
            br#"{"id":"a","command":"fetch","url":"http://x/f","path":"/tmp/f","sha256":"00000000000000000000000000000000000000000000000000000000000000ff","policy":"interface:eth1"}"#,
        )
        .unwrap();
        let Command::Submit(spec) = r.command else {
            panic!()
        };
        assert_eq!(spec.policy, Policy::Interface("eth1".into()));
        assert!(Command::Submit(spec).changes_something());
        let cases: &[(&[u8], &str)] = &[
            (b"{", "malformed JSON"),
            (b"[1]", "a JSON object"),
            (br#"{"id":1}"#, "no \"command\""),
            (br#"{"id":1,"command":"fly"}"#, "unknown command \"fly\""),
            (br#"{"id":1,"command":"job","job":"x"}"#, "\"job\" must be"),
            (
                br#"{"id":1,"command":"status","extra":1}"#,
                "unknown field \"extra\"",
            ),
            (
                br#"{"id":1,"command":"fetch","url":"http://x/","path":"rel"}"#,
                "absolute",
            ),
            (
                br#"{"id":1,"command":"fetch","url":"http://x/","path":"/a/../b"}"#,
                "absolute",
            ),
            (
                br#"{"id":1,"command":"fetch","url":"u","path":"/f","sha256":"ab"}"#,
                "64 hex",
            ),
            (
                br#"{"id":1,"command":"fetch","url":"u","path":"/f","policy":"cheap"}"#,
                "policy",
            ),
            (
                br#"{"id":1,"command":"fetch","url":"u","path":"/f","hook":"../x"}"#,
                "hook",
            ),
            (
                br#"{"id":1,"command":"wait-online","level":"moon"}"#,
                "level",
            ),
            (
                br#"{"id":1,"command":"wait-online","timeout":-1}"#,
                "seconds",
            ),
            (
                br#"{"id":1,"command":"upload","path":"/f","url":"u","method":"GET"}"#,
                "PUT or POST",
            ),
        ];
        for (input, wanted) in cases {
            let e = parse(input).unwrap_err();
            assert!(e.message.contains(wanted), "{e:?} should say {wanted}");
            assert_eq!(e.class, ErrorClass::Usage);
            let reply: Value = serde_json::from_slice(&e.reply()).unwrap();
            assert_eq!(reply["ok"], json!(false));
            assert_eq!(reply["error"]["code"], json!(2));
        }
        assert_eq!(parse(br#"{"id":1}"#).unwrap_err().id, json!(1));
    }

    #[test]
    fn read_only_commands_need_no_rights() {
        for line in [
            "status",
            "configurations",
            "subscribe",
            "jobs",
            "version",
            "wait-online",
        ] {
            let r = parse(format!(r#"{{"command":"{line}"}}"#).as_bytes()).unwrap();
            assert!(!r.command.changes_something(), "{line}");
        }
        for line in ["scan", "reload"] {
            let r = parse(format!(r#"{{"command":"{line}"}}"#).as_bytes()).unwrap();
            assert!(r.command.changes_something(), "{line}");
        }
    }
}
