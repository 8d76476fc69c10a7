//! Calendar arithmetic without a calendar crate: days to and from civil dates, HTTP dates
//! written (IMF-fixdate) and read (leniently, as cookies and curl's `-z` read them).

/// A date as HTTP and cookies write it, in unix seconds: RFC 6265 section 5.1.1's lenient
/// algorithm, which reads all three HTTP-date forms (IMF-fixdate, RFC 850, asctime) and the
/// variants servers send. Dates before 1970 (the algorithm
/// accepts years from 1601) clamp to 0, which is in the past for any real clock.
pub(crate) fn parse_date(input: &[u8]) -> Option<u64> {
    let mut time = None;
    let mut day = None;
    let mut month = None;
    let mut year = None;
    for token in input.split(|&b| is_date_delimiter(b)) {
        if token.is_empty() {
            continue;
        }
        if time.is_none() {
            if let Some(t) = parse_time_token(token) {
                time = Some(t);
                continue;
            }
        }
        if day.is_none() {
            if let Some(d) = parse_digits_token(token, 1, 2) {
                day = Some(d);
                continue;
            }
        }
        if month.is_none() {
            if let Some(m) = parse_month_token(token) {
                month = Some(m);
                continue;
            }
        }
        if year.is_none() {
            if let Some(y) = parse_digits_token(token, 2, 4) {
                year = Some(y);
                continue;
            }
        }
    }
    let (hour, minute, second) = time?;
    let (day, month, mut year) = (day?, month?, year?);
    // Two-digit years: 70-99 are 19xx, 00-69 are 20xx.
    if (70..=99).contains(&year) {
        year += 1900;
    } else if year <= 69 {
        year += 2000;
    }
    if year < 1601 || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    if day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let seconds = unix_seconds(
        i64::from(year),
        i64::from(month),
        i64::from(day),
        i64::from(hour),
        i64::from(minute),
        i64::from(second),
    )?;
    Some(u64::try_from(seconds).unwrap_or(0))
}

/// The delimiter set of RFC 6265 section 5.1.1.
fn is_date_delimiter(b: u8) -> bool {
    matches!(b, 0x09 | 0x20..=0x2F | 0x3B..=0x40 | 0x5B..=0x60 | 0x7B..=0x7E)
}

/// Reads `min..=max` leading digits; returns the value and the rest of the token.
fn leading_digits(token: &[u8], min: usize, max: usize) -> Option<(u32, &[u8])> {
    let count = token
        .iter()
        .take(max)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if count < min {
        return None;
    }
    let (digits, rest) = token.split_at_checked(count)?;
    let value = digits
        .iter()
        .fold(0u32, |acc, b| acc * 10 + u32::from(b.saturating_sub(b'0')));
    Some((value, rest))
}

/// `min..=max` digits followed by nothing or by a non-digit and anything (day-of-month, year).
fn parse_digits_token(token: &[u8], min: usize, max: usize) -> Option<u32> {
    let (value, rest) = leading_digits(token, min, max)?;
    match rest.first() {
        Some(b) if b.is_ascii_digit() => None,
        _ => Some(value),
    }
}

/// `hms-time ( non-digit *OCTET )`.
fn parse_time_token(token: &[u8]) -> Option<(u32, u32, u32)> {
    let (hour, rest) = leading_digits(token, 1, 2)?;
    let rest = rest.strip_prefix(b":")?;
    let (minute, rest) = leading_digits(rest, 1, 2)?;
    let rest = rest.strip_prefix(b":")?;
    let second = parse_digits_token(rest, 1, 2)?;
    Some((hour, minute, second))
}

/// A token starting with an English month abbreviation, any case; returns 1..=12.
fn parse_month_token(token: &[u8]) -> Option<u32> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
        b"dec",
    ];
    let prefix = token.get(..3)?;
    let position = MONTHS
        .iter()
        .position(|m| prefix.eq_ignore_ascii_case(*m))?;
    u32::try_from(position).ok().map(|p| p + 1)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm), so no
/// calendar crate is needed.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y as i32, m, d)
}

/// Seconds since 1970 now (0 for a clock set before it).
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Unix seconds of a UTC date and time, `None` when a field is out of its range (a leap
/// second, 60, is allowed; the day is checked against 31, not the month's length).
pub(crate) fn unix_seconds(
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
) -> Option<i64> {
    let valid = (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && (0..=23).contains(&hour)
        && (0..=59).contains(&minute)
        && (0..=60).contains(&second);
    valid.then(|| days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// A UTC date and time of `unix` seconds: (year, month, day), (hour, minute, second).
pub(crate) fn civil_time(unix: u64) -> ((i32, u32, u32), (u64, u64, u64)) {
    let secs = unix % 86_400;
    let date = civil_from_days((unix / 86_400) as i64);
    (date, (secs / 3600, secs / 60 % 60, secs % 60))
}

/// `unix_secs` as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form HTTP sends.
pub(crate) fn http_date(unix_secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let ((year, month, day), (hour, minute, second)) = civil_time(unix_secs);
    format!(
        "{}, {day:02} {} {year} {hour:02}:{minute:02}:{second:02} GMT",
        DAYS[(unix_secs / 86_400 % 7) as usize],
        MONTHS[(month - 1) as usize],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days_both_ways() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_416), (2025, 11, 24));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        for days in [-800_000, -1, 0, 11_016, 20_416, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(
                days_from_civil(i64::from(y), i64::from(m), i64::from(d)),
                days
            );
        }
    }

    #[test]
    fn http_dates_are_written_as_imf_fixdate_and_read_in_every_form() {
        assert_eq!(http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        for form in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(parse_date(form.as_bytes()), Some(784_111_777), "{form}");
        }
        assert_eq!(parse_date(b"yesterday"), None);
    }
}
