//! One lookup as a state machine, without I/O: which query to send where, what a reply means,
//! when to try the next server, the next search domain, or TCP.
//!
//! The driver (`resolver`) owns sockets and timers; it calls [`Exchange::start`], delivers
//! replies with [`Exchange::on_reply`], deadlines with [`Exchange::on_timeout`] and socket
//! failures with [`Exchange::on_transport_error`], and does what the returned [`Step`] says.
//! Replies are validated here: wrong ID, not a response, or a different question means the
//! datagram is dropped (spoofed or stale), never accepted.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::error::DnsError;
use super::name::Name;
use super::records::Record;
use super::wire::{rcode, Message, Query};

/// EDNS0 UDP payload size (the DNS flag day 2020 value: no IP fragmentation).
pub const EDNS_PAYLOAD: u16 = 1232;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// How an answer came.
pub enum Transport {
    /// Over UDP.
    Udp,
    /// Over TCP (the UDP answer was truncated, or TCP was asked for).
    Tcp,
}

/// What the driver must do next.
#[derive(Debug)]
pub enum Step {
    /// Send [`Exchange::query`] to `server` over `transport` (a new socket: a fresh source
    /// port per query), and call [`Exchange::on_timeout`] at `deadline` if nothing settles it.
    Send {
        transport: Transport,
        server: SocketAddr,
        deadline: Instant,
    },
    /// Finished.
    Done(Result<Answer, DnsError>),
}

/// A successful answer. No records means the name exists but has none of the type (NODATA).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The name that was answered (after the search list).
    pub name: Name,
    /// The record type asked for.
    pub qtype: u16,
    /// The answer section, in the server's order.
    pub records: Vec<Record>,
    /// The server that answered.
    pub server: SocketAddr,
    /// The server is authoritative for the name (AA).
    pub authoritative: bool,
    /// UDP or TCP.
    pub transport: Transport,
}

/// How an exchange behaves (from resolv.conf, overridden by the caller).
#[derive(Debug, Clone)]
pub struct Settings {
    pub servers: Arc<[SocketAddr]>,
    pub timeout: Duration,
    pub attempts: u8,
    /// Index of the first server to ask (rotation).
    pub first_server: usize,
    /// Always TCP (`use-vc`, `--tcp`).
    pub tcp: bool,
}

/// The whole life of one lookup.
#[derive(Debug)]
pub struct Exchange {
    /// What the user asked for, for messages.
    asked: String,
    candidates: Vec<Name>,
    candidate: usize,
    qtype: u16,
    settings: Settings,
    /// Tries so far for the current candidate (over servers, then attempts).
    tries: usize,
    transport: Transport,
    edns: bool,
    query: Query,
    /// The first NODATA answer seen along the search list (what res_search reports when no
    /// later candidate has data).
    nodata: Option<Answer>,
    /// Why the last failed try failed, for the final error.
    failure: Option<DnsError>,
}

/// A fresh random query ID, from a pool refilled from the system CSPRNG 256 IDs at a time
/// (one getrandom call per 256 queries instead of one per query).
fn random_id() -> u16 {
    use std::cell::RefCell;
    thread_local! {
        static POOL: RefCell<([u8; 512], usize)> = const { RefCell::new(([0; 512], 512)) };
    }
    POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        let (bytes, used) = &mut *pool;
        if *used + 2 > bytes.len() {
            // Should the system RNG fail, IDs are still checked together with the question.
            let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), bytes);
            *used = 0;
        }
        let id = u16::from_ne_bytes([bytes[*used], bytes[*used + 1]]);
        *used += 2;
        id
    })
}

