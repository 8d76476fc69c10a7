//! `boardnet::http::fuzzing::spki_pin`: the DER walker that finds a certificate's
//! SubjectPublicKeyInfo for `--pinnedpubkey`. Input: the certificate's DER bytes.
#![no_main]

use boardnet::http::fuzzing::spki_pin;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(pin) = spki_pin(data) {
        // base64 of a SHA-256 digest.
        assert_eq!(pin.len(), 44, "{pin}");
    }
});
