//! The request parser: RESP multibulk and inline requests, a port of Redis 7.0
//! networking.c `processInputBuffer`, `processInlineBuffer` and `processMultibulkBuffer`.
//!
//! The parser consumes what it has parsed from the caller's buffer. Arguments are
//! zero-copy `Bytes` split off that buffer (inline arguments with quotes are the only
//! copies). A multibulk request that has not fully arrived keeps its finished arguments
//! and its remaining count here, as Redis keeps `c->argv`, `c->multibulklen` and
//! `c->bulklen`, so a request of a million arguments arriving in many reads is parsed once.
//!
//! Beyond the buffer it is given, the parser allocates only the argument vector, and
//! that grows with arguments that have actually arrived (never with a claimed count).

use bytes::{Buf, Bytes, BytesMut};

use crate::error::ProtocolError;
use crate::number::string2ll;
use crate::splitargs::split_args;

/// server.h `PROTO_INLINE_MAX_SIZE`: the longest inline request, `*<count>` line or
/// `$<len>` line that may be buffered before its terminator arrives.
pub const PROTO_INLINE_MAX_SIZE: usize = 64 * 1024;
/// The default of the `proto-max-bulk-len` config: the longest bulk argument.
pub const PROTO_MAX_BULK_LEN_DEFAULT: u64 = 512 * 1024 * 1024;
/// Most arguments a client may send before it authenticates (networking.c: `ll > 10 &&
/// authRequired(c)`).
pub const UNAUTHENTICATED_MAX_ARGS: i64 = 10;
/// Longest bulk argument a client may send before it authenticates (`ll > 16384`).
pub const UNAUTHENTICATED_MAX_BULK_LEN: i64 = 16 * 1024;
/// The largest `*<count>` Redis accepts (`ll > INT_MAX` is invalid).
pub const PROTO_MAX_MULTIBULK_LEN: i64 = i32::MAX as i64;
/// Redis preallocates `argv` for `min(multibulklen, 1024)` arguments: a claimed count
/// reserves no more than this, the vector grows as arguments really arrive.
pub const PROTO_MAX_ARGV_PREALLOC: usize = 1024;
/// server.h `PROTO_MBULK_BIG_ARG`: from this size on Redis sizes the query buffer for the
/// whole argument; see `RequestParser::bulk_bytes_wanted`.
pub const PROTO_MBULK_BIG_ARG: usize = 32 * 1024;
/// Bytes after a bulk's payload that Redis skips unchecked (meant to be `\r\n`).
const BULK_TRAILER_LEN: usize = 2;

/// What the parser must know of the connection.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The `proto-max-bulk-len` config.
    pub proto_max_bulk_len: u64,
    /// False while `authRequired(c)` holds: the default user needs a password and the
    /// client has not authenticated. Then the unauthenticated limits apply.
    pub authenticated: bool,
}

impl Default for Limits {
    /// Redis's defaults: `proto-max-bulk-len` 512mb, no password required.
    fn default() -> Limits {
        Limits { proto_max_bulk_len: PROTO_MAX_BULK_LEN_DEFAULT, authenticated: true }
    }
}

/// Incremental parser of one connection's requests.
///
/// After an `Err`, Redis replies with the error and closes the connection
/// (`CLIENT_CLOSE_AFTER_REPLY`); the parser's state is then unspecified.
#[derive(Default, Debug)]
pub struct RequestParser {
    /// Arguments of the multibulk request in progress (`c->argv`).
    args: Vec<Bytes>,
    /// Arguments still to read of that request; 0 when none is in progress
    /// (`c->multibulklen`).
    remaining: usize,
    /// Payload length of the argument whose `$<len>` line was read, while its payload has
    /// not fully arrived (`c->bulklen`, -1 there being `None` here).
    bulk_len: Option<usize>,
}

