//! What goes wrong, and the exit code and message it gets: refused, reset mid-stream, a
//! connect that hangs (a namespace whose route swallows SYNs), an address in use, a socket
//! path the user may not write, names that do not resolve.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use crate::peers::*;
use crate::streams::{connect, payload};

const T: Duration = Duration::from_secs(30);

#[test]
fn refused_is_exit_4_for_tcp_and_unix() {
    let out = connect(&format!("tcp://127.0.0.1:{}", free_port()), &[], b"");
    out.assert_code(4);
    assert!(
        out.stderr.contains("connection refused by 127.0.0.1:"),
        "{out:?}"
    );
    let dir = WorkDir::new();
    let path = dir.path().join("nobody.sock");
    let out = connect(&format!("unix:{}", path.display()), &[], b"");
    out.assert_code(4);
    assert!(out.stderr.contains("no socket at"), "{out:?}");
    // A socket file whose server is gone refuses too.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    let out = connect(&format!("unix:{}", path.display()), &[], b"");
    out.assert_code(4);
    assert!(out.stderr.contains("refused"), "{out:?}");
}

#[test]
fn a_peer_reset_mid_stream_is_exit_4() {
    let peer = ResetPeer::start(64 * 1024);
    let out = connect(&peer.url(), &[], &payload(4 << 20, 11));
    out.assert_code(4);
    assert!(out.stderr.contains("reset"), "{out:?}");
    assert!(peer.wait_for_resets(1, T));
}

#[test]
fn a_connect_that_hangs_times_out_with_exit_5() {
    require_root_or_fail("a network namespace whose route swallows SYNs");
    let target = HangingConnectTarget::new();
    let mut cmd = target.boardnet();
    cmd.args(["connect", &target.target_url(), "--timeout", "1"]);
    let out = run(&mut cmd, T);
    out.assert_code(5);
    assert!(out.stderr.contains("timed out after 1 s"), "{out:?}");
    assert!(
        out.elapsed >= Duration::from_millis(900) && out.elapsed < Duration::from_secs(10),
        "took {:?}",
        out.elapsed
    );
    // The connect deadline also covers a TLS handshake that never starts.
    if !cfg!(feature = "tls") {
        return;
    }
    let url = target.target_url().replace("tcp://", "tls://");
    let mut cmd = target.boardnet();
    cmd.args(["connect", &url, "--timeout", "0.5", "-k"]);
    run(&mut cmd, T).assert_code(5);
}

#[cfg(feature = "tls")]
#[test]
fn a_tls_server_that_never_answers_the_handshake_times_out() {
    let silent = SilentPeer::start();
    let out = connect(
        &silent.url().replace("tcp://", "tls://"),
        &["--timeout", "1", "-k"],
        b"",
    );
    out.assert_code(5);
    assert!(out.stderr.contains("timed out"), "{out:?}");
}

#[test]
fn an_address_in_use_is_exit_2_naming_it() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = run_boardnet(["listen", &format!("tcp://127.0.0.1:{port}"), "--echo"], T);
    out.assert_code(2);
    assert!(
        out.stderr.contains(&format!("127.0.0.1:{port}")) && out.stderr.contains("in use"),
        "{out:?}"
    );
    let out = run_boardnet(["listen", "tcp://192.0.2.1:0"], T);
    out.assert_code(2);
    assert!(out.stderr.contains("not available"), "{out:?}");
}

#[test]
fn a_socket_path_without_permission_is_exit_9() {
    require_root_or_fail("running boardnet as another user");
    require_program("setpriv");
    let dir = WorkDir::new();
    let private = dir.path().join("private");
    std::fs::create_dir(&private).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    // The work dir itself must be reachable for the other user.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let as_nobody = |args: &[&str]| {
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .args(boardnet_argv())
            .args(args);
        run(&mut c, T)
    };
    let path = private.join("s.sock");
    let out = as_nobody(&["listen", &format!("unix:{}", path.display())]);
    out.assert_code(9);
    assert!(
        out.stderr.contains("permission denied") && out.stderr.contains("s.sock"),
        "{out:?}"
    );
    // Connecting to a socket the user may not write.
    let server = crate::listener::Listen::start(&[
        &format!("unix:{}", dir.path().join("root.sock").display()),
        "--echo",
        "--mode",
        "600",
    ]);
    let out = as_nobody(&["connect", &server.url]);
    out.assert_code(9);
    assert!(out.stderr.contains("permission denied"), "{out:?}");
    // A port below 1024: why, said once (it was "permission denied: …: Permission denied").
    let unprivileged_from =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
            .ok()
            .and_then(|t| t.trim().parse::<u16>().ok());
    if unprivileged_from.is_some_and(|p| p > 80) {
        for url in ["tcp://127.0.0.1:80", "udp://127.0.0.1:80"] {
            let out = as_nobody(&["listen", url]);
            assert!(
                out.stderr
                    .contains("ports below 1024 need root or CAP_NET_BIND_SERVICE"),
                "{out:?}"
            );
            assert_eq!(
                out.stderr
                    .to_lowercase()
                    .matches("permission denied")
                    .count(),
                1
            );
        }
    }
}

/// Against a real resolver that answers NXDOMAIN (dnsmasq in a namespace of the test's own):
/// exit 3, and the name is said once ("host not found: X: X: no such name" before).
#[test]
fn names_that_do_not_resolve_are_exit_3_and_named_once() {
    for url in ["tcp://no-such-host.test:80", "udp://no-such-host.test:53"] {
        let out = run_with_local_dns(&["connect", url], T);
        out.assert_code(3);
        assert!(
            out.stderr.contains("host not found: no-such-host.test: "),
            "{out:?}"
        );
        assert_eq!(
            out.stderr.matches("no-such-host.test").count(),
            1,
            "{out:?}"
        );
    }
}

#[test]
fn bad_endpoints_and_options_are_exit_2() {
    for (args, needle) in [
        (&["connect", "localhost:80"][..], "tcp://HOST:PORT"),
        (&["connect", "tcp://h:99999"][..], "65535"),
        (&["connect", "tcp://h:1", "--echo"][..], "listen option"),
        (&["listen", "tls://*:0"][..], "--cert"),
        (&["listen", "unix:"][..], "empty"),
        (&["connect", "sctp://h:1", "--stream", "3"][..], "--streams"),
        (
            &["listen", "udp://*:0", "--join", "1.2.3.4"][..],
            "multicast",
        ),
    ] {
        let out = run_boardnet(args, T);
        out.assert_code(2);
        assert!(out.stderr.contains(needle), "{args:?}: {out:?}");
    }
}

#[test]
fn sctp_without_kernel_support_is_exit_11_naming_the_cause() {
    if in_guest() {
        return; // a host-only check; the guest has SCTP
    }
    let out = run_boardnet(["connect", "sctp://127.0.0.1:9"], Duration::from_secs(10));
    if kernel_has_sctp() {
        // A host with SCTP: nothing listens on port 9, so the association is refused.
        out.assert_code(4);
        return;
    }
    out.assert_code(11);
    let why = if cfg!(feature = "sctp") {
        "kernel has no SCTP support"
    } else {
        "built without SCTP"
    };
    assert!(out.stderr.contains(why), "{out:?}");
    let out = run_boardnet(["listen", "sctp://127.0.0.1:0"], Duration::from_secs(10));
    out.assert_code(11);
    let out = run_boardnet(
        ["listen", "sctp://127.0.0.1:0", "--seqpacket"],
        Duration::from_secs(10),
    );
    out.assert_code(11);
    assert!(out.stderr.contains(why), "{out:?}");
}
