//! FTP peers: pyftpdlib (scripted: throttled, no EPSV, NAT-masquerading PASV, LIST only),
//! vsftpd with a test user it creates and removes (plain, explicit FTPS with the test CA, and
//! implicit FTPS), and a server that stops answering.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::echo::{python3, KillOnDrop};
use super::net::{free_port, wait_until_listening, START_TIMEOUT};
use super::pki::Pki;
use super::workdir::{read_lossy, WorkDir};

pub const FTP_SERVER_PY: &str = include_str!("ftp_server.py");

/// How to start [`PyFtpd`].
#[derive(Debug, Clone, Default)]
pub struct PyFtpdOpts {
    /// Bytes/s on data connections (0: unlimited).
    pub throttle: u64,
    pub no_epsv: bool,
    /// Address announced in PASV replies instead of 127.0.0.1 (never connected to).
    pub masquerade: Option<String>,
    pub no_mlsd: bool,
    /// Listen on this port (to restart a killed server where the client expects it).
    pub port: Option<u16>,
    /// Run inside this network namespace (`ip netns exec`), on its own 127.0.0.1.
    pub netns: Option<String>,
}

/// pyftpdlib on 127.0.0.1, users `user:pass` and `reader:readonly`, rooted at [`root`].
pub struct PyFtpd {
    proc_: Option<KillOnDrop>,
    port: u16,
    root: PathBuf,
    log: PathBuf,
    dir: WorkDir,
}

impl PyFtpd {
    pub fn start(opts: PyFtpdOpts) -> PyFtpd {
        let dir = WorkDir::named("pyftpd");
        let root = dir.mkdir("root");
        let mut server = PyFtpd {
            proc_: None,
            port: 0,
            root,
            log: dir.join("ftpd.log"),
            dir,
        };
        server.spawn(&opts);
        server
    }

    fn spawn(&mut self, opts: &PyFtpdOpts) {
        let script = self.dir.write("ftp_server.py", FTP_SERVER_PY);
        let logf = std::fs::File::create(&self.log).unwrap();
        let mut cmd = match &opts.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(python3());
                c
            }
            None => Command::new(python3()),
        };
        // No -S: pyftpdlib lives in Debian's dist-packages.
        cmd.arg("-u").arg(&script).arg("--root").arg(&self.root);
        cmd.args(["--port", &opts.port.unwrap_or(0).to_string()]);
        if opts.throttle > 0 {
            cmd.args(["--throttle", &opts.throttle.to_string()]);
        }
        if opts.no_epsv {
            cmd.arg("--no-epsv");
        }
        if opts.no_mlsd {
            cmd.arg("--no-mlsd");
        }
        if let Some(m) = &opts.masquerade {
            cmd.args(["--masquerade", m]);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(logf)
            .spawn()
            .expect("start python3 ftp_server.py");
        let mut line = String::new();
        let stdout = child.stdout.take().unwrap();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let port: u16 = line.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!(
                "pyftpdlib did not start (is python3-pyftpdlib installed?): {}",
                read_lossy(&self.log)
            )
        });
        // (It prints its port once it listens; from another namespace it cannot be probed.)
        assert!(opts.netns.is_some() || wait_until_listening(("127.0.0.1", port), START_TIMEOUT));
        self.port = port;
        self.proc_ = Some(KillOnDrop { child });
    }

    /// Kill the server (every connection drops at once).
    pub fn kill(&mut self) {
        self.proc_ = None;
    }

    /// Start again on the same port and root.
    pub fn restart(&mut self, mut opts: PyFtpdOpts) {
        self.kill();
        opts.port = Some(self.port);
        self.spawn(&opts);
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `ftp://user:pass@127.0.0.1:PORT/PATH`.
    pub fn url(&self, path: &str) -> String {
        format!("ftp://user:pass@127.0.0.1:{}/{path}", self.port)
    }

    pub fn log(&self) -> String {
        read_lossy(&self.log)
    }
}

static USERS: AtomicUsize = AtomicUsize::new(0);

/// vsftpd on 127.0.0.1 for a local user it creates (and deletes on drop), home in a work dir.
/// TLS is offered (AUTH TLS, not required) with the test CA's server certificate, and session
/// reuse on data connections is required (vsftpd's default). `implicit` makes it ftps://.
pub struct Vsftpd {
    proc_: Option<KillOnDrop>,
    port: u16,
    user: String,
    home: PathBuf,
    log: PathBuf,
    _dir: WorkDir,
}

