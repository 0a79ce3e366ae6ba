//! How many bytes a connection asks its socket for at once.
//!
//! A fixed 16 KB split every pipeline longer than that: the requests of the first read ran
//! and were answered, and the rest waited for a second turn with a second reply. Sixteen
//! pipelined 1 KB SETs took two reads and two `sendto`s (each waking the client) where
//! Redis, whose query buffer grows greedily (`readQueryFromClient` reads all of
//! `sdsavail`), takes one of each. A read that fills the room it was given now doubles the
//! next one's, up to `MAX_READ_BYTES`, and the connection reads again at once, before
//! running anything; turns whose reads gather a quarter of it or less halve it again, down
//! to `MIN_READ_BYTES`, so a connection that once pipelined keeps no large buffer.

use std::time::Duration;

use bytes::BytesMut;

/// What a connection's first read asks for, and the least any read asks for (Redis's
/// `PROTO_IOBUF_LEN`).
pub const MIN_READ_BYTES: usize = 16 * 1024;
/// The most one read asks for, and what a turn gathers before it stops reading and runs its
/// requests (the rest of a long pipeline waits for the next turn). A connection's buffer then
/// holds at most twice this: 50 clients pipelining at once, 25 MB.
pub const MAX_READ_BYTES: usize = 256 * 1024;

/// How long a connection whose buffer grew past its first size waits for input before it
/// gives the buffer back (Redis's `clientsCronResizeQueryBuffer` waits 2 s too): a client
/// that sent one long pipeline and then idles keeps `MIN_READ_BYTES`, not up to twice
/// `MAX_READ_BYTES`.
pub const IDLE_BEFORE_RELEASE: Duration = Duration::from_secs(2);

/// A connection's read size, learnt from its reads.
#[derive(Debug)]
pub struct ReadSize {
    bytes: usize,
    /// The room the last `make_room` left, which a read that returns as much filled.
    room: usize,
}

impl Default for ReadSize {
    fn default() -> ReadSize {
        ReadSize { bytes: MIN_READ_BYTES, room: 0 }
    }
}

impl ReadSize {
    /// A new buffer for a connection.
    pub fn buffer() -> BytesMut {
        BytesMut::with_capacity(MIN_READ_BYTES)
    }

    /// Makes room in `input` for the next read. An empty buffer grown past twice the read
    /// size is swapped for one of the read size, which frees the large one.
    pub fn make_room(&mut self, input: &mut BytesMut) {
        if input.is_empty() && input.capacity() > 2 * self.bytes {
            *input = BytesMut::with_capacity(self.bytes);
        }
        if input.capacity() - input.len() < self.bytes {
            input.reserve(self.bytes);
        }
        self.room = input.capacity() - input.len();
    }

    /// Learns from a read of `read` bytes into the room `make_room` left. Returns whether it
    /// filled that room, so that more is probably waiting; then the next read asks for more.
    pub fn filled(&mut self, read: usize) -> bool {
        let filled = read > 0 && read >= self.room;
        if filled {
            self.bytes = (self.bytes * 2).min(MAX_READ_BYTES);
        }
        filled
    }

    /// Learns from a turn's reads, `gathered` bytes in all: a turn that used under a quarter
    /// of the read size halves it.
    pub fn after_turn(&mut self, gathered: usize) {
        if gathered < self.bytes / 4 {
            self.bytes = (self.bytes / 2).max(MIN_READ_BYTES);
        }
    }

    /// Whether `input`, empty, holds more room than a connection starts with: worth giving
    /// back if no input comes for `IDLE_BEFORE_RELEASE`.
    pub fn holds_room(input: &BytesMut) -> bool {
        input.is_empty() && input.capacity() > MIN_READ_BYTES
    }

    /// Gives back the room of an idle connection's empty `input`, and starts learning again.
    pub fn release(&mut self, input: &mut BytesMut) {
        *input = ReadSize::buffer();
        *self = ReadSize::default();
    }

    /// Whether a turn that gathered `buffered` bytes may read again before it runs them.
    pub fn may_gather(buffered: usize) -> bool {
        buffered < MAX_READ_BYTES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filled_read_doubles_the_next_up_to_the_bound() {
        let mut size = ReadSize::default();
        let mut input = ReadSize::buffer();
        let mut asked = Vec::new();
        for _ in 0..8 {
            size.make_room(&mut input);
            asked.push(size.room);
            assert!(size.filled(size.room));
            input.clear();
        }
        assert!(asked.windows(2).all(|w| w[1] >= w[0]), "{asked:?}");
        assert!(asked[0] >= MIN_READ_BYTES);
        assert_eq!(size.bytes, MAX_READ_BYTES);
        assert!(*asked.last().unwrap() >= MAX_READ_BYTES);
    }

    #[test]
    fn short_reads_halve_it_and_free_the_large_buffer() {
        let mut size = ReadSize { bytes: MAX_READ_BYTES, room: 0 };
        let mut input = BytesMut::with_capacity(MAX_READ_BYTES);
        for _ in 0..8 {
            size.make_room(&mut input);
            assert!(!size.filled(100));
            size.after_turn(100);
        }
        assert_eq!(size.bytes, MIN_READ_BYTES);
        size.make_room(&mut input);
        assert!(input.capacity() <= 2 * MIN_READ_BYTES, "{}", input.capacity());
    }

    #[test]
    fn a_buffer_holding_a_partial_request_is_kept() {
        let mut size = ReadSize { bytes: MIN_READ_BYTES, room: 0 };
        let mut input = BytesMut::with_capacity(MAX_READ_BYTES);
        input.extend_from_slice(b"*3\r\n$3\r\nSET");
        size.make_room(&mut input);
        assert_eq!(&input[..], b"*3\r\n$3\r\nSET");
        assert!(size.room >= MIN_READ_BYTES);
    }

    #[test]
    fn an_idle_connection_gives_its_grown_buffer_back() {
        let mut size = ReadSize::default();
        let mut input = ReadSize::buffer();
        size.make_room(&mut input);
        assert!(!ReadSize::holds_room(&input), "a new connection has nothing to give back");
        assert!(size.filled(size.room));
        size.make_room(&mut input);
        assert!(ReadSize::holds_room(&input));
        input.extend_from_slice(b"*1\r\n");
        assert!(!ReadSize::holds_room(&input), "a partial request is kept");
        input.clear();
        size.release(&mut input);
        assert!(input.capacity() <= MIN_READ_BYTES && input.is_empty());
        assert_eq!(size.bytes, MIN_READ_BYTES);
    }

    #[test]
    fn an_empty_read_is_not_filled() {
        let mut size = ReadSize::default();
        let mut input = ReadSize::buffer();
        size.make_room(&mut input);
        assert!(!size.filled(0));
    }

    #[test]
    fn gathering_stops_at_the_bound() {
        assert!(ReadSize::may_gather(MAX_READ_BYTES - 1));
        assert!(!ReadSize::may_gather(MAX_READ_BYTES));
    }
}
