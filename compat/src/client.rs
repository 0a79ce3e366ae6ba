//! A minimal blocking RESP client: connect to `redis://host:port[/db]`, write encoded
//! commands, read replies with our own reader ([`crate::resp`]).

use std::io::{BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::resp::{encode_command, read_reply, Reply, RespError};

/// How long we wait to connect before declaring the endpoint unreachable (exit code 2).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long we wait for one reply; a server that hangs must not hang CI.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Capacity of the read buffer: large enough that pipelined small replies are parsed from
/// memory without a syscall each.
const READ_BUFFER_BYTES: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("bad URL {0:?}: expected redis://host:port")]
    BadUrl(String),
    #[error("cannot connect to {url}: {source}")]
    Connect { url: String, source: std::io::Error },
    #[error("{0}")]
    Resp(#[from] RespError),
    #[error("{url}: {command} failed: {reply}")]
    Setup { url: String, command: String, reply: String },
}

/// A server address parsed from `redis://host:port[/db]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    /// Database selected on every new connection when not 0.
    pub db: u32,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Endpoint, ClientError> {
        let bad = || ClientError::BadUrl(url.to_string());
        let rest = url.strip_prefix("redis://").unwrap_or(url);
        let (hostport, db) = match rest.split_once('/') {
            Some((hp, "")) => (hp, 0),
            Some((hp, db)) => (hp, db.parse().map_err(|_| bad())?),
            None => (rest, 0),
        };
        let (host, port) = hostport.rsplit_once(':').ok_or_else(bad)?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.contains('@') {
            // Credentials in URLs are not supported: the harness is for scratch servers.
            return Err(bad());
        }
        Ok(Endpoint { host: host.to_string(), port: port.parse().map_err(|_| bad())?, db })
    }

    pub fn url(&self) -> String {
        if self.host.contains(':') {
            format!("redis://[{}]:{}", self.host, self.port)
        } else {
            format!("redis://{}:{}", self.host, self.port)
        }
    }
}

pub struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    out: Vec<u8>,
}

impl Conn {
    pub fn connect(ep: &Endpoint, read_timeout: Duration) -> Result<Conn, ClientError> {
        let url = ep.url();
        let connect_err = |source| ClientError::Connect { url: url.clone(), source };
        let addrs: Vec<_> = (ep.host.as_str(), ep.port).to_socket_addrs().map_err(connect_err)?.collect();
        let mut last = None;
        let mut stream = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, CONNECT_TIMEOUT) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let stream = stream.ok_or_else(|| connect_err(last.unwrap_or_else(|| std::io::Error::other("no address"))))?;
        stream.set_nodelay(true).map_err(connect_err)?;
        stream.set_read_timeout(Some(read_timeout)).map_err(connect_err)?;
        stream.set_write_timeout(Some(read_timeout)).map_err(connect_err)?;
        let writer = stream.try_clone().map_err(connect_err)?;
        let mut conn = Conn { reader: BufReader::with_capacity(READ_BUFFER_BYTES, stream), writer, out: Vec::new() };
        if ep.db != 0 {
            conn.setup(ep, &[b"SELECT".to_vec(), ep.db.to_string().into_bytes()])?;
        }
        Ok(conn)
    }

    /// Runs a command whose failure makes the run impossible (exit code 2).
    pub fn setup(&mut self, ep: &Endpoint, args: &[Vec<u8>]) -> Result<Reply, ClientError> {
        let reply = self.call(args)?;
        if reply.is_error() {
            return Err(ClientError::Setup {
                url: ep.url(),
                command: String::from_utf8_lossy(&args.join(&b' ')).into_owned(),
                reply: crate::transcript::render_replies(&[reply], Default::default()),
            });
        }
        Ok(reply)
    }

    /// Queues a command; it is sent by [`Conn::flush`].
    pub fn queue(&mut self, args: &[Vec<u8>]) {
        encode_command(args, &mut self.out);
    }

    pub fn queued_bytes(&self) -> usize {
        self.out.len()
    }

    pub fn flush(&mut self) -> Result<(), RespError> {
        if !self.out.is_empty() {
            self.writer.write_all(&self.out)?;
            self.out.clear();
        }
        Ok(())
    }

    pub fn read(&mut self) -> Result<Reply, RespError> {
        read_reply(&mut self.reader)
    }

    pub fn call(&mut self, args: &[Vec<u8>]) -> Result<Reply, RespError> {
        self.queue(args);
        self.flush()?;
        self.read()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let e = Endpoint::parse("redis://127.0.0.1:6379").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.db), ("127.0.0.1", 6379, 0));
        let e = Endpoint::parse("redis://localhost:7000/3").unwrap();
        assert_eq!((e.port, e.db), (7000, 3));
        let e = Endpoint::parse("127.0.0.1:1").unwrap();
        assert_eq!(e.url(), "redis://127.0.0.1:1");
        assert!(Endpoint::parse("redis://nohost").is_err());
        assert!(Endpoint::parse("redis://u:p@h:1").is_err());
    }
}
