//! `boardnet host` (system resolver) and `boardnet dns` (typed lookups on the reactor).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use lexopt::prelude::*;
use serde_json::{json, Value};

use super::args::{number, seconds, text, Globals};
use super::hints::Hinted;
use super::output::json_line;
use super::stdin::{Input, StdinSource};
use super::Failure;
use crate::dns::{
    Answer, DnsError, Family, HostError, HostInfo, LookupId, Name, Record, RecordType, Resolver,
    ResolverOptions, Transport,
};
use crate::error::{Classify, ErrorClass, Quoted};
use crate::reactor::{Reactor, Ready};

const HOST_HELP: &str = "\
Usage: boardnet host [-4|-6] [-f FILE|-] NAME...
       boardnet host -x ADDRESS...

Addresses of host names from the system resolver (getaddrinfo: /etc/hosts, nsswitch, the
search list), one per line; an IP address resolves to itself. resolv.conf is re-read when it
changes, so a long-running batch follows a bearer change.

  -4, -6           IPv4 or IPv6 addresses only
  -x               reverse lookup: the name of each ADDRESS (getnameinfo)
  -f FILE|-        more names, one per line (- is stdin, read as lines arrive)
  -v               \"NAME has address ADDRESS\" lines
  --json           one object per name: name, canonical_name, addresses (or error)

