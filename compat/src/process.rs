//! Starting throwaway servers for tests, benchmarks and `bench`: on 127.0.0.1, a free port,
//! a private temporary folder, no persistence; killed (by pid, the child we spawned) and
//! cleaned up on drop.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::client::Endpoint;

/// How long a freshly spawned server gets to accept connections (a loaded CI machine
/// starting RocksDB under parallel tests).
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Ports tried when a spawned server loses the race for its port.
const START_ATTEMPTS: usize = 5;

/// Debian's redis-server, the reference the goldens come from.
pub const REDIS_SERVER: &str = "/usr/bin/redis-server";

/// The real Redis to start: `$REDIS_SERVER_BIN`, else Debian's, else `redis-server` on PATH.
pub fn redis_server_bin() -> String {
    if let Some(b) = std::env::var_os("REDIS_SERVER_BIN") {
        return b.to_string_lossy().into_owned();
    }
    if Path::new(REDIS_SERVER).is_file() {
        REDIS_SERVER.to_string()
    } else {
        "redis-server".to_string()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("cannot start {bin}: {source}")]
    Spawn { bin: String, source: std::io::Error },
    #[error("{bin} did not accept connections on port {port} within {STARTUP_TIMEOUT:?}")]
    NotReady { bin: String, port: u16 },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A unique, empty temporary folder, removed on drop: `tempfile`'s, named after `prefix`.
#[derive(Debug)]
pub struct TempDir(tempfile::TempDir);

impl TempDir {
    pub fn new(prefix: &str) -> std::io::Result<TempDir> {
        tempfile::TempDir::with_prefix(format!("{prefix}-")).map(TempDir)
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

/// A server child process.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    pub port: u16,
    pub dir: TempDir,
}

/// Ports handed out: below the kernel's ephemeral range (32768+), where `bind(0)` in other
/// processes (other test suites starting servers at the same time) never lands.
const PORT_RANGE: std::ops::Range<u16> = 20_000..32_000;

/// How long a probe of a loopback port waits: a closed port refuses at once.
const PROBE_TIMEOUT: Duration = Duration::from_millis(200);

/// A port nobody listens on now, never handed out twice by this process: parallel tests
/// must not start two servers on one port.
///
/// The port is probed by connecting, never by listening: a child that another thread forks
/// while a probe listens would inherit the listener until its `exec` and take connections
/// meant for the server into a backlog nobody reads (the race that once broke CI in the
/// server's tests). A port freed or taken after the probe is caught by
/// [`ServerProcess::start`], which checks who answers and moves on.
pub fn free_port() -> std::io::Result<u16> {
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    // A per-process starting point, so concurrent processes probe different ports.
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
        .wrapping_mul(2_654_435_761)
        ^ std::process::id();
    let span = (PORT_RANGE.end - PORT_RANGE.start) as u32;
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    for i in 0..span {
        let port = PORT_RANGE.start + ((seed.wrapping_add(i.wrapping_mul(7919))) % span) as u16;
        if given.contains(&port) {
            continue;
        }
        if TcpStream::connect_timeout(&(std::net::Ipv4Addr::LOCALHOST, port).into(), PROBE_TIMEOUT).is_err() {
            given.push(port);
            return Ok(port);
        }
    }
    Err(std::io::Error::new(std::io::ErrorKind::AddrInUse, "every port of 20000..32000 answers"))
}

/// Whether the server answering on `port` is the process `pid`, by the `process_id` of its
/// `INFO server`; `None` when it does not say (behind a password it answers NOAUTH).
fn answers_as(port: u16, pid: u32) -> Option<bool> {
    let ep = Endpoint { host: "127.0.0.1".into(), port, db: 0 };
    let Ok(mut conn) = crate::client::Conn::connect(&ep, Duration::from_secs(5)) else {
        return Some(false);
    };
    let info = crate::info::ServerInfo::fetch(&mut conn).ok()?;
    info.fields.get("process_id").map(|p| p.parse::<u32>().ok() == Some(pid))
}

/// `--port P --bind 127.0.0.1 --dir D`, which Redis and Redrock both take: every server
/// started here listens on loopback only, with its files in `dir`.
pub fn loopback_args(port: u16, dir: &Path) -> Vec<String> {
    let port = port.to_string();
    let dir = dir.display().to_string();
    ["--port", &port, "--bind", "127.0.0.1", "--dir", &dir].map(String::from).to_vec()
}

/// A real Redis's arguments: [`loopback_args`], no persistence, in the foreground, then `extra`.
pub fn redis_args(port: u16, dir: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = loopback_args(port, dir);
    let no_persistence = ["--save", "", "--appendonly", "no", "--daemonize", "no"];
    args.extend(no_persistence.iter().chain(extra).map(|s| s.to_string()));
    args
}

/// How long a child whose server does not say its pid must stay alive to be trusted as the
/// one answering: a child that lost the port exits at once.
const ALIVE_GRACE: Duration = Duration::from_millis(50);

/// Spawns `bin` with `args(port, dir)`, run in `dir`, on free ports until one is its own: a
/// port taken after [`free_port`] probed it shows as a child that exits or a server that
/// answers with another pid, and the next port is tried. `stderr` is the child's (tests that
/// want a server's panics on their own stderr pass `Stdio::inherit`).
pub fn spawn_on_free_port(
    bin: &str,
    dir: &Path,
    args: impl Fn(u16, &Path) -> Vec<String>,
    stderr: impl Fn() -> Stdio,
) -> Result<(Child, u16), ProcessError> {
    let mut last = None;
    for _ in 0..START_ATTEMPTS {
        let port = free_port()?;
        let mut command = Command::new(bin);
        command.args(args(port, dir)).current_dir(dir).stdin(Stdio::null()).stdout(Stdio::null()).stderr(stderr());
        die_with_parent(&mut command);
        let mut child = command.spawn().map_err(|source| ProcessError::Spawn { bin: bin.to_string(), source })?;
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                let ours = answers_as(port, child.id()).unwrap_or_else(|| {
                    std::thread::sleep(ALIVE_GRACE);
                    true
                });
                if ours && matches!(child.try_wait(), Ok(None)) {
                    return Ok((child, port));
                }
                // Someone else's server holds the port: ours failed or will fail to bind.
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            // Exited early: most likely lost the port to someone else; try another.
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ProcessError::NotReady { bin: bin.to_string(), port });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        last = Some(ProcessError::NotReady { bin: bin.to_string(), port });
    }
    Err(last.expect("at least one attempt"))
}

/// A spawned server is sent SIGTERM when the thread that spawned it ends (Linux's
/// `PR_SET_PDEATHSIG`), so a harness that dies without unwinding, killed by a CI job's
/// timeout or by `kill`, leaves no server listening behind it (Ctrl-C reaches the servers
/// anyway: they are in its process group). Servers are spawned by the thread that uses
/// them: the CLI's main thread, a test's own thread.
fn die_with_parent(command: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: between fork and exec the closure makes async-signal-safe calls only
        // (prctl, getppid, _exit) and allocates nothing.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent died before the request took effect: nobody will signal.
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = command;
}

impl ServerProcess {
    /// A real `redis-server` with no persistence; `extra` args are appended.
    pub fn redis(extra: &[&str]) -> Result<ServerProcess, ProcessError> {
        Self::start_redis(&redis_server_bin(), extra)
    }

    /// A `redis-server` binary of one's choice, started like [`ServerProcess::redis`].
    pub fn start_redis(bin: &str, extra: &[&str]) -> Result<ServerProcess, ProcessError> {
        Self::start(bin, |port, dir| redis_args(port, dir, extra))
    }

    /// Redrock (or any server taking the same flags): `--port P --bind 127.0.0.1 --dir D`.
    pub fn redrock(bin: &Path) -> Result<ServerProcess, ProcessError> {
        Self::start(&bin.display().to_string(), loopback_args)
    }

    pub fn start(bin: &str, args: impl Fn(u16, &Path) -> Vec<String>) -> Result<ServerProcess, ProcessError> {
        let dir = TempDir::new("redrock-compat-server")?;
        let (child, port) = spawn_on_free_port(bin, dir.path(), args, Stdio::null)?;
        Ok(ServerProcess { child, port, dir })
    }

    pub fn endpoint(&self) -> Endpoint {
        Endpoint { host: "127.0.0.1".into(), port: self.port, db: 0 }
    }

    pub fn url(&self) -> String {
        self.endpoint().url()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
