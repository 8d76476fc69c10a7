//! HTTP authentication: Basic (RFC 7617) and Digest (RFC 7616: MD5, SHA-256 and SHA-512-256,
//! their `-sess` variants, `qop=auth`, `userhash`), for servers (`401`, `WWW-Authenticate`) and
//! proxies (`407`, `Proxy-Authenticate`).
//!
//! Sans-IO: [`parse_challenges`] reads a challenge header, [`Digest::authorization`] writes
//! the answer; the request loop decides when to answer. Challenges come from the network, so
//! they are bounded: at most [`MAX_CHALLENGES`] per header and [`MAX_PARAMS`] parameters each,
//! values at most [`MAX_VALUE`] bytes; anything beyond is dropped, never an error.

use std::fmt;

use base64::Engine as _;

/// How a client authenticates with the credentials it was given (curl's `--basic`,
/// `--digest`, `--anyauth`; the same for proxies).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AuthPolicy {
    /// Send Basic credentials with the first request (curl's default).
    #[default]
    Basic,
    /// Send nothing until the server challenges, then answer its Digest challenge only.
    Digest,
    /// Send nothing until the server challenges, then answer the strongest scheme it offers
    /// (Digest before Basic).
    Any,
}

/// The authentication schemes boardnet can answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// RFC 7617: user and password in every request.
    Basic,
    /// RFC 7616: a hash of them with the server's nonce.
    Digest,
}

/// Challenges read from one header, at most.
pub const MAX_CHALLENGES: usize = 16;
/// Parameters per challenge, at most.
pub const MAX_PARAMS: usize = 32;
/// Bytes per parameter value, at most (a nonce is typically 32 to 64).
pub const MAX_VALUE: usize = 1024;

/// One challenge: its scheme (lower-case, as sent) and its parameters (names lower-case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme, lower-case.
    pub scheme: String,
    /// Its parameters, names lower-case.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// A parameter's value (names compare without case).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Read the challenges in a `WWW-Authenticate` or `Proxy-Authenticate` value. Several may
/// share one header (`Digest realm="a", nonce="b", Basic realm="a"`); malformed parts end the
/// parse with what was read so far.
pub fn parse_challenges(value: &str) -> Vec<Challenge> {
    let mut lexer = Lexer {
        rest: value.as_bytes(),
    };
    let mut out: Vec<Challenge> = Vec::new();
    while out.len() < MAX_CHALLENGES {
        lexer.skip(b", \t");
        let Some(scheme) = lexer.token() else { break };
        let mut challenge = Challenge {
            scheme: scheme.to_ascii_lowercase(),
            params: Vec::new(),
        };
        loop {
            lexer.skip(b" \t");
            // A parameter is `name = value`; a token not followed by '=' starts the next
            // challenge (or is a token68, which no scheme we answer uses).
            let save = lexer.rest;
            let Some(name) = lexer.token() else { break };
            lexer.skip(b" \t");
            if !lexer.eat(b'=') {
                lexer.rest = save;
                break;
            }
            lexer.skip(b" \t");
            let Some(value) = lexer.value() else {
                return finish(out, challenge);
            };
            if challenge.params.len() < MAX_PARAMS && value.len() <= MAX_VALUE {
                challenge.params.push((name.to_ascii_lowercase(), value));
            }
            lexer.skip(b" \t");
            if !lexer.eat(b',') {
                break;
            }
            lexer.skip(b" \t,");
            // `, Basic realm=…`: a token followed by a space (not '=') is the next scheme.
            if lexer.next_is_scheme() {
                break;
            }
        }
        // A token68 (`Negotiate abc==`) or anything else unexpected: skip to the next comma.
        if !lexer.rest.is_empty() && !lexer.next_is_scheme() {
            lexer.skip_past(b',');
        }
        out.push(challenge);
    }
    out
}

fn finish(mut out: Vec<Challenge>, last: Challenge) -> Vec<Challenge> {
    out.push(last);
    out
}

/// A cursor over a header value.
struct Lexer<'a> {
    rest: &'a [u8],
}

/// RFC 9110 tchar.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

