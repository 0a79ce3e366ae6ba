//! `redrock-server`: a Redis-compatible server that keeps its data in RocksDB.

use std::process::ExitCode;

use clap::Parser;
use redrock::config::{self, Config};

#[global_allocator]
static ALLOCATOR: redrock::allocator::MiMalloc = redrock::allocator::MiMalloc;

/// A Redis-compatible server that keeps its data in RocksDB.
///
/// Like redis-server, it takes an optional config file (redis.conf syntax) and then any
/// config parameter as `--name value`, e.g. `--port 6666 --dir ./data --requirepass secret`.
#[derive(Parser, Debug)]
#[command(name = "redrock-server", version, after_help = parameter_help())]
struct Cli {
    /// A config file in redis.conf syntax (as `--config FILE` or as the first argument).
    #[arg(long, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    /// `[FILE] --name value ...`
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "PARAMETERS")]
    parameters: Vec<String>,
}

fn parameter_help() -> String {
    let mut text = String::from("Config parameters (default in brackets):\n");
    for p in config::PARAMS {
        text.push_str(&format!("  --{} <value>  [{}]\n", p.name, p.default));
    }
    text
}

fn build_config(cli: Cli) -> Result<Config, String> {
    let mut config = Config::default();
    let mut words = cli.parameters.into_iter().peekable();
    let mut file = cli.config;
    if file.is_none() {
        if let Some(first) = words.peek() {
            if !first.starts_with("--") {
                file = words.next().map(Into::into);
            }
        }
    }
    if let Some(path) = file {
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
        config.load_file_text(&text).map_err(|e| format!("config file {}: {e}", path.display()))?;
    }
    while let Some(word) = words.next() {
        let name = word.strip_prefix("--").ok_or_else(|| format!("expected --name value, found '{word}'"))?;
        let value = words.next().ok_or_else(|| format!("'--{name}' needs a value"))?;
        config.set_initial(name, &value).map_err(|e| e.to_string())?;
    }
    Ok(config)
}

fn main() -> ExitCode {
    let _ = redrock::MEM_ALLOCATOR.set("mimalloc");
    let config = match build_config(Cli::parse()) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("redrock-server: {message}");
            return ExitCode::from(1);
        }
    };
    redrock::logging::init(&config);
    // Accepting and the background cycles; connections get their own threads (workers.rs).
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("redrock-server: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        let shared = redrock::server::open(config)?;
        redrock::server::run(shared).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("redrock-server: {message}");
            ExitCode::from(1)
        }
    }
}
