//! The differential fuzzer: generated command sequences replayed on a reference (real
//! Redis) and a target, transcripts compared as `diff` compares them, divergences minimised
//! into `.redis` scripts.
//!
//! - [`grammar`] and [`table`]: one declarative description per command;
//! - [`domain`]: the small value domains that make commands collide;
//! - [`generate`]: cases from `arbitrary::Unstructured` (libFuzzer or a seeded PRNG);
//! - [`differ`]: pipelined replay on both servers and judgement;
//! - [`minimize`]: delta debugging of a diverging case;
//! - [`campaign`]: a seeded, reproducible run (`redrock-compat fuzz`).

pub mod campaign;
pub mod differ;
pub mod domain;
pub mod generate;
pub mod grammar;
pub mod minimize;
pub mod table;

pub use differ::{Differ, Verdict, FUZZ_SCRIPT};
pub use generate::{generate_case, is_deterministic, Case, FuzzCommand};
