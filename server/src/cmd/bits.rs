//! Bitmap commands: bit-level views of string values. The checks run in Redis 7.0's order,
//! which differs between commands (BITCOUNT looks the key up before parsing its range,
//! BITPOS parses the bit first, GETBIT and SETBIT parse everything first).

use bytes::Bytes;
use redrock_protocol::Reply;

use super::args::{c_str, parse_i64};
use super::spec::{acl, flag, key_flags, CommandSpec, Group, KeySpec};
use super::Ctx;
use crate::error::{Error, Result};
use crate::storage::metadata::StringEncoding;
use crate::types::bitmap::{self, BitOp, FieldType, Overflow, PosRange, Unit};
use crate::types::string::{self, Patch};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("bitcount", -2, Group::Bitmap, bitcount)
        .flags(flag::READONLY)
        .acl(acl::BITMAP)
        .keys(&[KeySpec::single(1, key_flags::RO_ACCESS)])
        .doc("2.6.0", "Count set bits in a string", "O(N)"),
    CommandSpec::new("bitfield", -2, Group::Bitmap, bitfield)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(acl::BITMAP)
        .keys(&[KeySpec::single(1, key_flags::RW_ACCESS_UPDATE_VARIABLE)])
        .key_notes(&["This command allows both access and modification of the key"])
        .doc("3.2.0", "Perform arbitrary bitfield integer operations on strings", "O(1) for each subcommand specified"),
    CommandSpec::new("bitfield_ro", -2, Group::Bitmap, bitfield_ro)
        .flags(flag::READONLY | flag::FAST)
        .acl(acl::BITMAP)
        .keys(&[KeySpec::single(1, key_flags::RO_ACCESS)])
        .doc(
            "6.0.0",
            "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD",
            "O(1) for each subcommand specified",
        ),
    CommandSpec::new("bitop", -4, Group::Bitmap, bitop)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(acl::BITMAP)
        .keys(&[KeySpec::single(2, key_flags::OW_UPDATE), KeySpec::range(3, -1, 1, key_flags::RO_ACCESS)])
        .doc("2.6.0", "Perform bitwise operations between strings", "O(N)"),
    CommandSpec::new("bitpos", -3, Group::Bitmap, bitpos)
        .flags(flag::READONLY)
        .acl(acl::BITMAP)
        .keys(&[KeySpec::single(1, key_flags::RO_ACCESS)])
        .doc("2.8.7", "Find first bit set or clear in a string", "O(N)"),
    CommandSpec::new("getbit", 3, Group::Bitmap, getbit)
        .flags(flag::READONLY | flag::FAST)
        .acl(acl::BITMAP)
        .keys(&[KeySpec::single(1, key_flags::RO_ACCESS)])
        .doc("2.2.0", "Returns the bit value at offset in the string value stored at key", "O(1)"),
    CommandSpec::new("setbit", 4, Group::Bitmap, setbit)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(acl::BITMAP)
        .keys(&[KeySpec::single(1, key_flags::RW_ACCESS_UPDATE)])
        .doc("2.2.0", "Sets or clears the bit at offset in the string value stored at key", "O(1)"),
];

const BIT_OFFSET_ERROR: &str = "bit offset is not an integer or out of range";

/// Redis's `getBitOffsetFromArgument`: a bit offset whose byte lies within
/// `proto-max-bulk-len`; with `field_bits`, BITFIELD's `#n` form (n fields of that width).
fn parse_bit_offset(ctx: &Ctx<'_>, arg: &[u8], field_bits: Option<u32>) -> Result<u64> {
    let error = || Error::err(BIT_OFFSET_ERROR);
    let (digits, multiplier) = match (arg.first(), field_bits) {
        (Some(b'#'), Some(bits)) => (&arg[1..], i64::from(bits)),
        _ => (arg, 1),
    };
    // Redis multiplies in C and wraps; a wrapped negative offset is refused below.
    let offset = redrock_protocol::string2ll(digits).ok_or_else(error)?.wrapping_mul(multiplier);
    let max_bytes = ctx.shared.config().get_u64("proto-max-bulk-len");
    if offset < 0 || (offset as u64 >> 3) >= max_bytes {
        return Err(error());
    }
    Ok(offset as u64)
}

