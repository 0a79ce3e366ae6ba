//! A map for the few entries one command gathers (the members it has seen, the scores it
//! knows): compared one by one while there are few, hashed past that.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;

use smallvec::SmallVec;

/// Entries compared one by one up to this many; past it they are hashed. Most writes name
/// one member (redis-benchmark's HSET, SADD, ZADD): a hash table for it, an allocation and a
/// random hasher's setup, was 370 of a pipelined HSET's 10.1 k worker instructions.
const LINEAR_ENTRIES_MAX: usize = 8;

pub struct SmallMap<K, V> {
    /// Every entry, while there are at most `LINEAR_ENTRIES_MAX`.
    few: SmallVec<[(K, V); LINEAR_ENTRIES_MAX]>,
    /// Every entry, once there are more (`few` is then empty). aHash, not SipHash: built per
    /// command on the write path (SipHash's setup and hashing were 2% of a pipelined HSET),
    /// and a command's own arguments cannot flood it beyond their size.
    many: Option<HashMap<K, V, ahash::RandomState>>,
}

impl<K, V> Default for SmallMap<K, V> {
    fn default() -> Self {
        SmallMap { few: SmallVec::new(), many: None }
    }
}

impl<K: Eq + Hash, V> SmallMap<K, V> {
    pub fn get<Q: Eq + Hash + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        match &self.many {
            Some(many) => many.get(key),
            None => self.few.iter().find(|(k, _)| k.borrow() == key).map(|(_, v)| v),
        }
    }

    pub fn contains_key<Q: Eq + Hash + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.get(key).is_some()
    }

    pub fn get_mut<Q: Eq + Hash + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        match &mut self.many {
            Some(many) => many.get_mut(key),
            None => self.few.iter_mut().find(|(k, _)| k.borrow() == key).map(|(_, v)| v),
        }
    }

    /// Sets `key` to `value`; the value it had, if any.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        if let Some(many) = &mut self.many {
            return many.insert(key, value);
        }
        if let Some((_, v)) = self.few.iter_mut().find(|(k, _)| *k == key) {
            return Some(std::mem::replace(v, value));
        }
        if self.few.len() < LINEAR_ENTRIES_MAX {
            self.few.push((key, value));
        } else {
            let mut many: HashMap<K, V, ahash::RandomState> = self.few.drain(..).collect();
            many.insert(key, value);
            self.many = Some(many);
        }
        None
    }

    pub fn len(&self) -> usize {
        self.many.as_ref().map_or(self.few.len(), HashMap::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A hash map is the model, on both sides of the linear bound.
        #[test]
        fn behaves_as_a_hash_map(writes in proptest::collection::vec((proptest::collection::vec(0u8..4, 0..3), 0u8..3), 0..40)) {
            let mut map: SmallMap<Vec<u8>, u8> = SmallMap::default();
            let mut model = HashMap::new();
            for (key, value) in writes {
                prop_assert_eq!(map.get(&key[..]), model.get(&key[..]));
                // Even values are written through `get_mut` where the key is present.
                if value % 2 == 0 {
                    if let (Some(v), Some(m)) = (map.get_mut(&key[..]), model.get_mut(&key[..])) {
                        *v = v.wrapping_add(10);
                        *m = m.wrapping_add(10);
                    }
                    prop_assert_eq!(map.get_mut(&key[..]).is_some(), model.contains_key(&key[..]));
                }
                prop_assert_eq!(map.insert(key.clone(), value), model.insert(key.clone(), value));
                prop_assert_eq!(map.contains_key(&key[..]), true);
                prop_assert_eq!(map.len(), model.len());
                prop_assert_eq!(map.is_empty(), model.is_empty());
            }
        }
    }
}