pub const VSFTPD_PASSWORD: &str = "bn-test-pw";

impl Vsftpd {
    pub fn start(pki: &Pki, implicit: bool) -> Vsftpd {
        super::process::require_root_or_fail("vsftpd (a local test user)");
        let dir = WorkDir::named("vsftpd");
        let user = format!(
            "bnftp{}x{}",
            std::process::id(),
            USERS.fetch_add(1, Ordering::SeqCst)
        );
        let home = dir.mkdir("home");
        let ok = Command::new("useradd")
            .args(["-M", "-s", "/bin/sh", "-d"])
            .arg(&home)
            .arg(&user)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "useradd {user} failed");
        let mut chpasswd = Command::new("chpasswd")
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        chpasswd
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{user}:{VSFTPD_PASSWORD}\n").as_bytes())
            .unwrap();
        assert!(chpasswd.wait().unwrap().success());
        let _ = Command::new("chown").arg(&user).arg(&home).status();
        std::fs::create_dir_all("/var/run/vsftpd/empty").unwrap();
        let port = free_port();
        let log = dir.join("vsftpd.log");
        let conf = dir.write(
            "vsftpd.conf",
            format!(
                "listen=YES\nlisten_address=127.0.0.1\nlisten_port={port}\nbackground=NO\n\
                 local_enable=YES\nwrite_enable=YES\nanonymous_enable=NO\npam_service_name=vsftpd\n\
                 seccomp_sandbox=NO\nsecure_chroot_dir=/var/run/vsftpd/empty\n\
                 xferlog_enable=YES\nvsftpd_log_file={log}\nlog_ftp_protocol=YES\n\
                 ssl_enable=YES\nallow_anon_ssl=NO\nforce_local_logins_ssl=NO\n\
                 force_local_data_ssl=NO\nrequire_ssl_reuse=YES\nimplicit_ssl={implicit}\n\
                 rsa_cert_file={cert}\nrsa_private_key_file={key}\n",
                log = log.display(),
                implicit = if implicit { "YES" } else { "NO" },
                cert = pki.server_cert().display(),
                key = pki.server_key().display(),
            ),
        );
        let child = Command::new("vsftpd")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start vsftpd");
        let server = Vsftpd {
            proc_: Some(KillOnDrop { child }),
            port,
            user,
            home,
            log,
            _dir: dir,
        };
        assert!(
            wait_until_listening(("127.0.0.1", port), START_TIMEOUT),
            "vsftpd did not start: {}",
            server.log()
        );
        server
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `SCHEME://USER:PASSWORD@127.0.0.1:PORT/PATH`.
    pub fn url(&self, scheme: &str, path: &str) -> String {
        format!(
            "{scheme}://{}:{VSFTPD_PASSWORD}@127.0.0.1:{}/{path}",
            self.user, self.port
        )
    }

    /// Put a file in the user's home, owned by the user.
    pub fn put_file(&self, name: &str, data: &[u8]) -> PathBuf {
        let path = self.home.join(name);
        std::fs::write(&path, data).unwrap();
        let _ = Command::new("chown").arg(&self.user).arg(&path).status();
        path
    }

    pub fn log(&self) -> String {
        read_lossy(&self.log)
    }
}

impl Drop for Vsftpd {
    fn drop(&mut self) {
        self.proc_ = None;
        // Session processes run as the user; userdel refuses while they live.
        let _ = Command::new("pkill")
            .args(["-KILL", "-u", &self.user])
            .status();
        let _ = Command::new("userdel").arg(&self.user).status();
    }
}

/// A server that greets, asks for the password, and then never answers again.
pub struct StallingFtp {
    port: u16,
}

impl StallingFtp {
    pub fn start() -> StallingFtp {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                std::thread::spawn(move || {
                    let _ = conn.write_all(b"220 hello\r\n");
                    let mut reader = BufReader::new(conn.try_clone().unwrap());
                    let mut line = String::new();
                    while reader.read_line(&mut line).unwrap_or(0) > 0 {
                        if line.starts_with("USER") {
                            let _ = conn.write_all(b"331 password please\r\n");
                        }
                        // Anything else: silence, connection open.
                        line.clear();
                    }
                    let mut rest = Vec::new();
                    let _ = conn.read_to_end(&mut rest);
                    std::thread::sleep(Duration::from_secs(60));
                });
            }
        });
        StallingFtp { port }
    }

    pub fn url(&self, path: &str) -> String {
        format!("ftp://u:p@127.0.0.1:{}/{path}", self.port)
    }
}
