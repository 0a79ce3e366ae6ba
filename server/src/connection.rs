//! One client connection: read, parse, execute, reply. Every request that arrived in one read
//! is executed in order and the replies are written together (pipelining).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use redrock_protocol::{encode, Limits, Reply, RequestParser, RespVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::blocking::{self, BlockedWait};
use crate::client::{ClientHandle, ClientState};
use crate::error::Error;
use crate::output_limit::{self, Limit, OutputLimitState};
use crate::read_size::{self, ReadSize};
use crate::shared::{Shared, Stats};
use crate::write_session::{DeferredReplies, Parked, WriteSession};
use crate::{dispatch, protected_mode};

/// Initial reply buffer; it grows with the replies of a read.
const OUTPUT_BUFFER_BYTES: usize = 16 * 1024;
/// Past a soft output limit's deadline by this much, the next check is sure to see it passed.
const SOFT_LIMIT_SLACK: Duration = Duration::from_millis(1);

pub async fn serve(shared: Arc<Shared>, mut stream: TcpStream) {
    let peer = stream.peer_addr().ok();
    let addr = peer.map(|a| a.to_string()).unwrap_or_default();
    let laddr = stream.local_addr().map(|a| a.to_string()).unwrap_or_default();
    let _ = stream.set_nodelay(true);
    Stats::add(&shared.stats.total_connections_received, 1);
    let handle = shared.clients.register(addr, laddr);
    let (maxclients, requirepass_set, protected_mode) = {
        let config = shared.config();
        (
            config.get_i64("maxclients") as usize,
            !config.get("requirepass").is_empty(),
            config.get("protected-mode") == "yes",
        )
    };
    if shared.clients.count() > maxclients {
        Stats::add(&shared.stats.rejected_connections, 1);
        let _ = stream.write_all(b"-ERR max number of clients reached\r\n").await;
        shared.clients.unregister(handle.id);
        return;
    }
    // Protected mode, checked after maxclients as in Redis. A peer whose address cannot be
    // read is not known to be local: refused.
    let denied = match peer {
        Some(peer) => protected_mode::denies(protected_mode, requirepass_set, &peer),
        None => protected_mode && !requirepass_set,
    };
    if denied {
        let _ = stream.write_all(protected_mode::DENIED).await;
        shared.clients.unregister(handle.id);
        return;
    }
    let mut client = ClientState::new(handle.clone(), !shared.acl.users.auth_required());
    if let Err(e) = run(&shared, &mut client, &mut stream).await {
        tracing::debug!(client = handle.id, error = %e, "connection closed");
    }
    client.unwatch_all(&shared.watches);
    shared.clients.unregister(handle.id);
}