impl RequestParser {
    /// Parses the next request from the front of `buf`.
    ///
    /// `Ok(Some(args))`: one complete request, consumed from `buf` (args are zero-copy
    /// `Bytes` split off it, and never empty). `Ok(None)`: incomplete, wait for more bytes
    /// (what has been parsed is consumed and kept). Empty requests (`*0\r\n`, `*-1\r\n`, a
    /// blank inline line) are skipped, as `processInputBuffer` resets the client for them.
    pub fn parse(&mut self, buf: &mut BytesMut, limits: &Limits) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let mut args = Vec::new();
        Ok(self.parse_into(buf, limits, &mut args)?.then_some(args))
    }

    /// [`RequestParser::parse`] into `args` (cleared first; `Ok(true)`: it holds a request),
    /// whose room serves request after request: allocating and freeing each request's vector
    /// was ~100 instructions of a pipelined GET.
    pub fn parse_into(
        &mut self,
        buf: &mut BytesMut,
        limits: &Limits,
        args: &mut Vec<Bytes>,
    ) -> Result<bool, ProtocolError> {
        args.clear();
        if self.remaining == 0 && buf.first() == Some(&b'*') && take_arrived_request(buf, limits, args).is_some() {
            return Ok(true);
        }
        match self.parse_line_by_line(buf, limits)? {
            Some(request) => {
                *args = request;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// `parse` for every request: consumes the buffer as far as the request has arrived.
    fn parse_line_by_line(&mut self, buf: &mut BytesMut, limits: &Limits) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        loop {
            if self.remaining == 0 {
                // processInputBuffer: the request type is decided by the first byte.
                let Some(&first) = buf.first() else {
                    return Ok(None);
                };
                let started = if first == b'*' {
                    self.parse_multibulk_count(buf, limits)?
                } else {
                    match parse_inline(buf)? {
                        None => return Ok(None),
                        Some(args) if args.is_empty() => continue,
                        Some(args) => return Ok(Some(args)),
                    }
                };
                match started {
                    None => return Ok(None),
                    Some(false) => continue,
                    Some(true) => {}
                }
            }
            return self.parse_bulks(buf, limits);
        }
    }

    /// How many more bytes complete the bulk argument being read, when that argument is
    /// at least `PROTO_MBULK_BIG_ARG` long; `buffered` is the length of the buffer `parse`
    /// last returned `Ok(None)` on.
    ///
    /// Redis 7.0 uses this moment to size its query buffer for exactly the whole argument
    /// (`sdsMakeRoomForNonGreedy`) and to read it in one go: a connection can reserve this
    /// much instead of growing its buffer by doubling.
    pub fn bulk_bytes_wanted(&self, buffered: usize) -> Option<usize> {
        let len = self.bulk_len?;
        (len >= PROTO_MBULK_BIG_ARG).then(|| (len + BULK_TRAILER_LEN).saturating_sub(buffered))
    }

    /// The `*<count>` line. `Ok(None)`: incomplete; `Ok(Some(false))`: an empty request,
    /// consumed; `Ok(Some(true))`: a request of `self.remaining` arguments has begun.
    fn parse_multibulk_count(&mut self, buf: &mut BytesMut, limits: &Limits) -> Result<Option<bool>, ProtocolError> {
        let Some(cr) = find_line_end(buf, b'\r') else {
            if buf.len() > PROTO_INLINE_MAX_SIZE {
                return Err(ProtocolError::TooBigMultibulkCount);
            }
            return Ok(None);
        };
        if !line_terminator_arrived(buf, cr) {
            return Ok(None);
        }
        let count = match string2ll(&buf[1..cr]) {
            Some(count) if count <= PROTO_MAX_MULTIBULK_LEN => count,
            _ => return Err(ProtocolError::InvalidMultibulkLength),
        };
        if count > UNAUTHENTICATED_MAX_ARGS && !limits.authenticated {
            return Err(ProtocolError::UnauthenticatedMultibulkLength);
        }
        buf.advance(cr + LINE_TERMINATOR_LEN);
        if count <= 0 {
            return Ok(Some(false));
        }
        // count <= i32::MAX, so it fits a usize.
        self.remaining = count as usize;
        self.args = Vec::with_capacity(self.remaining.min(PROTO_MAX_ARGV_PREALLOC));
        Ok(Some(true))
    }

    /// The `$<len>` lines and payloads of the request in progress.
    fn parse_bulks(&mut self, buf: &mut BytesMut, limits: &Limits) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        while self.remaining > 0 {
            let len = match self.bulk_len {
                Some(len) => len,
                None => match parse_bulk_header(buf, limits)? {
                    Some(len) => {
                        self.bulk_len = Some(len);
                        len
                    }
                    None => return Ok(None),
                },
            };
            if buf.len() < len + BULK_TRAILER_LEN {
                return Ok(None);
            }
            self.args.push(buf.split_to(len).freeze());
            // Redis skips the two bytes after the payload without looking at them.
            buf.advance(BULK_TRAILER_LEN);
            self.bulk_len = None;
            self.remaining -= 1;
        }
        Ok(Some(std::mem::take(&mut self.args)))
    }
}

