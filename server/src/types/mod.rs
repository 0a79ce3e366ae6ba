//! One module per Redis type: the type's operations on top of `db` and `storage`.

pub mod bitmap;
pub mod collection;
pub mod hash;
pub mod lcs;
pub mod list;
pub mod sample;
pub mod set;
pub mod string;
pub mod zset;

/// The members or fields a command has seen, to count each once. aHash, not SipHash: built
/// per command on the write path (SipHash's setup and hashing were 2% of a pipelined HSET),
/// and a command's own arguments cannot flood it beyond their size.
pub type SeenMembers<'a> = std::collections::HashSet<&'a [u8], ahash::RandomState>;
