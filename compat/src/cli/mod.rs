//! Command-line interface. Exit codes: 0 identical, 1 divergence, 2 cannot run.

mod bench;
mod fuzz;
pub use bench::generate as generate_bench_script;
mod import;
mod lint;
mod replay;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Writes to standard output, ignoring a closed pipe (`redrock-compat check | head` must
/// not panic; the exit code still tells the result).
pub fn out(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

pub const EXIT_OK: i32 = 0;
pub const EXIT_DIVERGED: i32 = 1;
pub const EXIT_CANNOT_RUN: i32 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "redrock-compat",
    version,
    about = "Redis compatibility harness: replay command scripts, compare replies byte for byte",
    after_help = "Exit codes: 0 identical, 1 divergence, 2 cannot run."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Replay scripts on a reference and a target, show every divergence.
    Diff {
        #[arg(long)]
        reference: String,
        #[arg(long)]
        target: String,
        #[command(flatten)]
        common: Common,
    },
    /// Replay scripts on a target and compare with the goldens.
    Check {
        #[arg(long)]
        target: String,
        /// Folder of goldens.
        #[arg(long, default_value = "golden")]
        golden: PathBuf,
        /// Append every unregistered divergence found to the register (one entry per script
        /// and command) with this reason, e.g. "not implemented yet". Entries that stop
        /// diverging later fail the run, so the register shrinks as the server improves.
        #[arg(long, value_name = "REASON")]
        register_new: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Record goldens from a real Redis (refuses anything else).
    Record {
        #[arg(long)]
        reference: String,
        /// Folder of goldens to write.
        #[arg(long, default_value = "golden")]
        golden: PathBuf,
        /// Another real Redis (same version) every script is also run on; repeatable. A
        /// script whose transcripts differ gets no golden. Default: the reference again, or
        /// spawned twins when the reference is `spawn:`.
        #[arg(long, value_name = "URL")]
        verify_with: Vec<String>,
        /// Allow recording from a Redis version other than the one the folder's goldens name
        /// (all goldens of a folder must come from one reference).
        #[arg(long)]
        allow_new_reference: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Turn a workload (MONITOR output, AOF, command file) into a script.
    Import {
        #[command(flatten)]
        source: ImportSource,
        /// Output script (default: standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Check scripts without a server: syntax (file:line), a golden per script, a script per
    /// golden.
    Lint {
        /// Scripts or folders of scripts.
        #[arg(default_value = "compat/scripts")]
        paths: Vec<PathBuf>,
        #[arg(long, default_value = "compat/scripts")]
        scripts_root: PathBuf,
        #[arg(long, default_value = "golden")]
        golden: PathBuf,
    },
    /// List the commands a reference's COMMAND tips mark nondeterministic or unordered, i.e.
    /// what scripts compare loosely unless a directive says otherwise.
    Tips {
        #[arg(long)]
        reference: String,
    },
    /// Differential fuzzing: generated command sequences on a reference and a target;
    /// each divergence is minimised into a script. Reproducible from its seed.
    Fuzz(fuzz::FuzzArgs),
    /// Measure replay speed: N generated commands diffed between two servers.
    Bench {
        #[arg(long)]
        reference: String,
        #[arg(long)]
        target: String,
        #[arg(long, default_value_t = 100_000)]
        commands: usize,
    },
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct ImportSource {
    /// `redis-cli MONITOR` output.
    #[arg(long)]
    monitor: Option<PathBuf>,
    /// An AOF file, a multi-part AOF folder (appendonlydir) or its manifest.
    #[arg(long)]
    aof: Option<PathBuf>,
    /// A plain file of commands, one a line, redis-cli quoting.
    #[arg(long)]
    commands: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct Common {
    /// Scripts or folders of scripts.
    #[arg(default_value = "compat/scripts")]
    pub paths: Vec<PathBuf>,
    /// Root that script names (`family/name`, the golden key) are relative to.
    #[arg(long, default_value = "compat/scripts")]
    pub scripts_root: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Also write a JUnit XML report here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Send HELLO 3 first: run every script in RESP3.
    #[arg(long)]
    pub resp3: bool,
    /// Do not FLUSHALL before each script.
    #[arg(long)]
    pub no_flush: bool,
    /// Run even if a server holds data: the harness FLUSHALLs, so by default it refuses
    /// any server that is not empty (and empties its scratch servers when it ends).
    #[arg(long)]
    pub allow_flush: bool,
    /// Register of known divergences (default: compat/divergences.toml when it exists).
    #[arg(long)]
    pub divergences: Option<PathBuf>,
    /// Seconds to wait for one reply.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    /// No progress bar even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
}

/// Parses arguments, runs, returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_CANNOT_RUN } else { EXIT_OK };
        }
    };
    run(cli)
}

pub fn run(cli: Cli) -> i32 {
    match cli.command {
        Cmd::Diff { reference, target, common } => replay::diff(&reference, &target, &common),
        Cmd::Check { target, golden, register_new, common } => {
            replay::check(&target, &replay::locate(&golden), register_new.as_deref(), &common)
        }
        Cmd::Record { reference, golden, verify_with, allow_new_reference, common } => {
            replay::record(&reference, &verify_with, &replay::locate(&golden), allow_new_reference, &common)
        }
        Cmd::Import { source, output } => import::run(&source, output.as_deref()),
        Cmd::Tips { reference } => replay::tips(&reference),
        Cmd::Lint { paths, scripts_root, golden } => {
            let paths: Vec<PathBuf> = paths.iter().map(|p| replay::locate(p)).collect();
            lint::run(&paths, &replay::locate(&scripts_root), &replay::locate(&golden))
        }
        Cmd::Fuzz(args) => fuzz::run(&args),
        Cmd::Bench { reference, target, commands } => bench::run(&reference, &target, commands),
    }
}
