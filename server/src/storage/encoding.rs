//! Byte layout of every record Redrock writes to RocksDB.
//!
//! All integers are big-endian, so RocksDB's bytewise order is numeric order. Every key starts
//! with the namespace and the database, so one tenant's keys, or one database's, are a single
//! contiguous range: `FLUSHDB` is one `DeleteRange`, `SCAN` one prefix iteration.
//!
//! ## `metadata` column family: one record per user key
//!
//! ```text
//! key:   +--------+------------+-------+------------------+
//!        | ns_len | ns         | db    | user_key         |
//!        | u8     | ns_len B   | u8    | rest of the key  |
//!        +--------+------------+-------+------------------+
//! ```
//! (the value layout is in `metadata.rs`)
//!
//! ## `default` column family: the members of collections ("sub-keys")
//!
//! ```text
//! key:   +--------+----+----+-------------+----------+-------------+-------------+
//!        | ns_len | ns | db | key_len u32 | user_key | version u64 | sub         |
//!        +--------+----+----+-------------+----------+-------------+-------------+
//!          hash: sub = field        -> value
//!          set:  sub = member       -> empty
//!          list: sub = index u64    -> element   (indexes start at 2^63, see metadata.rs)
//!          zset: sub = member       -> score as order-preserving u64 (8 bytes)
//! ```
//!
//! ## `zset_score` column family: the score index of sorted sets
//!
//! ```text
//! key:   +--------+----+----+-------------+----------+-------------+-----------+--------+
//!        | ns_len | ns | db | key_len u32 | user_key | version u64 | score u64 | member |
//!        +--------+----+----+-------------+----------+-------------+-----------+--------+
//! value: empty
//! ```
//!
//! `key_len` makes the prefix of one key never a prefix of another key's sub-keys
//! (`ab` + version vs `abc`). `version` ties sub-keys to one incarnation of the key: deleting
//! or overwriting a collection only rewrites its metadata, and sub-keys whose version no
//! longer matches are invisible and dropped by the compaction filter.

/// Longest namespace name; it must fit the one-byte length prefix.
pub const MAX_NAMESPACE_LEN: usize = u8::MAX as usize;
/// Redis's 16 databases by default; the db byte allows up to 256.
pub const MAX_DATABASES: usize = 256;

/// `[ns_len][ns][db]`: the prefix shared by every record of one database of one namespace.
pub fn db_prefix(ns: &[u8], db: u8) -> Vec<u8> {
    debug_assert!(ns.len() <= MAX_NAMESPACE_LEN);
    let mut out = Vec::with_capacity(2 + ns.len());
    out.push(ns.len() as u8);
    out.extend_from_slice(ns);
    out.push(db);
    out
}

/// The first key after every key that starts with `prefix` (for `DeleteRange` and iterator
/// upper bounds). `None` when the prefix is all `0xff` and no such key exists.
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut out = prefix.to_vec();
    while let Some(last) = out.pop() {
        if last != u8::MAX {
            out.push(last + 1);
            return Some(out);
        }
    }
    None
}

/// Key of the metadata record of `user_key`.
pub fn meta_key(ns: &[u8], db: u8, user_key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + ns.len() + user_key.len());
    write_meta_key(&mut out, ns, db, user_key);
    out
}

/// `meta_key` written over `out`, for a caller that builds many in one buffer.
pub fn write_meta_key(out: &mut Vec<u8>, ns: &[u8], db: u8, user_key: &[u8]) {
    out.clear();
    out.push(ns.len() as u8);
    out.extend_from_slice(ns);
    out.push(db);
    out.extend_from_slice(user_key);
}

/// `meta_key` written into `buf` when it fits (a read's key, on the stack); `None` when not.
pub fn meta_key_in<'b>(buf: &'b mut [u8], ns: &[u8], db: u8, user_key: &[u8]) -> Option<&'b [u8]> {
    let len = 2 + ns.len() + user_key.len();
    let key = buf.get_mut(..len)?;
    key[0] = ns.len() as u8;
    key[1..1 + ns.len()].copy_from_slice(ns);
    key[1 + ns.len()] = db;
    key[2 + ns.len()..].copy_from_slice(user_key);
    Some(key)
}

/// Splits a metadata key into its user key, given the length of its `[ns_len][ns][db]` prefix.
pub fn user_key_of_meta_key(meta_key: &[u8], prefix_len: usize) -> &[u8] {
    &meta_key[prefix_len.min(meta_key.len())..]
}

/// `[ns_len][ns][db][key_len][user_key][version]`: the prefix of every sub-key of one
/// incarnation of a collection.
pub fn sub_key_prefix(ns: &[u8], db: u8, user_key: &[u8], version: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + ns.len() + 4 + user_key.len() + 8 + 16);
    out.push(ns.len() as u8);
    out.extend_from_slice(ns);
    out.push(db);
    out.extend_from_slice(&(user_key.len() as u32).to_be_bytes());
    out.extend_from_slice(user_key);
    out.extend_from_slice(&version.to_be_bytes());
    out
}

/// A sub-key: the collection's prefix followed by `sub`.
pub fn sub_key(prefix: &[u8], sub: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(prefix.len() + sub.len());
    out.extend_from_slice(prefix);
    out.extend_from_slice(sub);
    out
}

