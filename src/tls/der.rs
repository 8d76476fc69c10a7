//! The few X.509 fields boardnet reads itself: SubjectPublicKeyInfo (for pins) and the
//! validity period (so expiry can be judged apart from chain building). A DER walker that
//! checks every length before slicing: hostile certificates cannot make it panic.

/// One DER element split off the front of the input.
struct Der<'a> {
    tag: u8,
    /// The value bytes.
    content: &'a [u8],
    /// The whole element, tag and length included.
    whole: &'a [u8],
    /// What follows the element.
    rest: &'a [u8],
}

/// The first DER element of `input`, `None` on any malformation.
fn der_element(input: &[u8]) -> Option<Der<'_>> {
    let tag = *input.first()?;
    let first_len = *input.get(1)?;
    let (len, header) = if first_len < 0x80 {
        (usize::from(first_len), 2)
    } else {
        let n = usize::from(first_len & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let bytes = input.get(2..2 + n)?;
        let len = bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    let whole = input.get(..end)?;
    Some(Der {
        tag,
        content: whole.get(header..)?,
        whole,
        rest: input.get(end..)?,
    })
}

const SEQUENCE: u8 = 0x30;
const VERSION: u8 = 0xa0;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// The TBSCertificate fields after `version`, starting at serialNumber.
fn tbs_fields(cert: &[u8]) -> Option<&[u8]> {
    let certificate = der_element(cert).filter(|e| e.tag == SEQUENCE)?;
    let tbs = der_element(certificate.content).filter(|e| e.tag == SEQUENCE)?;
    let mut rest = tbs.content;
    if rest.first() == Some(&VERSION) {
        rest = der_element(rest)?.rest;
    }
    Some(rest)
}

/// The DER SubjectPublicKeyInfo of an X.509 certificate (what curl's pins hash).
pub(crate) fn subject_public_key_info(cert: &[u8]) -> Option<&[u8]> {
    let mut rest = tbs_fields(cert)?;
    // serialNumber, signature, issuer, validity, subject
    for _ in 0..5 {
        rest = der_element(rest)?.rest;
    }
    der_element(rest)
        .filter(|e| e.tag == SEQUENCE)
        .map(|e| e.whole)
}

/// notBefore and notAfter, as Unix seconds.
pub(crate) fn validity(cert: &[u8]) -> Option<(i64, i64)> {
    let mut rest = tbs_fields(cert)?;
    // serialNumber, signature, issuer
    for _ in 0..3 {
        rest = der_element(rest)?.rest;
    }
    let validity = der_element(rest).filter(|e| e.tag == SEQUENCE)?;
    let not_before = der_element(validity.content)?;
    let not_after = der_element(not_before.rest)?;
    Some((time(&not_before)?, time(&not_after)?))
}

/// UTCTime (YYMMDDHHMMSSZ, years 1950–2049) or GeneralizedTime (YYYYMMDDHHMMSSZ).
fn time(el: &Der<'_>) -> Option<i64> {
    let text = std::str::from_utf8(el.content).ok()?;
    let digits = text.strip_suffix('Z')?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |s: &str| s.parse::<i64>().ok();
    let (year, rest) = match (el.tag, digits.len()) {
        (UTC_TIME, 12) => {
            let yy = num(digits.get(..2)?)?;
            (
                if yy < 50 { 2000 + yy } else { 1900 + yy },
                digits.get(2..)?,
            )
        }
        (GENERALIZED_TIME, 14) => (num(digits.get(..4)?)?, digits.get(4..)?),
        _ => return None,
    };
    let field = |i: usize| num(rest.get(i..i + 2)?);
    let (month, day, hour, minute, second) =
        (field(0)?, field(2)?, field(4)?, field(6)?, field(8)?);
    crate::calendar::unix_seconds(year, month, day, hour, minute, second)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;

    const CERT_PEM: &str = include_str!("testdata/pin-cert.pem");

    fn der() -> Vec<u8> {
        CertificateDer::from_pem_slice(CERT_PEM.as_bytes())
            .unwrap()
            .as_ref()
            .to_vec()
    }

    #[test]
    fn validity_matches_openssl() {
        // `openssl x509 -noout -startdate -enddate` of the test certificate, as Unix seconds.
        let want = include_str!("testdata/pin-cert.validity");
        let mut nums = want.split_whitespace().map(|n| n.parse::<i64>().unwrap());
        assert_eq!(
            validity(&der()),
            Some((nums.next().unwrap(), nums.next().unwrap()))
        );
    }

    #[test]
    fn times_parse() {
        let utc = |s: &str| {
            let mut v = vec![UTC_TIME, s.len() as u8];
            v.extend_from_slice(s.as_bytes());
            v
        };
        let el = utc("700101000000Z");
        assert_eq!(time(&der_element(&el).unwrap()), Some(0));
        let el = utc("491231235959Z");
        assert_eq!(time(&der_element(&el).unwrap()), Some(2_524_607_999));
        let mut gen = vec![GENERALIZED_TIME, 15];
        gen.extend_from_slice(b"20380119031408Z");
        assert_eq!(time(&der_element(&gen).unwrap()), Some(2_147_483_648));
        for bad in [
            "7001010000Z",
            "701301000000Z",
            "70010100000aZ",
            "700101000000",
        ] {
            assert_eq!(time(&der_element(&utc(bad)).unwrap()), None, "{bad}");
        }
    }

    #[test]
    fn hostile_der_never_panics() {
        let der = der();
        for cut in 0..der.len() {
            let _ = subject_public_key_info(&der[..cut]);
            let _ = validity(&der[..cut]);
        }
        let mut flipped = der.clone();
        for i in 0..flipped.len().min(96) {
            flipped[i] ^= 0xff;
            let _ = subject_public_key_info(&flipped);
            let _ = validity(&flipped);
            flipped[i] ^= 0xff;
        }
        assert!(subject_public_key_info(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_none());
        assert!(validity(&[]).is_none());
    }
}
