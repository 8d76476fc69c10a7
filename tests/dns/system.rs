//! The system resolver (getaddrinfo) and resolv.conf, inside a network namespace whose
//! resolv.conf names nsd instances on 127.0.0.1:53 and 127.0.0.2:53.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::peers::*;

const T: Duration = Duration::from_secs(30);

#[test]
fn host_uses_the_system_resolver() {
    let ns = NetnsDns::start();
    let out = run(ns.boardnet().args(["host", "-4", "www.example.test"]), T);
    out.assert_success();
    assert_eq!(out.stdout_str().trim(), "192.0.2.10");
    let out = run(
        ns.boardnet().args(["host", "--json", "multi.example.test"]),
        T,
    );
    out.assert_success();
    let v: Value = serde_json::from_str(out.stdout_str().trim()).unwrap();
    let addrs: Vec<&str> = v["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        addrs.contains(&"192.0.2.11") && addrs.contains(&"192.0.2.12"),
        "{addrs:?}"
    );
    // /etc/hosts comes first (nsswitch "files dns").
    ns.set_hosts("127.0.0.1 localhost\n10.9.8.7 board.lan\n");
    let out = run(ns.boardnet().args(["host", "board.lan"]), T);
    out.assert_success();
    assert_eq!(out.stdout_str().trim(), "10.9.8.7");
    // Reverse through getnameinfo and the PTR zone.
    let out = run(ns.boardnet().args(["host", "-x", "192.0.2.11"]), T);
    out.assert_success();
    assert_eq!(out.stdout_str().trim(), "multi.example.test");
    // Not found: exit 3 with the resolver's own reason.
    let out = run(ns.boardnet().args(["host", "nosuch.example.test"]), T);
    out.assert_code(3);
    assert!(out.stderr.contains("nosuch.example.test"), "{}", out.stderr);
    assert!(
        out.stderr.contains("Name or service not known"),
        "{}",
        out.stderr
    );
    // An IP address resolves to itself without any lookup.
    let out = run_boardnet(["host", "192.0.2.200"], T);
    out.assert_success();
    assert_eq!(out.stdout_str().trim(), "192.0.2.200");
}

#[test]
fn dns_follows_resolv_conf_servers_search_and_ndots() {
    let ns = NetnsDns::start();
    let ask = |args: &[&str]| {
        let out = run(ns.boardnet().arg("dns").args(args), T);
        out.assert_success();
        out.stdout_str().trim().to_string()
    };
    assert_eq!(ask(&["fresh.example.test"]), FRESH_1);
    ns.set_resolv_conf(&format!("nameserver {NETNS_SERVER2}\n"));
    assert_eq!(ask(&["fresh.example.test"]), FRESH_2);
    // A silent first server (nothing on 127.0.0.3:53: refused) then the second.
    ns.set_resolv_conf(&format!(
        "nameserver 127.0.0.3\nnameserver {NETNS_SERVER2}\noptions timeout:1\n"
    ));
    assert_eq!(ask(&["fresh.example.test"]), FRESH_2);
    // search + ndots: a single label is tried with the search domain first.
    ns.set_resolv_conf(&format!(
        "search example.test\nnameserver {NETNS_SERVER1}\n"
    ));
    assert_eq!(ask(&["fresh"]), FRESH_1);
    assert_eq!(
        ask(&["-v", "fresh"])
            .lines()
            .last()
            .map(|l| l.starts_with(";; fresh.example.test. A")),
        Some(true)
    );
    // ndots:3: "fresh.example" has fewer dots, so it is searched first too.
    ns.set_resolv_conf(&format!(
        "search test\noptions ndots:3\nnameserver {NETNS_SERVER1}\n"
    ));
    assert_eq!(ask(&["fresh.example"]), FRESH_1);
}

/// A running child with line-by-line stdin/stdout.
struct Interactive {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Interactive {
    fn start(mut cmd: std::process::Command) -> Interactive {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Interactive { child, lines }
    }

    fn ask(&mut self, name: &str) -> String {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{name}").expect("write");
        stdin.flush().expect("flush");
        self.lines
            .recv_timeout(T)
            .unwrap_or_else(|_| panic!("no answer for {name}"))
    }
}

impl Drop for Interactive {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_running_process_follows_a_resolv_conf_change() {
    let ns = NetnsDns::start();
    for command in ["host", "dns"] {
        ns.set_resolv_conf(&format!("nameserver {NETNS_SERVER1}\n"));
        let mut cmd = ns.boardnet();
        cmd.args([command, "-f", "-"]);
        let mut p = Interactive::start(cmd);
        assert_eq!(p.ask("fresh.example.test"), FRESH_1, "{command}");
        // The bearer changed: the file is rewritten in place while the process runs.
        ns.set_resolv_conf(&format!("nameserver {NETNS_SERVER2}\n"));
        // Changes are noticed at most once a second (one stat per lookup burst).
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(p.ask("fresh.example.test"), FRESH_2, "{command}");
    }
}
