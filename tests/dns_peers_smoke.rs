//! Smoke tests of the DNS test peers (tests/peers/{nsd,knot,netns_dns,
//! dns_fault,dns_wire,dns_zones}.rs), checked with dig and kdig only — they do
//! not depend on boardnet's own DNS code.

mod peers;

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use peers::dns_wire::{build_query, udp_exchange, Message, TYPE_A, TYPE_MX, TYPE_PTR};
use peers::*;

const T: Duration = Duration::from_secs(30);

/// The `;; flags: qr aa tc rd;` flags of dig's (last) answer.
fn dig_flags(out: &RunOutput) -> Vec<String> {
    let s = out.stdout_str();
    let line = s
        .lines()
        .rev()
        .find(|l| l.starts_with(";; flags:"))
        .unwrap_or_else(|| panic!("no flags line in dig output:\n{:?}", out));
    let flags = line
        .trim_start_matches(";; flags:")
        .split(';')
        .next()
        .unwrap();
    flags.split_whitespace().map(|f| f.to_string()).collect()
}

/// A section count ("ANSWER", "AUTHORITY", …) from dig's header line.
fn dig_count(out: &RunOutput, section: &str) -> usize {
    let s = out.stdout_str();
    let line = s
        .lines()
        .rev()
        .find(|l| l.starts_with(";; flags:"))
        .unwrap_or_else(|| panic!("no flags line in dig output:\n{:?}", out));
    let key = format!("{}: ", section);
    let at = line
        .find(&key)
        .unwrap_or_else(|| panic!("no {} count in {:?}", section, line));
    line[at + key.len()..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// dig's "status: X" of the (last) answer.
fn dig_status(out: &RunOutput) -> String {
    let s = out.stdout_str();
    let line = s
        .lines()
        .rev()
        .find(|l| l.contains("status: "))
        .unwrap_or_else(|| panic!("no status in dig output:\n{:?}", out));
    let at = line.find("status: ").unwrap() + "status: ".len();
    line[at..].split(',').next().unwrap().trim().to_string()
}

fn lines(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// What every server of the standard zones must answer (dig +short lines).
fn expected_answers() -> Vec<(Vec<&'static str>, Vec<String>)> {
    let mut v = vec![
        (vec!["example.test", "A"], lines(&["192.0.2.10"])),
        (vec!["example.test", "AAAA"], lines(&["2001:db8::10"])),
        (
            vec!["example.test", "SOA"],
            lines(&["ns1.example.test. hostmaster.example.test. 2026112401 3600 600 86400 300"]),
        ),
        (vec!["example.test", "NS"], lines(&["ns1.example.test."])),
        (
            vec!["example.test", "MX"],
            lines(&["10 mail.example.test.", "20 mail2.example.test."]),
        ),
        (vec!["example.test", "TXT"], lines(&["\"v=spf1 -all\""])),
        (vec!["ns1.example.test", "A"], lines(&["127.0.0.1"])),
        (
            vec!["www.example.test", "A"],
            lines(&["example.test.", "192.0.2.10"]),
        ),
        (
            vec!["www.example.test", "AAAA"],
            lines(&["example.test.", "2001:db8::10"]),
        ),
        (
            vec!["multi.example.test", "A"],
            lines(&["192.0.2.11", "192.0.2.12"]),
        ),
        (
            vec!["multi.example.test", "AAAA"],
            lines(&["2001:db8::11", "2001:db8::12"]),
        ),
        (vec!["v4only.example.test", "A"], lines(&["192.0.2.13"])),
        (vec!["v4only.example.test", "AAAA"], vec![]),
        (
            vec!["v6only.example.test", "AAAA"],
            lines(&["2001:db8::20"]),
        ),
        (vec!["v6only.example.test", "A"], vec![]),
        (vec!["mail.example.test", "A"], lines(&["192.0.2.25"])),
        (vec!["mail2.example.test", "A"], lines(&["192.0.2.26"])),
        (
            vec!["_http._tcp.example.test", "SRV"],
            lines(&["10 60 8080 www.example.test."]),
        ),
        (
            vec!["_sip._udp.example.test", "SRV"],
            lines(&["5 0 5060 sip.example.test."]),
        ),
        (vec!["sip.example.test", "A"], lines(&["192.0.2.50"])),
        (
            vec!["_multi._tcp.example.test", "SRV"],
            lines(&[
                "10 0 8000 srv0.example.test.",
                "10 10 8010 srv10.example.test.",
                "10 90 8090 srv90.example.test.",
                "20 0 8020 backup.example.test.",
            ]),
        ),
        (vec!["srv0.example.test", "A"], lines(&["192.0.2.60"])),
        (vec!["srv10.example.test", "A"], lines(&["192.0.2.61"])),
        (vec!["srv90.example.test", "A"], lines(&["192.0.2.62"])),
        (vec!["backup.example.test", "A"], lines(&["192.0.2.63"])),
        (
            vec!["txt.example.test", "TXT"],
            lines(&["\"hello world\" \"second string\""]),
        ),
        (vec!["empty.example.test", "TXT"], lines(&["\"\""])),
        (
            vec!["bytes.example.test", "TXT"],
            lines(&[r#""caf\195\169" "\255\000\001" "quote\"back\\slash""#]),
        ),
        (
            vec!["chain1.example.test", "A"],
            lines(&[
                "chain2.example.test.",
                "www.example.test.",
                "example.test.",
                "192.0.2.10",
            ]),
        ),
        (
            vec!["dangling.example.test", "A"],
            lines(&["nosuch.example.test."]),
        ),
        (
            vec!["anything.wild.example.test", "A"],
            lines(&["192.0.2.90"]),
        ),
        (vec!["a.b.wild.example.test", "A"], lines(&["192.0.2.90"])),
        (vec!["ttl1.example.test", "A"], lines(&["192.0.2.31"])),
        (vec!["ttl0.example.test", "A"], lines(&["192.0.2.30"])),
        (vec!["fresh.example.test", "A"], lines(&[FRESH_1])),
        (vec!["nosuch.example.test", "A"], vec![]),
        (vec!["example.com", "A"], vec![]),
        (vec!["-x", "192.0.2.10"], lines(&["example.test."])),
        (vec!["-x", "192.0.2.11"], lines(&["multi.example.test."])),
        (vec!["-x", "192.0.2.25"], lines(&["mail.example.test."])),
        (vec!["-x", "2001:db8::10"], lines(&["example.test."])),
        (vec!["-x", "2001:db8::20"], lines(&["v6only.example.test."])),
    ];
    let mid: Vec<String> = (1..=MID_A_COUNT)
        .map(|i| format!("203.0.113.{}", i))
        .collect();
    v.push((vec!["mid.example.test", "A"], mid));
    // +short retries over TCP by itself on TC.
    let big: Vec<String> = (1..=BIG_A_COUNT)
        .map(|i| format!("198.51.100.{}", i))
        .collect();
    v.push((vec!["big.example.test", "A"], big));
    let bigtxt: Vec<String> = (1..=BIGTXT_COUNT)
        .map(|i| format!("\"{}\"", bigtxt_string(i)))
        .collect();
    v.push((vec!["bigtxt.example.test", "TXT"], bigtxt));
    v
}

fn check_standard_zones(who: &str, server: SocketAddr) {
    for (args, want) in expected_answers() {
        let got = dig_short_at(server, &args);
        assert_eq!(got, want, "{} at {}: dig +short {:?}", who, server, args);
    }
    for (name, status) in [
        ("nosuch.example.test", "NXDOMAIN"),
        ("dangling.example.test", "NXDOMAIN"),
        ("v6only.example.test", "NOERROR"),
        ("example.com", "REFUSED"),
        ("test", "REFUSED"),
    ] {
        let out = dig_at(server, &[name, "A"]);
        out.assert_success();
        assert_eq!(dig_status(&out), status, "{}: {} A\n{:?}", who, name, out);
    }
    // NXDOMAIN and NODATA carry the SOA in the authority section.
    let out = dig_at(server, &["nosuch.example.test", "A"]);
    assert!(
        out.stdout_str().contains("IN\tSOA\tns1.example.test."),
        "{}: {:?}",
        who,
        out
    );
}

fn check_truncation(who: &str, server: SocketAddr) {
    // 100 A records do not fit 1232 bytes: TC over UDP, no answers.
    let out = dig_at(
        server,
        &["+ignore", "+bufsize=1232", "big.example.test", "A"],
    );
    out.assert_success();
    assert!(dig_flags(&out).contains(&"tc".into()), "{}: {:?}", who, out);
    assert_eq!(dig_count(&out, "ANSWER"), 0, "{}: {:?}", who, out);
    let out = dig_at(server, &["+ignore", "+noedns", "big.example.test", "A"]);
    assert!(dig_flags(&out).contains(&"tc".into()), "{}: {:?}", who, out);
    // TCP: all of them.
    let out = dig_at(server, &["+tcp", "big.example.test", "A"]);
    assert!(
        !dig_flags(&out).contains(&"tc".into()),
        "{}: {:?}",
        who,
        out
    );
    assert_eq!(dig_count(&out, "ANSWER"), BIG_A_COUNT, "{}: {:?}", who, out);
    // 40 A records: over 512 (TC without EDNS), within 1232 (EDNS).
    let out = dig_at(server, &["+ignore", "+noedns", "mid.example.test", "A"]);
    assert!(dig_flags(&out).contains(&"tc".into()), "{}: {:?}", who, out);
    let out = dig_at(
        server,
        &["+ignore", "+bufsize=1232", "mid.example.test", "A"],
    );
    assert!(
        !dig_flags(&out).contains(&"tc".into()),
        "{}: {:?}",
        who,
        out
    );
    assert_eq!(dig_count(&out, "ANSWER"), MID_A_COUNT, "{}: {:?}", who, out);
    let size: usize = out
        .stdout_str()
        .lines()
        .find_map(|l| l.strip_prefix(";; MSG SIZE  rcvd: "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(size > 512 && size <= 1232, "{}: mid is {} bytes", who, size);
    let out = dig_at(
        server,
        &["+ignore", "+bufsize=1232", "bigtxt.example.test", "TXT"],
    );
    assert!(dig_flags(&out).contains(&"tc".into()), "{}: {:?}", who, out);
    let out = dig_at(server, &["+tcp", "bigtxt.example.test", "TXT"]);
    assert_eq!(
        dig_count(&out, "ANSWER"),
        BIGTXT_COUNT,
        "{}: {:?}",
        who,
        out
    );
}

#[test]
fn nsd_serves_every_record_of_the_standard_zones() {
    let nsd = Nsd::start();
    eprintln!("nsd started in {:?}", nsd.startup_time());
    assert!(
        nsd.startup_time() < Duration::from_secs(2),
        "nsd took {:?} to start",
        nsd.startup_time()
    );
    check_standard_zones("nsd", nsd.addr());
    assert_eq!(nsd.dig_short(&["whoami.example.test", "TXT"]), ["\"nsd\""]);
    if let Some(v6) = nsd.addr_v6() {
        assert_eq!(
            dig_short_at(v6, &["www.example.test", "A"]),
            ["example.test.", "192.0.2.10"]
        );
        assert_eq!(
            dig_short_at(v6, &["+tcp", "multi.example.test", "AAAA"]),
            ["2001:db8::11", "2001:db8::12"]
        );
    }
    // kdig agrees on the odd TXT strings.
    let out = nsd.kdig(&["+short", "bytes.example.test", "TXT"]);
    out.assert_success();
    assert_eq!(
        out.stdout_str().trim(),
        r#""caf\195\169" "\255\000\001" "quote\"back\\slash""#
    );
    // The hand-built wire helpers agree with dig.
    let reply = udp_exchange(
        nsd.addr(),
        &build_query(7, "multi.example.test", TYPE_A, Some(1232)),
        Duration::from_secs(2),
    )
    .expect("no reply from nsd");
    let m = Message::parse(&reply).expect("nsd's reply does not parse");
    assert_eq!(m.header.id, 7);
    assert_eq!(m.header.rcode(), 0);
    assert_eq!(
        m.answer_a(),
        [Ipv4Addr::new(192, 0, 2, 11), Ipv4Addr::new(192, 0, 2, 12)]
    );
    assert!(m.edns_udp_size().is_some());
    let reply = udp_exchange(
        nsd.addr(),
        &build_query(8, "example.test", TYPE_MX, None),
        Duration::from_secs(2),
    )
    .unwrap();
    let m = Message::parse(&reply).unwrap();
    let mx: Vec<String> = m
        .answers
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                u16::from_be_bytes([r.rdata[0], r.rdata[1]]),
                m.rdata_name(r, 2).unwrap()
            )
        })
        .collect();
    assert_eq!(mx, ["10 mail.example.test", "20 mail2.example.test"]);
    let reply = udp_exchange(
        nsd.addr(),
        &build_query(
            9,
            "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
            TYPE_PTR,
            None,
        ),
        Duration::from_secs(2),
    )
    .unwrap();
    let m = Message::parse(&reply).unwrap();
    assert_eq!(m.rdata_name(&m.answers[0], 0).unwrap(), "example.test");
    assert!(Path::new(nsd.zone_dir())
        .join("example.test.zone")
        .is_file());
    // No rate limiting: 300 fast queries all answered.
    let t0 = Instant::now();
    for i in 0..300u16 {
        let q = build_query(i, "example.test", TYPE_A, None);
        assert!(
            udp_exchange(nsd.addr(), &q, Duration::from_secs(1)).is_some(),
            "query {} not answered (RRL?); log:\n{}",
            i,
            nsd.log()
        );
    }
    eprintln!("300 sequential UDP queries to nsd: {:?}", t0.elapsed());
}

#[test]
fn nsd_truncates_large_answers_over_udp() {
    let nsd = Nsd::start();
    check_truncation("nsd", nsd.addr());
}

#[test]
fn nsd_extra_records_and_stop_on_drop() {
    let nsd = Nsd::start_with_records("extra IN A 192.0.2.200\n");
    assert_eq!(nsd.dig_short(&["extra.example.test", "A"]), ["192.0.2.200"]);
    let addr = nsd.addr();
    drop(nsd);
    let q = build_query(1, "example.test", TYPE_A, None);
    assert!(
        udp_exchange(addr, &q, Duration::from_millis(300)).is_none(),
        "nsd still answers after drop"
    );
}

#[test]
fn knot_serves_the_same_zones() {
    require_program("kdig");
    let knot = Knot::start();
    eprintln!("knotd started in {:?}", knot.startup_time());
    check_standard_zones("knot", knot.addr());
    assert_eq!(
        knot.dig_short(&["whoami.example.test", "TXT"]),
        ["\"knot\""]
    );
    check_truncation("knot", knot.addr());
    if let Some(v6) = knot.addr_v6() {
        assert_eq!(
            dig_short_at(v6, &["example.test", "AAAA"]),
            ["2001:db8::10"]
        );
    }
}

// ---------------------------------------------------------------- DnsFault

fn fault_dig(f: &DnsFault, extra: &[&str]) -> RunOutput {
    let mut a = vec!["+time=1", "+tries=1"];
    a.extend_from_slice(extra);
    a.extend_from_slice(&["Foo.Example.Test", "A"]);
    dig_at(f.addr(), &a)
}

fn fault_kdig(f: &DnsFault) -> RunOutput {
    kdig_at(f.addr(), &["+time=1", "+retry=0", "Foo.Example.Test", "A"])
}

#[test]
fn dns_fault_answer_and_aaaa_nodata() {
    let f = DnsFault::start(DnsScript::Answer);
    assert_eq!(
        dig_short_at(f.addr(), &["+time=1", "+tries=1", "Foo.Example.Test", "A"]),
        ["192.0.2.77"]
    );
    let out = fault_dig(&f, &[]);
    out.assert_success();
    assert_eq!(dig_status(&out), "NOERROR");
    assert!(!out.stdout_str().contains("Warning"), "{:?}", out);
    // The question is echoed with its case.
    assert!(
        out.stdout_str()
            .contains("Foo.Example.Test.\t60\tIN\tA\t192.0.2.77"),
        "{:?}",
        out
    );
    let out = dig_at(
        f.addr(),
        &["+time=1", "+tries=1", "foo.example.test", "AAAA"],
    );
    assert_eq!(dig_status(&out), "NOERROR");
    assert_eq!(dig_count(&out, "ANSWER"), 0);
    assert!(fault_kdig(&f).success());
    let out = dig_at(
        f.addr(),
        &["+tcp", "+time=1", "+tries=1", "foo.example.test", "A"],
    );
    assert!(out.stdout_str().contains("192.0.2.77"), "{:?}", out);
    assert_eq!(f.udp_queries(), 4);
    assert_eq!(f.tcp_connections(), 1);
    let qs = f.queries();
    assert_eq!(qs.len(), 5);
    assert_eq!(qs[4].0, DnsTransport::Tcp);
    let m = Message::parse(&qs[0].1).unwrap();
    assert_eq!(m.questions[0].0, "Foo.Example.Test");
}

#[test]
fn dns_fault_silent_times_out() {
    let f = DnsFault::start(DnsScript::Silent);
    let t0 = Instant::now();
    let out = fault_dig(&f, &[]);
    assert_eq!(out.code, Some(9), "dig must report no reply: {:?}", out);
    assert!(out.stdout_str().contains("timed out"), "{:?}", out);
    assert!(t0.elapsed() >= Duration::from_millis(900));
    assert_eq!(f.udp_queries(), 1);
    let out = fault_dig(&f, &["+tcp"]);
    assert_eq!(out.code, Some(9), "{:?}", out);
    assert_eq!(f.tcp_connections(), 1);
}

#[test]
fn dns_fault_delayed_and_drop_first() {
    let f = DnsFault::start(DnsScript::Delayed(Duration::from_millis(300)));
    let t0 = Instant::now();
    let out = fault_dig(&f, &[]);
    assert!(out.stdout_str().contains("192.0.2.77"), "{:?}", out);
    assert!(t0.elapsed() >= Duration::from_millis(300));
    // dig with a 1 s timeout and 3 tries: the first two datagrams are
    // dropped, the third is answered.
    let f = DnsFault::start(DnsScript::DropFirst(2));
    let out = dig_at(f.addr(), &["+time=1", "+tries=3", "foo.example.test", "A"]);
    assert!(out.stdout_str().contains("192.0.2.77"), "{:?}", out);
    assert_eq!(f.udp_queries(), 3);
}

#[test]
fn dns_fault_decoys_are_flagged_by_dig() {
    let f = DnsFault::start(DnsScript::WrongIdThenRight);
    let out = fault_dig(&f, &[]);
    out.assert_success();
    assert!(out.stdout_str().contains("ID mismatch"), "{:?}", out);
    assert!(out.stdout_str().contains("192.0.2.77"), "{:?}", out);
    assert!(!out.stdout_str().contains("192.0.2.66"), "{:?}", out);
    // kdig warns too.
    let out = fault_kdig(&f);
    assert!(out.stderr.contains("reply ID"), "{:?}", out);

    let f = DnsFault::start(DnsScript::WrongQuestionThenRight);
    let out = fault_dig(&f, &[]);
    out.assert_success();
    assert!(
        out.stdout_str()
            .contains("Question section mismatch: got wrong-question.test/A/IN"),
        "{:?}",
        out
    );
    assert!(out.stdout_str().contains("192.0.2.77"), "{:?}", out);
    assert!(!out.stdout_str().contains("192.0.2.66"), "{:?}", out);

    let f = DnsFault::start(DnsScript::WrongSourceThenRight);
    let out = fault_kdig(&f);
    assert!(out.stderr.contains("unexpected reply source"), "{:?}", out);
    assert!(out.stdout_str().contains("192.0.2.77"), "{:?}", out);
    let out = fault_dig(&f, &[]);
    assert!(out.stdout_str().contains("192.0.2.77"), "{:?}", out);
    assert!(!out.stdout_str().contains("192.0.2.66"), "{:?}", out);
}

#[test]
fn dns_fault_garbage_and_truncated_replies_are_malformed() {
    let f = DnsFault::start(DnsScript::Garbage);
    let out = fault_dig(&f, &[]);
    let s = out.stdout_str();
    assert!(s.contains("short (< header size) message"), "{:?}", out);
    assert!(s.contains("malformed"), "{:?}", out);
    assert!(!s.contains("192.0.2.77"), "{:?}", out);
    let out = fault_kdig(&f);
    assert!(
        !out.success() && out.stderr.contains("malformed"),
        "{:?}",
        out
    );
    assert_eq!(f.udp_queries(), 2);

    let f = DnsFault::start(DnsScript::TruncatedReply);
    let out = fault_dig(&f, &[]);
    assert!(out.stdout_str().contains("malformed"), "{:?}", out);
    assert_eq!(dig_count(&out, "ANSWER"), 3, "{:?}", out);
    assert!(!dig_flags(&out).contains(&"tc".into()));
    let out = fault_kdig(&f);
    assert!(
        !out.success() && out.stderr.contains("malformed"),
        "{:?}",
        out
    );
    // Our own strict parser rejects it too.
    let q = build_query(5, "x.test", TYPE_A, None);
    let r = udp_exchange(f.addr(), &q, Duration::from_secs(1)).unwrap();
    assert!(Message::parse(&r).is_none());
}

#[test]
fn dns_fault_rcodes() {
    for (script, status) in [
        (DnsScript::ServFail, "SERVFAIL"),
        (DnsScript::Refused, "REFUSED"),
        (DnsScript::NxDomain, "NXDOMAIN"),
    ] {
        let f = DnsFault::start(script);
        let out = fault_dig(&f, &[]);
        out.assert_success();
        assert_eq!(dig_status(&out), status, "{:?}", out);
        assert_eq!(dig_count(&out, "ANSWER"), 0);
        assert!(!out.stdout_str().contains("Warning"), "{:?}", out);
        let out = fault_dig(&f, &["+tcp"]);
        assert_eq!(dig_status(&out), status, "{:?}", out);
        assert!(fault_kdig(&f).stdout_str().contains(status));
    }
}

#[test]
fn dns_fault_tc_then_tcp() {
    let f = DnsFault::start(DnsScript::TcOverUdpThenTcp);
    let out = fault_dig(&f, &["+ignore"]);
    assert!(dig_flags(&out).contains(&"tc".into()), "{:?}", out);
    assert_eq!(dig_count(&out, "ANSWER"), 0);
    assert_eq!(f.tcp_connections(), 0);
    let got = dig_short_at(f.addr(), &["+time=1", "+tries=1", "foo.example.test", "A"]);
    let want: Vec<String> = fault_tcp_answers().iter().map(|a| a.to_string()).collect();
    assert_eq!(got, want);
    assert_eq!(f.udp_queries(), 2);
    assert_eq!(f.tcp_connections(), 1);
    let out = fault_kdig(&f);
    assert!(out.success(), "{:?}", out);
    assert!(out.stdout_str().contains("ANSWER: 60"), "{:?}", out);
}

#[test]
fn dns_fault_tcp_broken() {
    let f = DnsFault::start(DnsScript::TcpBroken);
    let out = fault_dig(&f, &[]);
    assert_eq!(out.code, Some(9), "{:?}", out);
    let s = out.stdout_str();
    assert!(s.contains("Truncated, retrying in TCP mode"), "{:?}", out);
    assert!(s.contains("end of file"), "{:?}", out);
    assert_eq!(f.tcp_connections(), 1);
    assert!(!fault_kdig(&f).success());
}

// ---------------------------------------------------------------- NetnsDns

#[test]
fn netns_dns_resolv_conf_and_getaddrinfo() {
    let ns = NetnsDns::start();
    eprintln!("NetnsDns {} started in {:?}", ns.name(), ns.startup_time());
    assert_eq!(ns.resolv_conf(), "nameserver 127.0.0.1\n");
    // Both servers answer, with their own `fresh` and `whoami`.
    assert_eq!(
        ns.dig_short(NETNS_SERVER1.into(), &["fresh.example.test", "A"]),
        [FRESH_1]
    );
    assert_eq!(
        ns.dig_short(NETNS_SERVER2.into(), &["fresh.example.test", "A"]),
        [FRESH_2]
    );
    if ns.has_v6() {
        assert_eq!(
            ns.dig_short(NETNS_SERVER2_V6.into(), &["whoami.example.test", "TXT"]),
            ["\"server2\""]
        );
        assert_eq!(
            ns.dig_short(NETNS_SERVER1_V6.into(), &["whoami.example.test", "TXT"]),
            ["\"server1\""]
        );
    }
    // Programs inside see the namespace's resolv.conf.
    let out = run(ns.command("cat").arg("/etc/resolv.conf"), T);
    assert_eq!(out.stdout_str(), "nameserver 127.0.0.1\n");

    // getaddrinfo (glibc, via getent) through resolv.conf.
    let out = run(
        ns.command("getent").args(["ahostsv4", "www.example.test"]),
        T,
    );
    out.assert_success();
    assert!(out.stdout_str().starts_with("192.0.2.10 "), "{:?}", out);
    let out = run(
        ns.command("getent").args(["hosts", "fresh.example.test"]),
        T,
    );
    out.assert_success();
    assert!(out.stdout_str().starts_with(FRESH_1), "{:?}", out);
    let out = run(ns.command("getent").args(["ahosts", "www.example.test"]), T);
    assert!(out.stdout_str().contains("2001:db8::10"), "{:?}", out);
    assert!(out.stdout_str().contains("192.0.2.10"), "{:?}", out);

    // A program that is already running sees an in-place rewrite.
    let inode = std::fs::metadata(ns.resolv_conf_path()).unwrap().ino();
    let flag = std::env::temp_dir().join(format!("bn-netns-flag-{}", std::process::id()));
    let _ = std::fs::remove_file(&flag);
    let script = format!(
        "cat /etc/resolv.conf; echo ---; while [ ! -e {f} ]; do sleep 0.01; done; cat /etc/resolv.conf",
        f = flag.display()
    );
    let mut child = ns
        .command("sh")
        .args(["-c", &script])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    loop {
        let mut l = String::new();
        assert!(reader.read_line(&mut l).unwrap() > 0, "sh ended early");
        if l == "---\n" {
            break;
        }
        first.push_str(&l);
    }
    assert_eq!(first, "nameserver 127.0.0.1\n");
    ns.set_resolv_conf("nameserver 127.0.0.2\noptions timeout:1 attempts:1\n");
    std::fs::write(&flag, b"").unwrap();
    let mut second = String::new();
    std::io::Read::read_to_string(&mut reader, &mut second).unwrap();
    let _ = child.wait();
    let _ = std::fs::remove_file(&flag);
    assert_eq!(
        second,
        "nameserver 127.0.0.2\noptions timeout:1 attempts:1\n"
    );
    assert_eq!(
        std::fs::metadata(ns.resolv_conf_path()).unwrap().ino(),
        inode,
        "resolv.conf must be rewritten in place"
    );

    // A new process now resolves through server 2.
    let out = run(
        ns.command("getent").args(["hosts", "fresh.example.test"]),
        T,
    );
    out.assert_success();
    assert!(out.stdout_str().starts_with(FRESH_2), "{:?}", out);

    // Own /etc/hosts.
    ns.set_hosts("192.0.2.250 hosts-only.test\n");
    let out = run(ns.command("getent").args(["hosts", "hosts-only.test"]), T);
    assert!(out.stdout_str().starts_with("192.0.2.250"), "{:?}", out);
}

fn netns_exists(name: &str) -> bool {
    let out = run(std::process::Command::new("ip").args(["netns", "list"]), T);
    out.stdout_str()
        .lines()
        .any(|l| l.split_whitespace().next() == Some(name))
}

#[test]
fn netns_dns_cleans_up_also_after_a_panic() {
    let ns = NetnsDns::start();
    let name = ns.name().to_string();
    assert!(netns_exists(&name));
    assert!(Path::new("/etc/netns").join(&name).is_dir());
    // A long-running program started inside is killed too.
    let mut sleeper = ns.command("sleep").arg("60").spawn().unwrap();
    drop(ns);
    assert!(!netns_exists(&name), "namespace {} left behind", name);
    assert!(!Path::new("/etc/netns").join(&name).exists());
    let st = sleeper.wait().unwrap();
    assert!(!st.success());

    // A namespace left by a test process that was killed (PID 0 never
    // exists) is removed by the next start.
    let stale = format!("bn-dns-0-{}", std::process::id());
    run(
        std::process::Command::new("ip").args(["netns", "add", &stale]),
        T,
    )
    .assert_success();
    std::fs::create_dir_all(Path::new("/etc/netns").join(&stale)).unwrap();
    let ns = NetnsDns::start();
    assert!(
        !netns_exists(&stale),
        "stale namespace {} not removed",
        stale
    );
    assert!(!Path::new("/etc/netns").join(&stale).exists());
    drop(ns);

    let (tx, rx) = std::sync::mpsc::channel();
    let r = std::thread::spawn(move || {
        let ns = NetnsDns::start();
        tx.send(ns.name().to_string()).unwrap();
        panic!("deliberate panic with a NetnsDns alive");
    })
    .join();
    assert!(r.is_err());
    let name = rx.recv().unwrap();
    assert!(
        !netns_exists(&name),
        "namespace {} left behind after panic",
        name
    );
    assert!(!Path::new("/etc/netns").join(&name).exists());
}