/// Bytes Redis skips after the `\r` that ends a `*<count>` or `$<len>` line.
const LINE_TERMINATOR_LEN: usize = 2;

/// Most arguments of a request `take_arrived_request` takes: their bounds sit in an array
/// on the stack. Longer requests go the general way.
const ARRIVED_REQUEST_MAX_ARGS: usize = 32;

/// The request at the front of `buf`, pushed onto `args`, when it has fully arrived and is
/// valid, the common case: its arguments are then sliced from one `Bytes` split off the
/// buffer, where the general path consumes the buffer line by line (at `-P 16`, advancing
/// the buffer was half the parser's instructions). Anything else (an incomplete, empty,
/// long or invalid request) is `None`, with `buf` and `args` untouched, and is left to the
/// general path, which reaches Redis's verdict on the same bytes.
fn take_arrived_request(buf: &mut BytesMut, limits: &Limits, args: &mut Vec<Bytes>) -> Option<()> {
    let bytes: &[u8] = buf;
    let (count, mut at) = arrived_line(bytes, 0)?;
    let count = usize::try_from(count).ok().filter(|count| (1..=ARRIVED_REQUEST_MAX_ARGS).contains(count))?;
    if count > UNAUTHENTICATED_MAX_ARGS as usize && !limits.authenticated {
        return None;
    }
    // u32 halves the array to clear: the bounds of a request past 4 GiB fail to convert.
    let mut bounds = [(0u32, 0u32); ARRIVED_REQUEST_MAX_ARGS];
    for bound in &mut bounds[..count] {
        if bytes.get(at) != Some(&b'$') {
            return None;
        }
        let (len, start) = arrived_line(bytes, at)?;
        if len < 0
            || len as u64 > limits.proto_max_bulk_len
            || (len > UNAUTHENTICATED_MAX_BULK_LEN && !limits.authenticated)
        {
            return None;
        }
        let end = start.checked_add(usize::try_from(len).ok()?)?;
        if bytes.len() < end.checked_add(BULK_TRAILER_LEN)? {
            return None;
        }
        *bound = (u32::try_from(start).ok()?, u32::try_from(end).ok()?);
        at = end + BULK_TRAILER_LEN;
    }
    let request = buf.split_to(at).freeze();
    args.extend(bounds[..count].iter().map(|&(start, end)| request.slice(start as usize..end as usize)));
    Some(())
}

/// Most digits `arrived_line` reads: any such number fits an `i64`, and every count or
/// length this long is past its limit anyway, which the general path reports.
const ARRIVED_LINE_MAX_DIGITS: usize = 18;

