//! ESC's ciphertext envelope around `fn::secret: {ciphertext: ...}` payloads, and Go's base64 decoding (with Go's
//! error text) that it and `fn::fromBase64` share.

use base64::Engine;

/// ESC's ciphertext envelope: base64 of `"escx"` + BE u32 version 1 + payload + BE CRC32 (IEEE) of what precedes.
pub fn decode_ciphertext(text: &str) -> Result<Vec<u8>, String> {
    let bin = go_base64_decode(text)?;
    if bin.len() < 16 {
        return Err("EOF".into());
    }
    if &bin[0..4] != b"escx" {
        return Err("invalid header".into());
    }
    let n = bin.len();
    let expected = u32::from_be_bytes([bin[n - 4], bin[n - 3], bin[n - 2], bin[n - 1]]);
    if crc32fast::hash(&bin[..n - 4]) != expected {
        return Err("invalid checksum".into());
    }
    if u32::from_be_bytes([bin[4], bin[5], bin[6], bin[7]]) != 1 {
        return Err("unsupported version".into());
    }
    Ok(bin[8..n - 4].to_vec())
}

/// Encodes a payload in ESC's ciphertext envelope (the inverse of [`decode_ciphertext`]).
pub fn encode_ciphertext(payload: &[u8]) -> String {
    let mut b = b"escx".to_vec();
    b.extend_from_slice(&1u32.to_be_bytes());
    b.extend_from_slice(payload);
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_be_bytes());
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// Go's `base64.StdEncoding.DecodeString`, with Go's error text.
pub(crate) fn go_base64_decode(s: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| match e {
            base64::DecodeError::InvalidByte(at, _)
            | base64::DecodeError::InvalidLastSymbol(at, _) => {
                format!("illegal base64 data at input byte {at}")
            }
            base64::DecodeError::InvalidLength(at) => {
                format!("illegal base64 data at input byte {at}")
            }
            base64::DecodeError::InvalidPadding => {
                format!("illegal base64 data at input byte {}", s.len())
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ciphertext_round_trips_and_rejects_garbage() {
        let enc = encode_ciphertext(b"hello");
        assert_eq!(decode_ciphertext(&enc).unwrap(), b"hello");
        assert_eq!(decode_ciphertext("").unwrap_err(), "EOF");
        assert!(
            decode_ciphertext("!!!")
                .unwrap_err()
                .starts_with("illegal base64 data")
        );
    }
}
