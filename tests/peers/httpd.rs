//! More real HTTP servers next to nginx: Apache 2.4 and lighttpd 1.4 (Debian's binaries and
//! modules, configs generated per test), and httpbin (Python) for what neither has.
//!
//! Apache (plain HTTP and HTTPS with the test PKI, both on 127.0.0.1):
//!   /              static files from `www_dir()` (strong ETags, Last-Modified, ranges; a
//!                  416 carries no Content-Range)
//!   /slow/         the same files at 256 KiB/s (mod_ratelimit), to cut a download mid-way
//!   /digest/       Digest authentication (MD5, qop=auth) for DIGEST_USER/DIGEST_PASSWORD
//!   /deflate/      the same files gzip-encoded when asked (mod_deflate)
//!   HTTPS only:    `Strict-Transport-Security: max-age=600` on every response
//! lighttpd (plain HTTP):
//!   /              static files from `www_dir()` (416 without Content-Range, as Apache)
//!   /slow/         256 KiB/s
//!   /digest/       Digest authentication with algorithm=SHA-256
//! httpbin: its whole API (`/digest-auth/auth/USER/PASS/ALGORITHM`, `/gzip`, `/deflate`,
//!   `/response-headers?…`, `/redirect-to?url=…`, …) on 127.0.0.1.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::echo::{python3, KillOnDrop};
use super::net::{await_listener, free_ports};
use super::nginx::find_program;
use super::pki::Pki;
use super::workdir::{read_lossy, WorkDir};

pub const DIGEST_USER: &str = "board";
pub const DIGEST_PASSWORD: &str = "s3cret word";
pub const DIGEST_REALM: &str = "boardnet";
/// Bytes per second of the `/slow/` locations.
pub const SLOW_RATE: usize = 256 * 1024;

const APACHE_CONF: &str = r#"
ServerName localhost
Listen 127.0.0.1:@HTTP@
Listen 127.0.0.1:@HTTPS@
PidFile @W@/apache.pid
ErrorLog @W@/error.log
LogFormat "%h %u \"%r\" %>s %b \"%{Range}i\" \"%{If-Range}i\"" short
CustomLog @W@/access.log short
LoadModule mpm_event_module @M@/mod_mpm_event.so
LoadModule authz_core_module @M@/mod_authz_core.so
LoadModule authz_user_module @M@/mod_authz_user.so
LoadModule authn_core_module @M@/mod_authn_core.so
LoadModule authn_file_module @M@/mod_authn_file.so
LoadModule auth_digest_module @M@/mod_auth_digest.so
LoadModule alias_module @M@/mod_alias.so
LoadModule mime_module @M@/mod_mime.so
LoadModule headers_module @M@/mod_headers.so
LoadModule filter_module @M@/mod_filter.so
LoadModule deflate_module @M@/mod_deflate.so
LoadModule ratelimit_module @M@/mod_ratelimit.so
LoadModule env_module @M@/mod_env.so
LoadModule socache_shmcb_module @M@/mod_socache_shmcb.so
LoadModule ssl_module @M@/mod_ssl.so
User www-data
Group www-data
TypesConfig /etc/mime.types
DocumentRoot @W@/www
<Directory @W@/www>
    Require all granted
</Directory>
Alias /slow/ @W@/www/
Alias /deflate/ @W@/www/
<Location /slow/>
    SetOutputFilter RATE_LIMIT
    SetEnv rate-limit @RATE_KIB@
</Location>
<Location /deflate/>
    SetOutputFilter DEFLATE
    SetEnv no-gzip-for-ranges 1
</Location>
<Location /digest/>
    AuthType Digest
    AuthName "@REALM@"
    AuthDigestProvider file
    AuthUserFile @W@/htdigest
    Require valid-user
</Location>
<VirtualHost 127.0.0.1:@HTTPS@>
    SSLEngine on
    SSLCertificateFile @PKI@/server.crt
    SSLCertificateKeyFile @PKI@/server.key
    Header always set Strict-Transport-Security "max-age=600"
</VirtualHost>
"#;

/// Apache 2.4 (`apache2 -X`: one process, in the foreground). Killed on drop.
pub struct Apache {
    proc_: KillOnDrop,
    http: u16,
    https: u16,
    wd: WorkDir,
}

impl Apache {
    /// Serve `www_dir()` over HTTP and HTTPS (the leaf of `pki`).
    pub fn start(pki: &Pki) -> Apache {
        let apache = find_program("apache2")
            .unwrap_or_else(|| panic!("apache2 is not installed (apt-get install apache2)"));
        let wd = WorkDir::named("apache");
        let w = wd.path().to_path_buf();
        wd.mkdir("www/digest");
        htdigest(&w.join("htdigest"), |s| md5_hex(s.as_bytes()));
        let ports = free_ports(2);
        let conf = APACHE_CONF
            .replace("@W@", &w.display().to_string())
            .replace("@M@", "/usr/lib/apache2/modules")
            .replace("@HTTP@", &ports[0].to_string())
            .replace("@HTTPS@", &ports[1].to_string())
            .replace("@PKI@", &pki.dir().display().to_string())
            .replace("@REALM@", DIGEST_REALM)
            .replace("@RATE_KIB@", &(SLOW_RATE / 1024).to_string());
        let conf_path = wd.write("apache.conf", conf);
        let child = Command::new(apache)
            .arg("-X")
            .arg("-f")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start apache2");
        let apache = Apache {
            proc_: KillOnDrop { child },
            http: ports[0],
            https: ports[1],
            wd,
        };
        for port in [apache.http, apache.https] {
            await_listener(port, "apache2", &apache.wd.join("error.log"));
        }
        apache
    }