impl Lexer<'_> {
    fn skip(&mut self, set: &[u8]) {
        while self.rest.first().is_some_and(|b| set.contains(b)) {
            self.rest = &self.rest[1..];
        }
    }

    fn skip_past(&mut self, stop: u8) {
        while let Some((&b, rest)) = self.rest.split_first() {
            self.rest = rest;
            if b == stop {
                break;
            }
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.rest.first() == Some(&b) {
            self.rest = &self.rest[1..];
            true
        } else {
            false
        }
    }

    fn token(&mut self) -> Option<String> {
        let n = self.rest.iter().take_while(|b| is_tchar(**b)).count();
        if n == 0 {
            return None;
        }
        let (token, rest) = self.rest.split_at(n);
        self.rest = rest;
        Some(String::from_utf8_lossy(token).into_owned())
    }

    /// A token or a quoted-string (with `\` escapes removed).
    fn value(&mut self) -> Option<String> {
        if !self.eat(b'"') {
            return self.token();
        }
        let mut out = Vec::new();
        loop {
            let (&b, rest) = self.rest.split_first()?;
            self.rest = rest;
            match b {
                b'"' => return Some(String::from_utf8_lossy(&out).into_owned()),
                b'\\' => {
                    let (&escaped, rest) = self.rest.split_first()?;
                    self.rest = rest;
                    out.push(escaped);
                }
                _ => out.push(b),
            }
        }
    }

    /// Whether what follows is `token SP` or `token` at the end: a scheme, not a parameter.
    fn next_is_scheme(&self) -> bool {
        let n = self.rest.iter().take_while(|b| is_tchar(**b)).count();
        n > 0 && self.rest.get(n).is_none_or(|b| *b == b' ' || *b == b',')
    }
}

/// `Basic base64(user:password)`.
pub fn basic_authorization(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

/// A Digest hash algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// MD5 (RFC 2617's).
    Md5,
    /// SHA-256.
    Sha256,
    /// SHA-512/256.
    Sha512_256,
}

impl Algorithm {
    fn hash_hex(self, data: &[u8]) -> String {
        match self {
            Algorithm::Md5 => crate::fs::hex(&md5::compute(data).0),
            Algorithm::Sha256 => {
                crate::fs::hex(ring::digest::digest(&ring::digest::SHA256, data).as_ref())
            }
            Algorithm::Sha512_256 => {
                crate::fs::hex(ring::digest::digest(&ring::digest::SHA512_256, data).as_ref())
            }
        }
    }

    fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha512_256 => "SHA-512-256",
        }
    }

    /// Preference: stronger first.
    fn strength(self) -> u8 {
        match self {
            Algorithm::Md5 => 0,
            Algorithm::Sha256 => 1,
            Algorithm::Sha512_256 => 2,
        }
    }
}

/// A Digest challenge boardnet can answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// The protection space.
    pub realm: String,
    /// The server's nonce.
    pub nonce: String,
    /// Echoed back when given.
    pub opaque: Option<String>,
    /// The hash algorithm.
    pub algorithm: Algorithm,
    /// `-sess`: the session key mixes in the nonces.
    pub session: bool,
    /// `qop=auth` offered (else the RFC 2069 form without qop, nc and cnonce).
    pub qop_auth: bool,
    /// `userhash=true`: the user name is sent hashed.
    pub userhash: bool,
    /// The server says the nonce expired, not the credentials wrong: answer again.
    pub stale: bool,
}

/// Why a challenge cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unanswerable {
    /// Not a Digest challenge, or no nonce.
    NotDigest,
    /// An algorithm not implemented (its name).
    Algorithm(String),
    /// Only `qop=auth-int` (a hash of the body) was offered.
    QopAuthInt,
}

impl fmt::Display for Unanswerable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unanswerable::NotDigest => f.write_str("not a Digest challenge with a nonce"),
            Unanswerable::Algorithm(a) => write!(
                f,
                "Digest algorithm {} is not supported (MD5, SHA-256, SHA-512-256 and -sess are)",
                crate::error::Quoted(a)
            ),
            Unanswerable::QopAuthInt => f.write_str("Digest with qop=auth-int is not supported"),
        }
    }
}

