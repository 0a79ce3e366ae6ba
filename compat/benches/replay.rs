//! `cargo bench -p redrock-compat`: replays 100,000 generated commands on two freshly
//! started real redis-servers and compares the transcripts, the speed target being < 5 s.
//! (A plain harness-less bench: the measurement is one long run, not a micro-benchmark.)

use std::time::Instant;

use redrock_compat::divergences::Register;
use redrock_compat::process::{ServerProcess, TempDir};
use redrock_compat::suite::{self, ScriptFile, SuiteOptions};

const COMMANDS: usize = 100_000;
const ROUNDS: usize = 3;

fn main() {
    let a = ServerProcess::redis(&[]).expect("start redis-server");
    let b = ServerProcess::redis(&[]).expect("start redis-server");
    let dir = TempDir::new("redrock-compat-bench").expect("temp dir");
    let path = dir.path().join("bench.redis");
    std::fs::write(&path, redrock_compat::cli::generate_bench_script(COMMANDS)).expect("write script");
    let files = vec![ScriptFile { path, name: "bench/generated".into() }];
    let opts = SuiteOptions { run: Default::default(), progress: false, allow_flush: false };
    let mut best = f64::MAX;
    for round in 1..=ROUNDS {
        let start = Instant::now();
        let report =
            suite::diff(&a.endpoint(), &b.endpoint(), &files, &mut Register::default(), &opts).expect("diff runs");
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(report.exit_code(), 0, "{}", report.to_text(false));
        println!("round {round}: {COMMANDS} commands on 2 servers in {secs:.3}s");
        best = best.min(secs);
    }
    println!(
        "replay/diff 100k commands: best {best:.3}s ({:.0} commands/s per server); target < 5s: {}",
        COMMANDS as f64 / best,
        if best < 5.0 { "met" } else { "MISSED" }
    );
}
