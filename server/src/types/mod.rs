//! One module per Redis type: the type's operations on top of `db` and `storage`.

pub mod bitmap;
pub mod collection;
pub mod hash;
pub mod lcs;
pub mod list;
pub mod sample;
pub mod seen_members;
pub mod set;
pub mod small_map;
pub mod string;
pub mod zset;

pub use seen_members::SeenMembers;
