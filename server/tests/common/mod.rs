//! Test support: start `redrock-server` and a real `redis-server` on free loopback ports,
//! talk raw RESP to them, stop them by pid.

#![allow(dead_code)]

pub mod resp;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use redrock_compat::process;

/// A loopback port nobody listens on now, never handed out twice in this process (see
/// `redrock_compat::process::free_port`: probed by connecting, never by listening).
pub fn free_port() -> u16 {
    process::free_port().expect("a free loopback port")
}

pub use redrock_compat::process::TempDir;

/// A fresh temporary folder for the test `tag`, removed on drop.
pub fn scratch(tag: &str) -> TempDir {
    TempDir::new(&format!("redrock-test-{tag}")).expect("a scratch folder")
}

/// A running server process, killed on drop.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

impl Server {
    /// `redrock-server` on a free port with its data in `dir` and extra `--name value` args;
    /// its stderr is the test's, so a panic in the server shows in the test's output.
    pub fn redrock(dir: &Path, extra: &[&str]) -> Server {
        Server::start(env!("CARGO_BIN_EXE_redrock-server"), dir, Stdio::inherit, |port, dir| {
            let mut args = process::loopback_args(port, dir);
            args.extend(["--loglevel", "warning"].iter().chain(extra).map(|s| s.to_string()));
            args
        })
    }

    /// Debian's `redis-server`, started the same way (no persistence).
    pub fn redis(dir: &Path, extra: &[&str]) -> Server {
        Server::start(&process::redis_server_bin(), dir, Stdio::null, |port, dir| process::redis_args(port, dir, extra))
    }

    fn start(bin: &str, dir: &Path, stderr: fn() -> Stdio, args: impl Fn(u16, &Path) -> Vec<String>) -> Server {
        let (child, port) = process::spawn_on_free_port(bin, dir, args, stderr)
            .unwrap_or_else(|e| panic!("{e} (apt-get install redis-server)"));
        Server { child, port, dir: dir.to_path_buf() }
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
        let mut out = Vec::new();
        multibulk(&mut out, args);
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

/// Appends `args` to `out` as one multibulk request.
pub fn multibulk(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Splits a command line on spaces (tests use simple arguments).
pub fn words(line: &str) -> Vec<&[u8]> {
    line.split(' ').map(str::as_bytes).collect()
}

/// xorshift64*: small, deterministic, good enough to pick commands.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}