async fn run(shared: &Arc<Shared>, client: &mut ClientState, stream: &mut TcpStream) -> std::io::Result<()> {
    let mut input = ReadSize::buffer();
    let mut read_size = ReadSize::default();
    let mut output = BytesMut::with_capacity(OUTPUT_BUFFER_BYTES);
    let mut parser = RequestParser::default();
    // Each request's arguments, parsed into the room the one before left.
    let mut request = Vec::new();
    let shutdown = shared.shutdown.subscribe();
    let handle = client.handle.clone();
    let stop = stop_signal(&handle);
    tokio::pin!(stop);
    let mut output_state = OutputLimitState::default();
    let mut settings = Settings::read(shared);
    loop {
        settings.refresh(shared);
        let Settings { idle_timeout_s, query_buffer_limit, proto_max_bulk_len, output_limit, .. } = settings;
        // A large argument in progress: make room for all of it at once, as Redis does.
        if let Some(wanted) = parser.bulk_bytes_wanted(input.len()) {
            input.reserve(wanted);
        }
        read_size.make_room(&mut input);
        let holds_room = ReadSize::holds_room(&input);
        let read = stream.read_buf(&mut input);
        // A connection that goes quiet gives its grown buffer back, as Redis's clients cron
        // resizes the query buffer of a client idle for 2 s.
        let release = async {
            if holds_room {
                tokio::time::sleep(read_size::IDLE_BEFORE_RELEASE).await
            } else {
                std::future::pending::<()>().await
            }
        };
        let idle = async {
            if idle_timeout_s == 0 {
                std::future::pending::<()>().await
            } else {
                tokio::time::sleep(Duration::from_secs(idle_timeout_s)).await
            }
        };
        let n = tokio::select! {
            // The read first: a busy client's next request is already there, and then the
            // other branches are never polled (that polling was ~450 of a GET's 11,500
            // instructions at `-P 1`). A kill or a shutdown is also checked right after.
            biased;
            n = read => Some(n?),
            _ = &mut stop => return Ok(()),
            _ = idle => return Ok(()),
            _ = release => None,
        };
        let Some(n) = n else {
            read_size.release(&mut input);
            continue;
        };
        // A read that filled its room left the rest of a pipeline in the socket: read it now,
        // so that the whole pipeline runs in this turn and is answered with one write.
        let mut gathered = n;
        let mut last = n;
        while read_size.filled(last) && ReadSize::may_gather(input.len()) {
            read_size.make_room(&mut input);
            last = match stream.try_read_buf(&mut input) {
                Ok(more) => more,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            };
            // 0 is the end of the stream: what came before it runs, and the next read ends.
            gathered += last;
        }
        read_size.after_turn(gathered);
        if n == 0 || handle.killed.load(std::sync::atomic::Ordering::SeqCst) || shutdown.has_changed().unwrap_or(true) {
            return Ok(());
        }
        handle.touch();
        Stats::add(&shared.stats.net_input_bytes, gathered as u64);
        let mut postponed = None;
        let parked = loop {
            let mut buffered = Buffered {
                parser: &mut parser,
                request: &mut request,
                input: &mut input,
                output: &mut output,
                proto_max_bulk_len,
                output_limit: &output_limit,
                output_state: &mut output_state,
            };
            let (next, parked) = buffered.run(shared, client, postponed.take());
            match next {
                Next::Read => break parked,
                Next::Pause(args, writes) => {
                    // CLIENT PAUSE: answer what came before, then wait for the end.
                    flush(shared, stream, &mut output, Some(parked), client.resp).await?;
                    tokio::select! {
                        _ = shared.pause.wait(writes) => {}
                        _ = &mut stop => return Ok(()),
                    }
                    postponed = Some(args);
                }
                Next::Blocked(wait) => {
                    // Replies to the requests before it go out before the client waits.
                    flush(shared, stream, &mut output, Some(parked), client.resp).await?;
                    let limit = query_buffer_limit;
                    let served =
                        match wait_unblocked(shared, &handle, stream, &mut input, limit, wait, stop.as_mut()).await? {
                            Some(served) => served,
                            None => return Ok(()),
                        };
                    match deliver(client, served, &mut output, None, &output_limit, &mut output_state) {
                        None => {}
                        Some(Next::Close) => return Ok(()),
                        Some(_) => return flush(shared, stream, &mut output, None, client.resp).await,
                    }
                }
                Next::FlushAndClose => return flush(shared, stream, &mut output, Some(parked), client.resp).await,
                // Dropping `parked` lands what it waited for.
                Next::Close => return Ok(()),
            }
        };
        if input.len() as u64 > query_buffer_limit {
            tracing::warn!(
                client = client.id(),
                bytes = input.len(),
                "closing client that reached max query buffer length"
            );
            return Ok(());
        }
        let resp = client.resp;
        if !flush_within_limit(shared, stream, &mut output, parked, resp, &output_limit, &mut output_state).await? {
            close_for_output_limit(client);
            return Ok(());
        }
    }
}

/// The config parameters a connection consults on every read, reread only after a change
/// (CONFIG SET): reading them meant a lock, four map lookups and parsing the output limit.
#[derive(Clone, Copy)]
struct Settings {
    generation: u64,
    idle_timeout_s: u64,
    query_buffer_limit: u64,
    proto_max_bulk_len: u64,
    output_limit: Limit,
}

