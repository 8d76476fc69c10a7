//! The transfer meter: one updating line on a terminal, JSON events for a firmware UI.

use std::io::Write;
use std::time::{Duration, Instant};

use super::output::{human_bytes, json_line_stderr};
use crate::http::Progress;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Off,
    /// A line on stderr redrawn in place (only when stderr is a terminal).
    Bar,
    /// `{"event":"progress",...}` lines on stderr.
    Json,
}

impl Mode {
    /// The default: a bar on a terminal, nothing otherwise (logs and pipes stay clean).
    pub(crate) fn default_for_stderr() -> Mode {
        // SAFETY: isatty on a standard descriptor has no preconditions.
        if unsafe { libc::isatty(libc::STDERR_FILENO) } == 1 {
            Mode::Bar
        } else {
            Mode::Off
        }
    }
}

/// At most this often, so a 3 GiB/s transfer does not spend its time printing.
const INTERVAL: Duration = Duration::from_millis(100);

#[derive(Debug)]
pub(crate) struct Meter {
    mode: Mode,
    url: String,
    direction: &'static str,
    started: Instant,
    /// The first report, the origin of the rate (a resumed prefix must not count as speed).
    base: Option<(u64, Instant)>,
    last_draw: Option<Instant>,
    last: Option<Progress>,
}

impl Meter {
    pub(crate) fn new(mode: Mode, url: &str, upload: bool) -> Meter {
        Meter {
            mode,
            url: url.to_string(),
            direction: if upload { "upload" } else { "download" },
            started: Instant::now(),
            base: None,
            last_draw: None,
            last: None,
        }
    }

    pub(crate) fn update(&mut self, p: &Progress) {
        if self.mode == Mode::Off {
            return;
        }
        let now = Instant::now();
        self.base.get_or_insert((p.bytes, now));
        self.last = Some(*p);
        if self
            .last_draw
            .is_some_and(|t| now.duration_since(t) < INTERVAL)
        {
            return;
        }
        self.last_draw = Some(now);
        self.draw(p, false);
    }

    /// Draw the final state (and end the terminal line).
    pub(crate) fn finish(&mut self) {
        if let Some(p) = self.last.take() {
            if self.mode != Mode::Off {
                self.draw(&p, true);
            }
        }
    }

    fn rate(&self, p: &Progress) -> f64 {
        let (bytes, since) = self.base.unwrap_or((0, self.started));
        let elapsed = since.elapsed().as_secs_f64();
        if elapsed < 0.05 {
            return 0.0;
        }
        p.bytes.saturating_sub(bytes) as f64 / elapsed
    }

    fn draw(&self, p: &Progress, last: bool) {
        let rate = self.rate(p);
        let percent = p
            .total
            .filter(|t| *t > 0)
            .map(|t| (p.bytes as f64 * 100.0 / t as f64).min(100.0));
        let eta = p
            .total
            .and_then(|t| (rate > 0.0).then(|| t.saturating_sub(p.bytes) as f64 / rate));
        match self.mode {
            Mode::Off => {}
            Mode::Json => json_line_stderr(&serde_json::json!({
                "event": "progress",
                "direction": self.direction,
                "url": self.url,
                "bytes": p.bytes,
                "total": p.total,
                "percent": percent.map(|x| (x * 10.0).round() / 10.0),
                "rate": rate.round(),
                "eta": eta.map(|x| (x * 10.0).round() / 10.0),
                "done": last,
            })),
            Mode::Bar => {
                let mut line = format!("\r{:>10}", human_bytes(p.bytes));
                if let Some(t) = p.total {
                    line.push_str(&format!(" / {}", human_bytes(t)));
                }
                if let Some(pc) = percent {
                    line.push_str(&format!(" {pc:5.1}%"));
                }
                line.push_str(&format!("  {}/s", human_bytes(rate as u64)));
                if let Some(eta) = eta.filter(|_| !last) {
                    let s = eta as u64;
                    line.push_str(&format!(
                        "  ETA {}:{:02}:{:02}",
                        s / 3600,
                        s / 60 % 60,
                        s % 60
                    ));
                }
                line.push_str("\x1b[K");
                if last {
                    line.push('\n');
                }
                let mut err = std::io::stderr().lock();
                let _ = err.write_all(line.as_bytes());
                let _ = err.flush();
            }
        }
    }
}
