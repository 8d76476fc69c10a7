//! Real forward proxies in their packaged configuration: squid and tinyproxy, started from
//! Debian's own config files with only the port, the log and pid files (and, for squid, the
//! host name and the ICMP pinger) changed, so their access rules are the stock ones: squid
//! allows CONNECT to port 443 only.

use std::path::Path;
use std::process::{Command, Stdio};

use super::echo::KillOnDrop;
use super::net::{await_listener, free_port};
use super::nginx::find_program;
use super::workdir::{read_lossy, WorkDir};

/// squid 5 with Debian's /etc/squid/squid.conf on 127.0.0.1:PORT. Killed on drop.
pub struct Squid {
    proc_: KillOnDrop,
    port: u16,
    dir: WorkDir,
}

/// Extra squid settings: Digest authentication for `user`/`password` (realm
/// "boardnet-test"), required of every client, and CONNECT allowed to `connect_port` too.
pub struct SquidDigest<'a> {
    pub user: &'a str,
    pub password: &'a str,
    pub connect_port: u16,
}

impl Squid {
    /// The packaged configuration.
    pub fn start() -> Squid {
        Squid::spawn(None)
    }

    /// The packaged configuration plus Digest proxy authentication.
    pub fn start_with_digest(digest: SquidDigest<'_>) -> Squid {
        Squid::spawn(Some(digest))
    }

    fn spawn(digest: Option<SquidDigest<'_>>) -> Squid {
        let squid = find_program("squid")
            .unwrap_or_else(|| panic!("squid is not installed (apt-get install squid)"));
        let dir = WorkDir::named("squid");
        let w = dir.path().to_path_buf();
        // squid drops to the `proxy` user, which must write its logs here.
        chmod(&w, 0o777);
        let port = free_port();
        let packaged = std::fs::read_to_string("/etc/squid/squid.conf")
            .expect("/etc/squid/squid.conf (the packaged configuration)");
        let mut conf = String::new();
        for line in packaged.lines() {
            if line.trim_start().starts_with("http_port") {
                conf.push_str(&format!("http_port 127.0.0.1:{port}\n"));
                continue;
            }
            // Rules for authenticated users go before the packaged `allow localhost`.
            if line.trim() == "http_access allow localhost" {
                if let Some(d) = &digest {
                    let passwd = w.join("digest-passwd");
                    std::fs::write(&passwd, format!("{}:{}\n", d.user, d.password)).unwrap();
                    chmod(&passwd, 0o644);
                    conf.push_str(&format!(
                        "auth_param digest program /usr/lib/squid/digest_file_auth {}\n\
                         auth_param digest realm boardnet-test\n\
                         acl authed proxy_auth REQUIRED\n\
                         http_access deny !authed\n",
                        passwd.display()
                    ));
                }
            }
            if line.trim_start().starts_with("acl SSL_ports port 443") {
                if let Some(d) = &digest {
                    conf.push_str(&format!("acl SSL_ports port {}\n", d.connect_port));
                }
            }
            conf.push_str(line);
            conf.push('\n');
        }
        conf.push_str(&format!(
            "pid_filename {w}/squid.pid\n\
             access_log stdio:{w}/access.log\n\
             cache_log {w}/cache.log\n\
             cache_store_log none\n\
             coredump_dir {w}\n\
             visible_hostname boardnet-test\n\
             pinger_enable off\n\
             dns_nameservers 127.0.0.1\n",
            w = w.display()
        ));
        let conf_path = dir.write("squid.conf", conf);
        chmod(&conf_path, 0o644);
        let child = Command::new(squid)
            .arg("-N")
            .arg("-f")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start squid");
        let squid = Squid {
            proc_: KillOnDrop { child },
            port,
            dir,
        };
        let cache_log = squid.dir.join("cache.log");
        await_listener(port, "squid", &cache_log);
        squid
    }

    /// `http://127.0.0.1:PORT`, or with `user:password@`.
    pub fn url(&self, credentials: Option<(&str, &str)>) -> String {
        match credentials {
            Some((u, p)) => format!("http://{u}:{p}@127.0.0.1:{}", self.port),
            None => format!("http://127.0.0.1:{}", self.port),
        }
    }

    /// squid's access log: one line per request (`TCP_MISS/200 … GET http://…`).
    pub fn access_log(&self) -> String {
        read_lossy(&self.dir.join("access.log"))
    }
}

/// tinyproxy 1.11 with Debian's /etc/tinyproxy/tinyproxy.conf on 127.0.0.1:PORT. Killed on
/// drop.
pub struct Tinyproxy {
    proc_: KillOnDrop,
    port: u16,
    dir: WorkDir,
}

impl Tinyproxy {
    pub fn start() -> Tinyproxy {
        let tinyproxy = find_program("tinyproxy")
            .unwrap_or_else(|| panic!("tinyproxy is not installed (apt-get install tinyproxy)"));
        let dir = WorkDir::named("tinyproxy");
        let w = dir.path().to_path_buf();
        chmod(&w, 0o777);
        let port = free_port();
        let packaged = std::fs::read_to_string("/etc/tinyproxy/tinyproxy.conf")
            .expect("/etc/tinyproxy/tinyproxy.conf (the packaged configuration)");
        let mut conf = String::new();
        for line in packaged.lines() {
            let key = line.split_whitespace().next().unwrap_or("");
            match key {
                "Port" => conf.push_str(&format!("Port {port}\nListen 127.0.0.1\n")),
                "LogFile" => conf.push_str(&format!("LogFile \"{}/tinyproxy.log\"\n", w.display())),
                "PidFile" => conf.push_str(&format!("PidFile \"{}/tinyproxy.pid\"\n", w.display())),
                _ => {
                    conf.push_str(line);
                    conf.push('\n');
                }
            }
        }
        let conf_path = dir.write("tinyproxy.conf", conf);
        chmod(&conf_path, 0o644);
        let child = Command::new(tinyproxy)
            .arg("-d")
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tinyproxy");
        let proxy = Tinyproxy {
            proc_: KillOnDrop { child },
            port,
            dir,
        };
        await_listener(port, "tinyproxy", &proxy.dir.join("tinyproxy.log"));
        proxy
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// tinyproxy's log (`Request (file descriptor N): GET http://… HTTP/1.1`).
    pub fn log(&self) -> String {
        read_lossy(&self.dir.join("tinyproxy.log"))
    }
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}