impl Digest {
    /// The Digest challenge in `challenge`, if boardnet can answer it.
    pub fn from_challenge(challenge: &Challenge) -> Result<Digest, Unanswerable> {
        if challenge.scheme != "digest" {
            return Err(Unanswerable::NotDigest);
        }
        let nonce = challenge.param("nonce").ok_or(Unanswerable::NotDigest)?;
        let algorithm_name = challenge.param("algorithm").unwrap_or("MD5");
        // By byte position, checked: a server's value may hold any UTF-8 (the fuzzer sent
        // "SHA-514,o\u{fffd}…" and the unchecked slice panicked inside a character).
        let split = algorithm_name.len().checked_sub(5).and_then(|i| {
            let (base, suffix) = (algorithm_name.get(..i)?, algorithm_name.get(i..)?);
            suffix.eq_ignore_ascii_case("-sess").then_some(base)
        });
        let (base, session) = match split {
            Some(base) => (base, true),
            None => (algorithm_name, false),
        };
        let algorithm = match base.to_ascii_uppercase().as_str() {
            "MD5" => Algorithm::Md5,
            "SHA-256" => Algorithm::Sha256,
            "SHA-512-256" => Algorithm::Sha512_256,
            _ => return Err(Unanswerable::Algorithm(algorithm_name.to_string())),
        };
        let qop_auth = match challenge.param("qop") {
            None => false,
            Some(list) => {
                let offered = || list.split(',').map(str::trim);
                if offered().any(|q| q.eq_ignore_ascii_case("auth")) {
                    true
                } else {
                    return Err(Unanswerable::QopAuthInt);
                }
            }
        };
        let flag = |name| {
            challenge
                .param(name)
                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        };
        Ok(Digest {
            realm: challenge.param("realm").unwrap_or("").to_string(),
            nonce: nonce.to_string(),
            opaque: challenge.param("opaque").map(str::to_string),
            algorithm,
            session,
            qop_auth,
            userhash: flag("userhash"),
            stale: flag("stale"),
        })
    }

    /// The `Authorization` (or `Proxy-Authorization`) value for `method` on `uri` (the
    /// request-target as sent), as the `nc`-th use of this nonce with client nonce `cnonce`.
    #[allow(clippy::too_many_arguments)]
    pub fn authorization(
        &self,
        user: &str,
        password: &str,
        method: &str,
        uri: &str,
        nc: u32,
        cnonce: &str,
    ) -> String {
        let h = |s: &str| self.algorithm.hash_hex(s.as_bytes());
        let realm = &self.realm;
        let mut ha1 = h(&format!("{user}:{realm}:{password}"));
        if self.session {
            ha1 = h(&format!("{ha1}:{}:{cnonce}", self.nonce));
        }
        let ha2 = h(&format!("{method}:{uri}"));
        let nc = format!("{nc:08x}");
        let response = if self.qop_auth {
            h(&format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", self.nonce))
        } else {
            h(&format!("{ha1}:{}:{ha2}", self.nonce))
        };
        let username = if self.userhash {
            h(&format!("{user}:{realm}"))
        } else {
            user.to_string()
        };
        let mut out = format!(
            "Digest username={}, realm={}, nonce={}, uri={}, algorithm={}{}, response=\"{response}\"",
            quoted(&username),
            quoted(realm),
            quoted(&self.nonce),
            quoted(uri),
            self.algorithm.name(),
            if self.session { "-sess" } else { "" },
        );
        if self.qop_auth {
            out.push_str(&format!(", qop=auth, nc={nc}, cnonce=\"{cnonce}\""));
        }
        if let Some(opaque) = &self.opaque {
            out.push_str(&format!(", opaque={}", quoted(opaque)));
        }
        if self.userhash {
            out.push_str(", userhash=true");
        }
        out
    }

    fn strength(&self) -> u8 {
        self.algorithm.strength() * 2 + u8::from(self.qop_auth)
    }
}

/// A quoted-string, escaping `"` and `\`.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// What to answer a challenge with under `policy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Send Basic credentials.
    Basic,
    /// Answer this Digest challenge.
    Digest(Digest),
}

