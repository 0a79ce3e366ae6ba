//! The value of a `metadata` record: what a key is, when it expires, and for collections
//! which incarnation (version) owns the sub-keys and how many there are.
//!
//! ```text
//! string:      +-------+---------------+---------------------+
//!              | type  | expire_ms u64 | the string's bytes  |
//!              +-------+---------------+---------------------+
//! collection:  +-------+---------------+-------------+----------+------------------------+
//!              | type  | expire_ms u64 | version u64 | size u64 | list only: head, tail  |
//!              +-------+---------------+-------------+----------+------------------------+
//! ```
//! `type` is one byte: the [`KeyType`] code in the low bits; a string's record may add a
//! [`StringEncoding`] hint in the two high bits. `expire_ms` is a Unix time in milliseconds,
//! 0 meaning no expiry. A string's bytes follow the header directly, so `GET` is one read.
//!
//! A list's elements live at sub-key indexes `head..tail` (u64, big-endian). Both start at
//! [`LIST_INITIAL_INDEX`], the middle of the range, so pushes on either side never wrap.

use thiserror::Error;

/// Fixed header size: type byte + expire.
pub const HEADER_LEN: usize = 1 + 8;
/// Collection header size: header + version + size.
pub const COLLECTION_HEADER_LEN: usize = HEADER_LEN + 8 + 8;
/// Where a new list's head and tail start.
pub const LIST_INITIAL_INDEX: u64 = 1 << 63;

/// The Redis type of a key, with its one-byte code in the encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyType {
    String = 0,
    Hash = 1,
    List = 2,
    Set = 3,
    ZSet = 4,
}

impl KeyType {
    fn from_code(code: u8) -> Option<KeyType> {
        Some(match code {
            0 => KeyType::String,
            1 => KeyType::Hash,
            2 => KeyType::List,
            3 => KeyType::Set,
            4 => KeyType::ZSet,
            _ => return None,
        })
    }

    /// The name `TYPE` replies with.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::String => "string",
            KeyType::Hash => "hash",
            KeyType::List => "list",
            KeyType::Set => "set",
            KeyType::ZSet => "zset",
        }
    }
}

/// How Redis would have encoded a string, where its bytes alone do not tell (OBJECT ENCODING
/// depends on how the string was made). Kept in the high bits of a string record's type byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StringEncoding {
    /// Written whole (SET, INCR, ...): `int`, `embstr` or `raw` follow from the bytes.
    FromValue = 0x00,
    /// Made by INCRBYFLOAT: never `int`, `embstr` or `raw` by length.
    NotInt = 0x40,
    /// Changed in place (APPEND, SETRANGE, SETBIT, BITFIELD) or built by BITOP: `raw`.
    Raw = 0x80,
}

/// The bits of the type byte that hold a [`StringEncoding`].
const STRING_ENCODING_MASK: u8 = 0xc0;

impl StringEncoding {
    /// The hint in a string record's type byte.
    pub fn of(type_byte: u8) -> StringEncoding {
        match type_byte & STRING_ENCODING_MASK {
            0x80 => StringEncoding::Raw,
            0x40 => StringEncoding::NotInt,
            _ => StringEncoding::FromValue,
        }
    }

    /// Sets the hint in the type byte of the encoded string record `raw`.
    pub fn set_in(self, raw: &mut [u8]) {
        raw[0] = (raw[0] & !STRING_ENCODING_MASK) | self as u8;
    }
}

/// A metadata record could not be decoded: the data folder is corrupt or of another format.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("corrupt metadata record: {0}")]
pub struct CorruptMetadata(pub &'static str);

/// The collection part of a metadata record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Collection {
    pub version: u64,
    /// Number of elements (fields, members); never 0 in a stored record: empty collections
    /// are deleted.
    pub size: u64,
    /// Lists only: first element's index.
    pub head: u64,
    /// Lists only: one past the last element's index.
    pub tail: u64,
}

/// A decoded metadata record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    pub key_type: KeyType,
    /// Unix time in ms; 0 = persistent.
    pub expire_ms: u64,
    /// `Some` for every type but strings.
    pub collection: Option<Collection>,
}

impl Metadata {
    /// A new, empty collection of `key_type` owning sub-keys under `version`.
    pub fn new_collection(key_type: KeyType, version: u64) -> Metadata {
        debug_assert!(key_type != KeyType::String);
        Metadata {
            key_type,
            expire_ms: 0,
            collection: Some(Collection { version, size: 0, head: LIST_INITIAL_INDEX, tail: LIST_INITIAL_INDEX }),
        }
    }

