//! Argument helpers shared by every subcommand: global flags, numbers, durations.

use std::time::Duration;

use lexopt::Arg;

use super::Failure;

/// Flags every subcommand accepts, wherever they appear.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Globals {
    pub(crate) verbose: u8,
    pub(crate) json: bool,
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
        let level = match self.verbose {
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
    fn globals_anywhere() {
        let mut g = Globals::default();
        assert!(g.accept(&Arg::Short('v')));
        assert!(g.accept(&Arg::Long("verbose")));
        assert!(g.accept(&Arg::Long("json")));
        assert!(!g.accept(&Arg::Short('o')));
        assert_eq!((g.verbose, g.json), (2, true));
    }
}