/// Pick the answer to the challenges in `values` (every `WWW-Authenticate` header): the
/// strongest Digest boardnet can answer, or Basic when `policy` allows it and it is offered.
/// `Err` says why nothing fits (for the error message).
pub fn choose<'a>(
    values: impl IntoIterator<Item = &'a str>,
    policy: AuthPolicy,
) -> Result<Answer, String> {
    let challenges: Vec<Challenge> = values
        .into_iter()
        .flat_map(parse_challenges)
        .take(MAX_CHALLENGES)
        .collect();
    let mut why = None;
    let mut best: Option<Digest> = None;
    for c in challenges.iter().filter(|c| c.scheme == "digest") {
        match Digest::from_challenge(c) {
            Ok(d) if best.as_ref().is_none_or(|b| d.strength() > b.strength()) => best = Some(d),
            Ok(_) => {}
            Err(e) => why = Some(e.to_string()),
        }
    }
    if let Some(d) = best {
        return Ok(Answer::Digest(d));
    }
    let basic = challenges.iter().any(|c| c.scheme == "basic");
    if basic && policy == AuthPolicy::Any {
        return Ok(Answer::Basic);
    }
    let offered: Vec<&str> = challenges.iter().map(|c| c.scheme.as_str()).collect();
    Err(why.unwrap_or_else(|| match (offered.is_empty(), policy) {
        (true, _) => "no challenge it could read".to_string(),
        (false, AuthPolicy::Digest) => format!("it offers {}, not Digest", offered.join(", ")),
        (false, _) => format!("it offers only {}", offered.join(", ")),
    }))
}

/// Credentials for one party — a server origin or the proxy — and how far answering its
/// challenges got: the Digest nonce in use and its count, so later requests answer at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    user: String,
    password: String,
    policy: AuthPolicy,
    digest: Option<Digest>,
    /// Uses of the current nonce (`nc`).
    nonce_count: u32,
    /// Basic is being sent (the policy's default, or chosen by [`AuthPolicy::Any`]).
    basic: bool,
    /// Challenges answered for the request in flight: a third means the credentials are wrong.
    answered: u8,
}

impl Credentials {
    /// Credentials answered as `policy` allows.
    pub fn new(user: &str, password: &str, policy: AuthPolicy) -> Self {
        Credentials {
            user: user.to_string(),
            password: password.to_string(),
            policy,
            digest: None,
            nonce_count: 0,
            basic: policy == AuthPolicy::Basic,
            answered: 0,
        }
    }

    /// Whether these are `user` and `password` (so their nonce may be reused).
    pub fn is_for(&self, user: &str, password: &str) -> bool {
        self.user == user && self.password == password
    }

    /// The `Authorization` value for the next request (`None`: send none yet), `target` being
    /// the request-target as sent (`/path?q`, an absolute URL to a proxy, `host:port` for
    /// CONNECT).
    pub fn header(&mut self, method: &str, target: &str) -> Option<String> {
        if let Some(digest) = &self.digest {
            self.nonce_count = self.nonce_count.wrapping_add(1);
            let nc = self.nonce_count;
            return Some(digest.authorization(
                &self.user,
                &self.password,
                method,
                target,
                nc,
                &cnonce(),
            ));
        }
        self.basic
            .then(|| basic_authorization(&self.user, &self.password))
    }

    /// The party answered 401/407 with these challenges: `Ok(true)` to send the request again
    /// with an answer, `Ok(false)` when answering again is pointless (the credentials were
    /// refused, or the policy answers nothing), `Err` with why no challenge can be answered.
    pub fn challenged<'a>(
        &mut self,
        values: impl IntoIterator<Item = &'a str>,
    ) -> Result<bool, String> {
        if self.policy == AuthPolicy::Basic || self.answered >= 2 {
            return Ok(false);
        }
        match choose(values, self.policy)? {
            Answer::Digest(d) => {
                let same_nonce = self.digest.as_ref().is_some_and(|old| old.nonce == d.nonce);
                if same_nonce && !d.stale {
                    return Ok(false);
                }
                self.digest = Some(d);
                self.nonce_count = 0;
            }
            Answer::Basic if self.basic => return Ok(false),
            Answer::Basic => self.basic = true,
        }
        self.answered += 1;
        Ok(true)
    }

    /// The request in flight is over (whatever its status): the next one starts afresh but
    /// keeps the nonce.
    pub fn request_done(&mut self) {
        self.answered = 0;
    }
}