/// `BYTE` or `BIT` (case-insensitive, up to a NUL as C's strcasecmp reads it).
fn parse_unit(arg: &[u8]) -> Result<Unit> {
    let name = c_str(arg);
    if name.eq_ignore_ascii_case(b"bit") {
        Ok(Unit::Bit)
    } else if name.eq_ignore_ascii_case(b"byte") {
        Ok(Unit::Byte)
    } else {
        Err(Error::Syntax)
    }
}

fn getbit(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let offset = parse_bit_offset(ctx, &args[2], None)?;
    let bit = string::get_read(&ctx.db(), &args[1], &ctx.shared.stats)?
        .is_some_and(|r| bitmap::get_bit(r.string_value(), offset));
    Ok(Reply::Integer(bit as i64))
}

/// Bytes needed to hold bit `offset`.
fn bytes_to_reach(offset: u64) -> usize {
    (offset >> 3) as usize + 1
}

fn setbit(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    const BIT_ERROR: &str = "bit is not an integer or out of range";
    let offset = parse_bit_offset(ctx, &args[2], None)?;
    let on = match parse_i64(&args[3]) {
        Ok(value @ (0 | 1)) => value == 1,
        _ => return Err(Error::err(BIT_ERROR)),
    };
    let db = ctx.db();
    let mut value = Patch::open(string::get(&db, &args[1])?, bytes_to_reach(offset));
    let old = bitmap::set_bit(value.value_mut(), offset, on);
    if old == on && value.reencoded_only() {
        // SETBIT of a bit already so: Redis still turns the string `raw`, silently.
        value.write_reencoded(&db, &args[1])?;
    } else if value.changed() || old != on {
        value.write(&db, &args[1])?;
    }
    Ok(Reply::Integer(old as i64))
}

/// `BITCOUNT key [start end [BYTE|BIT]]`: a missing key counts 0 whatever the arguments.
fn bitcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let Some(record) = string::get_read(&ctx.db(), &args[1], &ctx.shared.stats)? else {
        return Ok(Reply::Integer(0));
    };
    let range = match args.len() {
        2 => None,
        4 | 5 => {
            let (start, end) = (parse_i64(&args[2])?, parse_i64(&args[3])?);
            // Redis 7.0 answers an empty negative range before it reads the unit, so
            // `BITCOUNT k -1 -2 NOSUCHUNIT` is 0, not a syntax error.
            if start < 0 && end < 0 && start > end {
                return Ok(Reply::Integer(0));
            }
            let unit = if args.len() == 5 { parse_unit(&args[4])? } else { Unit::Byte };
            Some((start, end, unit))
        }
        _ => return Err(Error::Syntax),
    };
    Ok(Reply::Integer(bitmap::count(record.string_value(), range) as i64))
}

/// `BITPOS key bit [start [end [BYTE|BIT]]]`: a missing key is all zeros.
fn bitpos(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let bit = match parse_i64(&args[2])? {
        value @ (0 | 1) => value == 1,
        _ => return Err(Error::err("The bit argument must be 1 or 0.")),
    };
    let Some(record) = string::get_read(&ctx.db(), &args[1], &ctx.shared.stats)? else {
        return Ok(Reply::Integer(if bit { -1 } else { 0 }));
    };
    let range = match args.len() {
        3 => None,
        4..=6 => {
            let start = parse_i64(&args[3])?;
            let unit = if args.len() == 6 { parse_unit(&args[5])? } else { Unit::Byte };
            let end = if args.len() >= 5 { Some(parse_i64(&args[4])?) } else { None };
            Some(PosRange { start, end, unit })
        }
        _ => return Err(Error::Syntax),
    };
    Ok(Reply::Integer(bitmap::position(record.string_value(), bit, range)))
}