/// The number on the `*<count>` or `$<len>` line at `at`, and where the line's successor
/// starts, when the line has fully arrived and holds plain decimal digits without a leading
/// zero (a lone `0` included): what `string2ll` accepts, but for a sign, which no valid
/// count or length has. Anything else is left to the general path. The digits are read as
/// the line is scanned for its `\r`, rather than found first and parsed after: a separate
/// `find_line_end` and `string2ll` were ~270 of a pipelined HSET's 8.2 k worker instructions.
fn arrived_line(bytes: &[u8], at: usize) -> Option<(i64, usize)> {
    let digits_start = at + 1;
    let mut value: i64 = 0;
    let mut end = digits_start;
    loop {
        let digit = bytes.get(end)?.wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        value = value * 10 + i64::from(digit);
        end += 1;
        if end - digits_start > ARRIVED_LINE_MAX_DIGITS {
            return None;
        }
    }
    let digits = end - digits_start;
    let leading_zero = digits > 1 && bytes[digits_start] == b'0';
    if digits == 0 || leading_zero || bytes[end] != b'\r' || !line_terminator_arrived(&bytes[at..], end - at) {
        return None;
    }
    Some((value, end + LINE_TERMINATOR_LEN))
}

/// Reads one `$<len>` line; `Ok(None)` if it has not fully arrived.
fn parse_bulk_header(buf: &mut BytesMut, limits: &Limits) -> Result<Option<usize>, ProtocolError> {
    let Some(cr) = find_line_end(buf, b'\r') else {
        if buf.len() > PROTO_INLINE_MAX_SIZE {
            return Err(ProtocolError::TooBigBulkCount);
        }
        return Ok(None);
    };
    if !line_terminator_arrived(buf, cr) {
        return Ok(None);
    }
    if buf[0] != b'$' {
        return Err(ProtocolError::ExpectedDollar(buf[0]));
    }
    let len = match string2ll(&buf[1..cr]) {
        Some(len) if len >= 0 && len as u64 <= limits.proto_max_bulk_len => len,
        _ => return Err(ProtocolError::InvalidBulkLength),
    };
    if len > UNAUTHENTICATED_MAX_BULK_LEN && !limits.authenticated {
        return Err(ProtocolError::UnauthenticatedBulkLength);
    }
    let len = usize::try_from(len).map_err(|_| ProtocolError::InvalidBulkLength)?;
    buf.advance(cr + LINE_TERMINATOR_LEN);
    Ok(Some(len))
}

/// One inline request (processInlineBuffer). `Ok(None)`: the line has not fully arrived;
/// `Ok(Some(vec![]))`: a blank line, consumed.
fn parse_inline(buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let Some(newline) = find_line_end(buf, b'\n') else {
        if buf.len() > PROTO_INLINE_MAX_SIZE {
            return Err(ProtocolError::TooBigInlineRequest);
        }
        return Ok(None);
    };
    // "Handle the \r\n case."
    let line_len = if newline > 0 && buf[newline - 1] == b'\r' { newline - 1 } else { newline };
    let line = buf.split_to(newline + 1).freeze().slice(..line_len);
    // Redis leaves a bad line unconsumed; it makes no difference, the connection closes.
    split_args(&line).map(Some).ok_or(ProtocolError::UnbalancedQuotes)
}

/// Index of the first `terminator` in `buf`, as C `strchr` finds it in Redis's
/// NUL-terminated query buffer: a NUL byte before it hides it. (Real Redis 7.0.15 never
/// answers `*1\0\r\n$4\r\nPING\r\n` or `PING\0\n`: it waits for a terminator it cannot
/// see, until the too-big limit closes the connection.)
fn find_line_end(buf: &[u8], terminator: u8) -> Option<usize> {
    buf.iter().position(|&b| b == terminator || b == 0).filter(|&i| buf[i] == terminator)
}

/// Whether the byte after the `\r` at `cr` has arrived. Redis only checks that there is
/// one ("Buffer should also contain \n") and then skips it without checking it is `\n`.
fn line_terminator_arrived(buf: &[u8], cr: usize) -> bool {
    cr + LINE_TERMINATOR_LEN <= buf.len()
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
