//! The standard base64 alphabet without padding (RFC 4648, section 4), as
//! the seasonal profiles are stored in the engine state.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `bytes` as base64 text, without `=` padding.
pub(super) fn encode(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let group = chunk.iter().enumerate().fold(0u32, |group, (index, byte)| {
            group | u32::from(*byte) << (16 - 8 * index)
        });
        // One byte gives two characters, two give three, three give four.
        for index in 0..=chunk.len() {
            let sextet = (group >> (18 - 6 * index)) & 0x3f;
            text.push(char::from(ALPHABET[sextet as usize]));
        }
    }
    text
}

/// The bytes of [`encode`]'s text; `None` for text that `encode` would not
/// write: a character outside the alphabet (padding included), a length
/// no byte count gives, or leftover bits that are not zero.
pub(super) fn decode(text: &str) -> Option<Vec<u8>> {
    let text = text.as_bytes();
    if text.len() % 4 == 1 {
        return None;
    }
    let mut bytes = Vec::with_capacity(text.len() / 4 * 3 + 2);
    for chunk in text.chunks(4) {
        let mut group = 0u32;
        for (index, character) in chunk.iter().enumerate() {
            let sextet = ALPHABET.iter().position(|a| a == character)? as u32;
            group |= sextet << (18 - 6 * index);
        }
        let whole = chunk.len() - 1;
        for index in 0..whole {
            bytes.push((group >> (16 - 8 * index)) as u8);
        }
        let leftover = group & (0x00ff_ffff >> (8 * whole));
        if leftover != 0 {
            return None;
        }
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::{decode, encode};

    #[test]
    fn matches_the_rfc_examples_without_padding() {
        let cases = [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, text) in cases {
            assert_eq!(encode(plain.as_bytes()), text);
            assert_eq!(decode(text).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn every_byte_reads_back() {
        let bytes: Vec<u8> = (0..=255).chain((0..=255).rev()).collect();
        for length in 0..bytes.len() {
            assert_eq!(decode(&encode(&bytes[..length])).unwrap(), &bytes[..length]);
        }
    }

    #[test]
    fn refuses_what_it_would_not_write() {
        assert_eq!(decode("Zg=="), None);
        assert_eq!(decode("Z"), None);
        assert_eq!(decode("Zh"), None); // leftover bits
        assert_eq!(decode("not base64!"), None);
        assert_eq!(decode("Zm9v-A"), None);
    }
}