impl Settings {
    fn read(shared: &Shared) -> Settings {
        // Taken before the reading: a change racing with it leaves an older generation,
        // which the next `refresh` notices.
        let generation = shared.config_generation();
        let config = shared.config();
        Settings {
            generation,
            idle_timeout_s: config.get_u64("timeout"),
            query_buffer_limit: config.get_u64("client-query-buffer-limit"),
            proto_max_bulk_len: config.get_u64("proto-max-bulk-len"),
            output_limit: output_limit::normal(config.get("client-output-buffer-limit")),
        }
    }

    fn refresh(&mut self, shared: &Shared) {
        if shared.config_generation() != self.generation {
            *self = Settings::read(shared);
        }
    }
}

/// What the connection does once the requests it could run without waiting have run.
enum Next {
    /// Every complete request ran: read more.
    Read,
    /// This request (a write, or any command) waits for a `CLIENT PAUSE` to end.
    Pause(Vec<Bytes>, bool),
    /// The last command blocked: wait for its reply.
    Blocked(BlockedWait),
    /// Send what is answered, then close (QUIT, SHUTDOWN, a protocol error).
    FlushAndClose,
    /// Close without sending anything more (output buffer limit).
    Close,
}

/// The connection's buffers, for the part of its loop that never waits.
struct Buffered<'a> {
    parser: &'a mut RequestParser,
    request: &'a mut Vec<Bytes>,
    input: &'a mut BytesMut,
    output: &'a mut BytesMut,
    proto_max_bulk_len: u64,
    output_limit: &'a Limit,
    output_state: &'a mut OutputLimitState,
}

impl Buffered<'_> {
    /// Runs every complete request in the input (first `postponed`, which already waited for a
    /// pause), in one write session (write_session.rs): the writes of the commands join the
    /// thread's write group, which lands before any of their replies leaves (settling the
    /// returned `Parked`). Never awaits: the running command's key locks belong to this thread.
    fn run<'s>(
        &mut self,
        shared: &'s Arc<Shared>,
        client: &mut ClientState,
        mut postponed: Option<Vec<Bytes>>,
    ) -> (Next, Parked<'s>) {
        let mut session = WriteSession::begin(shared);
        let mut protocol_error = None;
        let next = loop {
            if session.is_full() {
                session.hand_off();
            }
            match postponed.take() {
                Some(args) => *self.request = args,
                None => {
                    let limits =
                        Limits { proto_max_bulk_len: self.proto_max_bulk_len, authenticated: client.authenticated };
                    match self.parser.parse_into(self.input, &limits, self.request) {
                        Ok(true) => {
                            if shared.pause.is_active() {
                                if let Some(writes) = dispatch::pausable(self.request) {
                                    if shared.pause.must_wait_until(writes).is_some() {
                                        break Next::Pause(std::mem::take(self.request), writes);
                                    }
                                }
                            }
                        }
                        Ok(false) => break Next::Read,
                        Err(e) => {
                            // Redis replies to a protocol error and then closes the connection.
                            protocol_error = Some(e);
                            break Next::FlushAndClose;
                        }
                    }
                }
            }
            let reply = dispatch::execute(shared, client, self.request, &mut session);
            if let Some((replies, error)) = session.take_failure() {
                replace_replies(self.output, replies, error, client.resp);
            }
            if let Some(wait) = client.blocked.take() {
                break Next::Blocked(wait);
            }
            if let Some(next) =
                deliver(client, reply, self.output, Some(&mut session), self.output_limit, self.output_state)
            {
                break next;
            }
        };
        if let Some(e) = protocol_error {
            encode(&Reply::from(e), client.resp, self.output);
        }
        (next, session.park())
    }
}

/// Encodes a command's reply (unless `CLIENT REPLY` drops it); what the connection must do
/// next if it cannot go on.
fn deliver(
    client: &mut ClientState,
    reply: Reply,
    output: &mut BytesMut,
    session: Option<&mut WriteSession<'_>>,
    output_limit: &Limit,
    output_state: &mut OutputLimitState,
) -> Option<Next> {
    if client.close_without_reply {
        return Some(Next::FlushAndClose);
    }
    if !client.take_reply_suppressed() {
        let mark = output.len();
        encode(&reply, client.resp, output);
        if let Some(session) = session {
            session.replied(mark);
        }
        if output_state.exceeded(output_limit, output.len(), Instant::now) {
            close_for_output_limit(client);
            return Some(Next::Close);
        }
    }
    client.close_after_reply.then_some(Next::FlushAndClose)
}

