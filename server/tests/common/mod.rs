//! Test support: start `redrock-server` and a real `redis-server` on free loopback ports,
//! talk raw RESP to them, stop them by pid.

#![allow(dead_code)]

pub mod resp;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server gets to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How many ports a server start tries before the test gives up.
const START_ATTEMPTS: usize = 5;

/// A loopback port for a new server, below the ephemeral range (32768+) so that no other
/// process's outgoing connection or `bind(0)` lands on it, and never handed out twice in a
/// process (tests of one binary run in parallel).
///
/// Nothing probes the port by listening on it: a child that another test thread forks at that
/// moment would inherit the probe until its `exec`, accept our connections into a backlog
/// nobody reads, then reset them. [`Server::start`] instead finds out whether the port was free
/// by asking whoever answers there for its pid, and moves on to another port if it was not.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    static HANDED_OUT: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..1000 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        let port = 20_000 + (h.finish() % 12_000) as u16;
        if !handed_out.contains(&port) {
            handed_out.push(port);
            return port;
        }
    }
    panic!("no port left in 20000..32000");
}

/// A fresh temporary folder, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("redrock-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running server process, killed on drop.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

impl Server {
    /// `redrock-server` on a free port with its data in `dir` and extra `--name value` args.
    pub fn redrock(dir: &Path, extra: &[&str]) -> Server {
        Server::start(dir, |port| {
            let mut command = Command::new(env!("CARGO_BIN_EXE_redrock-server"));
            command
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--dir"])
                .arg(dir)
                .args(["--loglevel", "warning"])
                .args(extra)
                .stdout(Stdio::null())
                .stderr(Stdio::inherit());
            command
        })
    }

    /// Debian's `redis-server`, started the same way (no persistence).
    pub fn redis(dir: &Path, extra: &[&str]) -> Server {
        Server::start(dir, |port| {
            let mut command = Command::new("redis-server");
            command
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir"])
                .arg(dir)
                .args(extra)
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            command
        })
    }

    /// Starts `command(port)` on fresh ports until one is ours.
    fn start(dir: &Path, command: impl Fn(u16) -> Command) -> Server {
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            let child = command(port).spawn().expect("start the server (apt-get install redis-server)");
            let mut server = Server { child, port, dir: dir.to_path_buf() };
            if server.wait_ready() {
                return server;
            }
            // Dropping `server` kills a child that is still trying.
        }
        panic!("no server started after {START_ATTEMPTS} ports");
    }

    /// Waits until the child answers on its port. False when it cannot be ours: it exited (the
    /// port was taken) or another process answers there.
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Some(reply) = self.info_server() {
                // A server behind a password answers NOAUTH without saying who it is; it is ours
                // if our child is still alive once it answered.
                let pid = format!("process_id:{}\r\n", self.child.id());
                let text = String::from_utf8_lossy(&reply);
                return if text.contains("process_id:") {
                    text.contains(&pid)
                } else {
                    std::thread::sleep(Duration::from_millis(50));
                    matches!(self.child.try_wait(), Ok(None))
                };
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("server on port {} did not start", self.port);
    }

    /// `INFO server` from whoever listens on the port; `None` when nobody answers (yet).
    fn info_server(&self) -> Option<Vec<u8>> {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let mut conn = Conn { stream, buffer: Vec::new() };
        conn.send(&[b"INFO", b"server"]);
        conn.read_reply_or_none()
    }

    pub fn connect(&self) -> Conn {
        Conn::new(self.port)
    }

    /// Sends a signal and waits for the process to exit.
    pub fn signal_and_wait(mut self, signal: &str) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args([&format!("-{signal}"), &pid]).status().unwrap();
        let status = self.child.wait().unwrap();
        std::mem::forget(self);
        status
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw connection: send bytes, read whole RESP replies as bytes.
pub struct Conn {
    pub stream: TcpStream,
    buffer: Vec<u8>,
}

impl Conn {
    pub fn new(port: u16) -> Conn {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        stream.set_nodelay(true).unwrap();
        Conn { stream, buffer: Vec::new() }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        // A write to a server that just died is not a test failure by itself; the read says.
        let _ = self.stream.write_all(bytes);
    }

    /// Sends a command as a multibulk request.
    pub fn send(&mut self, args: &[&[u8]]) {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.send_raw(&out);
    }

    /// Reads one complete reply; `None` when the server closed the connection.
    pub fn read_reply(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(n) = resp::reply_len(&self.buffer) {
                return Some(self.buffer.drain(..n).collect());
            }
            let mut chunk = [0u8; 16 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("read failed: {e}"),
            }
        }
    }

    /// Reads one reply; `None` when the connection broke (the server died), never panics.
    pub fn read_reply_or_none(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(n) = resp::reply_len(&self.buffer) {
                return Some(self.buffer.drain(..n).collect());
            }
            let mut chunk = [0u8; 16 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Sends `args` and returns the raw reply.
    pub fn call(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.send(args);
        self.read_reply().expect("connection closed")
    }

    /// Whether the server closed the connection (reads until EOF or timeout).
    pub fn is_closed(&mut self) -> bool {
        self.stream.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut chunk = [0u8; 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return true,
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
    }

    pub fn buffered(&self) -> &[u8] {
        &self.buffer
    }
}

/// Splits a command line on spaces (tests use simple arguments).
pub fn words(line: &str) -> Vec<&[u8]> {
    line.split(' ').map(str::as_bytes).collect()
}
