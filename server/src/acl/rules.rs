//! The pieces of ACL rule parsing shared by users and selectors: errors, passwords hashes,
//! the splitting of `(...)` selectors spread over several arguments.

use sha2::{Digest, Sha256};

/// Hex characters of a SHA-256 password hash (Redis's `HASH_PASSWORD_LEN`).
pub const HASH_HEX_LEN: usize = 64;

/// Why a rule was refused; `Display` is Redis's `ACLSetUserStringError` text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("Unknown command or category name in ACL")]
    Unknown,
    #[error("Syntax error")]
    Syntax,
    #[error("Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns")]
    KeysAfterAll,
    #[error("Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels")]
    ChannelsAfterAll,
    #[error("The password you are trying to remove from the user does not exist")]
    NoSuchPassword,
    #[error("The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters")]
    BadHash,
    #[error("Allowing first-arg of a subcommand is not supported")]
    FirstArgOfSubcommand,
}

/// The part of `arg` before its first NUL, as C string functions read it.
pub fn c_str(arg: &[u8]) -> &[u8] {
    &arg[..arg.iter().position(|&b| b == 0).unwrap_or(arg.len())]
}

/// Redis's `ACLStringHasSpaces`: C `isspace` or NUL.
pub fn has_spaces(s: &[u8]) -> bool {
    s.iter().any(|&b| matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r' | 0))
}

/// The SHA-256 of a password in lowercase hex, as Redis stores passwords.
pub fn hash_password(password: &[u8]) -> String {
    let digest = Sha256::digest(password);
    let mut hex = String::with_capacity(HASH_HEX_LEN);
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

/// Whether `hash` is 64 lowercase hex digits.
pub fn valid_hash(hash: &[u8]) -> bool {
    hash.len() == HASH_HEX_LEN && hash.iter().all(|&c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

/// Redis's `ACLMergeSelectorArguments`: an argument starting with `(` and not ending with
/// `)` is joined with the following ones (space separated) up to one that ends with `)`.
/// `Err(index)` names the argument that opened an unclosed selector.
pub fn merge_selectors(args: &[&[u8]]) -> Result<Vec<Vec<u8>>, usize> {
    let mut merged = Vec::with_capacity(args.len());
    let mut open: Option<(usize, Vec<u8>)> = None;
    for (j, &op) in args.iter().enumerate() {
        if let Some((start, mut selector)) = open.take() {
            selector.push(b' ');
            selector.extend_from_slice(c_str(op));
            if op.last() == Some(&b')') {
                merged.push(selector);
            } else {
                open = Some((start, selector));
            }
            continue;
        }
        if op.first() == Some(&b'(') && op.last() != Some(&b')') {
            open = Some((j, op.to_vec()));
            continue;
        }
        merged.push(op.to_vec());
    }
    match open {
        Some((start, _)) => Err(start),
        None => Ok(merged),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_as_redis() {
        assert_eq!(hash_password(b"foo"), "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae");
        assert!(valid_hash(hash_password(b"").as_bytes()));
        assert!(!valid_hash(b"ABC"));
    }

    #[test]
    fn merges_selectors_spread_over_arguments() {
        let merged = merge_selectors(&[b"on", b"(+get", b"~x)", b"(+set)"]).unwrap();
        assert_eq!(merged, vec![b"on".to_vec(), b"(+get ~x)".to_vec(), b"(+set)".to_vec()]);
        assert_eq!(merge_selectors(&[b"on", b"(+get"]), Err(1));
    }
}
