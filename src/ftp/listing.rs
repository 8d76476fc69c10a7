//! Directory listings: MLSD lines (RFC 3659, machine-readable) and LIST lines (whatever `ls -l`
//! or IIS prints), both into one [`Entry`]. Pure functions over one line; nothing panics on
//! bad input — a line that cannot be understood is `None` and the caller keeps its raw text.

/// What a directory entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link.
    Link,
    /// Anything else (devices, unknown types).
    Other,
}

impl EntryKind {
    /// `file`, `directory`, `link` or `other`.
    pub fn name(self) -> &'static str {
        match self {
            EntryKind::File => "file",
            EntryKind::Directory => "directory",
            EntryKind::Link => "link",
            EntryKind::Other => "other",
        }
    }
}

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name (no directory part).
    pub name: String,
    /// What it is.
    pub kind: EntryKind,
    /// Size in bytes, when the server says.
    pub size: Option<u64>,
    /// ISO 8601: `…Z` (UTC) from MLSD; from LIST the server's local time without a zone, to the
    /// minute for recent files (the year inferred as `ls` implies it) or to the day.
    pub modified: Option<String>,
    /// `rwxr-xr-x` from LIST, the `perm` fact from MLSD.
    pub permissions: Option<String>,
    /// Where a symbolic link points, when the server says.
    pub target: Option<String>,
}