/// The parts of a sub-key, as the compaction filter needs them.
#[derive(Debug, PartialEq, Eq)]
pub struct SubKeyParts<'a> {
    pub ns: &'a [u8],
    pub db: u8,
    pub user_key: &'a [u8],
    pub version: u64,
    pub sub: &'a [u8],
}

/// Parses a sub-key (or a `zset_score` key); `None` if it is malformed.
pub fn parse_sub_key(key: &[u8]) -> Option<SubKeyParts<'_>> {
    let ns_len = *key.first()? as usize;
    let ns = key.get(1..1 + ns_len)?;
    let mut pos = 1 + ns_len;
    let db = *key.get(pos)?;
    pos += 1;
    let key_len = u32::from_be_bytes(key.get(pos..pos + 4)?.try_into().ok()?) as usize;
    pos += 4;
    let user_key = key.get(pos..pos.checked_add(key_len)?)?;
    pos += key_len;
    let version = u64::from_be_bytes(key.get(pos..pos + 8)?.try_into().ok()?);
    pos += 8;
    Some(SubKeyParts { ns, db, user_key, version, sub: &key[pos..] })
}

/// Maps an `f64` to a `u64` whose unsigned order is the numeric order of the doubles:
/// negatives have all bits flipped (so larger magnitudes sort first), the others get their
/// sign bit set (so they sort after every negative). `-0.0` and `0.0` are distinct codes but
/// adjacent; Redis treats them as equal scores, callers normalise `-0.0` first.
pub fn encode_f64_ordered(value: f64) -> u64 {
    let bits = value.to_bits();
    if bits & (1 << 63) != 0 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// Inverse of [`encode_f64_ordered`].
pub fn decode_f64_ordered(code: u64) -> f64 {
    if code & (1 << 63) != 0 {
        f64::from_bits(code & !(1 << 63))
    } else {
        f64::from_bits(!code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_meta_key_in_a_buffer_is_the_meta_key_when_it_fits() {
        let mut buf = [0xffu8; 16];
        for (ns, key) in [(&b""[..], &b""[..]), (b"", b"k"), (b"tenant", b"user:1"), (b"", &[7; 14]), (b"ns", &[7; 12])]
        {
            assert_eq!(meta_key_in(&mut buf, ns, 3, key), Some(&meta_key(ns, 3, key)[..]));
        }
        assert_eq!(meta_key_in(&mut buf, b"", 3, &[7; 15]), None, "one byte too long");
        assert_eq!(meta_key_in(&mut buf, b"ns", 3, &[7; 13]), None);
    }

    #[test]
    fn sub_key_round_trips() {
        let prefix = sub_key_prefix(b"tenant", 3, b"user:1", 42);
        let key = sub_key(&prefix, b"field");
        let parts = parse_sub_key(&key).unwrap();
        assert_eq!(parts, SubKeyParts { ns: b"tenant", db: 3, user_key: b"user:1", version: 42, sub: b"field" });
    }

    #[test]
    fn a_key_is_never_a_prefix_of_another_keys_sub_keys() {
        let short = sub_key_prefix(b"", 0, b"ab", 7);
        let long = sub_key_prefix(b"", 0, b"abc", 7);
        assert!(!long.starts_with(&short));
    }

    #[test]
    fn truncated_sub_keys_are_rejected() {
        let key = sub_key(&sub_key_prefix(b"n", 0, b"key", 1), b"x");
        for cut in 0..key.len() - 1 {
            // Every strict prefix that cuts the fixed part must fail to parse.
            if cut < key.len() - 1 {
                let parsed = parse_sub_key(&key[..cut]);
                if cut < 1 + 1 + 1 + 4 + 3 + 8 {
                    assert!(parsed.is_none(), "cut at {cut}");
                }
            }
        }
    }

    #[test]
    fn prefix_successor_handles_carry() {
        assert_eq!(prefix_successor(&[1, 2]), Some(vec![1, 3]));
        assert_eq!(prefix_successor(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_successor(&[0xff, 0xff]), None);
    }

    proptest! {
        #[test]
        fn f64_order_is_preserved(a in any::<f64>(), b in any::<f64>()) {
            prop_assume!(!a.is_nan() && !b.is_nan());
            let (a, b) = (if a == 0.0 { 0.0 } else { a }, if b == 0.0 { 0.0 } else { b });
            let (ca, cb) = (encode_f64_ordered(a), encode_f64_ordered(b));
            prop_assert_eq!(a.partial_cmp(&b).unwrap(), ca.cmp(&cb));
            prop_assert_eq!(decode_f64_ordered(ca).to_bits(), a.to_bits());
        }

        #[test]
        fn u64_big_endian_order_is_numeric(a in any::<u64>(), b in any::<u64>()) {
            prop_assert_eq!(a.cmp(&b), a.to_be_bytes().cmp(&b.to_be_bytes()));
        }

        #[test]
        fn meta_keys_of_one_db_share_the_prefix(ns in proptest::collection::vec(any::<u8>(), 0..8),
                                                db in any::<u8>(),
                                                key in proptest::collection::vec(any::<u8>(), 0..16)) {
            let prefix = db_prefix(&ns, db);
            let mk = meta_key(&ns, db, &key);
            prop_assert!(mk.starts_with(&prefix));
            prop_assert_eq!(user_key_of_meta_key(&mk, prefix.len()), &key[..]);
            if let Some(end) = prefix_successor(&prefix) {
                prop_assert!(mk < end);
            }
        }
    }
}
