//! The zones served by the `Nsd`, `Knot` and `NetnsDns` peers (identical
//! apart from `fresh` and `whoami`, which tell instances apart).
//!
//! `example.test` (TTL 300 unless noted; dig +short order = zone order, nsd
//! and knot do not rotate):
//!
//! | name                | type  | value(s)                                                     |
//! |---------------------|-------|--------------------------------------------------------------|
//! | example.test        | SOA   | ns1.example.test. hostmaster.example.test. 2026112401 3600 600 86400 300 |
//! | example.test        | NS    | ns1.example.test.                                            |
//! | example.test        | A     | 192.0.2.10                                                   |
//! | example.test        | AAAA  | 2001:db8::10                                                 |
//! | example.test        | MX    | 10 mail.example.test. / 20 mail2.example.test.               |
//! | example.test        | TXT   | "v=spf1 -all"                                                |
//! | ns1                 | A     | 127.0.0.1                                                    |
//! | www                 | CNAME | example.test.                                                |
//! | multi               | A     | 192.0.2.11, 192.0.2.12                                       |
//! | multi               | AAAA  | 2001:db8::11, 2001:db8::12                                   |
//! | v4only              | A     | 192.0.2.13                                                   |
//! | v6only              | AAAA  | 2001:db8::20                                                 |
//! | mail / mail2        | A     | 192.0.2.25 / 192.0.2.26                                      |
//! | _http._tcp          | SRV   | 10 60 8080 www.example.test.                                 |
//! | _sip._udp           | SRV   | 5 0 5060 sip.example.test.   (sip A 192.0.2.50)              |
//! | _multi._tcp         | SRV   | 10 0 8000 srv0. / 10 10 8010 srv10. / 10 90 8090 srv90. / 20 0 8020 backup. (all .example.test.) |
//! | srv0/srv10/srv90/backup | A | 192.0.2.60 / .61 / .62 / .63                                 |
//! | txt                 | TXT   | "hello world" "second string" (one RR, two strings)          |
//! | empty               | TXT   | "" (one empty string)                                        |
//! | bytes               | TXT   | "caf\195\169" "\255\000\001" "quote\"back\\slash" (one RR, 3 strings: UTF-8 "café", bytes FF 00 01, `quote"back\slash`) |
//! | chain1              | CNAME | chain2.example.test.                                         |
//! | chain2              | CNAME | www.example.test.  (→ example.test. → A 192.0.2.10)          |
//! | dangling            | CNAME | nosuch.example.test. (does not exist: NXDOMAIN with the CNAME in the answer) |
//! | loop1 / loop2       | CNAME | loop2.example.test. / loop1.example.test.                    |
//! | *.wild              | A     | 192.0.2.90 (any name under wild.example.test)               |
//! | ttl1 / ttl0         | A     | 192.0.2.31 (TTL 1) / 192.0.2.30 (TTL 0)                      |
//! | fresh               | A     | per instance: `Nsd`/`Knot` and `NetnsDns` server 1: 192.0.2.101, server 2: 192.0.2.102 |
//! | whoami              | TXT   | per instance: "nsd", "knot", "server1", "server2"            |
//! | mid                 | A     | 203.0.113.1 ..= 203.0.113.40 (40 RRs: ~680 bytes, > 512 so TC without EDNS, fits 1232 with EDNS) |
//! | big                 | A     | 198.51.100.1 ..= 198.51.100.100 (100 RRs: ~1650 bytes, TC over UDP even with EDNS 1232; complete over TCP) |
//! | bigtxt              | TXT   | 40 RRs "bigtxt record NN " + 'x' padding to 100 chars, NN = 01..40 (~4.5 KB) |
//!
//! No other names exist: `nosuch.example.test` → NXDOMAIN (SOA in authority);
//! `v6only A`, `v4only AAAA` → NOERROR/NODATA. Names outside the served zones
//! (e.g. `example.com`) → REFUSED.
//!
//! `2.0.192.in-addr.arpa`: 10 PTR example.test., 11 PTR multi.example.test.,
//! 25 PTR mail.example.test.
//!
//! `8.b.d.0.1.0.0.2.ip6.arpa` (2001:db8::/32): 2001:db8::10 PTR example.test.,
//! 2001:db8::20 PTR v6only.example.test.

use std::path::Path;

use super::workdir::write_file;

pub const ZONE_NAMES: [&str; 3] = [
    "example.test",
    "2.0.192.in-addr.arpa",
    "8.b.d.0.1.0.0.2.ip6.arpa",
];

/// Number of A records of `big.example.test` / `mid.example.test`, TXT
/// records of `bigtxt.example.test`.
pub const BIG_A_COUNT: usize = 100;
pub const MID_A_COUNT: usize = 40;
pub const BIGTXT_COUNT: usize = 40;