/// A joined write failed: the replies of the commands whose writes it held become its error.
fn replace_replies(output: &mut BytesMut, replies: DeferredReplies, error: Error, resp: RespVersion) {
    output.truncate(replies.output_mark);
    let reply = Reply::from(error);
    for _ in 0..replies.count {
        encode(&reply, resp, output);
    }
}

/// Runs before a connection writes its replies: lands the writes they acknowledge (`parked`,
/// see write_session.rs), turning them into its error if the landing failed, and sees that
/// every reply leaves after the WAL records of the writes it may reveal (this client's or,
/// read by it, another's) are out of the process (see storage's `Durability`). A failure of
/// the WAL's write closes the connection: nothing unwritten is acknowledged.
///
/// The connection first yields once, so that the other connections of this worker thread
/// that are ready run their commands too, as Redis serves every ready client in one turn of
/// its event loop and writes afterwards. Three things come of it:
///
/// - One RocksDB write for the turn: the first connection to come back lands the writes of
///   every command the thread ran, or hands them to the thread's lander when they are many
///   (write_session.rs); the others find theirs landed or await the same landing.
/// - Group commit: that connection writes everyone's WAL records with one `write(2)`.
///   Measured at `-P 1` with 50 clients on one worker: one WAL `write(2)` per ~46 SETs
///   instead of one per SET, leaving a `recv` and a `send` per request, as Redis.
/// - Replies leave in a burst: the first wakes a client that sleeps in `epoll_wait`, and the
///   ones after find it awake. Sent one by one, each woke it again, and the wake-up (the
///   kernel's `sock_def_readable`) was 13% of a pipelined GET's CPU; Redis spends 4% there.
///   Yielding on reads too took a pipelined GET from 3.2 to 2.7 µs of server CPU, 0.36x to
///   0.43x of Redis in req/s, and left `-P 1` unchanged.
async fn before_replies(
    shared: &Shared,
    parked: Option<Parked<'_>>,
    output: &mut BytesMut,
    resp: RespVersion,
) -> std::io::Result<()> {
    tokio::task::yield_now().await;
    if let Some(parked) = parked {
        if let Some((replies, error)) = parked.settle().await {
            replace_replies(output, replies, error, resp);
        }
    }
    let Some(mark) = shared.storage.wal_unflushed() else {
        return Ok(());
    };
    shared.storage.flush_wal_through(mark).map_err(|e| {
        tracing::error!(error = %e, "writing the WAL failed");
        std::io::Error::other(e.to_string())
    })
}

/// Whether replies, or writes they wait for, must go through [`before_replies`].
fn must_settle(output: &BytesMut, parked: &Option<Parked<'_>>) -> bool {
    !output.is_empty() || parked.as_ref().is_some_and(Parked::must_wait)
}

/// Redis's log line for a client closed by `client-output-buffer-limit`.
fn close_for_output_limit(client: &ClientState) {
    tracing::warn!(
        client = %client.handle.info_line(),
        "Client scheduled to be closed ASAP for overcoming of output buffer limits."
    );
}

