//! Log output: `loglevel` and `logfile` as in Redis (`RUST_LOG` overrides the level).

use tracing_subscriber::EnvFilter;

use crate::config::Config;

pub fn init(config: &Config) {
    let level = match config.get("loglevel") {
        "debug" => "debug",
        "verbose" => "info",
        "notice" => "info",
        "warning" => "warn",
        _ => "off",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let logfile = config.get("logfile");
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    if logfile.is_empty() {
        builder.with_writer(std::io::stderr).init();
    } else {
        match std::fs::OpenOptions::new().create(true).append(true).open(logfile) {
            Ok(file) => builder.with_writer(std::sync::Mutex::new(file)).with_ansi(false).init(),
            Err(e) => {
                eprintln!("redrock-server: cannot open logfile {logfile}: {e}; logging to stderr");
                builder.with_writer(std::io::stderr).init();
            }
        }
    }
}