/// `BITOP AND|OR|XOR|NOT destkey key...`: the result replaces `destkey` (any type, without
/// expiry); an empty result deletes it.
fn bitop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let name = c_str(&args[1]);
    let op = [("and", BitOp::And), ("or", BitOp::Or), ("xor", BitOp::Xor), ("not", BitOp::Not)]
        .into_iter()
        .find(|(text, _)| name.eq_ignore_ascii_case(text.as_bytes()))
        .map(|(_, op)| op)
        .ok_or(Error::Syntax)?;
    if op == BitOp::Not && args.len() != 4 {
        return Err(Error::err("BITOP NOT must be called with a single source key."));
    }
    let db = ctx.db();
    let mut records = Vec::with_capacity(args.len() - 3);
    for key in &args[3..] {
        records.push(string::get_read(&db, key, &ctx.shared.stats)?);
    }
    let sources: Vec<&[u8]> = records.iter().map(|r| r.as_ref().map_or(&[][..], |r| r.string_value())).collect();
    let result = bitmap::bitop(op, &sources);
    let mut batch = db.storage.batch();
    if result.is_empty() {
        db.delete_if_exists_in(&mut batch, &args[2])?;
    } else {
        string::put_encoded_in(&db, &mut batch, &args[2], &result, 0, StringEncoding::Raw);
    }
    db.storage.write(batch)?;
    Ok(Reply::Integer(result.len() as i64))
}

/// One BITFIELD operation.
#[derive(Clone, Copy, Debug)]
enum FieldOp {
    Get,
    Write(FieldWrite),
}

/// BITFIELD's writes: SET replies the old value, INCRBY the new one.
#[derive(Clone, Copy, Debug)]
enum FieldWrite {
    Set(i64),
    IncrBy(i64),
}

/// One parsed BITFIELD operation with the OVERFLOW mode in force where it appeared.
struct Field {
    op: FieldOp,
    kind: FieldType,
    offset: u64,
    overflow: Overflow,
}

/// `i1`..`i64` or `u1`..`u63` (u64 would not fit a RESP integer).
fn parse_field_type(arg: &[u8]) -> Result<FieldType> {
    let error =
        || Error::err("Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.");
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(error()),
    };
    // Redis reads the width with strlen.
    let digits = c_str(&arg[1..]);
    let max_bits = if signed { 64 } else { 63 };
    match redrock_protocol::string2ll(digits) {
        Some(bits) if (1..=max_bits).contains(&bits) => Ok(FieldType { signed, bits: bits as u32 }),
        _ => Err(error()),
    }
}

/// Parses BITFIELD's operations (every argument is checked before the key is touched).
fn parse_fields(ctx: &Ctx<'_>, args: &[Bytes]) -> Result<Vec<Field>> {
    let mut fields = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < args.len() {
        let remaining = args.len() - j - 1;
        let name = c_str(&args[j]);
        let is = |text: &str| name.eq_ignore_ascii_case(text.as_bytes());
        let takes_value = if is("get") && remaining >= 2 {
            false
        } else if (is("set") || is("incrby")) && remaining >= 3 {
            true
        } else if is("overflow") && remaining >= 1 {
            let mode = c_str(&args[j + 1]);
            overflow = [("wrap", Overflow::Wrap), ("sat", Overflow::Sat), ("fail", Overflow::Fail)]
                .into_iter()
                .find(|(text, _)| mode.eq_ignore_ascii_case(text.as_bytes()))
                .map(|(_, mode)| mode)
                .ok_or_else(|| Error::err("Invalid OVERFLOW type specified"))?;
            j += 2;
            continue;
        } else {
            return Err(Error::Syntax);
        };
        let kind = parse_field_type(&args[j + 1])?;
        let offset = parse_bit_offset(ctx, &args[j + 2], Some(kind.bits))?;
        let op = if !takes_value {
            FieldOp::Get
        } else if is("set") {
            FieldOp::Write(FieldWrite::Set(parse_i64(&args[j + 3])?))
        } else {
            FieldOp::Write(FieldWrite::IncrBy(parse_i64(&args[j + 3])?))
        };
        fields.push(Field { op, kind, offset, overflow });
        j += if takes_value { 4 } else { 3 };
    }
    Ok(fields)
}