/// A fresh client nonce: 16 random bytes, hex.
pub(crate) fn cnonce() -> String {
    let mut bytes = [0u8; 16];
    // A failing RNG leaves zeros: the answer still authenticates, only less unpredictably.
    let _ = crate::random::fill(&mut bytes);
    crate::fs::hex(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_algorithm_with_any_utf8_is_refused_never_a_panic() {
        // Found by fuzz/fuzz_targets/digest_challenge.rs: "-sess" was cut at byte len-5.
        for value in [
            "SHA-514,o\u{fffd}\u{fffd}",
            "\u{fffd}-sess",
            "é",
            "MD5-séss",
        ] {
            let header = format!("Digest realm=\"r\", nonce=\"n\", algorithm=\"{value}\"");
            let challenges = parse_challenges(&header);
            assert!(matches!(
                Digest::from_challenge(&challenges[0]),
                Err(Unanswerable::Algorithm(_))
            ));
        }
    }

    #[test]
    fn several_challenges_in_one_header() {
        let c = parse_challenges(
            r#"Digest realm="test@x", qop="auth, auth-int", nonce="7ypf\"/x", opaque=FQh, Basic realm="simple", Negotiate abc=="#,
        );
        assert_eq!(c.len(), 3, "{c:?}");
        assert_eq!(c[0].scheme, "digest");
        assert_eq!(c[0].param("nonce"), Some("7ypf\"/x"));
        assert_eq!(c[0].param("QOP"), Some("auth, auth-int"));
        assert_eq!(c[0].param("opaque"), Some("FQh"));
        assert_eq!(c[1].scheme, "basic");
        assert_eq!(c[1].param("realm"), Some("simple"));
        assert_eq!(c[2].scheme, "negotiate");
    }

    #[test]
    fn hostile_challenges_are_bounded() {
        let many = "Basic realm=x, ".repeat(1000);
        assert_eq!(parse_challenges(&many).len(), MAX_CHALLENGES);
        let params: String = (0..1000).map(|i| format!("p{i}=v,")).collect();
        let c = parse_challenges(&format!("Digest {params}"));
        assert_eq!(c[0].params.len(), MAX_PARAMS);
        let long = parse_challenges(&format!("Digest nonce=\"{}\"", "n".repeat(5000)));
        assert_eq!(long[0].param("nonce"), None);
        for junk in [
            "",
            ",,,",
            "\"",
            "Digest =",
            "Digest a=\"unterminated",
            "=x",
            "Digest a=b=c",
        ] {
            let _ = parse_challenges(junk);
        }
    }

    /// RFC 7616 section 3.9.1: the SHA-256 and MD5 examples.
    #[test]
    fn rfc7616_examples() {
        let header = r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#;
        let d = Digest::from_challenge(&parse_challenges(header)[0]).unwrap();
        let a = d.authorization(
            "Mufasa",
            "Circle of Life",
            "GET",
            "/dir/index.html",
            1,
            "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
        );
        assert!(
            a.contains(
                r#"response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1""#
            ),
            "{a}"
        );
        let md5 = header.replace("algorithm=SHA-256", "algorithm=MD5");
        let d = Digest::from_challenge(&parse_challenges(&md5)[0]).unwrap();
        let a = d.authorization(
            "Mufasa",
            "Circle of Life",
            "GET",
            "/dir/index.html",
            1,
            "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
        );
        assert!(
            a.contains(r#"response="8ca523f5e9506fed4657c9700eebdbec""#),
            "{a}"
        );
        assert!(a.contains("qop=auth, nc=00000001"), "{a}");
        assert!(a.contains(r#"opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#));
    }

    /// RFC 2617 section 3.5 (the MD5 example everyone tests against).
    #[test]
    fn rfc2617_example() {
        let header = r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#;
        let d = Digest::from_challenge(&parse_challenges(header)[0]).unwrap();
        let a = d.authorization(
            "Mufasa",
            "Circle Of Life",
            "GET",
            "/dir/index.html",
            1,
            "0a4f113b",
        );
        assert!(
            a.contains(r#"response="6629fae49393a05397450978507c4ef1""#),
            "{a}"
        );
    }

    #[test]
    fn choice_prefers_the_strongest_answerable_digest() {
        let offered = [
            r#"Digest realm="r", nonce="n1", algorithm=MD5, qop="auth""#,
            r#"Digest realm="r", nonce="n2", algorithm=SHA-256, qop="auth""#,
            r#"Digest realm="r", nonce="n3", algorithm=SHA-512-256-sess, qop="auth-int""#,
            r#"Basic realm="r""#,
        ];
        match choose(offered, AuthPolicy::Any).unwrap() {
            Answer::Digest(d) => {
                assert_eq!((d.nonce.as_str(), d.algorithm), ("n2", Algorithm::Sha256))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            choose([r#"Basic realm="r""#], AuthPolicy::Any),
            Ok(Answer::Basic)
        );
        let err = choose([r#"Basic realm="r""#], AuthPolicy::Digest).unwrap_err();
        assert!(err.contains("not Digest"), "{err}");
        let err = choose([r#"Digest nonce="n", algorithm=SHA3"#], AuthPolicy::Digest).unwrap_err();
        assert!(err.contains("SHA3"), "{err}");
    }

    #[test]
    fn sess_userhash_and_rfc2069_forms() {
        let c = &parse_challenges(
            r#"Digest realm="r", nonce="n", algorithm=SHA-256-sess, qop=auth, userhash=true"#,
        )[0];
        let d = Digest::from_challenge(c).unwrap();
        assert!(d.session && d.userhash && d.qop_auth);
        let a = d.authorization("u", "p", "GET", "/", 2, "c");
        assert!(
            a.contains("algorithm=SHA-256-sess") && a.contains("nc=00000002"),
            "{a}"
        );
        assert!(
            a.contains("userhash=true") && !a.contains("username=\"u\""),
            "{a}"
        );
        let old = &parse_challenges(r#"Digest realm="r", nonce="n""#)[0];
        let a = Digest::from_challenge(old)
            .unwrap()
            .authorization("u", "p", "GET", "/", 1, "c");
        assert!(!a.contains("qop") && !a.contains("cnonce"), "{a}");
        assert!(Digest::from_challenge(&parse_challenges("Digest realm=x")[0]).is_err());
    }

    #[test]
    fn credentials_answer_once_and_give_up_on_a_refusal() {
        let challenge = r#"Digest realm="r", nonce="n1", qop="auth""#;
        let mut c = Credentials::new("u", "p", AuthPolicy::Digest);
        assert_eq!(c.header("GET", "/"), None, "nothing before a challenge");
        assert_eq!(c.challenged([challenge]), Ok(true));
        let first = c.header("GET", "/").unwrap();
        assert!(
            first.starts_with("Digest ") && first.contains("nc=00000001"),
            "{first}"
        );
        // The same nonce again, not stale: the credentials are wrong.
        assert_eq!(c.challenged([challenge]), Ok(false));
        c.request_done();
        // The next request answers at once, counting the nonce up.
        assert!(c.header("GET", "/x").unwrap().contains("nc=00000002"));
        // A stale nonce is answered again.
        let stale = r#"Digest realm="r", nonce="n2", qop="auth", stale=true"#;
        assert_eq!(c.challenged([stale]), Ok(true));
        assert!(c.header("GET", "/x").unwrap().contains("nonce=\"n2\""));
        // Basic (the default) sends at once and never answers a challenge.
        let mut b = Credentials::new("u", "p", AuthPolicy::Basic);
        assert!(b.header("GET", "/").unwrap().starts_with("Basic "));
        assert_eq!(b.challenged([challenge]), Ok(false));
        // Any: Basic when that is all there is, once.
        let mut a = Credentials::new("u", "p", AuthPolicy::Any);
        assert_eq!(a.challenged([r#"Basic realm="r""#]), Ok(true));
        assert!(a.header("GET", "/").unwrap().starts_with("Basic "));
        assert_eq!(a.challenged([r#"Basic realm="r""#]), Ok(false));
    }

    #[test]
    fn basic_is_base64_of_user_colon_password() {
        assert_eq!(
            basic_authorization("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }
}