/// One MLSD line: `fact=value;fact=value; name`. The `cdir`/`pdir` entries (`.` and `..`)
/// give `None` like unparseable lines.
pub fn parse_mlsd_line(line: &str) -> Option<Entry> {
    let line = line.trim_end_matches(['\r', '\n']);
    let (facts, name) = line.split_once(' ')?;
    if name.is_empty() {
        return None;
    }
    let mut entry = Entry {
        name: name.to_string(),
        kind: EntryKind::Other,
        size: None,
        modified: None,
        permissions: None,
        target: None,
    };
    for fact in facts.split(';').filter(|f| !f.is_empty()) {
        let (key, value) = fact.split_once('=')?;
        match key.to_ascii_lowercase().as_str() {
            "type" => {
                let value = value.to_ascii_lowercase();
                entry.kind = match value.as_str() {
                    "file" => EntryKind::File,
                    "dir" => EntryKind::Directory,
                    "cdir" | "pdir" => return None,
                    "os.unix=symlink" => EntryKind::Link,
                    v if v.starts_with("os.unix=slink") => {
                        entry.target = fact
                            .split_once("slink:")
                            .map(|(_, t)| t.to_string())
                            .filter(|t| !t.is_empty());
                        EntryKind::Link
                    }
                    _ => EntryKind::Other,
                };
            }
            "size" | "sizd" => entry.size = value.parse().ok(),
            "modify" => entry.modified = super::proto::parse_timeval(value),
            "perm" => entry.permissions = Some(value.to_string()),
            _ => {}
        }
    }
    Some(entry)
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// One LIST line, Unix `ls -l` style or DOS/IIS style. `today` (year, month) places
/// `Mon DD HH:MM` dates, which `ls` prints for files of the last six months, in a year.
pub fn parse_list_line(line: &str, today: (i32, u32)) -> Option<Entry> {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.is_empty() || line.starts_with("total ") {
        return None;
    }
    parse_unix(line, today).or_else(|| parse_dos(line))
}

/// Words with their byte offsets, so a name keeps its inner spacing.
fn words(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        match (c == ' ' || c == '\t', start) {
            (true, Some(s)) => {
                out.push((s, &line[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, &line[s..]));
    }
    out
}

fn parse_unix(line: &str, today: (i32, u32)) -> Option<Entry> {
    let mode = line.get(..10)?;
    let kind = match mode.as_bytes()[0] {
        b'-' => EntryKind::File,
        b'd' => EntryKind::Directory,
        b'l' => EntryKind::Link,
        b'b' | b'c' | b'p' | b's' => EntryKind::Other,
        _ => return None,
    };
    if !mode[1..]
        .bytes()
        .all(|b| b"rwxsStTl-".contains(&b) || b == b'+' || b == b'.')
    {
        return None;
    }
    let words = words(line);
    // The date is "Mon DD HH:MM|YYYY" after the size; owner/group columns vary by server, so
    // find the month name instead of counting columns.
    let m = (3..words.len().saturating_sub(3)).find(|&i| month_number(words[i].1).is_some())?;
    let size = words[m - 1].1.parse::<u64>().ok()?;
    let month = month_number(words[m].1)?;
    let day: u32 = words[m + 1]
        .1
        .parse()
        .ok()
        .filter(|d| (1..=31).contains(d))?;
    let when = words[m + 2].1;
    let modified = if let Some((h, min)) = when.split_once(':') {
        let (h, min): (u32, u32) = (h.parse().ok()?, min.parse().ok()?);
        if h > 23 || min > 59 {
            return None;
        }
        // ls shows a time for files from the last six months: a later month is last year's.
        let year = if month > today.1 + 1 {
            today.0 - 1
        } else {
            today.0
        };
        format!("{year}-{month:02}-{day:02}T{h:02}:{min:02}")
    } else {
        let year: i32 = when.parse().ok()?;
        format!("{year}-{month:02}-{day:02}")
    };
    let name_at = words.get(m + 3)?.0;
    let mut name = &line[name_at..];
    let mut target = None;
    if kind == EntryKind::Link {
        if let Some((n, t)) = name.split_once(" -> ") {
            name = n;
            target = Some(t.to_string());
        }
    }
    Some(Entry {
        name: name.to_string(),
        kind,
        size: (kind == EntryKind::File).then_some(size),
        modified: Some(modified),
        permissions: Some(mode[1..].to_string()),
        target,
    })
}

fn month_number(word: &str) -> Option<u32> {
    let lower = word.to_ascii_lowercase();
    MONTHS
        .iter()
        .position(|m| *m == lower)
        .map(|i| i as u32 + 1)
}

/// `11-24-26  07:12AM       <DIR>          name` or `… 1234 name` (IIS, Windows servers).
fn parse_dos(line: &str) -> Option<Entry> {
    let words = words(line);
    let (date, time, size_or_dir) = (words.first()?.1, words.get(1)?.1, words.get(2)?.1);
    let name_at = words.get(3)?.0;
    let mut parts = date.split('-');
    let (month, day, year): (u32, u32, i32) = (
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
    );
    if parts.next().is_some() || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // Two-digit years: 70–99 are 19xx (as IIS's own clients read them).
    let year = match year {
        0..=69 => 2000 + year,
        70..=99 => 1900 + year,
        y => y,
    };
    let upper = time.to_ascii_uppercase();
    let (clock, pm) = match (upper.strip_suffix("AM"), upper.strip_suffix("PM")) {
        (Some(c), _) => (c, false),
        (_, Some(c)) => (c, true),
        _ => (upper.as_str(), false),
    };
    let (h, min) = clock.split_once(':')?;
    let (mut h, min): (u32, u32) = (h.parse().ok()?, min.parse().ok()?);
    if h > 23 || min > 59 {
        return None;
    }
    if pm && h < 12 {
        h += 12;
    } else if !pm && upper.ends_with("AM") && h == 12 {
        h = 0;
    }
    let (kind, size) = if size_or_dir.eq_ignore_ascii_case("<DIR>") {
        (EntryKind::Directory, None)
    } else {
        (EntryKind::File, Some(size_or_dir.parse().ok()?))
    };
    Some(Entry {
        name: line[name_at..].to_string(),
        kind,
        size,
        modified: Some(format!("{year}-{month:02}-{day:02}T{h:02}:{min:02}")),
        permissions: None,
        target: None,
    })
}

/// Today's (year, month) in UTC, for [`parse_list_line`].
pub fn current_year_month() -> (i32, u32) {
    let ((y, m, _), _) = crate::calendar::civil_time(crate::calendar::unix_now());
    (y, m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mlsd_lines() {
        let e = parse_mlsd_line("type=file;size=1024;modify=20261124071205;perm=adfrw; a b;c.bin")
            .unwrap();
        assert_eq!(e.name, "a b;c.bin");
        assert_eq!(e.kind, EntryKind::File);
        assert_eq!(e.size, Some(1024));
        assert_eq!(e.modified.as_deref(), Some("2026-11-24T07:12:05Z"));
        assert_eq!(e.permissions.as_deref(), Some("adfrw"));
        let d = parse_mlsd_line("Type=dir;Modify=20200101000000; sub\r\n").unwrap();
        assert_eq!((d.kind, d.name.as_str()), (EntryKind::Directory, "sub"));
        let l = parse_mlsd_line("type=OS.unix=slink:/etc/hosts;size=10; hosts").unwrap();
        assert_eq!(l.kind, EntryKind::Link);
        assert_eq!(l.target.as_deref(), Some("/etc/hosts"));
        assert_eq!(parse_mlsd_line("type=cdir; ."), None);
        assert_eq!(parse_mlsd_line("type=pdir; .."), None);
        assert_eq!(parse_mlsd_line("no-facts-here"), None);
        assert_eq!(parse_mlsd_line("type=file; "), None);
        assert_eq!(parse_mlsd_line("typefile; x"), None);
    }

    #[test]
    fn unix_list_lines() {
        let today = (2026, 11);
        let e = parse_list_line(
            "-rw-r--r--    1 1000     1000      1048576 Nov 24 07:12 fw image.bin",
            today,
        )
        .unwrap();
        assert_eq!(e.name, "fw image.bin");
        assert_eq!(e.kind, EntryKind::File);
        assert_eq!(e.size, Some(1 << 20));
        assert_eq!(e.modified.as_deref(), Some("2026-11-24T07:12"));
        assert_eq!(e.permissions.as_deref(), Some("rw-r--r--"));
        // Newer month than "next month": last year's.
        let old = parse_list_line("-rw-r--r-- 1 u g 5 Dec 31 23:59 x", (2026, 3)).unwrap();
        assert_eq!(old.modified.as_deref(), Some("2025-12-31T23:59"));
        let y = parse_list_line("drwxr-xr-x 2 ftp ftp 4096 Jan  1  2020 sub dir", today).unwrap();
        assert_eq!(
            (y.kind, y.size, y.name.as_str()),
            (EntryKind::Directory, None, "sub dir")
        );
        assert_eq!(y.modified.as_deref(), Some("2020-01-01"));
        // No group column (some embedded servers).
        let n = parse_list_line("-rw-r--r-- 1 owner 77 Feb 3 2021 n", today).unwrap();
        assert_eq!((n.size, n.name.as_str()), (Some(77), "n"));
        let l = parse_list_line(
            "lrwxrwxrwx 1 0 0 11 Nov 24 07:12 hosts -> /etc/hosts",
            today,
        )
        .unwrap();
        assert_eq!((l.kind, l.name.as_str()), (EntryKind::Link, "hosts"));
        assert_eq!(l.target.as_deref(), Some("/etc/hosts"));
        assert_eq!(parse_list_line("total 12", today), None);
        assert_eq!(
            parse_list_line("-rw-r--r-- 1 u g x Nov 24 07:12 f", today),
            None
        );
        assert_eq!(
            parse_list_line("-rw-r--r-- 1 u g 1 Foo 24 07:12 f", today),
            None
        );
        assert_eq!(
            parse_list_line("-rw-r--r-- 1 u g 1 Nov 24 25:12 f", today),
            None
        );
        assert_eq!(
            parse_list_line("-rw-r--r-- 1 u g 1 Nov 24 07:12", today),
            None
        );
        assert_eq!(parse_list_line("-rw", today), None);
    }

    #[test]
    fn dos_list_lines() {
        let d = parse_list_line(
            "11-24-26  07:12AM       <DIR>          web root",
            (2026, 11),
        )
        .unwrap();
        assert_eq!(
            (d.kind, d.name.as_str()),
            (EntryKind::Directory, "web root")
        );
        assert_eq!(d.modified.as_deref(), Some("2026-11-24T07:12"));
        let f = parse_list_line("01-02-1999  12:30PM   1234 a.txt", (2026, 11)).unwrap();
        assert_eq!(
            (f.size, f.modified.as_deref()),
            (Some(1234), Some("1999-01-02T12:30"))
        );
        let m = parse_list_line("01-02-99  12:05AM   1 m", (2026, 11)).unwrap();
        assert_eq!(m.modified.as_deref(), Some("1999-01-02T00:05"));
        assert_eq!(parse_list_line("13-02-99  12:05AM   1 m", (2026, 11)), None);
        assert_eq!(
            parse_list_line("garbage line here and there", (2026, 11)),
            None
        );
    }

    #[test]
    fn any_prefix_of_any_line_is_handled() {
        let lines = [
            "-rw-r--r--    1 1000     1000      1048576 Nov 24 07:12 fw image.bin",
            "lrwxrwxrwx 1 0 0 11 Nov 24 07:12 hosts -> /etc/hosts",
            "11-24-26  07:12AM       <DIR>          web root",
            "type=OS.unix=slink:/etc/hosts;size=10;modify=20261124071205; hosts",
            "ü-rw-r--r-- 1 ü ü 1 Nov 24 07:12 ü",
        ];
        for line in lines {
            for (i, _) in line.char_indices() {
                let _ = parse_list_line(&line[..i], (2026, 1));
                let _ = parse_mlsd_line(&line[..i]);
            }
        }
    }
}