    /// `http://127.0.0.1:PORT<path>`.
    pub fn http_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.http, path)
    }

    /// `https://localhost:PORT<path>` (the test leaf has DNS:localhost).
    pub fn https_url_localhost(&self, path: &str) -> String {
        format!("https://localhost:{}{}", self.https, path)
    }

    pub fn https_port(&self) -> u16 {
        self.https
    }

    /// The document root (every location serves from it).
    pub fn www_dir(&self) -> PathBuf {
        self.wd.join("www")
    }

    /// Write `www/<name>`.
    pub fn put_file(&self, name: &str, data: &[u8]) -> PathBuf {
        put(&self.www_dir(), name, data)
    }

    /// One line per request: `client user "request line" status bytes "Range" "If-Range"`.
    pub fn access_log(&self) -> String {
        read_lossy(&self.wd.join("access.log"))
    }
}

const LIGHTTPD_CONF: &str = r#"
server.document-root = "@W@/www"
server.bind = "127.0.0.1"
server.port = @HTTP@
server.pid-file = "@W@/lighttpd.pid"
server.errorlog = "@W@/error.log"
# Tests replace files within a second; lighttpd's stat cache would answer with the old ones.
server.stat-cache-engine = "disable"
server.modules = ("mod_auth", "mod_authn_file", "mod_accesslog", "mod_alias")
accesslog.filename = "@W@/access.log"
accesslog.format = "%h %u \"%r\" %>s %b \"%{Range}i\" \"%{If-Range}i\""
mimetype.assign = (".bin" => "application/octet-stream", ".txt" => "text/plain")
alias.url = ("/slow/" => "@W@/www/")
$HTTP["url"] =~ "^/slow/" {
    connection.kbytes-per-second = @RATE_KIB@
}
auth.backend = "htdigest"
auth.backend.htdigest.userfile = "@W@/htdigest"
auth.require = ("/digest/" => ("method" => "digest", "algorithm" => "SHA-256",
                               "realm" => "@REALM@", "require" => "valid-user"))
"#;

/// lighttpd 1.4 in the foreground (`-D`). Killed on drop.
pub struct Lighttpd {
    proc_: KillOnDrop,
    http: u16,
    wd: WorkDir,
}

impl Lighttpd {
    pub fn start() -> Lighttpd {
        let lighttpd = find_program("lighttpd")
            .unwrap_or_else(|| panic!("lighttpd is not installed (apt-get install lighttpd)"));
        let wd = WorkDir::named("lighttpd");
        let w = wd.path().to_path_buf();
        wd.mkdir("www/digest");
        htdigest(&w.join("htdigest"), |s| sha256_hex_of(s.as_bytes()));
        let port = free_ports(1)[0];
        let conf = LIGHTTPD_CONF
            .replace("@W@", &w.display().to_string())
            .replace("@HTTP@", &port.to_string())
            .replace("@REALM@", DIGEST_REALM)
            .replace("@RATE_KIB@", &(SLOW_RATE / 1024).to_string());
        let conf_path = wd.write("lighttpd.conf", conf);
        let child = Command::new(lighttpd)
            .arg("-D")
            .arg("-f")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start lighttpd");
        let server = Lighttpd {
            proc_: KillOnDrop { child },
            http: port,
            wd,
        };
        await_listener(port, "lighttpd", &server.wd.join("error.log"));
        server
    }

    pub fn http_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.http, path)
    }

    pub fn www_dir(&self) -> PathBuf {
        self.wd.join("www")
    }

    pub fn put_file(&self, name: &str, data: &[u8]) -> PathBuf {
        put(&self.www_dir(), name, data)
    }

    pub fn access_log(&self) -> String {
        read_lossy(&self.wd.join("access.log"))
    }
}

/// httpbin (Debian's python3-httpbin) on Werkzeug's server. Killed on drop.
pub struct Httpbin {
    proc_: KillOnDrop,
    port: u16,
    _wd: WorkDir,
}

impl Httpbin {
    pub fn start() -> Httpbin {
        let wd = WorkDir::named("httpbin");
        let port = free_ports(1)[0];
        let log = wd.join("httpbin.log");
        let child = Command::new(python3())
            .args([
                "-c",
                "import sys, logging; from httpbin import app; \
                 logging.getLogger('werkzeug').setLevel(logging.ERROR); \
                 app.run(host='127.0.0.1', port=int(sys.argv[1]), threaded=True)",
            ])
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("httpbin log"))
            .spawn()
            .expect("start httpbin (python3-httpbin)");
        let server = Httpbin {
            proc_: KillOnDrop { child },
            port,
            _wd: wd,
        };
        await_listener(port, "httpbin", &log);
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }
}

/// `user:realm:H(user:realm:password)` for DIGEST_USER.
fn htdigest(path: &Path, hash: impl Fn(&str) -> String) {
    let ha1 = hash(&format!("{DIGEST_USER}:{DIGEST_REALM}:{DIGEST_PASSWORD}"));
    std::fs::write(path, format!("{DIGEST_USER}:{DIGEST_REALM}:{ha1}\n")).unwrap();
}

fn md5_hex(data: &[u8]) -> String {
    let out = Command::new("md5sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(data)?;
            c.wait_with_output()
        })
        .expect("md5sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string()
}

fn sha256_hex_of(data: &[u8]) -> String {
    super::data::sha256_hex(data)
}

fn put(www: &Path, name: &str, data: &[u8]) -> PathBuf {
    let path = www.join(name);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(&path, data).unwrap();
    path
}
