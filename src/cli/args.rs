//! Argument helpers shared by every subcommand: global flags, numbers, durations.

use std::time::Duration;

use lexopt::Arg;

use super::Failure;
use crate::error::ErrorClass;
use crate::tls::{parse_pins, TlsOptions, TlsProblem};
use crate::transfer::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDLE_TIMEOUT};

/// Flags every subcommand accepts, wherever they appear.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Globals {
    pub(crate) verbose: u8,
    pub(crate) json: bool,
    /// The command's stdout carries data (connect, listen): JSON events and the final
    /// error object go to stderr instead.
    pub(crate) events_on_stderr: bool,
}

impl Globals {
    /// Consume `arg` if it is a global flag.
    pub(crate) fn accept(&mut self, arg: &Arg<'_>) -> bool {
        match arg {
            Arg::Short('v') | Arg::Long("verbose") => self.verbose = self.verbose.saturating_add(1),
            Arg::Long("json") => self.json = true,
            _ => return false,
        }
        true
    }

    /// Log level from `-v` count; `RUST_LOG` wins when set. Logs go to stderr.
    pub(crate) fn init_logging(&self) {
        self.init_logging_at(0);
    }

    /// [`init_logging`](Self::init_logging) with `-v` counted from `base` (a service logs
    /// what it does by default).
    pub(crate) fn init_logging_at(&self, base: u8) {
        let level = match self.verbose.saturating_add(base) {
            0 => "warn",
            1 => "info",
            2 => "debug",
            _ => "trace",
        };
        let env = env_logger::Env::default().default_filter_or(format!("boardnet={level}"));
        let _ = env_logger::Builder::from_env(env)
            .format_timestamp(None)
            .format_target(false)
            .try_init();
    }
}

/// A TLS client flag, recognised before its value is read (lexopt's `Arg` borrows the parser).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TlsFlag {
    CaCert,
    Cert,
    Key,
    PinnedPubKey,
    IgnoreError,
    Insecure,
}

impl TlsFlag {
    pub(crate) fn of(arg: &Arg<'_>) -> Option<TlsFlag> {
        Some(match arg {
            Arg::Long("cacert") => TlsFlag::CaCert,
            Arg::Short('E') | Arg::Long("cert") => TlsFlag::Cert,
            Arg::Long("key") => TlsFlag::Key,
            Arg::Long("pinnedpubkey") => TlsFlag::PinnedPubKey,
            Arg::Long("ignore-tls-error") => TlsFlag::IgnoreError,
            Arg::Short('k') | Arg::Long("insecure") => TlsFlag::Insecure,
            _ => return None,
        })
    }
}

/// The TLS client flags every client command shares: curl's spelling, plus Qt's per-problem
/// ignore list (`--ignore-tls-error expired`).
#[derive(Debug, Default, Clone)]
pub(crate) struct TlsFlags {
    pub(crate) options: TlsOptions,
}

impl TlsFlags {
    pub(crate) fn set(
        &mut self,
        flag: TlsFlag,
        parser: &mut lexopt::Parser,
    ) -> Result<(), Failure> {
        let o = &mut self.options;
        match flag {
            TlsFlag::CaCert => o.ca_file = Some(text(parser, "--cacert")?.into()),
            TlsFlag::Cert => o.client_cert = Some(text(parser, "--cert")?.into()),
            TlsFlag::Key => o.client_key = Some(text(parser, "--key")?.into()),
            TlsFlag::PinnedPubKey => {
                let v = text(parser, "--pinnedpubkey")?;
                o.pinned_keys.extend(
                    parse_pins(&v).map_err(|e| Failure::usage(format!("--pinnedpubkey: {e}")))?,
                );
            }
            TlsFlag::IgnoreError => {
                let v = text(parser, "--ignore-tls-error")?;
                o.ignore.push(
                    v.parse::<TlsProblem>()
                        .map_err(|e| Failure::usage(format!("--ignore-tls-error: {e}")))?,
                );
            }
            TlsFlag::Insecure => o.insecure = true,
        }
        Ok(())
    }