Exit: 0 all found, 3 a name was not found (the resolver's reason on stderr), 2 bad input.
";

const DNS_HELP: &str = "\
Usage: boardnet dns [-t TYPE] [-s SERVER[:PORT]]... [--tcp] [--timeout S] [--tries N]
                    [-x ADDRESS]... [-f FILE|-] [--parallel N] NAME...

Typed DNS lookups (dig +short style: one record per line) with boardnet's own resolver: UDP
with EDNS0, TCP when the answer is truncated, servers and options from /etc/resolv.conf
(nameserver order, search, ndots:, timeout:, attempts:, rotate), replies checked against the
query. Several names are looked up at once on one event loop; results print in input order.

  -t, --type TYPE      A (default), AAAA, ANY, CNAME, MX, NS, PTR, SOA, SRV, TXT or TYPEnnn
  -s, --server ADDR    ask this server (port 53 unless given; [v6]:port) instead of resolv.conf's
      --tcp            always TCP
      --timeout S      per try (default: resolv.conf's timeout:, 5 s)
      --tries N        rounds over the servers (default: resolv.conf's attempts:, 2)
  -x ADDRESS           PTR lookup of ADDRESS (in-addr.arpa / ip6.arpa)
  -f FILE|-            more names, one per line (- is stdin, looked up as lines arrive)
      --parallel N     lookups in flight at once (1-1024, default 64); at most 4 x N
                       answers wait behind an earlier name that is slow to answer
  -v                   full records: NAME TTL IN TYPE DATA, and the server that answered
      --json           one object per name: name, type, server, transport, records (typed)

MX records print by preference, SRV records by priority then RFC 2782 weighted order.
Exit: 0 answered (also when the name has no records of the type), 8 NXDOMAIN/SERVFAIL/REFUSED,
5 no answer in time, 7 malformed reply, 4 no server reachable, 2 bad input.
";

/// Most lookups in flight at once (`--parallel`): sockets and timers each.
const MAX_PARALLEL: usize = 1024;

/// Results that may wait for an earlier, slower name, per lookup in flight.
const REORDER_WINDOW_PER_LOOKUP: usize = 4;

/// Longest name line read from a file or stdin (a DNS name is at most 253 bytes): a longer
/// one is refused, quoted by its first bytes, without being held whole.
const MAX_NAME_LINE: usize = 1024;

/// A name line that could not be used.
fn overlong_line(line: u64, prefix: &str) -> String {
    format!(
        "line {line} is longer than {MAX_NAME_LINE} bytes: {}",
        Quoted(prefix)
    )
}

/// Splits bytes into names, one per line: blank lines and `#`/`;` comments skipped, each line
/// at most [`MAX_NAME_LINE`] bytes (`Err` with a bounded prefix for longer ones). Fed in
/// pieces, it never holds more than one line.
#[derive(Debug, Default)]
struct NameLines {
    partial: Vec<u8>,
    /// The current line is over the limit: its rest is skipped.
    overlong: bool,
    line: u64,
}

impl NameLines {
    fn feed(&mut self, mut bytes: &[u8], sink: &mut dyn FnMut(Result<String, String>)) {
        while !bytes.is_empty() {
            let nl = bytes.iter().position(|&b| b == b'\n');
            let (piece, rest) = match nl {
                Some(i) => (&bytes[..i], &bytes[i + 1..]),
                None => (bytes, &[][..]),
            };
            if !self.overlong {
                let room = MAX_NAME_LINE.saturating_sub(self.partial.len());
                self.partial
                    .extend_from_slice(&piece[..piece.len().min(room)]);
                self.overlong = piece.len() > room;
            }
            if nl.is_some() {
                self.emit(sink);
            }
            bytes = rest;
        }
    }

    /// The end of input: a last line without a newline.
    fn finish(&mut self, sink: &mut dyn FnMut(Result<String, String>)) {
        if !self.partial.is_empty() || self.overlong {
            self.emit(sink);
        }
    }

    fn emit(&mut self, sink: &mut dyn FnMut(Result<String, String>)) {
        self.line += 1;
        let text = String::from_utf8_lossy(&self.partial).into_owned();
        self.partial.clear();
        if std::mem::take(&mut self.overlong) {
            sink(Err(overlong_line(self.line, &text)));
        } else if !is_comment_or_blank(&text) {
            sink(Ok(text.trim().to_string()));
        }
    }
}

/// Where more names come from: a file read in pieces as lookups need names, or stdin (a pipe
/// or terminal watched by the event loop; a regular file on stdin is read like a file).
enum Source {
    Done,
    File(Box<dyn Read>),
    Stream(StdinSource),
}

impl Source {
    /// Open `-f PATH` (`-` is stdin).
    fn open(path: &str, reactor: &mut Reactor) -> Result<Source, Failure> {
        if path != "-" {
            let file = std::fs::File::open(path).map_err(cannot_read(path))?;
            return Ok(Source::File(Box::new(file)));
        }
        let stdin = StdinSource::register(reactor).map_err(cannot_read(path))?;
        // A regular file or /dev/null cannot be watched: read it as a file.
        Ok(match stdin.token() {
            Some(_) => Source::Stream(stdin),
            None => Source::File(Box::new(io::stdin())),
        })
    }

    /// Read one piece of input into `lines`; `Ok(false)` once the input ended. A read error
    /// ends it too, and is returned: names must not be dropped silently.
    fn pump(
        &mut self,
        reactor: &mut Reactor,
        lines: &mut NameLines,
        sink: &mut dyn FnMut(Result<String, String>),
    ) -> io::Result<bool> {
        let mut buf = [0u8; 8192];
        let got = match self {
            Source::Done => return Ok(false),
            Source::File(f) => read_piece(f, &mut buf),
            Source::Stream(stdin) => stdin.read(reactor, &mut buf),
        };
        match got {
            Ok(Input::Data(n)) => lines.feed(&buf[..n], sink),
            Ok(Input::Empty) => {}
            Ok(Input::End) | Err(_) => {
                if let Source::Stream(stdin) = self {
                    stdin.finish(reactor);
                }
                lines.finish(sink);
                *self = Source::Done;
                return got.map(|_| false);
            }
        }
        Ok(true)
    }

    fn token(&self) -> Option<crate::reactor::Token> {
        match self {
            Source::Stream(stdin) => stdin.token(),
            _ => None,
        }
    }
}

fn is_comment_or_blank(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#') || t.starts_with(';')
}

/// Names from `-f PATH` for the blocking `host` command, one at a time.
fn for_each_name(path: &str, each: &mut dyn FnMut(Result<String, String>)) -> Result<(), Failure> {
    let mut input: Box<dyn Read> = match path {
        "-" => Box::new(io::stdin()),
        _ => Box::new(std::fs::File::open(path).map_err(cannot_read(path))?),
    };
    let mut lines = NameLines::default();
    let mut buf = [0u8; 8192];
    loop {
        match read_piece(&mut input, &mut buf).map_err(cannot_read(path))? {
            Input::Data(n) => lines.feed(&buf[..n], each),
            Input::Empty => {}
            Input::End => break,
        }
    }
    lines.finish(each);
    Ok(())
}

/// One read of a blocking input, as the event loop's stdin reads report it.
fn read_piece(input: &mut Box<dyn Read>, buf: &mut [u8]) -> io::Result<Input> {
    match input.read(buf) {
        Ok(0) => Ok(Input::End),
        Ok(n) => Ok(Input::Data(n)),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(Input::Empty),
        Err(e) => Err(e),
    }
}

/// The error for a names file (`-f`) that cannot be opened or read.
fn cannot_read(path: &str) -> impl Fn(io::Error) -> Failure + '_ {
    move |e| Failure {
        help_hint: false,
        class: ErrorClass::LocalIo,
        message: format!("cannot read {path}: {e}"),
    }
}

// ---------------------------------------------------------------------------------------------
// boardnet host

pub(crate) fn host(
    parser: &mut lexopt::Parser,
    globals: &mut Globals,
) -> Result<ExitCode, Failure> {
    let mut family = Family::Any;
    let mut reverse = false;
    let mut names: Vec<String> = Vec::new();
    let mut file: Option<String> = None;
    while let Some(arg) = parser.next()? {
        match arg {
            Short('h') | Long("help") => {
                super::output::print_text(HOST_HELP);
                return Ok(ExitCode::SUCCESS);
            }
            Short('4') => family = Family::V4,
            Short('6') => family = Family::V6,
            Short('x') => reverse = true,
            Short('f') | Long("file") => file = Some(text(parser, "-f")?),
            Value(v) => names.push(
                v.into_string()
                    .map_err(|_| Failure::usage("names must be valid UTF-8"))?,
            ),
            other => {
                if !globals.accept(&other) {
                    return Err(other.unexpected().into());
                }
            }
        }
    }
    globals.init_logging();
    if names.is_empty() && file.is_none() {
        return Err(Failure::usage("host: give a NAME (or -f FILE)"));
    }
    let mut first_failure = None;
    let mut run = |line: Result<&str, String>| {
        let (name, result) = match line {
            Err(why) => ("-f", Err(HostError::InvalidName(why))),
            Ok(name) if reverse => match name.parse::<IpAddr>() {
                Ok(ip) => (name, HostInfo::from_address(ip)),
                Err(_) => (
                    name,
                    Err(HostError::InvalidName(format!(
                        "-x needs an IP address, not {}",
                        Quoted(name)
                    ))),
                ),
            },
            Ok(name) => (name, HostInfo::lookup(name, family)),
        };
        if let Err(e) = &result {
            first_failure.get_or_insert(e.class());
        }
        print_host(name, reverse, &result, globals);
    };
    for name in &names {
        run(Ok(name));
    }
    if let Some(path) = file {
        // Line by line as they arrive: a long-running batch follows resolv.conf changes.
        for_each_name(&path, &mut |line| {
            run(line.as_deref().map_err(Clone::clone))
        })?;
    }
    Ok(first_failure.map_or(ExitCode::SUCCESS, |c: ErrorClass| {
        ExitCode::from(c.exit_code())
    }))
}

fn print_host(name: &str, reverse: bool, result: &Result<HostInfo, HostError>, g: &Globals) {
    match result {
        Ok(info) if g.json => json_line(&json!({
            "name": if reverse { name } else { &info.name },
            "host_name": reverse.then_some(&info.name),
            "canonical_name": info.canonical_name,
            "addresses": info.addresses.iter().map(ToString::to_string).collect::<Vec<_>>(),
        })),
        Ok(info) => {
            let mut out = io::stdout().lock();
            if reverse {
                let _ = writeln!(out, "{}", info.name);
            } else {
                for addr in &info.addresses {
                    let _ = if g.verbose > 0 {
                        writeln!(
                            out,
                            "{} has {} address {addr}",
                            info.name,
                            if addr.is_ipv4() { "IPv4" } else { "IPv6" }
                        )
                    } else {
                        writeln!(out, "{addr}")
                    };
                }
                if let (Some(c), true) = (&info.canonical_name, g.verbose > 0) {
                    let _ = writeln!(out, "{} is an alias for {c}", info.name);
                }
            }
            let _ = out.flush();
        }
        Err(e) => {
            if g.json {
                json_line(
                    &json!({"name": name, "error": error_json(e.class(), e.name(), &Hinted(e).to_string())}),
                );
            } else {
                eprintln!("boardnet: {}", Hinted(e));
            }
        }
    }
}

fn error_json(class: ErrorClass, kind: &str, message: &str) -> Value {
    json!({"class": class.name(), "code": class.exit_code(), "kind": kind, "message": message})
}

// ---------------------------------------------------------------------------------------------
// boardnet dns

struct DnsArgs {
    rtype: RecordType,
    names: Vec<(String, RecordType)>,
    file: Option<String>,
    options: ResolverOptions,
    parallel: usize,
}

fn parse_server(spec: &str) -> Result<SocketAddr, Failure> {
    if let Ok(addr) = spec.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = spec.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    let server = crate::authority::split(spec)
        .map_err(|e| Failure::usage(format!("-s {}: {e}", Quoted(spec))))?;
    let ip = match server.host.parse::<IpAddr>() {
        Ok(ip) => ip,
        Err(_) => *HostInfo::from_name(server.host)
            .map_err(|e| Failure::from_error(&e))?
            .addresses
            .first()
            .ok_or_else(|| Failure::usage(format!("-s {}: no address", Quoted(spec))))?,
    };
    Ok(SocketAddr::new(ip, server.port.unwrap_or(53)))
}

fn parse_dns(
    parser: &mut lexopt::Parser,
    globals: &mut Globals,
) -> Result<Option<DnsArgs>, Failure> {
    let mut a = DnsArgs {
        rtype: RecordType::A,
        names: Vec::new(),
        file: None,
        options: ResolverOptions::default(),
        parallel: 64,
    };
    let mut plain: Vec<String> = Vec::new();
    let mut reverse: Vec<String> = Vec::new();
    while let Some(arg) = parser.next()? {
        match arg {
            Short('h') | Long("help") => {
                super::output::print_text(DNS_HELP);
                return Ok(None);
            }
            Short('t') | Long("type") => {
                a.rtype = text(parser, "-t")?
                    .parse()
                    .map_err(|e: DnsError| Failure::from_error(&e))?
            }
            Short('s') | Long("server") => {
                let addr = parse_server(&text(parser, "-s")?)?;
                a.options.servers.get_or_insert_with(Vec::new).push(addr);
            }
            Long("tcp") => a.options.tcp = true,
            Long("timeout") => {
                let t = seconds(parser, "--timeout")?;
                if t.is_zero() {
                    return Err(Failure::usage("--timeout must be more than 0"));
                }
                a.options.timeout = Some(t);
            }
            Long("tries") => {
                let n: u8 = number(parser, "--tries")?;
                if n == 0 {
                    return Err(Failure::usage("--tries must be at least 1"));
                }
                a.options.attempts = Some(n);
            }
            Short('x') => {
                let addr = text(parser, "-x")?;
                let ip: IpAddr = addr
                    .parse()
                    .map_err(|_| Failure::usage(format!("-x: \"{addr}\" is not an IP address")))?;
                reverse.push(Name::reverse(ip).to_string());
            }
            Short('f') | Long("file") => a.file = Some(text(parser, "-f")?),
            Long("parallel") => {
                a.parallel = number(parser, "--parallel")?;
                if !(1..=MAX_PARALLEL).contains(&a.parallel) {
                    return Err(Failure::usage(format!(
                        "--parallel must be from 1 to {MAX_PARALLEL}"
                    )));
                }
            }
            Value(v) => plain.push(
                v.into_string()
                    .map_err(|_| Failure::usage("names must be valid UTF-8"))?,
            ),
            other => {
                if !globals.accept(&other) {
                    return Err(other.unexpected().into());
                }
            }
        }
    }
    let rtype = a.rtype;
    a.names.extend(plain.into_iter().map(|n| (n, rtype)));
    a.names
        .extend(reverse.into_iter().map(|n| (n, RecordType::PTR)));
    if a.names.is_empty() && a.file.is_none() {
        return Err(Failure::usage("dns: give a NAME, -x ADDRESS or -f FILE"));
    }
    Ok(Some(a))
}

/// Results are printed in input order: `results[i]` waits until everything before it printed.
struct Printer<'g> {
    globals: &'g Globals,
    next: usize,
    waiting: BTreeMap<usize, (String, RecordType, Result<Answer, DnsError>, Duration)>,
    first_failure: Option<ErrorClass>,
}

impl Printer<'_> {
    fn add(
        &mut self,
        index: usize,
        item: (String, RecordType, Result<Answer, DnsError>, Duration),
    ) {
        self.waiting.insert(index, item);
        while let Some(item) = self.waiting.remove(&self.next) {
            self.print(&item.0, item.1, &item.2, item.3);
            self.next += 1;
        }
    }

    fn print(
        &mut self,
        name: &str,
        rtype: RecordType,
        result: &Result<Answer, DnsError>,
        took: Duration,
    ) {
        let g = self.globals;
        let answer = match result {
            Ok(a) => a,
            Err(e) => {
                self.first_failure.get_or_insert(e.class());
                if g.json {
                    json_line(&json!({"name": name, "type": rtype.to_string(),
                        "error": error_json(e.class(), e.name(), &Hinted(e).to_string())}));
                } else {
                    eprintln!("boardnet: {name} {rtype}: {}", Hinted(e));
                }
                return;
            }
        };
        let records = display_order(answer);
        if g.json {
            json_line(&json!({
                "name": name,
                "type": rtype.to_string(),
                "answered_name": answer.name.to_string(),
                "server": answer.server.to_string(),
                "transport": if answer.transport == Transport::Tcp { "tcp" } else { "udp" },
                "authoritative": answer.authoritative,
                "time": super::output::secs(took),
                "records": records.iter().map(record_json).collect::<Vec<_>>(),
            }));
            return;
        }
        let mut out = io::stdout().lock();
        for r in &records {
            let _ = if g.verbose > 0 {
                writeln!(out, "{}\t{}\tIN\t{}\t{r}", r.name(), r.ttl(), r.type_name())
            } else {
                writeln!(out, "{r}")
            };
        }
        if g.verbose > 0 {
            let transport = if answer.transport == Transport::Tcp {
                "TCP"
            } else {
                "UDP"
            };
            let _ = writeln!(
                out,
                ";; {} {rtype}: {} record(s) from {} over {transport} in {} ms",
                answer.name,
                records.len(),
                answer.server,
                took.as_millis()
            );
        }
        let _ = out.flush();
    }
}

