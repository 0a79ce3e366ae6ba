//! Records in RocksDB's key order (bytewise), sorted cheaply for the landing of a write group.
//!
//! A group's collection members land in key order so each memtable insertion starts its
//! skiplist search where the previous one ended (storage/mod.rs, `landing_batch`). Their keys
//! share long prefixes (namespace, collection key, version: 20 bytes and more, see
//! encoding.rs), so a plain `sort_unstable_by` spent most of its time in `memcmp` going over
//! the same prefix again: 370 of a pipelined HSET's 9.2 k worker instructions, where this
//! sort costs 230 (callgrind, `-P 16`). Here each key is first ranked by the eight bytes that
//! follow the prefix all the keys share, as one integer; only keys whose eight bytes tie are
//! compared further.

/// Bytes of a key, after the shared prefix, that rank it as one integer.
const RANK_BYTES: usize = 8;

/// `records` in ascending bytewise order of their keys. Keys are distinct (they come from a map).
pub fn sorted<'a, V: Copy>(records: impl Iterator<Item = (&'a [u8], V)>) -> Vec<(&'a [u8], V)> {
    let records: Vec<(&[u8], V)> = records.collect();
    let Some(first) = records.first().map(|r| r.0) else {
        return records;
    };
    let shared = records.iter().fold(first.len(), |shared, (key, _)| shared.min(shared_prefix_len(first, key)));
    // Ranks and positions only: sixteen bytes to move per swap, rather than each record.
    let mut order: Vec<(u64, u32)> =
        records.iter().enumerate().map(|(i, (key, _))| (rank(&key[shared..]), i as u32)).collect();
    order.sort_unstable_by(|(a_rank, a), (b_rank, b)| {
        a_rank.cmp(b_rank).then_with(|| records[*a as usize].0[shared..].cmp(&records[*b as usize].0[shared..]))
    });
    order.into_iter().map(|(_, i)| records[i as usize]).collect()
}

/// The first `RANK_BYTES` of `rest` as a big-endian integer, zero-padded. A key that ends
/// within them ranks at most as high as any key it is a prefix of, and ties are compared
/// whole, so the order is bytewise.
fn rank(rest: &[u8]) -> u64 {
    let mut bytes = [0u8; RANK_BYTES];
    let n = rest.len().min(RANK_BYTES);
    bytes[..n].copy_from_slice(&rest[..n]);
    u64::from_be_bytes(bytes)
}

/// How many leading bytes `a` and `b` share, compared a word at a time.
fn shared_prefix_len(a: &[u8], b: &[u8]) -> usize {
    let len = a.len().min(b.len());
    let mut at = 0;
    while at + RANK_BYTES <= len {
        let x = u64::from_ne_bytes(a[at..at + RANK_BYTES].try_into().expect("eight bytes"));
        let y = u64::from_ne_bytes(b[at..at + RANK_BYTES].try_into().expect("eight bytes"));
        if x != y {
            break;
        }
        at += RANK_BYTES;
    }
    at + a[at..len].iter().zip(&b[at..len]).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn keys(sorted_records: &[(&[u8], usize)]) -> Vec<Vec<u8>> {
        sorted_records.iter().map(|r| r.0.to_vec()).collect()
    }

    #[test]
    fn prefixes_sort_before_their_extensions() {
        let input: Vec<&[u8]> = vec![b"ab\0", b"ab", b"abc", b"a", b"", b"ab\0\0\0\0\0\0\0\0", b"ab\0\0\0\0\0\0\0"];
        let got = keys(&sorted(input.iter().map(|k| (*k, 0))));
        let mut want: Vec<Vec<u8>> = input.iter().map(|k| k.to_vec()).collect();
        want.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn shared_prefix_is_counted_across_words() {
        assert_eq!(shared_prefix_len(b"0123456789abcdefX", b"0123456789abcdefY"), 16);
        assert_eq!(shared_prefix_len(b"0123456789", b"0123456789abc"), 10);
        assert_eq!(shared_prefix_len(b"x", b"y"), 0);
        assert_eq!(shared_prefix_len(b"", b"y"), 0);
    }

    proptest! {
        // Long shared prefixes and short alphabets, so ranks tie and keys end inside them.
        #[test]
        fn order_is_bytewise(
            prefix in proptest::collection::vec(any::<u8>(), 0..30),
            suffixes in proptest::collection::hash_set(proptest::collection::vec(0u8..3, 0..12), 0..40),
        ) {
            let owned: Vec<Vec<u8>> = suffixes.into_iter().map(|s| [prefix.clone(), s].concat()).collect();
            let got = sorted(owned.iter().enumerate().map(|(i, k)| (&k[..], i)));
            let mut want = owned.clone();
            want.sort();
            prop_assert_eq!(keys(&got), want);
            // Each key keeps its own value.
            for (key, i) in got {
                prop_assert_eq!(key, &owned[i][..]);
            }
        }
    }
}
