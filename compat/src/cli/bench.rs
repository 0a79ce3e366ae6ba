//! `bench`: replay speed of N generated commands diffed between two servers.

use std::time::Instant;

use super::{EXIT_CANNOT_RUN, EXIT_OK};
use crate::client::Endpoint;
use crate::divergences::Register;
use crate::process::TempDir;
use crate::suite::{self, ScriptFile, SuiteOptions};

/// A deterministic mix of cheap commands over a bounded key space.
pub fn generate(n: usize) -> String {
    let mut s = String::with_capacity(n * 24);
    for i in 0..n {
        let k = i % 1000;
        let line = match i % 8 {
            0 => format!("SET k{k} v{i}"),
            1 => format!("GET k{k}"),
            2 => format!("INCR n{k}"),
            3 => format!("RPUSH l{} {i}", k % 50),
            4 => format!("HSET h{} f{k} {i}", k % 50),
            5 => format!("SADD s{} m{k}", k % 50),
            6 => format!("ZADD z{} {i} m{k}", k % 50),
            _ => format!("EXISTS k{k} n{k}"),
        };
        s.push_str(&line);
        s.push('\n');
    }
    s
}

pub fn run(reference: &str, target: &str, n: usize) -> i32 {
    let go = || -> Result<i32, String> {
        let r = Endpoint::parse(reference).map_err(|e| e.to_string())?;
        let t = Endpoint::parse(target).map_err(|e| e.to_string())?;
        let dir = TempDir::new("redrock-compat-bench").map_err(|e| e.to_string())?;
        let path = dir.path().join("bench.redis");
        std::fs::write(&path, generate(n)).map_err(|e| e.to_string())?;
        let files = vec![ScriptFile { path, name: "bench/generated".into() }];
        let opts = SuiteOptions { run: Default::default(), progress: false, allow_flush: false };
        let start = Instant::now();
        let report = suite::diff(&r, &t, &files, &mut Register::default(), &opts).map_err(|e| e.to_string())?;
        let secs = start.elapsed().as_secs_f64();
        super::out(&format!(
            "bench: {n} commands replayed on 2 servers and compared in {secs:.3}s ({:.0} commands/s per server); exit {}\n",
            n as f64 / secs,
            report.exit_code()
        ));
        Ok(if report.exit_code() == 0 { EXIT_OK } else { report.exit_code() })
    };
    match go() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("redrock-compat: {e}");
            EXIT_CANNOT_RUN
        }
    }
}
