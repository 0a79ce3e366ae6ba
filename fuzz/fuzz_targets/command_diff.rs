//! Generated command sequences (the compat fuzzer's generator, fed by libFuzzer's bytes)
//! replayed on real Redis and on Redrock; any divergence not registered in
//! compat/divergences.toml (`script = "fuzz"`) is a crash, printed as a `.redis` script.
//!
//! REDROCK_FUZZ_REFERENCE=redis://127.0.0.1:P  (a real redis-server)
//! REDROCK_FUZZ_TARGET=redis://127.0.0.1:Q     (optional: a redrock-server elsewhere)
//!
//! Without REDROCK_FUZZ_TARGET, Redrock runs in this process (its server on a loopback port,
//! on its own threads), so libFuzzer sees Redrock's coverage and steers towards new paths in
//! it; commands still reach it through its real connection code.

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
        let target = match std::env::var("REDROCK_FUZZ_TARGET") {
            Ok(_) => endpoint("REDROCK_FUZZ_TARGET"),
            Err(_) => in_process_redrock(),
        };
        let d = Differ::connect(&endpoint("REDROCK_FUZZ_REFERENCE"), &target, register, TIMEOUT, false)
            .unwrap_or_else(|e| panic!("command_diff: {e}"));
        Mutex::new(d)
    })
}

/// Starts Redrock in this process on a free loopback port, with its data in a fresh folder
/// (`redrock-fuzz-command-diff-<pid>` under the temp dir).
fn in_process_redrock() -> Endpoint {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port");
    let dir = std::env::temp_dir().join(format!("redrock-fuzz-command-diff-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut config = redrock::config::Config::default();
    for (name, value) in [("port", port.to_string()), ("bind", "127.0.0.1".into()), ("dir", dir.display().to_string())] {
        config.set_initial(name, &value).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let shared = redrock::server::open(config).unwrap_or_else(|e| panic!("command_diff: {e}"));
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
        if let Err(e) = runtime.block_on(redrock::server::run(shared)) {
            panic!("in-process redrock: {e}");
        }
    });
    let deadline = std::time::Instant::now() + TIMEOUT;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "in-process redrock did not listen on {port}");
        std::thread::sleep(Duration::from_millis(10));
    }
    Endpoint { host: "127.0.0.1".into(), port, db: 0 }
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
