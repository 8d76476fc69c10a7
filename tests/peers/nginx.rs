//! nginx with plain HTTP and several HTTPS flavours, config generated per test.
//!
//! Servers (all on 127.0.0.1; plain HTTP and the valid HTTPS one also on [::1]
//! when the host has IPv6 loopback):
//!   http            plain HTTP
//!   https           TLS 1.2+1.3, valid leaf (SAN localhost, 127.0.0.1, ::1)
//!   https_expired   expired leaf
//!   https_wrong     leaf for DNS:wrong.example only
//!   https_client    valid leaf, `ssl_verify_client on` with the test CA. nginx
//!                   finishes the handshake without a (valid) client cert and
//!                   answers HTTP 400 ("No required SSL certificate was sent" /
//!                   "The SSL certificate error").
//!
//! Locations on every server (see `LOCATIONS`): static files from `www_dir()`
//! (ranges, HEAD, ETag/Last-Modified; also under `/slow/` at 256 KiB/s and `/gzip/` gzip-encoded
//! when asked), `/hello.txt` =
//! "hello world\n",
//! `/upload/` (WebDAV PUT/DELETE into `upload_dir()`, GET reads back),
//! `/auth/secret.txt` (basic auth user/secret) = "top secret\n",
//! `/redirect` (302 Location: /hello.txt, relative), `/redirect-abs` (302 to
//! absolute `<scheme>://127.0.0.1:<port>/hello.txt`), `/redirect-other-host`
//! (302 to `<scheme>://localhost:<port>/echo-headers`), `/loop` (302 → /loop),
//! `/status/404|500|503` (that code, small text body), `/echo-headers` and
//! `/echo/…` (proxied over a unix socket to the echo server, which answers
//! JSON about the request as nginx forwarded it), `/set-cookie`
//! (Set-Cookie: session=abc123; Path=/), `/cookie-check` (body = the request's
//! Cookie header value, empty if none). HTTPS servers also have `/to-http`
//! (302 to http://127.0.0.1:<http port>/hello.txt); the plain server has
//! `/to-https` (302 to https://127.0.0.1:<https port>/hello.txt).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::echo::{EchoServer, KillOnDrop};
use super::net::{free_ports_dual, ipv6_available, is_listening, START_TIMEOUT};
use super::pki::Pki;
use super::process::{run, run_tool, under_qemu_user};
use super::workdir::{read_lossy, write_file, WorkDir};

pub const AUTH_USER: &str = "user";
pub const AUTH_PASSWORD: &str = "secret";
pub const HELLO: &str = "hello world\n";
pub const SECRET: &str = "top secret\n";