/// Records as printed: MX by preference, SRV in RFC 2782 order, everything else as received.
fn display_order(answer: &Answer) -> Vec<Record> {
    let mut mx = answer.mail_exchanges().into_iter().map(Record::Mx);
    let mut srv = answer.services().into_iter().map(Record::Srv);
    answer
        .records
        .iter()
        .map(|r| match r {
            Record::Mx(_) => mx.next().unwrap_or_else(|| r.clone()),
            Record::Srv(_) => srv.next().unwrap_or_else(|| r.clone()),
            other => other.clone(),
        })
        .collect()
}

fn record_json(r: &Record) -> Value {
    let mut v = json!({"name": r.name().to_string(), "type": r.type_name(), "ttl": r.ttl(), "data": r.to_string()});
    let fields = match r {
        Record::Address(a) => json!({"address": a.address.to_string()}),
        Record::Cname(c) => json!({"target": c.target.to_string()}),
        Record::Mx(m) => json!({"preference": m.preference, "exchange": m.exchange.to_string()}),
        Record::Ns(n) => json!({"host": n.host.to_string()}),
        Record::Ptr(p) => json!({"target": p.target.to_string()}),
        Record::Srv(s) => {
            json!({"priority": s.priority, "weight": s.weight, "port": s.port, "target": s.target.to_string()})
        }
        Record::Txt(t) => {
            json!({"strings": t.strings.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect::<Vec<_>>()})
        }
        Record::Other { rtype, .. } => json!({"type_code": rtype}),
    };
    if let (Some(obj), Value::Object(extra)) = (v.as_object_mut(), fields) {
        obj.extend(extra);
    }
    v
}

