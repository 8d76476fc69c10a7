//! `boardnet dns` against nsd, answer sets checked against `dig +short` on the same server.

use std::time::Duration;

use serde_json::Value;

use crate::peers::*;

const T: Duration = Duration::from_secs(30);

fn server_arg(nsd: &Nsd) -> String {
    nsd.addr().to_string()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn dns_lines(nsd: &Nsd, args: &[&str]) -> (RunOutput, Vec<String>) {
    let server = server_arg(nsd);
    let mut all = vec!["dns", "-s", &server];
    all.extend_from_slice(args);
    let out = run_boardnet(&all, T);
    let lines = out.stdout_str().lines().map(str::to_string).collect();
    (out, lines)
}

#[test]
fn every_type_matches_dig() {
    let nsd = Nsd::start();
    for (rtype, name) in [
        ("A", "example.test"),
        ("A", "multi.example.test"),
        ("A", "www.example.test"),
        ("A", "chain1.example.test"),
        ("A", "wild-card.wild.example.test"),
        ("AAAA", "example.test"),
        ("AAAA", "multi.example.test"),
        ("AAAA", "v6only.example.test"),
        ("CNAME", "www.example.test"),
        ("MX", "example.test"),
        ("NS", "example.test"),
        ("SOA", "example.test"),
        ("SRV", "_http._tcp.example.test"),
        ("SRV", "_sip._udp.example.test"),
        ("SRV", "_multi._tcp.example.test"),
        ("TXT", "example.test"),
        ("TXT", "txt.example.test"),
        ("TXT", "empty.example.test"),
        ("TXT", "bytes.example.test"),
        ("PTR", "10.2.0.192.in-addr.arpa"),
        ("ANY", "multi.example.test"),
        ("A", "v6only.example.test"),
    ] {
        let (out, lines) = dns_lines(&nsd, &["-t", rtype, name]);
        out.assert_success();
        let oracle = nsd.dig_short(&["-t", rtype, name]);
        assert_eq!(sorted(lines), sorted(oracle), "{rtype} {name}");
    }
}

#[test]
fn reverse_lookups_build_the_arpa_names() {
    let nsd = Nsd::start();
    for (addr, want) in [
        ("192.0.2.11", "multi.example.test."),
        ("2001:db8::20", "v6only.example.test."),
    ] {
        let (out, lines) = dns_lines(&nsd, &["-x", addr]);
        out.assert_success();
        assert_eq!(lines, vec![want.to_string()], "{addr}");
        assert_eq!(nsd.dig_short(&["-x", addr]), vec![want.to_string()]);
    }
    let (out, _) = dns_lines(&nsd, &["-x", "not-an-address"]);
    out.assert_code(2);
}

#[test]
fn truncated_udp_answers_are_fetched_over_tcp() {
    let nsd = Nsd::start();
    let (out, lines) = dns_lines(&nsd, &["--json", "big.example.test"]);
    out.assert_success();
    let v: Value = serde_json::from_str(lines[0].as_str()).unwrap();
    assert_eq!(v["transport"], "tcp");
    assert_eq!(v["records"].as_array().unwrap().len(), BIG_A_COUNT);
    // The oracle needs +tcp itself; compare the sets.
    let (_, plain) = dns_lines(&nsd, &["big.example.test"]);
    assert_eq!(
        sorted(plain),
        sorted(nsd.dig_short(&["+tcp", "big.example.test"]))
    );
    // 40 A records fit in 1232 bytes with EDNS: no TCP needed.
    let (_, mid) = dns_lines(&nsd, &["--json", "mid.example.test"]);
    let v: Value = serde_json::from_str(&mid[0]).unwrap();
    assert_eq!(
        (
            v["transport"].as_str(),
            v["records"].as_array().unwrap().len()
        ),
        (Some("udp"), MID_A_COUNT)
    );
    let (out, txt) = dns_lines(&nsd, &["-t", "TXT", "bigtxt.example.test"]);
    out.assert_success();
    assert_eq!(txt.len(), BIGTXT_COUNT);
    // --tcp from the start.
    let (out, lines) = dns_lines(&nsd, &["--tcp", "--json", "example.test"]);
    out.assert_success();
    assert_eq!(
        serde_json::from_str::<Value>(&lines[0]).unwrap()["transport"],
        "tcp"
    );
}

#[test]
fn mx_by_preference_and_srv_by_rfc2782() {
    let nsd = Nsd::start();
    let (out, lines) = dns_lines(&nsd, &["-t", "MX", "example.test"]);
    out.assert_success();
    assert_eq!(lines, ["10 mail.example.test.", "20 mail2.example.test."]);
    // Priority 10 group (weights 0, 10, 90) before the priority 20 backup, every time; the
    // weight-90 target is first most of the time.
    let mut first_is_srv90 = 0;
    for _ in 0..40 {
        let (out, lines) = dns_lines(&nsd, &["-t", "SRV", "_multi._tcp.example.test"]);
        out.assert_success();
        assert_eq!(lines.len(), 4);
        assert!(lines[3].ends_with("backup.example.test."), "{lines:?}");
        assert!(lines[..3].iter().all(|l| l.starts_with("10 ")), "{lines:?}");
        first_is_srv90 += usize::from(lines[0].contains("srv90"));
    }
    assert!(
        first_is_srv90 >= 28,
        "weight 90 of 100 came first {first_is_srv90}/40 times"
    );
}

#[test]
fn verbose_and_json_forms() {
    let nsd = Nsd::start();
    let (out, lines) = dns_lines(&nsd, &["-v", "-t", "TXT", "txt.example.test"]);
    out.assert_success();
    assert_eq!(
        lines[0],
        "txt.example.test.\t300\tIN\tTXT\t\"hello world\" \"second string\""
    );
    assert!(
        lines[1].starts_with(";; txt.example.test. TXT: 1 record(s) from 127.0.0.1:"),
        "{lines:?}"
    );
    let (out, lines) = dns_lines(&nsd, &["--json", "-t", "SRV", "_http._tcp.example.test"]);
    out.assert_success();
    let v: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(v["type"], "SRV");
    let r = &v["records"][0];
    assert_eq!(
        (
            r["priority"].as_u64(),
            r["weight"].as_u64(),
            r["port"].as_u64()
        ),
        (Some(10), Some(60), Some(8080))
    );
    assert_eq!(r["target"], "www.example.test.");
    assert_eq!(r["ttl"], 300);
    let (_, lines) = dns_lines(&nsd, &["--json", "-t", "TXT", "txt.example.test"]);
    let v: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(
        v["records"][0]["strings"],
        serde_json::json!(["hello world", "second string"])
    );
}

#[test]
fn errors_map_to_exit_codes() {
    let nsd = Nsd::start();
    let (out, _) = dns_lines(&nsd, &["nosuch.example.test"]);
    out.assert_code(8);
    assert!(out.stderr.contains("NXDOMAIN"), "{}", out.stderr);
    let (out, lines) = dns_lines(&nsd, &["--json", "example.com"]);
    out.assert_code(8);
    let v: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(v["error"]["kind"], "ServerRefusedError");
    // NODATA is an answer with no records: exit 0, nothing printed.
    let (out, lines) = dns_lines(&nsd, &["-t", "AAAA", "v4only.example.test"]);
    out.assert_success();
    assert!(lines.is_empty(), "{lines:?}");
    for (args, needle) in [
        (&["-t", "BOGUS", "x.test"][..], "unknown record type"),
        (&["a..b"][..], "empty label"),
        (&["--tries", "0", "x.test"][..], "at least 1"),
    ] {
        let (out, _) = dns_lines(&nsd, args);
        out.assert_code(2);
        assert!(out.stderr.contains(needle), "{args:?}: {}", out.stderr);
    }
}

#[test]
fn batches_keep_input_order_with_many_lookups_in_flight() {
    let nsd = Nsd::start();
    let names = [
        "example.test",
        "multi.example.test",
        "nosuch.example.test",
        "mail.example.test",
        "sip.example.test",
    ];
    let dir = WorkDir::new();
    let file = dir.write("names.txt", names.repeat(40).join("\n") + "\n# comment\n\n");
    let (out, lines) = dns_lines(
        &nsd,
        &["--json", "--parallel", "50", "-f", file.to_str().unwrap()],
    );
    out.assert_code(8);
    assert_eq!(lines.len(), 200);
    for (i, line) in lines.iter().enumerate() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["name"], names[i % names.len()], "line {i}");
    }
    // Names from stdin, and on the command line with -x together.
    let server = server_arg(&nsd);
    let out = run_with_input(
        boardnet().args([
            "dns",
            "-s",
            &server,
            "-f",
            "-",
            "-x",
            "192.0.2.25",
            "www.example.test",
        ]),
        b"mail2.example.test\n",
        T,
    );
    out.assert_success();
    assert_eq!(
        out.stdout_str().lines().collect::<Vec<_>>(),
        [
            "example.test.",
            "192.0.2.10",
            "mail.example.test.",
            "192.0.2.26"
        ]
    );
}

#[test]
fn ipv6_server() {
    let nsd = Nsd::start();
    let Some(v6) = nsd.addr_v6() else {
        panic!("no ::1 on this machine: the IPv6 server test cannot run");
    };
    let out = run_boardnet(
        ["dns", "-s", &v6.to_string(), "-t", "AAAA", "example.test"],
        T,
    );
    out.assert_success();
    assert_eq!(out.stdout_str().trim(), "2001:db8::10");
}

#[test]
fn knot_answers_the_same_as_dig_says() {
    let knot = Knot::start();
    let server = knot.addr().to_string();
    for (rtype, name) in [
        ("A", "multi.example.test"),
        ("MX", "example.test"),
        ("TXT", "bytes.example.test"),
        ("SRV", "_multi._tcp.example.test"),
        ("A", "big.example.test"),
    ] {
        let out = run_boardnet(["dns", "-s", &server, "-t", rtype, name], T);
        out.assert_success();
        let lines = out.stdout_str().lines().map(str::to_string).collect();
        let mut oracle = knot.dig_short(&["+tcp", "-t", rtype, name]);
        oracle.sort();
        assert_eq!(sorted(lines), oracle, "{rtype} {name}");
    }
}