/// Writes `output` while the client's pending output stays within its limits; false when
/// the client must be closed (a slow reader kept more than the soft limit pending for longer
/// than soft_seconds).
async fn flush_within_limit(
    shared: &Shared,
    stream: &mut TcpStream,
    output: &mut BytesMut,
    parked: Parked<'_>,
    resp: RespVersion,
    limit: &Limit,
    state: &mut OutputLimitState,
) -> std::io::Result<bool> {
    let parked = Some(parked);
    if must_settle(output, &parked) {
        before_replies(shared, parked, output, resp).await?;
    }
    // The buffer is cleared once everything is sent, never advanced: an advanced `BytesMut`
    // keeps its offset, and the next read's replies, reaching the end of what is left,
    // were copied back to the start (sixteen 1 KB replies: a 15 KB copy every turn).
    let mut sent = 0;
    while sent < output.len() {
        if state.exceeded(limit, output.len() - sent, Instant::now) {
            return Ok(false);
        }
        let write = stream.write(&output[sent..]);
        let written = match state.soft_deadline(limit) {
            // Past the deadline the next round's check closes the client.
            Some(deadline) => match tokio::time::timeout_at((deadline + SOFT_LIMIT_SLACK).into(), write).await {
                Ok(written) => written?,
                Err(_) => continue,
            },
            None => write.await?,
        };
        if written == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        Stats::add(&shared.stats.net_output_bytes, written as u64);
        sent += written;
    }
    output.clear();
    state.exceeded(limit, 0, Instant::now);
    Ok(true)
}

/// Waits for a blocked client's reply (see blocking.rs): served, timed out, or unblocked.
/// `None` when the client went away (disconnection, CLIENT KILL, shutdown, query buffer
/// overflow); on every path the client is withdrawn from the registry.
async fn wait_unblocked(
    shared: &Arc<Shared>,
    handle: &ClientHandle,
    stream: &mut TcpStream,
    input: &mut BytesMut,
    query_buffer_limit: u64,
    wait: BlockedWait,
    mut stop: Pin<&mut impl Future<Output = ()>>,
) -> std::io::Result<Option<Reply>> {
    /// Withdraws the client however the wait ends (even if the task is dropped).
    struct Withdraw<'a>(&'a Shared, u64);
    impl Drop for Withdraw<'_> {
        fn drop(&mut self) {
            self.0.blocking.withdraw(self.1);
        }
    }
    let id = handle.id;
    let _withdraw = Withdraw(shared, id);
    let BlockedWait { reply: mut served, deadline } = wait;
    let timeout = async {
        match deadline {
            Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
            None => std::future::pending::<()>().await,
        }
    };
    tokio::pin!(timeout);
    loop {
        tokio::select! {
            reply = &mut served => return Ok(Some(reply.unwrap_or_else(|_| blocking::timeout_reply()))),
            _ = &mut timeout => {
                if shared.blocking.withdraw(id) {
                    return Ok(Some(blocking::timeout_reply()));
                }
                // Served just before the deadline: the reply is already in the channel.
                return Ok(Some(served.try_recv().unwrap_or_else(|_| blocking::timeout_reply())));
            }
            _ = &mut stop => return Ok(None),
            // A blocked client's further input waits in the buffer, as in Redis; reading it
            // is how a disconnection is noticed.
            n = stream.read_buf(input) => {
                let n = n?;
                if n == 0 || input.len() as u64 > query_buffer_limit {
                    return Ok(None);
                }
                handle.touch();
                Stats::add(&shared.stats.net_input_bytes, n as u64);
            }
        }
    }
}

/// Resolves when the connection must end: CLIENT KILL. One future serves every wait of the
/// connection's life: a fresh kill waiter for each read, registered and dropped each time,
/// cost a `-P 1` GET 400 of its 9,700 instructions (callgrind). A kill is also a flag,
/// checked after every read.
///
/// The server's shutdown needs no waker here: the worker thread then drops its runtime, and
/// with it every connection's task, wherever it waits. Watching for it too (a `watch`
/// beside the kill's `Notify`, polled with it whenever a read would block) cost a `-P 1`
/// GET ~290 of its 7,400 instructions. A connection still checks for it after every read
/// (`run`), so none starts a command once the shutdown is under way.
async fn stop_signal(handle: &ClientHandle) {
    handle.kill_signal.notified().await
}

async fn flush(
    shared: &Shared,
    stream: &mut TcpStream,
    output: &mut BytesMut,
    parked: Option<Parked<'_>>,
    resp: RespVersion,
) -> std::io::Result<()> {
    if must_settle(output, &parked) {
        before_replies(shared, parked, output, resp).await?;
    }
    if !output.is_empty() {
        Stats::add(&shared.stats.net_output_bytes, output.len() as u64);
        stream.write_all(output).await?;
        output.clear();
    }
    Ok(())
}