pub(crate) fn dns(parser: &mut lexopt::Parser, globals: &mut Globals) -> Result<ExitCode, Failure> {
    let Some(args) = parse_dns(parser, globals)? else {
        return Ok(ExitCode::SUCCESS);
    };
    globals.init_logging();
    let io_failure = |e: io::Error| Failure {
        help_hint: false,
        class: ErrorClass::Other,
        message: format!("event loop: {e}"),
    };
    let mut reactor = Reactor::new().map_err(io_failure)?;
    reactor.handle_signals().map_err(io_failure)?;
    let mut resolver = Resolver::new(args.options).map_err(|e| Failure::from_error(&e))?;

    // Names to look up: the command line's, then the file's as lookups need them (an
    // unusable line is an error item in its place).
    let mut inputs: VecDeque<Result<(String, RecordType), String>> =
        args.names.into_iter().map(Ok).collect();
    let mut source = match &args.file {
        Some(path) => Source::open(path, &mut reactor)?,
        None => Source::Done,
    };
    let names_file = args.file.as_deref().unwrap_or("-");
    let mut lines = NameLines::default();
    let rtype = args.rtype;
    let mut printer = Printer {
        globals,
        next: 0,
        waiting: BTreeMap::new(),
        first_failure: None,
    };
    // Results print in input order; at most this many wait behind a slow earlier name.
    let window = args.parallel.saturating_mul(REORDER_WINDOW_PER_LOOKUP);
    let mut started: HashMap<LookupId, (usize, String, RecordType, Instant)> = HashMap::new();
    let mut index = 0usize;
    let mut events = Vec::with_capacity(64);
    loop {
        // Read more names while few are queued: a file at once, stdin when it has some.
        while inputs.len() < args.parallel
            && source
                .pump(&mut reactor, &mut lines, &mut |line| {
                    inputs.push_back(line.map(|name| (name, rtype)))
                })
                .map_err(cannot_read(names_file))?
            && !matches!(source, Source::Stream(_))
        {}
        // Start lookups up to the parallelism limit and the reorder window.
        while resolver.in_flight() < args.parallel && index - printer.next < window {
            let Some(input) = inputs.pop_front() else {
                break;
            };
            match input {
                Ok((name, rtype)) => match resolver.start(&mut reactor, &name, rtype) {
                    Ok(id) => {
                        started.insert(id, (index, name, rtype, Instant::now()));
                    }
                    Err(e) => printer.add(index, (name, rtype, Err(e), Duration::ZERO)),
                },
                Err(why) => printer.add(
                    index,
                    (
                        "-f".into(),
                        rtype,
                        Err(DnsError::InvalidRequest(why)),
                        Duration::ZERO,
                    ),
                ),
            }
            index += 1;
        }
        let mut finished = false;
        while let Some((id, result)) = resolver.next_done() {
            if let Some((i, name, rtype, t0)) = started.remove(&id) {
                printer.add(i, (name, rtype, result, t0.elapsed()));
                finished = true;
            }
        }
        if finished {
            // The reorder window may have moved: start more before waiting.
            continue;
        }
        let more_input = !inputs.is_empty() || !matches!(source, Source::Done);
        if resolver.in_flight() == 0 && !more_input {
            break;
        }
        events.clear();
        reactor.turn(&mut events, None).map_err(io_failure)?;
        for ready in &events {
            match ready {
                Ready::Signal(_) => {
                    return Ok(ExitCode::from(ErrorClass::Cancelled.exit_code()));
                }
                // Stdin is read at the top of the loop, when names are wanted.
                Ready::Io { token, .. } if source.token() == Some(*token) => {}
                other => {
                    resolver.handle(&mut reactor, other);
                }
            }
        }
    }
    Ok(printer
        .first_failure
        .map_or(ExitCode::SUCCESS, |c| ExitCode::from(c.exit_code())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(pieces: &[&[u8]]) -> Vec<Result<String, String>> {
        let mut lines = NameLines::default();
        let mut out = Vec::new();
        for p in pieces {
            lines.feed(p, &mut |l| out.push(l));
        }
        lines.finish(&mut |l| out.push(l));
        out
    }

    #[test]
    fn names_split_across_pieces_skip_comments_and_blank_lines() {
        let out = split(&[
            b"a.example\n# c",
            b"omment\n\n  b.exam",
            b"ple  \n; x\nlast",
        ]);
        assert_eq!(
            out,
            vec![
                Ok("a.example".into()),
                Ok("b.example".into()),
                Ok("last".into())
            ]
        );
    }

    #[test]
    fn an_overlong_line_is_refused_by_a_bounded_prefix_and_the_next_one_read() {
        let long = vec![b'x'; 1 << 20];
        let out = split(&[b"first\n", &long, &long, b"\nafter\n"]);
        assert_eq!(out[0], Ok("first".into()));
        let why = out[1].clone().unwrap_err();
        assert!(why.starts_with("line 2 is longer than 1024 bytes"), "{why}");
        assert!(why.len() < 200, "{}", why.len());
        assert_eq!(out[2], Ok("after".into()));
    }
}
