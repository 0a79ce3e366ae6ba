//! The members or fields a command has seen, to count each once (`SADD s a a`, `HSET h f 1 f 2`).

use super::small_map::SmallMap;

#[derive(Default)]
pub struct SeenMembers<'a>(SmallMap<&'a [u8], ()>);

impl<'a> SeenMembers<'a> {
    /// Adds `member`; whether it was not seen before.
    pub fn insert(&mut self, member: &'a [u8]) -> bool {
        self.0.insert(member, ()).is_none()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
