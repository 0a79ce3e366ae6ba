//! The members or fields a command has seen, to count each once (`SADD s a a`, `HSET h f 1 f 2`).

use std::collections::HashSet;

use smallvec::SmallVec;

/// Members compared one by one up to this many; past it they are hashed. Most writes name
/// one member (redis-benchmark's HSET and SADD): a hash table for it, an allocation and a
/// random hasher's setup, was 370 of a pipelined HSET's 10.3 k worker instructions.
const LINEAR_MEMBERS_MAX: usize = 8;

#[derive(Default)]
pub struct SeenMembers<'a> {
    /// Every member seen, while there are at most `LINEAR_MEMBERS_MAX`.
    few: SmallVec<[&'a [u8]; LINEAR_MEMBERS_MAX]>,
    /// Every member seen, once there are more (`few` is then empty). aHash, not SipHash:
    /// built per command on the write path (SipHash's setup and hashing were 2% of a
    /// pipelined HSET), and a command's own arguments cannot flood it beyond their size.
    many: Option<HashSet<&'a [u8], ahash::RandomState>>,
}

impl<'a> SeenMembers<'a> {
    pub fn contains(&self, member: &[u8]) -> bool {
        match &self.many {
            Some(many) => many.contains(member),
            None => self.few.contains(&member),
        }
    }

    /// Adds `member`; whether it was not seen before.
    pub fn insert(&mut self, member: &'a [u8]) -> bool {
        if let Some(many) = &mut self.many {
            return many.insert(member);
        }
        if self.few.contains(&member) {
            return false;
        }
        if self.few.len() < LINEAR_MEMBERS_MAX {
            self.few.push(member);
        } else {
            let mut many: HashSet<_, _> = self.few.drain(..).collect();
            many.insert(member);
            self.many = Some(many);
        }
        true
    }

    pub fn len(&self) -> usize {
        self.many.as_ref().map_or(self.few.len(), HashSet::len)
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
        /// A hash set is the model, on both sides of the linear bound.
        #[test]
        fn counts_each_member_once(members in proptest::collection::vec(proptest::collection::vec(0u8..4, 0..3), 0..40)) {
            let mut seen = SeenMembers::default();
            let mut model = HashSet::new();
            for member in &members {
                prop_assert_eq!(seen.contains(member), model.contains(member));
                prop_assert_eq!(seen.insert(member), model.insert(member));
                prop_assert_eq!(seen.len(), model.len());
                prop_assert_eq!(seen.is_empty(), model.is_empty());
            }
        }
    }
}