const LOCATIONS: &str = r#"
    root @W@/www;
    location / { }
    location /slow/ { alias @W@/www/; limit_rate 262144; }
    location /gzip/ { alias @W@/www/; gzip on; gzip_types *; gzip_min_length 0; }
    location /upload/ {
        alias @W@/upload/;
        dav_methods PUT DELETE;
        dav_access user:rw group:r all:r;
        create_full_put_path on;
        client_max_body_size 0;
    }
    location /auth/ {
        auth_basic "boardnet test";
        auth_basic_user_file @W@/htpasswd;
    }
    location = /redirect { return 302 /hello.txt; }
    location = /redirect-abs { return 302 $scheme://127.0.0.1:$server_port/hello.txt; }
    location = /redirect-other-host { return 302 $scheme://localhost:$server_port/echo-headers; }
    location = /loop { return 302 /loop; }
    location = /status/404 { default_type text/plain; return 404 "not found\n"; }
    location = /status/500 { default_type text/plain; return 500 "internal error\n"; }
    location = /status/503 { default_type text/plain; return 503 "unavailable\n"; }
    location = /set-cookie {
        default_type text/plain;
        add_header Set-Cookie "session=abc123; Path=/";
        return 200 "cookie set\n";
    }
    location = /cookie-check { default_type text/plain; return 200 "$http_cookie"; }
    location = /echo-headers { include @W@/proxy.conf; }
    location /echo/ { include @W@/proxy.conf; }
"#;

const PROXY: &str = r#"
    proxy_pass http://unix:@W@/echo.sock;
    proxy_http_version 1.1;
    proxy_set_header Host $http_host;
    proxy_set_header Connection "";
    proxy_request_buffering off;
    proxy_buffering off;
    proxy_read_timeout 300s;
"#;

const MAIN: &str = r#"
daemon off;
master_process off;
worker_processes 1;
pid @W@/nginx.pid;
error_log @W@/error.log info;
events { worker_connections 1024; }
http {
    access_log @W@/access.log;
    client_body_temp_path @W@/tmp/body;
    proxy_temp_path @W@/tmp/proxy;
    fastcgi_temp_path @W@/tmp/fastcgi;
    uwsgi_temp_path @W@/tmp/uwsgi;
    scgi_temp_path @W@/tmp/scgi;
    types {
        text/plain txt;
        text/html html htm;
        application/json json;
        application/octet-stream bin;
    }
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush off;
    tcp_nodelay on;
    keepalive_timeout 75s;
    keepalive_requests 10000;
    absolute_redirect off;
    client_max_body_size 0;
    ssl_protocols TLSv1.2 TLSv1.3;

    server {
        listen 127.0.0.1:@HTTP@;
        @HTTP6@
        location = /to-https { return 302 https://127.0.0.1:@HTTPS@/hello.txt; }
        include @W@/locations.conf;
    }
    server {
        listen 127.0.0.1:@HTTPS@ ssl;
        @HTTPS6@
        ssl_certificate @PKI@/server.crt;
        ssl_certificate_key @PKI@/server.key;
        include @W@/https-extra.conf;
        include @W@/locations.conf;
    }
    server {
        listen 127.0.0.1:@EXPIRED@ ssl;
        ssl_certificate @PKI@/expired.crt;
        ssl_certificate_key @PKI@/expired.key;
        include @W@/https-extra.conf;
        include @W@/locations.conf;
    }
    server {
        listen 127.0.0.1:@WRONG@ ssl;
        ssl_certificate @PKI@/wrong-host.crt;
        ssl_certificate_key @PKI@/wrong-host.key;
        include @W@/https-extra.conf;
        include @W@/locations.conf;
    }
    server {
        listen 127.0.0.1:@CLIENT@ ssl;
        ssl_certificate @PKI@/server.crt;
        ssl_certificate_key @PKI@/server.key;
        ssl_verify_client on;
        ssl_client_certificate @PKI@/ca.crt;
        ssl_verify_depth 2;
        include @W@/https-extra.conf;
        include @W@/locations.conf;
    }
}
"#;

/// Find a program in PATH or the sbin directories (nginx lives in /usr/sbin,
/// which a non-root PATH may lack).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for d in ["/usr/local/sbin", "/usr/sbin", "/sbin"] {
        dirs.push(PathBuf::from(d));
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

#[derive(Debug, Clone, Copy)]
struct Ports {
    http: u16,
    https: u16,
    expired: u16,
    wrong: u16,
    client: u16,
}

pub struct Nginx {
    // Field order matters: nginx is killed before the echo server stops and
    // before the work dir is removed.
    proc_: KillOnDrop,
    ports: Ports,
    v6: bool,
    echo: EchoServer,
    pki: Pki,
    wd: WorkDir,
}

impl Nginx {
    /// Generate PKI + config, start the echo server and nginx, wait until
    /// all ports listen. Panics with nginx's logs if it does not come up.
    pub fn start() -> Nginx {
        let nginx = find_program("nginx")
            .unwrap_or_else(|| panic!("nginx is not installed (apt-get -y -q install nginx)"));
        let wd = WorkDir::named("nginx");
        let w = wd.path().to_path_buf();
        let ws = w.to_str().expect("non-UTF-8 temp dir").to_string();
        // nginx reaches the echo server over a unix socket whose path is known
        // up front, so the echo server (the slowest part: Python start-up)
        // starts in parallel with PKI generation and nginx itself.
        let sock = w.join("echo.sock");
        if sock.as_os_str().len() > 100 {
            panic!(
                "temp dir path too long for a unix socket ({}): set TMPDIR to a shorter directory",
                sock.display()
            );
        }
        let v6 = ipv6_available();
        std::thread::scope(|s| {
            let echo = s.spawn(|| EchoServer::start_with_unix_socket(&sock));
            let hash = s.spawn(|| {
                run_tool(
                    &|| {
                        let mut c = Command::new("openssl");
                        c.args(["passwd", "-apr1", AUTH_PASSWORD]);
                        c
                    },
                    None,
                    Duration::from_secs(10),
                )
            });
            for d in ["www", "upload", "tmp"] {
                wd.mkdir(d);
            }
            write_file(&w.join("www/hello.txt"), HELLO.as_bytes());
            write_file(&w.join("www/auth/secret.txt"), SECRET.as_bytes());
            write_file(
                &w.join("locations.conf"),
                LOCATIONS.replace("@W@", &ws).as_bytes(),
            );
            write_file(&w.join("proxy.conf"), PROXY.replace("@W@", &ws).as_bytes());
            let pki = Pki::create_in(&w.join("pki"));
            let hash = hash.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            assert!(hash.success(), "openssl passwd failed: {:?}", hash);
            write_file(
                &w.join("htpasswd"),
                format!("{}:{}\n", AUTH_USER, hash.stdout_str().trim()).as_bytes(),
            );
            // If launching panics, the scope still joins the echo thread and
            // drops (kills) the echo server.
            let (proc_, ports) = launch(&nginx, &w, &pki, v6);
            let echo = echo.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            Nginx {
                proc_,
                ports,
                v6,
                echo,
                pki,
                wd,
            }
        })
    }

    pub fn pid(&self) -> u32 {
        self.proc_.child.id()
    }
    pub fn http_port(&self) -> u16 {
        self.ports.http
    }
    pub fn https_port(&self) -> u16 {
        self.ports.https
    }
    pub fn https_expired_port(&self) -> u16 {
        self.ports.expired
    }
    pub fn https_wrong_host_port(&self) -> u16 {
        self.ports.wrong
    }
    pub fn https_client_auth_port(&self) -> u16 {
        self.ports.client
    }
    /// Whether the plain and valid-HTTPS servers also listen on [::1].
    pub fn has_ipv6(&self) -> bool {
        self.v6
    }

    /// `http://127.0.0.1:PORT<path>` (`path` starts with '/').
    pub fn http_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.ports.http, path)
    }
    /// `http://[::1]:PORT<path>`; panics if the host has no IPv6 loopback.
    pub fn http_url_v6(&self, path: &str) -> String {
        self.need_v6();
        format!("http://[::1]:{}{}", self.ports.http, path)
    }
    /// `http://localhost:PORT<path>` (here localhost resolves to 127.0.0.1 only).
    pub fn http_url_localhost(&self, path: &str) -> String {
        format!("http://localhost:{}{}", self.ports.http, path)
    }
    /// `https://127.0.0.1:PORT<path>`, valid leaf (trust `pki().ca_cert()`).
    pub fn https_url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{}", self.ports.https, path)
    }
    /// `https://[::1]:PORT<path>` (the leaf has IP:::1); panics without IPv6.
    pub fn https_url_v6(&self, path: &str) -> String {
        self.need_v6();
        format!("https://[::1]:{}{}", self.ports.https, path)
    }
    /// `https://localhost:PORT<path>` (the leaf has DNS:localhost).
    pub fn https_url_localhost(&self, path: &str) -> String {
        format!("https://localhost:{}{}", self.ports.https, path)
    }
    /// HTTPS server presenting the expired leaf.
    pub fn https_expired_url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{}", self.ports.expired, path)
    }
    /// HTTPS server presenting a leaf for wrong.example only.
    pub fn https_wrong_host_url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{}", self.ports.wrong, path)
    }
    /// HTTPS server requiring a client cert by the test CA.
    pub fn https_client_auth_url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{}", self.ports.client, path)
    }

    pub fn pki(&self) -> &Pki {
        &self.pki
    }
    /// The echo server behind `/echo-headers` and `/echo/`.
    pub fn echo(&self) -> &EchoServer {
        &self.echo
    }
    pub fn work_dir(&self) -> &Path {
        self.wd.path()
    }
    /// Document root of every server (write test files here).
    pub fn www_dir(&self) -> PathBuf {
        self.wd.join("www")
    }
    /// Where `PUT /upload/<path>` lands (`upload_dir()/<path>`).
    pub fn upload_dir(&self) -> PathBuf {
        self.wd.join("upload")
    }
    /// Write `www_dir()/rel` (parents created); returns the path.
    pub fn put_file<C: AsRef<[u8]>>(&self, rel: &str, contents: C) -> PathBuf {
        write_file(
            &self.www_dir().join(rel.trim_start_matches('/')),
            contents.as_ref(),
        )
    }
    pub fn error_log(&self) -> String {
        read_lossy(&self.wd.join("error.log"))
    }
    pub fn access_log(&self) -> String {
        read_lossy(&self.wd.join("access.log"))
    }

    fn need_v6(&self) {
        if !self.v6 {
            panic!("this host has no IPv6 loopback ([::1] cannot be bound): cannot test over IPv6");
        }
    }
}