/// `fresh.example.test` on the first / second server.
pub const FRESH_1: &str = "192.0.2.101";
pub const FRESH_2: &str = "192.0.2.102";

const EXAMPLE_TEST: &str = r#"$ORIGIN example.test.
$TTL 300
@       IN SOA  ns1.example.test. hostmaster.example.test. ( 2026112401 3600 600 86400 300 )
@       IN NS   ns1.example.test.
ns1     IN A    127.0.0.1
@       IN A    192.0.2.10
@       IN AAAA 2001:db8::10
www     IN CNAME @
multi   IN A    192.0.2.11
multi   IN A    192.0.2.12
multi   IN AAAA 2001:db8::11
multi   IN AAAA 2001:db8::12
v4only  IN A    192.0.2.13
v6only  IN AAAA 2001:db8::20
@       IN MX   10 mail.example.test.
@       IN MX   20 mail2.example.test.
mail    IN A    192.0.2.25
mail2   IN A    192.0.2.26
_http._tcp  IN SRV 10 60 8080 www.example.test.
_sip._udp   IN SRV 5 0 5060 sip.example.test.
sip     IN A    192.0.2.50
_multi._tcp IN SRV 10 0 8000 srv0.example.test.
_multi._tcp IN SRV 10 10 8010 srv10.example.test.
_multi._tcp IN SRV 10 90 8090 srv90.example.test.
_multi._tcp IN SRV 20 0 8020 backup.example.test.
srv0    IN A    192.0.2.60
srv10   IN A    192.0.2.61
srv90   IN A    192.0.2.62
backup  IN A    192.0.2.63
@       IN TXT  "v=spf1 -all"
txt     IN TXT  "hello world" "second string"
empty   IN TXT  ""
bytes   IN TXT  "caf\195\169" "\255\000\001" "quote\"back\\slash"
chain1  IN CNAME chain2
chain2  IN CNAME www
dangling IN CNAME nosuch.example.test.
loop1   IN CNAME loop2
loop2   IN CNAME loop1
*.wild  IN A    192.0.2.90
ttl1  1 IN A    192.0.2.31
ttl0  0 IN A    192.0.2.30
fresh   IN A    @FRESH@
whoami  IN TXT  "@WHOAMI@"
"#;

const REVERSE_V4: &str = r#"$ORIGIN 2.0.192.in-addr.arpa.
$TTL 300
@  IN SOA ns1.example.test. hostmaster.example.test. ( 1 3600 600 86400 300 )
@  IN NS  ns1.example.test.
10 IN PTR example.test.
11 IN PTR multi.example.test.
25 IN PTR mail.example.test.
"#;

const REVERSE_V6: &str = r#"$ORIGIN 8.b.d.0.1.0.0.2.ip6.arpa.
$TTL 300
@  IN SOA ns1.example.test. hostmaster.example.test. ( 1 3600 600 86400 300 )
@  IN NS  ns1.example.test.
0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0 IN PTR example.test.
0.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0 IN PTR v6only.example.test.
"#;

/// The `example.test` zone file text for one instance; `extra` (zone-file
/// lines relative to example.test.) is appended.
pub fn example_test_zone(fresh: &str, whoami: &str, extra: &str) -> String {
    let mut z = EXAMPLE_TEST
        .replace("@FRESH@", fresh)
        .replace("@WHOAMI@", whoami);
    for i in 1..=MID_A_COUNT {
        z.push_str(&format!("mid     IN A    203.0.113.{}\n", i));
    }
    for i in 1..=BIG_A_COUNT {
        z.push_str(&format!("big     IN A    198.51.100.{}\n", i));
    }
    for i in 1..=BIGTXT_COUNT {
        z.push_str(&format!("bigtxt  IN TXT  \"{}\"\n", bigtxt_string(i)));
    }
    z.push_str(extra);
    if !z.ends_with('\n') {
        z.push('\n');
    }
    z
}

/// The string of the `i`-th (1-based) TXT record of `bigtxt.example.test`:
/// "bigtxt record 07 xxxx…", 100 characters.
pub fn bigtxt_string(i: usize) -> String {
    let mut s = format!("bigtxt record {:02} ", i);
    while s.len() < 100 {
        s.push('x');
    }
    s
}

/// Write the three zone files into `dir` as `<zone>.zone`.
pub fn write_zones(dir: &Path, fresh: &str, whoami: &str, extra: &str) {
    write_file(
        &dir.join("example.test.zone"),
        example_test_zone(fresh, whoami, extra).as_bytes(),
    );
    write_file(
        &dir.join("2.0.192.in-addr.arpa.zone"),
        REVERSE_V4.as_bytes(),
    );
    write_file(
        &dir.join("8.b.d.0.1.0.0.2.ip6.arpa.zone"),
        REVERSE_V6.as_bytes(),
    );
}