impl Exchange {
    /// `candidates` are the names to try in order (the search list applied; see
    /// `ResolvConf::candidates`). Panics never; an empty list or no servers is an error at
    /// `start`.
    pub fn new(asked: &str, candidates: Vec<Name>, qtype: u16, settings: Settings) -> Exchange {
        let query = Query::new(0, candidates.first().unwrap_or(&Name::root()), qtype, None);
        Exchange {
            asked: asked.to_string(),
            candidates,
            candidate: 0,
            qtype,
            transport: if settings.tcp {
                Transport::Tcp
            } else {
                Transport::Udp
            },
            settings,
            tries: 0,
            edns: true,
            query,
            nodata: None,
            failure: None,
        }
    }

    /// The query to send now.
    pub fn query(&self) -> &Query {
        &self.query
    }

    /// The server the current try talks to.
    pub fn server(&self) -> Option<SocketAddr> {
        let servers = &self.settings.servers;
        if servers.is_empty() {
            return None;
        }
        Some(servers[(self.settings.first_server + self.tries) % servers.len()])
    }

    fn max_tries(&self) -> usize {
        self.settings.servers.len() * usize::from(self.settings.attempts.max(1))
    }

    pub fn start(&mut self, now: Instant) -> Step {
        if self.candidates.is_empty() {
            return Step::Done(Err(DnsError::InvalidRequest("no name to look up".into())));
        }
        self.send(now)
    }

    /// (Re)send the current candidate to the current server with a fresh ID.
    fn send(&mut self, now: Instant) -> Step {
        let Some(server) = self.server() else {
            return Step::Done(Err(DnsError::Resolver("no name servers configured".into())));
        };
        let name = &self.candidates[self.candidate];
        self.query = Query::new(
            random_id(),
            name,
            self.qtype,
            self.edns.then_some(EDNS_PAYLOAD),
        );
        Step::Send {
            transport: self.transport,
            server,
            deadline: now + self.settings.timeout,
        }
    }

    fn default_transport(&self) -> Transport {
        if self.settings.tcp {
            Transport::Tcp
        } else {
            Transport::Udp
        }
    }

    /// This try failed: the next server, the next round, or the end.
    fn next_try(&mut self, now: Instant) -> Step {
        self.tries += 1;
        self.transport = self.default_transport();
        if self.tries < self.max_tries() {
            return self.send(now);
        }
        let error = self.failure.take().unwrap_or(DnsError::Timeout {
            servers: self.settings.servers.len(),
            tries: self.settings.attempts,
            timeout: self.settings.timeout,
        });
        match self.nodata.take() {
            // An earlier search candidate exists without data: that is the answer.
            Some(answer) if matches!(error, DnsError::NotFound { .. }) => Step::Done(Ok(answer)),
            _ => Step::Done(Err(error)),
        }
    }

    /// This name does not exist (or has no data): the next search candidate, or the end.
    fn next_candidate(&mut self, now: Instant) -> Step {
        self.candidate += 1;
        if self.candidate < self.candidates.len() {
            self.tries = 0;
            self.transport = self.default_transport();
            self.failure = None;
            return self.send(now);
        }
        Step::Done(self.nodata.take().ok_or_else(|| DnsError::NotFound {
            name: self.asked.clone(),
        }))
    }

    /// The try's deadline passed.
    pub fn on_timeout(&mut self, now: Instant) -> Step {
        self.next_try(now)
    }

    /// The socket failed (ICMP port unreachable on UDP, TCP refused or reset…).
    pub fn on_transport_error(&mut self, now: Instant, error: &std::io::Error) -> Step {
        let server = self.server().map(|s| s.to_string()).unwrap_or_default();
        if !matches!(
            self.failure,
            Some(
                DnsError::InvalidReply(_)
                    | DnsError::ServerFailure { .. }
                    | DnsError::ServerRefused { .. }
            )
        ) {
            self.failure = Some(DnsError::Unreachable(format!("{server}: {error}")));
        }
        self.next_try(now)
    }

