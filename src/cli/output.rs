//! Printing: JSON lines on stdout, human text elsewhere.

use std::io::Write;

/// Write one JSON object as one line on stdout. A closed stdout (e.g. `| head`) is not an
/// error worth reporting.
pub(crate) fn json_line(value: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer(&mut out, value);
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}

/// One JSON object on one stdout line whose array member is written item by item, so that a
/// listing of any length costs one item's memory: `{HEAD..., "KEY": [item, ...], TAIL...}`.
/// Fields known only at the end (the reply, an error) go in the tail.
#[cfg(feature = "ftp")]
pub(crate) struct JsonArrayLine<W: Write = std::io::Stdout> {
    out: W,
    empty: bool,
}

#[cfg(feature = "ftp")]
impl<W: Write> JsonArrayLine<W> {
    /// Write `head`'s fields (an object) and open the array `key`.
    pub(crate) fn begin(mut out: W, head: &serde_json::Value, key: &str) -> JsonArrayLine<W> {
        let head = head.to_string();
        let fields = head.strip_suffix('}').unwrap_or("{");
        let comma = if fields.len() > 1 { "," } else { "" };
        let _ = write!(out, "{fields}{comma}{}:[", serde_json::Value::from(key));
        JsonArrayLine { out, empty: true }
    }

    pub(crate) fn item(&mut self, item: &serde_json::Value) {
        if !std::mem::take(&mut self.empty) {
            let _ = self.out.write_all(b",");
        }
        let _ = serde_json::to_writer(&mut self.out, item);
    }

    /// Close the array, add `tail`'s fields (an object) and end the line.
    pub(crate) fn end(mut self, tail: &serde_json::Value) -> W {
        let tail = tail.to_string();
        let fields = tail.strip_prefix('{').unwrap_or("}");
        let comma = if fields.len() > 1 { "," } else { "" };
        let _ = writeln!(self.out, "]{comma}{fields}");
        let _ = self.out.flush();
        self.out
    }
}

/// The same on stderr (progress events, which must not mix with a body on stdout).
pub(crate) fn json_line_stderr(value: &serde_json::Value) {
    let mut err = std::io::stderr().lock();
    let _ = serde_json::to_writer(&mut err, value);
    let _ = err.write_all(b"\n");
}

/// Say what a resumable download did to its `.part` (on stderr, as it happens) and keep the
/// text for the JSON result.
pub(crate) fn notice_line(url: &str, notice: &crate::fs::PartNotice) -> String {
    let text = notice.to_string();
    eprintln!("boardnet: {}: {text}", crate::error::Bounded(url));
    text
}

/// Seconds with microsecond precision, as JSON numbers.
pub(crate) fn secs(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e6
}

/// 1536 → "1.5 KiB".
pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Print one line of human text on stdout. A reader that went away (`| head`) ends the
/// command quietly, as it does for C tools, instead of a panic.
pub(crate) fn text_line(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.write_all(b"\n")) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

/// Help and other fixed text on stdout, as [`text_line`] writes it (a closed pipe ends the
/// process quietly: `boardnet get --help | head` must not panic).
pub(crate) fn print_text(text: &str) {
    text_line(format_args!("{}", text.strip_suffix('\n').unwrap_or(text)));
}

/// `println!` through [`text_line`].
macro_rules! outln {
    () => { $crate::cli::output::text_line(format_args!("")) };
    ($($arg:tt)*) => { $crate::cli::output::text_line(format_args!($($arg)*)) };
}
pub(crate) use outln;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_like_people_write_them() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
        assert_eq!(secs(std::time::Duration::from_nanos(1_234_567)), 0.001235);
    }

    #[test]
    #[cfg(feature = "ftp")]
    fn a_streamed_array_line_is_one_json_object() {
        use serde_json::json;
        let mut line = JsonArrayLine::begin(Vec::new(), &json!({"id": 1}), "entries");
        line.item(&json!({"name": "a"}));
        line.item(&json!("b"));
        let out = line.end(&json!({"ok": true}));
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v,
            json!({"id": 1, "entries": [{"name": "a"}, "b"], "ok": true})
        );
        assert!(out.ends_with(b"}\n") && out.iter().filter(|&&b| b == b'\n').count() == 1);
        let empty = JsonArrayLine::begin(Vec::new(), &json!({}), "e").end(&json!({}));
        assert_eq!(empty, b"{\"e\":[]}\n");
    }
}
