//! Generated command sequences (the compat fuzzer's generator, fed by libFuzzer's bytes)
//! replayed on real Redis and on Redrock, both over TCP; any divergence not registered in
//! compat/divergences.toml (`script = "fuzz"`) is a crash, printed as a `.redis` script.
//!
//! REDROCK_FUZZ_REFERENCE=redis://127.0.0.1:P  (a real redis-server)
//! REDROCK_FUZZ_TARGET=redis://127.0.0.1:Q     (a redrock-server)
//!
//! Redrock runs as a server rather than in-process: in-process would compile RocksDB into
//! the fuzz build (20+ minutes), and the TCP path is the one users take.

#![no_main]

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use redrock_compat::client::Endpoint;
use redrock_compat::divergences::Register;
use redrock_compat::fuzz::{generate_case, Differ, Verdict};

/// Most commands per input: libFuzzer's bytes rarely feed more, and short cases shrink fast.
const MAX_LEN: usize = 24;
const TIMEOUT: Duration = Duration::from_secs(10);

fn endpoint(var: &str) -> Endpoint {
    let url = std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: command_diff needs REDROCK_FUZZ_REFERENCE (real Redis) and REDROCK_FUZZ_TARGET (Redrock) URLs; see fuzz/README.md")
    });
    Endpoint::parse(&url).unwrap_or_else(|e| panic!("{var}: {e}"))
}

fn differ() -> &'static Mutex<Differ> {
    static DIFFER: OnceLock<Mutex<Differ>> = OnceLock::new();
    DIFFER.get_or_init(|| {
        let register = std::env::var("REDROCK_FUZZ_DIVERGENCES")
            .ok()
            .or_else(|| Some(concat!(env!("CARGO_MANIFEST_DIR"), "/../compat/divergences.toml").to_string()))
            .filter(|p| std::path::Path::new(p).exists())
            .map(|p| Register::load(std::path::Path::new(&p)).expect("divergence register"))
            .unwrap_or_default();
        let d =
            Differ::connect(&endpoint("REDROCK_FUZZ_REFERENCE"), &endpoint("REDROCK_FUZZ_TARGET"), register, TIMEOUT, false)
                .unwrap_or_else(|e| panic!("command_diff: {e}"));
        Mutex::new(d)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(case) = generate_case(&mut Unstructured::new(data), MAX_LEN) else {
        return;
    };
    if case.commands.is_empty() {
        return;
    }
    let mut d = differ().lock().unwrap_or_else(|p| p.into_inner());
    match d.run_one(&case) {
        Ok(Verdict::New(div)) => panic!(
            "divergence on {} ({}):\n{}\n- reference, + target:\n{}",
            div.name,
            div.explanation,
            case.to_script("command_diff"),
            redrock_compat::diff::unified(&div.expected, &div.actual, false)
        ),
        Ok(_) => {}
        Err(e) => panic!("command_diff: {e}\n{}", case.to_script("command_diff")),
    }
});
