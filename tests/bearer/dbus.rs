//! boardnet's own D-Bus codec and connection (`boardnet::dbus`) against a real dbus-daemon on
//! a private bus: Hello, calls and error replies, AddMatch and a signal sent by dbus-send, a
//! callee that never answers.

use std::time::{Duration, Instant};

use boardnet::dbus::connection::{BusError, Connection};
use boardnet::dbus::message::Message;
use boardnet::dbus::wire::Value;

use crate::peers::*;

const T: Duration = Duration::from_secs(10);

fn bus_call(member: &str, body: Vec<Value>) -> Message {
    Message::method_call(
        "org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus",
        member,
    )
    .with_body(body)
}

#[test]
fn our_codec_talks_to_a_real_dbus_daemon() {
    let bus = PrivateBus::new();
    let mut conn = Connection::open(bus.address(), T).unwrap();
    assert!(
        conn.unique_name().starts_with(':'),
        "{}",
        conn.unique_name()
    );
    let names = conn.call(bus_call("ListNames", vec![]), T).unwrap();
    let listed: Vec<&str> = names.body[0]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(listed.contains(&"org.freedesktop.DBus"), "{listed:?}");
    assert!(listed.contains(&conn.unique_name()), "{listed:?}");
    // An error reply is an error with its name.
    match conn.call(
        bus_call("GetNameOwner", vec![Value::Str("net.connman".into())]),
        T,
    ) {
        Err(BusError::Remote { name, .. }) => {
            assert_eq!(name, "org.freedesktop.DBus.Error.NameHasNoOwner")
        }
        other => panic!("{other:?}"),
    }
    // A signal someone else sends arrives once we asked for it.
    conn.add_match("type='signal',interface='org.boardnet.Test'", T)
        .unwrap();
    let sent = run(
        std::process::Command::new("dbus-send")
            .arg(format!("--bus={}", bus.address()))
            .args([
                "--type=signal",
                "/org/boardnet",
                "org.boardnet.Test.Ping",
                "string:hello",
                "uint32:7",
            ]),
        T,
    );
    assert!(sent.success(), "{sent:?}");
    let deadline = Instant::now() + T;
    let signal = loop {
        conn.read_available().unwrap();
        if let Some(m) =
            std::iter::from_fn(|| conn.next_message()).find(|m| m.member.as_deref() == Some("Ping"))
        {
            break m;
        }
        assert!(Instant::now() < deadline, "no signal");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(signal.member.as_deref(), Some("Ping"));
    assert_eq!(signal.body, vec![Value::Str("hello".into()), Value::U32(7)]);

    // Far more than one read's worth: one read_available takes all of it (a reactor
    // watching edge-triggered is not told twice).
    let big = "x".repeat(4000);
    for n in 0..20 {
        let sent = run(
            std::process::Command::new("dbus-send")
                .arg(format!("--bus={}", bus.address()))
                .args(["--type=signal", "/org/boardnet", "org.boardnet.Test.Big"])
                .arg(format!("string:{big}"))
                .arg(format!("uint32:{n}")),
            T,
        );
        assert!(sent.success(), "{sent:?}");
    }
    std::thread::sleep(Duration::from_millis(200));
    conn.read_available().unwrap();
    let got = std::iter::from_fn(|| conn.next_message())
        .filter(|m| m.member.as_deref() == Some("Big"))
        .count();
    assert_eq!(got, 20);
}

#[test]
fn a_callee_that_never_answers_is_a_bounded_wait_naming_the_call() {
    let bus = PrivateBus::new();
    let silent = Connection::open(bus.address(), T).unwrap();
    let mut conn = Connection::open(bus.address(), T).unwrap();
    let call = Message::method_call(silent.unique_name(), "/", "org.boardnet.Silent", "Wait");
    let t0 = Instant::now();
    match conn.call(call, Duration::from_millis(300)) {
        Err(e @ BusError::Timeout { .. }) => {
            assert!(e.to_string().contains("org.boardnet.Silent.Wait"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    assert!(t0.elapsed() < Duration::from_secs(5));
    // Nothing listens at a path: a clear connect error.
    match Connection::open("unix:path=/nonexistent/bus", T) {
        Err(e @ BusError::Connect(..)) => assert!(e.to_string().contains("/nonexistent/bus")),
        other => panic!("{other:?}"),
    }
}