    /// A reply arrived from the current server over `via`. `None`: it was dropped (not ours)
    /// and the current try goes on.
    pub fn on_reply(&mut self, now: Instant, bytes: &[u8], via: Transport) -> Option<Step> {
        let msg = match Message::parse(bytes) {
            Ok(msg) => msg,
            Err(e) => {
                let ours = bytes.get(..2) == Some(&self.query.id().to_be_bytes()[..]);
                self.failure = Some(DnsError::InvalidReply(format!(
                    "{} sent a malformed reply ({e})",
                    self.server().map(|s| s.to_string()).unwrap_or_default()
                )));
                // With our ID this server is broken: next try now. Anything else may be junk
                // from someone else: keep waiting for the real reply.
                return ours.then(|| self.next_try(now));
            }
        };
        let header = msg.header;
        if !header.is_response()
            || header.id != self.query.id()
            || header.opcode() != 0
            || !msg
                .question_bytes()
                .eq_ignore_ascii_case(self.query.question())
        {
            log::debug!(
                "dropped a reply that does not match the query (id {})",
                header.id
            );
            return None;
        }
        if header.truncated() && via == Transport::Udp {
            log::debug!("truncated over UDP: retrying over TCP");
            self.transport = Transport::Tcp;
            return Some(self.send(now));
        }
        let name = self.candidates[self.candidate].clone();
        Some(match msg.rcode() {
            rcode::NOERROR => {
                let mut records = Vec::with_capacity(usize::from(header.ancount));
                for r in msg.answers() {
                    let Ok(owner) = r.name.to_name() else {
                        continue;
                    };
                    let Ok(data) = r.data() else { continue };
                    records.push(Record::from_rdata(owner, r.ttl, r.rtype, data));
                }
                let answer = Answer {
                    name,
                    qtype: self.qtype,
                    records,
                    server: self
                        .server()
                        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0))),
                    authoritative: header.authoritative(),
                    transport: via,
                };
                if answer.records.is_empty() {
                    self.nodata.get_or_insert(answer);
                    self.next_candidate(now)
                } else {
                    Step::Done(Ok(answer))
                }
            }
            rcode::NXDOMAIN => self.next_candidate(now),
            rcode::SERVFAIL => {
                self.failure = Some(DnsError::ServerFailure {
                    name: name.to_string(),
                });
                self.next_try(now)
            }
            rcode::REFUSED => {
                self.failure = Some(DnsError::ServerRefused {
                    name: name.to_string(),
                });
                self.next_try(now)
            }
            // An old server that does not speak EDNS: ask again without it.
            rcode::FORMERR if self.edns => {
                self.edns = false;
                self.send(now)
            }
            other => {
                self.failure = Some(DnsError::InvalidReply(format!(
                    "response code {other} for {name}"
                )));
                self.next_try(now)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::wire::rtype;
    use crate::dns::wire::tests::reply;

    fn settings(servers: &[&str], attempts: u8) -> Settings {
        Settings {
            servers: servers.iter().map(|s| s.parse().unwrap()).collect(),
            timeout: Duration::from_secs(2),
            attempts,
            first_server: 0,
            tcp: false,
        }
    }

    fn names(list: &[&str]) -> Vec<Name> {
        list.iter().map(|n| Name::from_text(n).unwrap()).collect()
    }

    fn sent(step: &Step) -> (Transport, SocketAddr) {
        match step {
            Step::Send {
                transport, server, ..
            } => (*transport, *server),
            Step::Done(r) => panic!("expected a send, got {r:?}"),
        }
    }

    fn done(step: Option<Step>) -> Result<Answer, DnsError> {
        match step {
            Some(Step::Done(r)) => r,
            other => panic!("expected done, got {other:?}"),
        }
    }

    #[test]
    fn answer_after_timeouts_walks_servers_then_rounds() {
        let now = Instant::now();
        let mut ex = Exchange::new(
            "h",
            names(&["h.test"]),
            rtype::A,
            settings(&["10.0.0.1:53", "10.0.0.2:53"], 2),
        );
        let order: Vec<String> = std::iter::once(ex.start(now))
            .chain((0..3).map(|_| ex.on_timeout(now)))
            .map(|s| sent(&s).1.to_string())
            .collect();
        assert_eq!(
            order,
            ["10.0.0.1:53", "10.0.0.2:53", "10.0.0.1:53", "10.0.0.2:53"]
        );
        match ex.on_timeout(now) {
            Step::Done(Err(DnsError::Timeout {
                servers: 2,
                tries: 2,
                ..
            })) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn mismatched_replies_are_dropped_and_the_real_one_accepted() {
        let now = Instant::now();
        let mut ex = Exchange::new(
            "h.test",
            names(&["h.test"]),
            rtype::A,
            settings(&["10.0.0.1:53"], 1),
        );
        ex.start(now);
        let good = reply(ex.query(), 0, &[(rtype::A, 60, vec![192, 0, 2, 77])]);
        let mut wrong_id = good.clone();
        wrong_id[1] ^= 1;
        assert!(ex.on_reply(now, &wrong_id, Transport::Udp).is_none());
        let other_q = Query::new(
            ex.query().id(),
            &Name::from_text("other.test").unwrap(),
            rtype::A,
            None,
        );
        let wrong_question = reply(&other_q, 0, &[(rtype::A, 60, vec![1, 1, 1, 1])]);
        assert!(ex.on_reply(now, &wrong_question, Transport::Udp).is_none());
        let mut not_response = good.clone();
        not_response[2] &= 0x7f;
        assert!(ex.on_reply(now, &not_response, Transport::Udp).is_none());
        assert!(
            ex.on_reply(now, b"\x00", Transport::Udp).is_none(),
            "junk from someone else"
        );
        let answer = done(ex.on_reply(now, &good, Transport::Udp)).unwrap();
        assert_eq!(answer.records.len(), 1);
        assert_eq!(answer.records[0].to_string(), "192.0.2.77");
    }

    #[test]
    fn truncation_switches_to_tcp_on_the_same_server() {
        let now = Instant::now();
        let mut ex = Exchange::new(
            "h.test",
            names(&["h.test"]),
            rtype::A,
            settings(&["10.0.0.1:53", "10.0.0.2:53"], 1),
        );
        ex.start(now);
        let mut tc = reply(ex.query(), 0, &[]);
        tc[2] |= 0x02;
        let step = ex.on_reply(now, &tc, Transport::Udp).unwrap();
        assert_eq!(
            sent(&step),
            (Transport::Tcp, "10.0.0.1:53".parse().unwrap())
        );
        let full = reply(ex.query(), 0, &[(rtype::A, 1, vec![1, 2, 3, 4])]);
        let answer = done(ex.on_reply(now, &full, Transport::Tcp)).unwrap();
        assert_eq!(answer.transport, Transport::Tcp);
    }

    #[test]
    fn search_list_moves_on_for_nxdomain_and_nodata() {
        let now = Instant::now();
        let mut ex = Exchange::new(
            "h",
            names(&["h.a.test", "h.b.test", "h"]),
            rtype::A,
            settings(&["10.0.0.1:53"], 1),
        );
        ex.start(now);
        let nx = reply(ex.query(), rcode::NXDOMAIN, &[]);
        ex.on_reply(now, &nx, Transport::Udp).unwrap();
        assert_eq!(ex.candidates[ex.candidate].to_string(), "h.b.test.");
        let nodata = reply(ex.query(), rcode::NOERROR, &[]);
        ex.on_reply(now, &nodata, Transport::Udp).unwrap();
        let nx = reply(ex.query(), rcode::NXDOMAIN, &[]);
        let answer = done(ex.on_reply(now, &nx, Transport::Udp)).unwrap();
        assert_eq!(
            answer.name.to_string(),
            "h.b.test.",
            "the NODATA candidate is the answer"
        );
        assert!(answer.records.is_empty());

        let mut ex = Exchange::new(
            "nosuch",
            names(&["nosuch.a.test", "nosuch"]),
            rtype::A,
            settings(&["10.0.0.1:53"], 1),
        );
        ex.start(now);
        for _ in 0..2 {
            let nx = reply(ex.query(), rcode::NXDOMAIN, &[]);
            if let Some(Step::Done(r)) = ex.on_reply(now, &nx, Transport::Udp) {
                assert_eq!(
                    r.unwrap_err(),
                    DnsError::NotFound {
                        name: "nosuch".into()
                    }
                );
                return;
            }
        }
        panic!("never finished");
    }

    #[test]
    fn server_errors_try_the_next_server_then_report() {
        let now = Instant::now();
        let mut ex = Exchange::new(
            "h.test",
            names(&["h.test"]),
            rtype::A,
            settings(&["10.0.0.1:53", "10.0.0.2:53"], 1),
        );
        ex.start(now);
        let fail = reply(ex.query(), rcode::SERVFAIL, &[]);
        let step = ex.on_reply(now, &fail, Transport::Udp).unwrap();
        assert_eq!(sent(&step).1.to_string(), "10.0.0.2:53");
        let refused = reply(ex.query(), rcode::REFUSED, &[]);
        assert!(matches!(
            done(ex.on_reply(now, &refused, Transport::Udp)),
            Err(DnsError::ServerRefused { .. })
        ));
    }

    #[test]
    fn malformed_replies_are_invalid_replies() {
        let now = Instant::now();
        let mut ex = Exchange::new(
            "h.test",
            names(&["h.test"]),
            rtype::A,
            settings(&["10.0.0.1:53"], 1),
        );
        ex.start(now);
        // Our ID, then a header whose counts promise records that are not there.
        let mut cut = reply(ex.query(), 0, &[(rtype::A, 1, vec![1, 2, 3, 4])]);
        cut.truncate(cut.len() - 3);
        assert!(matches!(
            done(ex.on_reply(now, &cut, Transport::Udp)),
            Err(DnsError::InvalidReply(_))
        ));
        // Garbage with someone else's ID is ignored, but remembered when the time runs out.
        let mut ex = Exchange::new(
            "h.test",
            names(&["h.test"]),
            rtype::A,
            settings(&["10.0.0.1:53"], 1),
        );
        ex.start(now);
        let junk = [ex.query().id().wrapping_add(1).to_be_bytes()[0], 0, 1, 2, 3];
        assert!(ex.on_reply(now, &junk, Transport::Udp).is_none());
        assert!(matches!(
            ex.on_timeout(now),
            Step::Done(Err(DnsError::InvalidReply(_)))
        ));
    }

    #[test]
    fn formerr_retries_without_edns_and_ids_change() {
        let now = Instant::now();
        let mut ex = Exchange::new(
            "h.test",
            names(&["h.test"]),
            rtype::A,
            settings(&["10.0.0.1:53", "10.0.0.2:53"], 5),
        );
        ex.start(now);
        assert!(ex.query().as_bytes().len() > 30, "EDNS OPT present");
        let first_id = ex.query().id();
        let formerr = reply(ex.query(), rcode::FORMERR, &[]);
        ex.on_reply(now, &formerr, Transport::Udp).unwrap();
        assert_eq!(ex.query().as_bytes().len(), 12 + 8 + 4, "no OPT");
        // IDs are random per send; two equal in a row would be a 1/65536 coincidence.
        let ids: std::collections::HashSet<u16> = (0..8)
            .map(|_| {
                ex.on_timeout(now);
                ex.query().id()
            })
            .chain([first_id])
            .collect();
        assert!(ids.len() > 4, "{ids:?}");
    }

    #[test]
    fn unreachable_servers_are_named() {
        let now = Instant::now();
        let mut ex = Exchange::new(
            "h.test",
            names(&["h.test"]),
            rtype::A,
            settings(&["127.0.0.1:53"], 1),
        );
        ex.start(now);
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        match ex.on_transport_error(now, &refused) {
            Step::Done(Err(DnsError::Unreachable(why))) => {
                assert!(why.contains("127.0.0.1:53"), "{why}")
            }
            other => panic!("{other:?}"),
        }
    }
}
