//! Low-level little-endian reading and writing of payload fields.
//!
//! [`Reader`] never panics and never indexes out of bounds: every read checks the remaining
//! length first and reports [`MalformedReason::Truncated`]. Length-prefixed fields are
//! checked against their limit before anything is copied.

use crate::error::MalformedReason;

/// A cursor over one message's payload (exactly the declared payload bytes).
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(payload: &'a [u8]) -> Self {
        Reader { rest: payload }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], MalformedReason> {
        let (head, rest) = self
            .rest
            .split_first_chunk::<N>()
            .ok_or(MalformedReason::Truncated)?;
        self.rest = rest;
        Ok(*head)
    }

    /// The next `len` bytes, borrowed.
    pub(crate) fn bytes(&mut self, len: usize) -> Result<&'a [u8], MalformedReason> {
        let (head, rest) = self
            .rest
            .split_at_checked(len)
            .ok_or(MalformedReason::Truncated)?;
        self.rest = rest;
        Ok(head)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, MalformedReason> {
        Ok(u8::from_le_bytes(self.array()?))
    }

    pub(crate) fn u16(&mut self) -> Result<u16, MalformedReason> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, MalformedReason> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(crate) fn i32(&mut self) -> Result<i32, MalformedReason> {
        Ok(i32::from_le_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, MalformedReason> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A boolean byte: 0 or 1, anything else is malformed.
    pub(crate) fn bool(&mut self, field: &'static str) -> Result<bool, MalformedReason> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(MalformedReason::BadBool { field, value }),
        }
    }

    /// A `u16` length followed by that many bytes; the length is checked against `max`
    /// (`too_long` builds the error) before the bytes are touched.
    pub(crate) fn short_bytes(
        &mut self,
        max: usize,
        too_long: fn(usize) -> MalformedReason,
    ) -> Result<&'a [u8], MalformedReason> {
        let len = usize::from(self.u16()?);
        if len > max {
            return Err(too_long(len));
        }
        self.bytes(len)
    }

    /// A `u32` length followed by that many bytes; the length is checked against `max`
    /// (`too_long` builds the error) before the bytes are touched.
    pub(crate) fn long_bytes(
        &mut self,
        max: usize,
        too_long: fn(usize) -> MalformedReason,
    ) -> Result<&'a [u8], MalformedReason> {
        let declared = self.u32()?;
        let len = usize::try_from(declared).unwrap_or(usize::MAX);
        if len > max {
            return Err(too_long(len));
        }
        self.bytes(len)
    }

    /// Ends the payload: every byte must have been consumed.
    pub(crate) fn finish(self) -> Result<(), MalformedReason> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(MalformedReason::TrailingBytes {
                count: self.rest.len(),
            })
        }
    }
}

/// Appends one payload's fields to an output buffer.
///
/// Encoders validate a message before writing it, so the length checks here cannot fail for
/// a validated message; they exist so that a bug can never emit a length that disagrees with
/// the bytes that follow.
#[derive(Debug)]
pub(crate) struct Writer<'a> {
    out: &'a mut Vec<u8>,
    error: Option<MalformedReason>,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(out: &'a mut Vec<u8>) -> Self {
        Writer { out, error: None }
    }

    pub(crate) fn u8(&mut self, v: u8) {
        self.out.push(v);
    }

    pub(crate) fn u16(&mut self, v: u16) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    pub(crate) fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    pub(crate) fn i32(&mut self, v: i32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    pub(crate) fn u64(&mut self, v: u64) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    pub(crate) fn bool(&mut self, v: bool) {
        self.u8(u8::from(v));
    }

    fn fail(&mut self, reason: MalformedReason) {
        self.error.get_or_insert(reason);
    }

    /// A `u16` length followed by the bytes.
    pub(crate) fn short_bytes(
        &mut self,
        bytes: &[u8],
        max: usize,
        too_long: fn(usize) -> MalformedReason,
    ) {
        match u16::try_from(bytes.len()) {
            Ok(len) if bytes.len() <= max => {
                self.u16(len);
                self.out.extend_from_slice(bytes);
            }
            _ => self.fail(too_long(bytes.len())),
        }
    }

    /// A `u32` length followed by the bytes.
    pub(crate) fn long_bytes(
        &mut self,
        bytes: &[u8],
        max: usize,
        too_long: fn(usize) -> MalformedReason,
    ) {
        match u32::try_from(bytes.len()) {
            Ok(len) if bytes.len() <= max => {
                self.u32(len);
                self.out.extend_from_slice(bytes);
            }
            _ => self.fail(too_long(bytes.len())),
        }
    }

    /// A `u32` element count; `max` and `too_many` as for [`Writer::long_bytes`].
    pub(crate) fn count(&mut self, count: usize, max: usize, too_many: fn(u32) -> MalformedReason) {
        match u32::try_from(count) {
            Ok(n) if count <= max => self.u32(n),
            _ => self.fail(too_many(u32::try_from(count).unwrap_or(u32::MAX))),
        }
    }

    /// Ends writing; reports the first length that did not fit.
    pub(crate) fn finish(self) -> Result<(), MalformedReason> {
        match self.error {
            None => Ok(()),
            Some(reason) => Err(reason),
        }
    }

    /// The output buffer, for patching the header's length after the payload is written.
    pub(crate) fn out(&mut self) -> &mut Vec<u8> {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_reports_truncation_instead_of_panicking() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16(), Ok(0x0201));
        assert_eq!(r.u16(), Err(MalformedReason::Truncated));
        assert_eq!(r.u8(), Ok(3));
        assert_eq!(r.u8(), Err(MalformedReason::Truncated));
        assert_eq!(r.finish(), Ok(()));
    }

    #[test]
    fn length_is_checked_before_the_bytes() {
        // Declares 0xffff bytes with only 2 present: the limit is reported, not truncation.
        let mut r = Reader::new(&[0xff, 0xff, b'a', b'b']);
        let err = r.short_bytes(10, |len| MalformedReason::TitleTooLong { len });
        assert_eq!(err, Err(MalformedReason::TitleTooLong { len: 0xffff }));
    }

    #[test]
    fn writer_refuses_over_long_fields() {
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out);
        w.short_bytes(&[0; 11], 10, |len| MalformedReason::TitleTooLong { len });
        assert_eq!(w.finish(), Err(MalformedReason::TitleTooLong { len: 11 }));
    }
}
