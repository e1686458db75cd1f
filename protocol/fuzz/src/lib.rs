//! The property both fuzz targets check, for either message direction.

use bulkhead_protocol::{DecodeError, EncodeError, HEADER_LEN, MAX_MESSAGE_LEN};

/// Decodes messages from `data` in a loop until it is used up, incomplete or malformed.
/// Every decoded message must re-encode to exactly the bytes it was decoded from, and those
/// bytes must decode to the same value; `Incomplete` must ask for more than is there.
pub fn check_stream<M: PartialEq + std::fmt::Debug>(
    data: &[u8],
    decode: fn(&[u8]) -> Result<(M, &[u8]), DecodeError>,
    encode: fn(&M) -> Result<Vec<u8>, EncodeError>,
) {
    let mut rest = data;
    loop {
        match decode(rest) {
            Ok((message, after)) => {
                let consumed = &rest[..rest.len() - after.len()];
                let wire = encode(&message)
                    .unwrap_or_else(|e| panic!("decoded {message:?} does not re-encode: {e}"));
                assert_eq!(wire, consumed, "re-encoding of {message:?} differs");
                let (again, tail) = decode(&wire)
                    .unwrap_or_else(|e| panic!("re-encoded {message:?} does not decode: {e}"));
                assert_eq!(again, message);
                assert!(tail.is_empty());
                rest = after;
            }
            Err(DecodeError::Incomplete { needed }) => {
                assert!(
                    needed > rest.len(),
                    "needed {needed} of {} present",
                    rest.len()
                );
                assert!((HEADER_LEN..=MAX_MESSAGE_LEN).contains(&needed));
                break;
            }
            Err(DecodeError::Malformed(_)) => break,
        }
    }
}
