//! A throw-away PKI made with the openssl CLI (EC prime256v1, fast).
//!
//! Layout in `dir()`:
//!   ca.crt/ca.key                  test CA ("boardnet test CA"), valid 2020..2049
//!   server.crt/server.key          leaf by the test CA, SAN DNS:localhost,IP:127.0.0.1,IP:::1
//!   expired.crt/expired.key        same SAN, valid 2020-01-01..2021-01-01 (expired)
//!   wrong-host.crt/wrong-host.key  leaf by the test CA, SAN DNS:wrong.example only
//!   other-ca.crt/other-ca.key      an unrelated CA (for "wrong CA" tests)
//!   client.crt/client.key          client cert (EKU clientAuth) by the test CA; client.pem = both
//!   other-client.crt/.key          client cert by the OTHER CA (rejected by client-auth server)
//! All keys are unencrypted PKCS#8 PEM ("BEGIN PRIVATE KEY").

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::process::run_tool;
use super::workdir::{write_file, WorkDir};

const OPENSSL_TIMEOUT: Duration = Duration::from_secs(20);

/// Validity of every non-expired certificate.
pub const VALID_FROM: &str = "20200101000000Z";
pub const VALID_UNTIL: &str = "20491231235959Z";
/// Validity of the expired leaf.
pub const EXPIRED_FROM: &str = "20200101000000Z";
pub const EXPIRED_UNTIL: &str = "20210101000000Z";

pub struct Pki {
    dir: PathBuf,
    _own: Option<WorkDir>,
}

const CA_CONF: &str = r#"
[ ca ]
default_ca = tca
[ tca ]
dir = @DB@
database = $dir/index.txt
new_certs_dir = $dir
rand_serial = yes
default_md = sha256
policy = pol
unique_subject = no
copy_extensions = none
email_in_dn = no
[ pol ]
commonName = supplied
[ ca_ext ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ server_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1
[ wrong_host_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:wrong.example
[ client_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"#;

fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = run_tool(
        &|| {
            let mut c = Command::new("openssl");
            c.current_dir(dir).args(args);
            c
        },
        None,
        OPENSSL_TIMEOUT,
    );
    if !out.success() {
        panic!("PKI: openssl failed:\n{:?}", out);
    }
    out.stdout
}

fn openssl_input(args: &[&str], input: &[u8]) -> Vec<u8> {
    let out = run_tool(
        &|| {
            let mut c = Command::new("openssl");
            c.args(args);
            c
        },
        Some(input),
        OPENSSL_TIMEOUT,
    );
    if !out.success() {
        panic!("PKI: openssl failed:\n{:?}", out);
    }
    out.stdout
}

/// New EC key + CSR: `<name>.key`, `<name>.csr`.
fn keygen(dir: &Path, name: &str, cn: &str) {
    let key = format!("{}.key", name);
    let csr = format!("{}.csr", name);
    let subj = format!("/CN={}", cn);
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            &subj,
        ],
    );
}

/// Sign `<name>.csr` into `<name>.crt` with CA `<ca>` (or self-sign when
/// `ca` is None) using extension section `ext`. Each call has its own
/// openssl-ca database so calls may run in parallel.
fn sign(dir: &Path, name: &str, ca: Option<&str>, ext: &str, from: &str, until: &str) {
    let db = dir.join(format!("db-{}", name));
    std::fs::create_dir_all(&db).unwrap();
    write_file(&db.join("index.txt"), b"");
    let conf = db.join("ca.cnf");
    write_file(
        &conf,
        CA_CONF.replace("@DB@", db.to_str().unwrap()).as_bytes(),
    );
    let csr = format!("{}.csr", name);
    let crt = format!("{}.crt", name);
    let conf_s = conf.to_str().unwrap().to_string();
    let mut args: Vec<String> = [
        "ca", "-batch", "-notext", "-config", &conf_s, "-in", &csr, "-out", &crt,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    match ca {
        Some(ca) => {
            args.extend([
                "-cert".into(),
                format!("{}.crt", ca),
                "-keyfile".into(),
                format!("{}.key", ca),
            ]);
        }
        None => {
            args.extend([
                "-selfsign".into(),
                "-keyfile".into(),
                format!("{}.key", name),
            ]);
        }
    }
    args.extend([
        "-extensions".into(),
        ext.into(),
        "-startdate".into(),
        from.into(),
        "-enddate".into(),
        until.into(),
    ]);
    let argv: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    openssl(dir, &argv);
    let _ = std::fs::remove_dir_all(&db);
}

type Job<'a> = Box<dyn FnOnce() + Send + 'a>;

fn job<'a, F: FnOnce() + Send + 'a>(f: F) -> Job<'a> {
    Box::new(f)
}

