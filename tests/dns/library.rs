//! The library API: blocking typed lookups, many lookups on one reactor, abort.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use boardnet::dns::{
    DnsError, Family, HostError, HostLookups, Lookup, Record, RecordType, Resolver, ResolverOptions,
};
use boardnet::reactor::Reactor;

use crate::peers::*;

#[test]
fn typed_accessors_like_qdnslookup() {
    let nsd = Nsd::start();
    let lookup = |t, n: &str| Lookup::new(t, n).server(nsd.addr()).run().unwrap();
    let mx = lookup(RecordType::MX, "example.test").mail_exchanges();
    assert_eq!(
        mx.iter()
            .map(|m| (m.preference, m.exchange.to_string()))
            .collect::<Vec<_>>(),
        [
            (10, "mail.example.test.".into()),
            (20, "mail2.example.test.".into())
        ]
    );
    let txt = lookup(RecordType::TXT, "bytes.example.test").texts();
    assert_eq!(
        txt[0].strings,
        vec![
            b"caf\xc3\xa9".to_vec(),
            b"\xff\x00\x01".to_vec(),
            b"quote\"back\\slash".to_vec()
        ],
        "TXT strings are bytes, not joined"
    );
    let txt = lookup(RecordType::TXT, "txt.example.test").texts();
    assert_eq!(
        txt[0].strings,
        vec![b"hello world".to_vec(), b"second string".to_vec()]
    );
    let chain = lookup(RecordType::A, "chain1.example.test");
    assert_eq!(chain.canonical_names().len(), 3);
    assert_eq!(
        chain.host_addresses()[0].address,
        "192.0.2.10".parse::<IpAddr>().unwrap()
    );
    let ns = lookup(RecordType::NS, "example.test").name_servers();
    assert_eq!(ns[0].host.to_string(), "ns1.example.test.");
    let ptr = lookup(RecordType::PTR, "10.2.0.192.in-addr.arpa").pointers();
    assert_eq!(ptr[0].target.to_string(), "example.test.");
    let srv = lookup(RecordType::SRV, "_multi._tcp.example.test").services();
    assert_eq!(srv.len(), 4);
    assert_eq!(srv[3].target.to_string(), "backup.example.test.");
    assert!(matches!(
        Lookup::new(RecordType::A, "nosuch.example.test")
            .server(nsd.addr())
            .run(),
        Err(DnsError::NotFound { .. })
    ));
}

#[test]
fn a_thousand_lookups_on_one_reactor() {
    let nsd = Nsd::start();
    let mut reactor = Reactor::new().unwrap();
    let mut resolver = Resolver::new(ResolverOptions {
        servers: Some(vec![nsd.addr()]),
        max_in_flight: Some(200),
        ..ResolverOptions::default()
    })
    .unwrap();
    let names = [
        "example.test",
        "multi.example.test",
        "mail.example.test",
        "www.example.test",
    ];
    let t0 = Instant::now();
    for i in 0..1000 {
        resolver
            .start(&mut reactor, names[i % 4], RecordType::A)
            .unwrap();
    }
    assert_eq!(resolver.in_flight(), 1000);
    let mut events = Vec::new();
    let mut answers = 0;
    while answers < 1000 {
        events.clear();
        reactor
            .turn(&mut events, Some(Instant::now() + Duration::from_secs(10)))
            .unwrap();
        for e in &events {
            resolver.handle(&mut reactor, e);
        }
        while let Some((_, result)) = resolver.next_done() {
            let answer = result.unwrap();
            assert!(!answer.host_addresses().is_empty());
            answers += 1;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "{answers} answers so far"
        );
    }
    assert_eq!(resolver.in_flight(), 0);
    assert_eq!(reactor.timers_pending(), 0, "every deadline was cancelled");
}

#[test]
fn abort_and_cancel_finish_with_cancelled() {
    let silent = DnsFault::start(DnsScript::Silent);
    let mut reactor = Reactor::new().unwrap();
    let mut resolver = Resolver::new(ResolverOptions {
        servers: Some(vec![silent.addr()]),
        timeout: Some(Duration::from_secs(30)),
        ..ResolverOptions::default()
    })
    .unwrap();
    let id = resolver
        .start(&mut reactor, "probe.test", RecordType::A)
        .unwrap();
    let mut events = Vec::new();
    reactor
        .turn(
            &mut events,
            Some(Instant::now() + Duration::from_millis(50)),
        )
        .unwrap();
    resolver.abort(&mut reactor, id);
    assert_eq!(
        resolver.next_done().map(|(i, r)| (i, r.unwrap_err())),
        Some((id, DnsError::Cancelled))
    );

    // A blocking lookup cancelled from another thread ends at once.
    let token = boardnet::cancel::CancelToken::new().unwrap();
    let canceller = token.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        canceller.cancel();
    });
    let t0 = Instant::now();
    let r = Lookup::new(RecordType::A, "probe.test")
        .server(silent.addr())
        .timeout(Duration::from_secs(30))
        .cancel_token(token)
        .run();
    assert_eq!(r.unwrap_err(), DnsError::Cancelled);
    assert!(t0.elapsed() < Duration::from_secs(5));
}

#[test]
fn host_lookups_with_ids() {
    let nsd = Nsd::start();
    let silent = DnsFault::start(DnsScript::Silent);
    let mut reactor = Reactor::new().unwrap();
    let mut hosts = HostLookups::new(ResolverOptions {
        servers: Some(vec![nsd.addr()]),
        ..ResolverOptions::default()
    })
    .unwrap();
    let www = hosts.start(&mut reactor, "www.example.test", Family::Any);
    let literal = hosts.start(&mut reactor, "192.0.2.1", Family::Any);
    let v6 = hosts.start(&mut reactor, "multi.example.test", Family::V6);
    let missing = hosts.start(&mut reactor, "nosuch.example.test", Family::Any);
    let mut results = std::collections::HashMap::new();
    let mut events = Vec::new();
    while results.len() < 4 {
        while let Some((id, r)) = hosts.next_done() {
            results.insert(id, r);
        }
        if results.len() == 4 {
            break;
        }
        events.clear();
        reactor
            .turn(&mut events, Some(Instant::now() + Duration::from_secs(10)))
            .unwrap();
        for e in &events {
            hosts.handle(&mut reactor, e);
        }
    }
    let addrs = |id| -> Vec<String> {
        results[&id]
            .as_ref()
            .unwrap()
            .addresses
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    assert_eq!(addrs(www), ["192.0.2.10", "2001:db8::10"]);
    assert_eq!(
        results[&www].as_ref().unwrap().canonical_name.as_deref(),
        Some("example.test")
    );
    assert_eq!(addrs(literal), ["192.0.2.1"]);
    assert_eq!(addrs(v6), ["2001:db8::11", "2001:db8::12"]);
    assert!(matches!(
        results[&missing],
        Err(HostError::HostNotFound { .. })
    ));

    // Abort (QHostInfo::abortHostLookup).
    let mut stuck = HostLookups::new(ResolverOptions {
        servers: Some(vec![silent.addr()]),
        timeout: Some(Duration::from_secs(30)),
        ..ResolverOptions::default()
    })
    .unwrap();
    let id = stuck.start(&mut reactor, "probe.test", Family::Any);
    stuck.abort(&mut reactor, id);
    assert_eq!(
        stuck.next_done().map(|(i, r)| (i, r.unwrap_err())),
        Some((id, HostError::Cancelled))
    );
    let _ = Record::Other {
        name: boardnet::dns::Name::root(),
        ttl: 0,
        rtype: 0,
        data: String::new(),
    };
}
