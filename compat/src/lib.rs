//! redrock-compat: the Redis compatibility harness.
//!
//! Scripts of Redis commands are replayed against servers; every reply is rendered into a
//! deterministic transcript; transcripts are compared live between two servers (`diff`) or
//! against goldens recorded from real Redis (`check`, `record`). It talks RESP to any
//! server and knows nothing of Redrock's insides.

pub mod cli;
pub mod client;
pub mod diff;
pub mod discover;
pub mod divergences;
pub mod fuzz;
pub mod golden;
pub mod import;
pub mod info;
pub mod process;
pub mod pubsub;
pub mod report;
pub mod resp;
pub mod runner;
pub mod scratch;
pub mod script;
pub mod suite;
pub mod tips;
pub mod transcript;