    /// Any TLS flag was given.
    pub(crate) fn given(&self) -> bool {
        let o = &self.options;
        o.ca_file.is_some()
            || o.client_cert.is_some()
            || o.client_key.is_some()
            || !o.pinned_keys.is_empty()
            || !o.ignore.is_empty()
            || o.insecure
    }

    /// Combinations that cannot work, and TLS flags in a build without TLS.
    pub(crate) fn check(&self) -> Result<(), Failure> {
        if self.options.client_key.is_some() && self.options.client_cert.is_none() {
            return Err(Failure::usage("--key needs --cert"));
        }
        if !cfg!(feature = "tls") && self.given() {
            return Err(Failure {
                help_hint: false,
                class: ErrorClass::Unsupported,
                message: "TLS options given, but this build has no TLS (feature tls)".into(),
            });
        }
        Ok(())
    }
}

/// A timeout or speed flag, recognised before its value is read (as [`TlsFlag`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LimitFlag {
    Connect,
    Idle,
    MaxTime,
    SpeedLimit,
    SpeedTime,
}

impl LimitFlag {
    pub(crate) fn of(arg: &Arg<'_>) -> Option<LimitFlag> {
        Some(match arg {
            Arg::Long("connect-timeout") => LimitFlag::Connect,
            // FTP's name for it too (its longest silence between replies and data).
            Arg::Long("idle-timeout") | Arg::Long("reply-timeout") => LimitFlag::Idle,
            Arg::Short('m') | Arg::Long("max-time") => LimitFlag::MaxTime,
            Arg::Short('Y') | Arg::Long("speed-limit") => LimitFlag::SpeedLimit,
            Arg::Short('y') | Arg::Long("speed-time") => LimitFlag::SpeedTime,
            _ => return None,
        })
    }
}

/// The timeouts and speed limit every transfer command shares (HTTP and FTP). A value not
/// given is `None` (the library's default applies); `0` means never.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct LimitFlags {
    pub(crate) connect: Option<Duration>,
    pub(crate) idle: Option<Duration>,
    pub(crate) max_time: Option<Duration>,
    speed_limit: Option<u64>,
    speed_time: Option<Duration>,
}

/// `--speed-time` when only `--speed-limit` is given (curl's default).
const DEFAULT_SPEED_TIME: Duration = Duration::from_secs(30);

impl LimitFlags {
    pub(crate) fn set(
        &mut self,
        flag: LimitFlag,
        parser: &mut lexopt::Parser,
    ) -> Result<(), Failure> {
        match flag {
            LimitFlag::Connect => self.connect = Some(seconds(parser, "--connect-timeout")?),
            LimitFlag::Idle => self.idle = Some(seconds(parser, "--idle-timeout")?),
            LimitFlag::MaxTime => self.max_time = Some(seconds(parser, "--max-time")?),
            LimitFlag::SpeedLimit => {
                let limit: u64 = number(parser, "--speed-limit")?;
                if limit == 0 {
                    return Err(Failure::usage("--speed-limit must be at least 1 byte/s"));
                }
                self.speed_limit = Some(limit);
            }
            LimitFlag::SpeedTime => {
                let time = seconds(parser, "--speed-time")?;
                if time.is_zero() {
                    return Err(Failure::usage("--speed-time must be more than 0 s"));
                }
                self.speed_time = Some(time);
            }
        }
        Ok(())
    }

    /// A limit as given (`0`: never), or `default` when not given.
    pub(crate) fn or(given: Option<Duration>, default: Option<Duration>) -> Option<Duration> {
        match given {
            None => default,
            Some(d) if d.is_zero() => None,
            Some(d) => Some(d),
        }
    }

    /// `--connect-timeout` as the library takes it (default [`DEFAULT_CONNECT_TIMEOUT`]).
    pub(crate) fn connect(&self) -> Option<Duration> {
        Self::or(self.connect, Some(DEFAULT_CONNECT_TIMEOUT))
    }

