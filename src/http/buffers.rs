//! ureq's per-connection buffers, allocated zeroed by the allocator instead of being filled.
//!
//! ureq's own `LazyBuffers` writes zeros over its whole input and output buffers on first use,
//! so every connection makes them resident at once. `vec![0; n]` comes from calloc, whose
//! fresh pages are only resident once data reaches them: a small request on a connection with
//! a 1 MiB buffer costs a few KiB. Semantics follow `LazyBuffers` exactly.

use ureq::unversioned::transport::Buffers;

/// ureq asks for at least this much scratch space when reading a request body.
const MIN_TMP: usize = 10 * 1024;

#[derive(Debug)]
pub(crate) struct IoBuffers {
    input: Vec<u8>,
    /// `input[consumed..filled]` is received and not yet used.
    filled: usize,
    consumed: usize,
    output: Vec<u8>,
    /// Whether the last consume used anything (ureq's "made progress" signal).
    progress: bool,
}

impl IoBuffers {
    pub(crate) fn new(input_size: usize, output_size: usize) -> Self {
        IoBuffers {
            input: vec![0; input_size.max(1)],
            filled: 0,
            consumed: 0,
            output: vec![0; output_size.max(1)],
            progress: false,
        }
    }

    /// Move unconsumed bytes to the front when they are all that is left or the buffer is more
    /// than half used (the same policy as ureq's, so reads stay large).
    fn compact(&mut self) {
        if self.consumed == 0 {
            return;
        }
        if self.consumed == self.filled {
            self.consumed = 0;
            self.filled = 0;
        } else if self.filled > self.input.len() / 2 {
            self.input.copy_within(self.consumed..self.filled, 0);
            self.filled -= self.consumed;
            self.consumed = 0;
        }
    }
}

impl Buffers for IoBuffers {
    fn output(&mut self) -> &mut [u8] {
        &mut self.output
    }

    fn input(&self) -> &[u8] {
        &self.input[self.consumed..self.filled]
    }

    fn input_append_buf(&mut self) -> &mut [u8] {
        self.compact();
        &mut self.input[self.filled..]
    }

    fn input_appended(&mut self, amount: usize) {
        self.filled = (self.filled + amount).min(self.input.len());
    }

    fn input_consume(&mut self, amount: usize) {
        self.progress = amount > 0;
        self.consumed = (self.consumed + amount).min(self.filled);
    }

    fn tmp_and_output(&mut self) -> (&mut [u8], &mut [u8]) {
        self.compact();
        let free = self.input.len() - self.filled;
        if free < MIN_TMP {
            self.input.resize(self.filled + MIN_TMP, 0);
        }
        (&mut self.input[self.filled..], &mut self.output)
    }

    fn can_use_input(&self) -> bool {
        self.consumed < self.filled && self.progress
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_consume_compact_like_ureq() {
        let mut b = IoBuffers::new(8, 4);
        assert_eq!(b.input_append_buf().len(), 8);
        b.input_append_buf()[..6].copy_from_slice(b"abcdef");
        b.input_appended(6);
        assert_eq!(b.input(), b"abcdef");
        assert!(!b.can_use_input(), "no progress yet");
        b.input_consume(4);
        assert!(b.can_use_input());
        assert_eq!(b.input(), b"ef");
        // More than half used: the tail moves to the front.
        assert_eq!(b.input_append_buf().len(), 6);
        assert_eq!(b.input(), b"ef");
        b.input_consume(0);
        assert!(!b.can_use_input(), "a zero consume means: need more input");
        b.input_consume(2);
        assert_eq!(b.input_append_buf().len(), 8, "all consumed: empty again");
        let (tmp, out) = b.tmp_and_output();
        assert!(tmp.len() >= MIN_TMP, "scratch grows to ureq's minimum");
        assert_eq!(out.len(), 4);
    }

    #[test]
    fn appended_never_exceeds_the_buffer() {
        let mut b = IoBuffers::new(4, 1);
        b.input_appended(10);
        assert_eq!(b.input().len(), 4);
        b.input_consume(10);
        assert!(b.input().is_empty());
    }
}