/// Run closures in parallel threads (the PKI steps are independent processes).
fn parallel(jobs: Vec<Job<'_>>) {
    // Under qemu-user (an ARM test run), a child forked while other threads fork too sometimes
    // hangs inside the emulator before it execs (seen: openssl never started, 20 s timeouts):
    // one at a time there.
    if super::process::under_qemu_user() {
        for job in jobs {
            job();
        }
        return;
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = jobs.into_iter().map(|j| s.spawn(j)).collect();
        let mut first_panic = None;
        for h in handles {
            if let Err(e) = h.join() {
                first_panic.get_or_insert(e);
            }
        }
        if let Some(e) = first_panic {
            std::panic::resume_unwind(e);
        }
    });
}

impl Pki {
    /// Make a PKI in its own fresh `WorkDir` (removed when the Pki drops).
    pub fn new() -> Pki {
        let wd = WorkDir::named("pki");
        let dir = wd.path().to_path_buf();
        Pki::generate(&dir);
        Pki {
            dir,
            _own: Some(wd),
        }
    }

    /// Make a PKI in `dir` (created if missing; the caller owns cleanup).
    pub fn create_in(dir: &Path) -> Pki {
        std::fs::create_dir_all(dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {}", dir.display(), e));
        Pki::generate(dir);
        Pki {
            dir: dir.to_path_buf(),
            _own: None,
        }
    }

    fn generate(d: &Path) {
        let keys: [(&str, &str); 7] = [
            ("ca", "boardnet test CA"),
            ("other-ca", "boardnet OTHER test CA"),
            ("server", "localhost"),
            ("expired", "localhost"),
            ("wrong-host", "wrong.example"),
            ("client", "boardnet test client"),
            ("other-client", "boardnet other client"),
        ];
        parallel(
            keys.iter()
                .map(|&(n, cn)| job(move || keygen(d, n, cn)))
                .collect(),
        );
        parallel(vec![
            job(move || sign(d, "ca", None, "ca_ext", VALID_FROM, VALID_UNTIL)),
            job(move || sign(d, "other-ca", None, "ca_ext", VALID_FROM, VALID_UNTIL)),
        ]);
        parallel(vec![
            job(move || {
                sign(
                    d,
                    "server",
                    Some("ca"),
                    "server_ext",
                    VALID_FROM,
                    VALID_UNTIL,
                )
            }),
            job(move || {
                sign(
                    d,
                    "expired",
                    Some("ca"),
                    "server_ext",
                    EXPIRED_FROM,
                    EXPIRED_UNTIL,
                )
            }),
            job(move || {
                sign(
                    d,
                    "wrong-host",
                    Some("ca"),
                    "wrong_host_ext",
                    VALID_FROM,
                    VALID_UNTIL,
                )
            }),
            job(move || {
                sign(
                    d,
                    "client",
                    Some("ca"),
                    "client_ext",
                    VALID_FROM,
                    VALID_UNTIL,
                )
            }),
            job(move || {
                sign(
                    d,
                    "other-client",
                    Some("other-ca"),
                    "client_ext",
                    VALID_FROM,
                    VALID_UNTIL,
                )
            }),
        ]);
        let mut pem = std::fs::read(d.join("client.crt")).unwrap();
        pem.extend(std::fs::read(d.join("client.key")).unwrap());
        write_file(&d.join("client.pem"), &pem);
        for (n, _) in keys.iter() {
            let _ = std::fs::remove_file(d.join(format!("{}.csr", n)));
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
    fn p(&self, f: &str) -> PathBuf {
        self.dir.join(f)
    }

    /// The test CA certificate: trust anchor for server, expired, wrong-host, client.
    pub fn ca_cert(&self) -> PathBuf {
        self.p("ca.crt")
    }
    pub fn ca_key(&self) -> PathBuf {
        self.p("ca.key")
    }
    /// Valid server leaf (SAN DNS:localhost, IP:127.0.0.1, IP:::1).
    pub fn server_cert(&self) -> PathBuf {
        self.p("server.crt")
    }
    pub fn server_key(&self) -> PathBuf {
        self.p("server.key")
    }
    /// Expired server leaf (2020-01-01..2021-01-01), same SAN as server.
    pub fn expired_cert(&self) -> PathBuf {
        self.p("expired.crt")
    }
    pub fn expired_key(&self) -> PathBuf {
        self.p("expired.key")
    }
    /// Server leaf for the wrong host (SAN DNS:wrong.example only).
    pub fn wrong_host_cert(&self) -> PathBuf {
        self.p("wrong-host.crt")
    }
    pub fn wrong_host_key(&self) -> PathBuf {
        self.p("wrong-host.key")
    }
    /// Unrelated CA: trusting only this one must make every server here fail.
    pub fn other_ca_cert(&self) -> PathBuf {
        self.p("other-ca.crt")
    }
    pub fn other_ca_key(&self) -> PathBuf {
        self.p("other-ca.key")
    }
    /// Client certificate signed by the test CA (mutual TLS).
    pub fn client_cert(&self) -> PathBuf {
        self.p("client.crt")
    }
    pub fn client_key(&self) -> PathBuf {
        self.p("client.key")
    }
    /// client.crt followed by client.key in one PEM file.
    pub fn client_pem(&self) -> PathBuf {
        self.p("client.pem")
    }
    /// Client certificate signed by the OTHER CA (the client-auth server rejects it).
    pub fn other_client_cert(&self) -> PathBuf {
        self.p("other-client.crt")
    }
    pub fn other_client_key(&self) -> PathBuf {
        self.p("other-client.key")
    }

    /// Base64 SHA-256 of `cert`'s SubjectPublicKeyInfo (see `spki_sha256_base64`).
    pub fn spki_sha256_base64(&self, cert: &Path) -> String {
        spki_sha256_base64(cert)
    }
    /// curl --pinnedpubkey value for the valid server leaf: "sha256//<base64>".
    pub fn server_pin(&self) -> String {
        format!("sha256//{}", spki_sha256_base64(&self.server_cert()))
    }
}

/// Base64 of SHA-256 over the DER SubjectPublicKeyInfo of the PEM `cert`:
/// `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der |
/// openssl dgst -sha256 -binary | base64` — the part after "sha256//" in
/// curl's --pinnedpubkey.
pub fn spki_sha256_base64(cert: &Path) -> String {
    let cert_s = cert.to_str().expect("non-UTF-8 cert path");
    let pubkey_pem = openssl(
        Path::new("/"),
        &["x509", "-in", cert_s, "-pubkey", "-noout"],
    );
    let der = openssl_input(&["pkey", "-pubin", "-outform", "der"], &pubkey_pem);
    let digest = openssl_input(&["dgst", "-sha256", "-binary"], &der);
    assert_eq!(
        digest.len(),
        32,
        "openssl dgst -binary gave {} bytes",
        digest.len()
    );
    base64(&digest)
}

/// Standard base64 with padding.
pub fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        s.push(T[(n >> 18) as usize & 63] as char);
        s.push(T[(n >> 12) as usize & 63] as char);
        s.push(if c.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        s.push(if c.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    s
}