/// Write nginx.conf for fresh ports and start nginx; retried when another
/// process grabbed one of the ports in between.
fn launch(nginx: &Path, w: &Path, pki: &Pki, v6: bool) -> (KillOnDrop, Ports) {
    let ws = w.to_str().unwrap();
    let mut last_err = String::new();
    for attempt in 1..=3 {
        let p = free_ports_dual(2, v6);
        // Two separate calls may hand out the same (just released) port: nginx would then
        // see one address with and without `ssl`. Draw again until the sets are disjoint.
        let q = loop {
            let q = super::net::free_ports(3);
            if q.iter().all(|port| !p.contains(port)) {
                break q;
            }
        };
        let ports = Ports {
            http: p[0],
            https: p[1],
            expired: q[0],
            wrong: q[1],
            client: q[2],
        };
        write_file(
            &w.join("https-extra.conf"),
            format!(
                "location = /to-http {{ return 302 http://127.0.0.1:{}/hello.txt; }}\n",
                ports.http
            )
            .as_bytes(),
        );
        let six = |port: u16, ssl: &str| {
            if v6 {
                format!("listen [::1]:{}{};", port, ssl)
            } else {
                String::new()
            }
        };
        let conf = MAIN
            .replace("@HTTP6@", &six(ports.http, ""))
            .replace("@HTTPS6@", &six(ports.https, " ssl"))
            .replace("@HTTP@", &ports.http.to_string())
            .replace("@HTTPS@", &ports.https.to_string())
            .replace("@EXPIRED@", &ports.expired.to_string())
            .replace("@WRONG@", &ports.wrong.to_string())
            .replace("@CLIENT@", &ports.client.to_string())
            .replace("@PKI@", pki.dir().to_str().unwrap())
            .replace("@W@", ws);
        write_file(&w.join("nginx.conf"), conf.as_bytes());
        let _ = std::fs::remove_file(w.join("nginx.pid"));
        let _ = std::fs::write(w.join("error.log"), b"");
        let stderr = std::fs::File::create(w.join("nginx.stderr")).unwrap();
        let child = Command::new(nginx)
            .arg("-p")
            .arg(format!("{}/", ws))
            .arg("-c")
            .arg(w.join("nginx.conf"))
            .arg("-e")
            .arg(w.join("error.log"))
            .stdin(Stdio::null())
            .stdout(stderr.try_clone().unwrap())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {}", nginx.display(), e));
        let mut proc_ = KillOnDrop { child };
        match wait_ready(&mut proc_, w, &ports, v6) {
            Ok(()) => return (proc_, ports),
            Err(e) => {
                drop(proc_);
                last_err = format!(
                    "attempt {}: {}\n--- nginx stderr:\n{}\n--- error.log:\n{}",
                    attempt,
                    e,
                    read_lossy(&w.join("nginx.stderr")),
                    read_lossy(&w.join("error.log"))
                );
                let silent = under_qemu_user()
                    && read_lossy(&w.join("nginx.stderr")).is_empty()
                    && read_lossy(&w.join("error.log")).is_empty();
                if !last_err.contains("Address already in use") && !silent {
                    break; // neither a port race nor a hung fork: retrying will not help
                }
            }
        }
    }
    panic!("nginx did not start:\n{}", last_err);
}