    /// Redis's `keyIsExpired`: a key lives through its expire millisecond (`now > when`).
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_ms != 0 && self.expire_ms < now_ms
    }

    /// Encodes a collection's record (strings use [`encode_string`]).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(COLLECTION_HEADER_LEN + 16);
        out.push(self.key_type as u8);
        out.extend_from_slice(&self.expire_ms.to_be_bytes());
        if let Some(c) = &self.collection {
            out.extend_from_slice(&c.version.to_be_bytes());
            out.extend_from_slice(&c.size.to_be_bytes());
            if self.key_type == KeyType::List {
                out.extend_from_slice(&c.head.to_be_bytes());
                out.extend_from_slice(&c.tail.to_be_bytes());
            }
        }
        out
    }

    /// Decodes the header of any record; for strings the value is `&raw[HEADER_LEN..]`.
    pub fn decode(raw: &[u8]) -> Result<Metadata, CorruptMetadata> {
        let code = *raw.first().ok_or(CorruptMetadata("empty record"))?;
        let key_type = KeyType::from_code(code & !STRING_ENCODING_MASK).ok_or(CorruptMetadata("unknown type"))?;
        if code & STRING_ENCODING_MASK != 0 && key_type != KeyType::String {
            return Err(CorruptMetadata("string encoding on a collection"));
        }
        let expire_ms = read_u64(raw, 1)?;
        let collection = if key_type == KeyType::String {
            None
        } else {
            let version = read_u64(raw, HEADER_LEN)?;
            let size = read_u64(raw, HEADER_LEN + 8)?;
            let (head, tail) = if key_type == KeyType::List {
                (read_u64(raw, COLLECTION_HEADER_LEN)?, read_u64(raw, COLLECTION_HEADER_LEN + 8)?)
            } else {
                (LIST_INITIAL_INDEX, LIST_INITIAL_INDEX)
            };
            Some(Collection { version, size, head, tail })
        };
        Ok(Metadata { key_type, expire_ms, collection })
    }
}

/// Whether an encoded record has an expiry, read from its header alone.
pub fn has_expiry(record: &[u8]) -> bool {
    record.get(1..HEADER_LEN).is_some_and(|expire_ms| expire_ms.iter().any(|&b| b != 0))
}

/// Encodes a string's record: header then the bytes.
pub fn encode_string(expire_ms: u64, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + value.len());
    out.push(KeyType::String as u8);
    out.extend_from_slice(&expire_ms.to_be_bytes());
    out.extend_from_slice(value);
    out
}

/// Rewrites the expire field of any encoded record in place.
pub fn set_expire_in_place(raw: &mut [u8], expire_ms: u64) {
    raw[1..HEADER_LEN].copy_from_slice(&expire_ms.to_be_bytes());
}

fn read_u64(raw: &[u8], at: usize) -> Result<u64, CorruptMetadata> {
    raw.get(at..at + 8)
        .map(|b| u64::from_be_bytes(b.try_into().expect("8 bytes")))
        .ok_or(CorruptMetadata("truncated record"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collections_round_trip() {
        for t in [KeyType::Hash, KeyType::List, KeyType::Set, KeyType::ZSet] {
            let mut m = Metadata::new_collection(t, 77);
            m.expire_ms = 123;
            if let Some(c) = m.collection.as_mut() {
                c.size = 5;
                c.head -= 2;
                c.tail += 3;
            }
            let decoded = Metadata::decode(&m.encode()).unwrap();
            if t == KeyType::List {
                assert_eq!(decoded, m);
            } else {
                assert_eq!(decoded.collection.unwrap().size, 5);
                assert_eq!(decoded.expire_ms, 123);
            }
        }
    }

    #[test]
    fn strings_keep_their_bytes_after_the_header() {
        let mut raw = encode_string(0, b"\x00value");
        set_expire_in_place(&mut raw, 99);
        let m = Metadata::decode(&raw).unwrap();
        assert_eq!((m.key_type, m.expire_ms), (KeyType::String, 99));
        assert_eq!(&raw[HEADER_LEN..], b"\x00value");
    }

    #[test]
    fn string_encoding_hints_keep_the_type() {
        for hint in [StringEncoding::FromValue, StringEncoding::NotInt, StringEncoding::Raw] {
            let mut raw = encode_string(5, b"v");
            hint.set_in(&mut raw);
            let m = Metadata::decode(&raw).unwrap();
            assert_eq!((m.key_type, m.expire_ms, StringEncoding::of(raw[0])), (KeyType::String, 5, hint));
        }
        let mut list = Metadata::new_collection(KeyType::List, 1).encode();
        list[0] |= StringEncoding::Raw as u8;
        assert!(Metadata::decode(&list).is_err());
    }

    #[test]
    fn corrupt_records_are_errors_not_panics() {
        assert!(Metadata::decode(b"").is_err());
        assert!(Metadata::decode(&[9; 9]).is_err());
        assert!(Metadata::decode(&[1, 0, 0]).is_err());
        assert!(Metadata::decode(&[2; 20]).is_err());
    }
}