/// Runs one SET or INCRBY on `value`: its reply (the old value for SET, the new one for
/// INCRBY, nil when OVERFLOW FAIL refuses it) and whether a bit changed.
fn write_field(value: &mut [u8], field: &Field, write: FieldWrite) -> (Reply, bool) {
    let FieldType { signed, bits } = field.kind;
    let (offset, overflow) = (field.offset, field.overflow);
    if signed {
        let old = bitmap::get_signed(value, offset, bits);
        let (new, wrapped, reply) = match write {
            FieldWrite::IncrBy(incr) => {
                let wrapped = bitmap::signed_overflow(old, incr, bits, overflow);
                let new = wrapped.unwrap_or_else(|| old.wrapping_add(incr));
                (new, wrapped.is_some(), new)
            }
            FieldWrite::Set(new) => {
                let wrapped = bitmap::signed_overflow(new, 0, bits, overflow);
                (wrapped.unwrap_or(new), wrapped.is_some(), old)
            }
        };
        if wrapped && overflow == Overflow::Fail {
            return (Reply::Null, false);
        }
        bitmap::set_field(value, offset, bits, new as u64);
        (Reply::Integer(reply), new != old)
    } else {
        let old = bitmap::get_unsigned(value, offset, bits);
        let (new, wrapped, reply) = match write {
            FieldWrite::IncrBy(incr) => {
                let wrapped = bitmap::unsigned_overflow(old, incr, bits, overflow);
                let new = wrapped.unwrap_or_else(|| old.wrapping_add(incr as u64));
                (new, wrapped.is_some(), new)
            }
            FieldWrite::Set(new) => {
                let wrapped = bitmap::unsigned_overflow(new as u64, 0, bits, overflow);
                (wrapped.unwrap_or(new as u64), wrapped.is_some(), old)
            }
        };
        if wrapped && overflow == Overflow::Fail {
            return (Reply::Null, false);
        }
        bitmap::set_field(value, offset, bits, new);
        (Reply::Integer(reply as i64), new != old)
    }
}

fn read_field(value: &[u8], field: &Field) -> Reply {
    let FieldType { signed, bits } = field.kind;
    Reply::Integer(if signed {
        bitmap::get_signed(value, field.offset, bits)
    } else {
        bitmap::get_unsigned(value, field.offset, bits) as i64
    })
}

/// BITFIELD and BITFIELD_RO. Any write creates the key, or grows it to the farthest bit
/// written, even when OVERFLOW FAIL then refuses every write (as in Redis).
fn bitfield_generic(ctx: &mut Ctx<'_>, args: &[Bytes], read_only_command: bool) -> Result<Reply> {
    let fields = parse_fields(ctx, args)?;
    let db = ctx.db();
    let highest_write =
        fields.iter().filter(|f| !matches!(f.op, FieldOp::Get)).map(|f| f.offset + u64::from(f.kind.bits) - 1).max();
    let Some(highest_write) = highest_write else {
        let record = string::get_read(&db, &args[1], &ctx.shared.stats)?;
        let value = record.as_ref().map_or(&[][..], |r| r.string_value());
        return Ok(Reply::Array(fields.iter().map(|f| read_field(value, f)).collect()));
    };
    if read_only_command {
        return Err(Error::err("BITFIELD_RO only supports the GET subcommand"));
    }
    let mut value = Patch::open(string::get(&db, &args[1])?, bytes_to_reach(highest_write));
    let grown = value.grown();
    // Redis 7.0 counts a write that ran as a change if the value grew or a bit changed, and
    // signals WATCH only then.
    let mut changes = false;
    let mut replies = Vec::with_capacity(fields.len());
    for field in &fields {
        replies.push(match field.op {
            FieldOp::Get => read_field(value.value(), field),
            FieldOp::Write(write) => {
                let (reply, bits_changed) = write_field(value.value_mut(), field, write);
                changes |= !matches!(reply, Reply::Null) && (grown || bits_changed);
                reply
            }
        });
    }
    if changes {
        value.write(&db, &args[1])?;
    } else if value.changed() {
        // Created, grown or made `raw` while no write changed anything (OVERFLOW FAIL, or
        // the bits already so): Redis keeps the key as lookupStringForBitCommand left it but
        // signals no modification.
        value.write_reencoded(&db, &args[1])?;
    }
    Ok(Reply::Array(replies))
}

fn bitfield(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    bitfield_generic(ctx, args, false)
}

fn bitfield_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    bitfield_generic(ctx, args, true)
}