/// nginx writes its pid file only after it bound every listen socket, so a
/// pid file with our child's pid means "all ports are ours and listening".
fn wait_ready(p: &mut KillOnDrop, w: &Path, ports: &Ports, v6: bool) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    let pid = p.child.id().to_string();
    loop {
        if let Some(st) = p.child.try_wait().map_err(|e| e.to_string())? {
            return Err(format!("nginx exited early with {}", st));
        }
        let pidfile = std::fs::read_to_string(w.join("nginx.pid")).unwrap_or_default();
        if pidfile.trim() == pid {
            break;
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "nginx did not write its pid file within {:?}",
                START_TIMEOUT
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut addrs = vec![
        format!("127.0.0.1:{}", ports.http),
        format!("127.0.0.1:{}", ports.https),
        format!("127.0.0.1:{}", ports.expired),
        format!("127.0.0.1:{}", ports.wrong),
        format!("127.0.0.1:{}", ports.client),
    ];
    if v6 {
        addrs.push(format!("[::1]:{}", ports.http));
        addrs.push(format!("[::1]:{}", ports.https));
    }
    for a in &addrs {
        if !is_listening(a.as_str()) {
            return Err(format!(
                "nginx wrote its pid file but {} does not accept",
                a
            ));
        }
    }
    Ok(())
}