    /// `--idle-timeout`/`--reply-timeout` as the library takes it (default
    /// [`DEFAULT_IDLE_TIMEOUT`]).
    pub(crate) fn idle(&self) -> Option<Duration> {
        Self::or(self.idle, Some(DEFAULT_IDLE_TIMEOUT))
    }

    /// `--max-time` (default: none).
    pub(crate) fn max_time(&self) -> Option<Duration> {
        Self::or(self.max_time, None)
    }

    /// `(bytes/s, window)` when either speed flag was given (`-y` alone: at least 1 byte/s).
    pub(crate) fn speed(&self) -> Option<(u64, Duration)> {
        match (self.speed_limit, self.speed_time) {
            (None, None) => None,
            (limit, time) => Some((limit.unwrap_or(1), time.unwrap_or(DEFAULT_SPEED_TIME))),
        }
    }
}

/// The option's value as UTF-8 text.
pub(crate) fn text(parser: &mut lexopt::Parser, what: &str) -> Result<String, Failure> {
    parser
        .value()?
        .into_string()
        .map_err(|_| Failure::usage(format!("{what}: not valid UTF-8")))
}

/// A non-negative decimal number of seconds ("2", "0.5").
pub(crate) fn seconds(parser: &mut lexopt::Parser, flag: &str) -> Result<Duration, Failure> {
    let v = text(parser, flag)?;
    parse_seconds(&v)
        .ok_or_else(|| Failure::usage(format!("{flag}: \"{v}\" is not a number of seconds")))
}

pub(crate) fn parse_seconds(v: &str) -> Option<Duration> {
    let secs: f64 = v.trim().parse().ok()?;
    (secs.is_finite() && (0.0..1e9).contains(&secs)).then(|| Duration::from_secs_f64(secs))
}

/// A file to write (`-o`): refused up front when empty, before anything is fetched (it used
/// to download everything, then fail to rename `./.part` into place).
pub(crate) fn output_path(
    parser: &mut lexopt::Parser,
    flag: &str,
) -> Result<std::path::PathBuf, Failure> {
    let path = text(parser, flag)?;
    if path.trim().is_empty() {
        return Err(Failure::usage(format!(
            "{flag}: give a file name, not an empty one"
        )));
    }
    Ok(path.into())
}

/// An unsigned integer.
pub(crate) fn number<T: std::str::FromStr>(
    parser: &mut lexopt::Parser,
    flag: &str,
) -> Result<T, Failure> {
    let v = text(parser, flag)?;
    v.trim()
        .parse()
        .map_err(|_| Failure::usage(format!("{flag}: \"{v}\" is not a valid number")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_parse() {
        assert_eq!(parse_seconds("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_seconds("0.25"), Some(Duration::from_millis(250)));
        assert_eq!(parse_seconds("-1"), None);
        assert_eq!(parse_seconds("inf"), None);
        assert_eq!(parse_seconds("x"), None);
    }

    #[test]
    fn zero_limits_mean_never_and_absent_ones_the_default() {
        let d = Some(Duration::from_secs(30));
        assert_eq!(LimitFlags::or(None, d), d);
        assert_eq!(LimitFlags::or(Some(Duration::ZERO), d), None);
        assert_eq!(
            LimitFlags::or(Some(Duration::from_secs(2)), d),
            Some(Duration::from_secs(2))
        );
        let mut f = LimitFlags::default();
        assert_eq!(f.speed(), None);
        let mut p = lexopt::Parser::from_args(["5"]);
        f.set(LimitFlag::SpeedTime, &mut p).unwrap();
        assert_eq!(f.speed(), Some((1, Duration::from_secs(5))));
        let mut p = lexopt::Parser::from_args(["0"]);
        assert!(f.set(LimitFlag::SpeedLimit, &mut p).is_err());
    }

    #[test]
    fn globals_anywhere() {
        let mut g = Globals::default();
        assert!(g.accept(&Arg::Short('v')));
        assert!(g.accept(&Arg::Long("verbose")));
        assert!(g.accept(&Arg::Long("json")));
        assert!(!g.accept(&Arg::Short('o')));
        assert_eq!((g.verbose, g.json), (2, true));
    }
}
