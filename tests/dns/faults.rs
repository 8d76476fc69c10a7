//! Misbehaving servers: spoofed and mismatched replies are dropped, garbage is an invalid
//! reply, silence is a timeout with fallback to the next server, truncation means TCP.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::peers::*;

const T: Duration = Duration::from_secs(30);

fn ask(servers: &[&DnsFault], extra: &[&str]) -> RunOutput {
    let mut args: Vec<String> = vec!["dns".into(), "--json".into()];
    for s in servers {
        args.push("-s".into());
        args.push(s.addr().to_string());
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push("probe.test".into());
    run_boardnet(&args, T)
}

fn result(out: &RunOutput) -> Value {
    serde_json::from_str(out.stdout_str().lines().next().unwrap_or("{}"))
        .unwrap_or_else(|e| panic!("{e}: {out:?}"))
}

fn addresses(v: &Value) -> Vec<String> {
    v["records"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|x| x["data"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn mismatched_replies_are_dropped_and_the_right_one_taken() {
    for script in [
        DnsScript::WrongIdThenRight,
        DnsScript::WrongQuestionThenRight,
        DnsScript::WrongSourceThenRight,
    ] {
        let label = format!("{script:?}");
        let fault = DnsFault::start(script);
        let out = ask(&[&fault], &["--timeout", "5", "--tries", "1"]);
        out.assert_success();
        assert_eq!(
            addresses(&result(&out)),
            [FAULT_ANSWER.to_string()],
            "{label}"
        );
    }
}

#[test]
fn garbage_and_cut_replies_are_invalid_replies() {
    for script in [DnsScript::Garbage, DnsScript::TruncatedReply] {
        let label = format!("{script:?}");
        let fault = DnsFault::start(script);
        let t0 = Instant::now();
        let out = ask(&[&fault], &["--timeout", "1", "--tries", "1"]);
        out.assert_code(7);
        let v = result(&out);
        assert_eq!(v["error"]["kind"], "InvalidReplyError", "{label}: {v}");
        assert!(t0.elapsed() < Duration::from_secs(5), "{label}");
    }
}

#[test]
fn server_answers_map_to_exit_8() {
    for (script, kind) in [
        (DnsScript::ServFail, "ServerFailureError"),
        (DnsScript::Refused, "ServerRefusedError"),
        (DnsScript::NxDomain, "NotFoundError"),
    ] {
        let fault = DnsFault::start(script);
        let out = ask(&[&fault], &["--timeout", "2", "--tries", "1"]);
        out.assert_code(8);
        assert_eq!(result(&out)["error"]["kind"], kind);
    }
}

#[test]
fn silence_times_out_after_every_try() {
    let fault = DnsFault::start(DnsScript::Silent);
    let t0 = Instant::now();
    let out = ask(&[&fault], &["--timeout", "0.5", "--tries", "3"]);
    out.assert_code(5);
    assert_eq!(result(&out)["error"]["kind"], "TimeoutError");
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert_eq!(fault.udp_queries(), 3);
    // Each try comes from a new socket (a fresh source port) with a fresh ID.
    let ids: std::collections::HashSet<[u8; 2]> =
        fault.queries().iter().map(|(_, q)| [q[0], q[1]]).collect();
    assert_eq!(ids.len(), 3, "query IDs repeat");
}

#[test]
fn a_silent_server_falls_back_to_the_next() {
    let silent = DnsFault::start(DnsScript::Silent);
    let good = DnsFault::start(DnsScript::Answer);
    let t0 = Instant::now();
    let out = ask(&[&silent, &good], &["--timeout", "0.5", "--tries", "1"]);
    out.assert_success();
    assert_eq!(addresses(&result(&out)), [FAULT_ANSWER.to_string()]);
    assert!(t0.elapsed() >= Duration::from_millis(500));
    assert_eq!((silent.udp_queries(), good.udp_queries()), (1, 1));
    // A lost datagram is retransmitted on the next try.
    let lossy = DnsFault::start(DnsScript::DropFirst(1));
    let out = ask(&[&lossy], &["--timeout", "0.5", "--tries", "2"]);
    out.assert_success();
    assert_eq!(lossy.udp_queries(), 2);
}

#[test]
fn truncation_retries_over_tcp_and_a_broken_tcp_reply_fails() {
    let fault = DnsFault::start(DnsScript::TcOverUdpThenTcp);
    let out = ask(&[&fault], &["--timeout", "2", "--tries", "1"]);
    out.assert_success();
    let v = result(&out);
    assert_eq!(v["transport"], "tcp");
    let want: Vec<String> = fault_tcp_answers()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(addresses(&v), want);
    assert_eq!((fault.udp_queries(), fault.tcp_connections()), (1, 1));

    let broken = DnsFault::start(DnsScript::TcpBroken);
    let out = ask(&[&broken], &["--timeout", "2", "--tries", "1"]);
    out.assert_code(4);
    assert!(
        out.stdout_str().contains("mid-reply"),
        "{}",
        out.stdout_str()
    );
}

#[test]
fn no_server_listening_is_unreachable() {
    let port = free_port();
    let out = run_boardnet(
        [
            "dns",
            "-s",
            &format!("127.0.0.1:{port}"),
            "--timeout",
            "2",
            "--tries",
            "1",
            "x.test",
        ],
        T,
    );
    out.assert_code(4);
    assert!(out.stderr.contains("refused"), "{}", out.stderr);
}

/// `dns -f` with `--parallel` prints in input order, so answers wait behind an earlier name
/// that does not answer. Their number is bounded (4 x --parallel) and the name file is read as
/// names are needed: a batch of 40,000 names behind one that never answers costs no more
/// memory than one of 2,000 (it grew by ~55 bytes per name, 60 MB for a million).
#[test]
fn a_slow_first_name_does_not_grow_memory_with_the_batch() {
    let fault = DnsFault::start(DnsScript::SilentFor("never.example.test"));
    let dir = WorkDir::new();
    let batch = |n: usize| {
        let mut text = String::from("never.example.test\n");
        for i in 0..n {
            text.push_str(&format!("host{i}.example.test\n"));
        }
        dir.write(format!("names-{n}.txt"), text)
    };
    let server = format!("127.0.0.1:{}", fault.port());
    let peak = |file: &std::path::Path| {
        peak_rss_kib(
            5,
            &[
                "dns",
                "-s",
                &server,
                "--timeout",
                "2",
                "--tries",
                "1",
                "--parallel",
                "16",
                "-f",
                file.to_str().unwrap(),
            ],
        )
    };
    let small = peak(&batch(2_000));
    let large = peak(&batch(40_000));
    assert!(
        large < small + 2048,
        "40,000 names: {large} KiB peak, 2,000 names: {small} KiB"
    );
}

/// A name line over the limit is one error item, quoted by its first bytes — not echoed whole
/// (a 1 MB name printed 2 MB of stderr) — and the names after it are still looked up.
#[test]
fn an_overlong_name_line_is_quoted_by_a_bounded_prefix() {
    let fault = DnsFault::start(DnsScript::Answer);
    let dir = WorkDir::new();
    let file = dir.write(
        "names.txt",
        format!("{}\nafter.example.test\n", "x".repeat(1 << 20)),
    );
    let out = run_boardnet(
        [
            "dns",
            "-s",
            &format!("127.0.0.1:{}", fault.port()),
            "-f",
            file.to_str().unwrap(),
        ],
        T,
    );
    out.assert_code(2);
    assert!(
        out.stderr.len() < 1000,
        "{} bytes of stderr",
        out.stderr.len()
    );
    assert!(
        out.stderr.contains("line 1 is longer than 1024 bytes"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout_str().trim(), FAULT_ANSWER.to_string());
    for bad in ["0", "100000", "-1"] {
        let out = run_boardnet(["dns", "--parallel", bad, "example.test"], T);
        out.assert_code(2);
        assert!(out.stderr.contains("--parallel"), "{}", out.stderr);
    }
}
