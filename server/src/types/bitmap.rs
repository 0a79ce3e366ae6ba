//! Bit operations on string values, numbered as Redis numbers them: bit 0 is the most
//! significant bit of the first byte. Pure functions over bytes, ported from Redis 7.0's
//! `bitops.c` so that ranges, clamping and overflow behave the same to the bit.

/// Whether a range counts bytes (the default) or bits (`BIT`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Unit {
    Byte,
    Bit,
}

/// The value of bit `offset`; bits past the end are 0.
pub fn get_bit(value: &[u8], offset: u64) -> bool {
    let byte = (offset >> 3) as usize;
    value.get(byte).is_some_and(|b| b & (0x80 >> (offset & 7)) != 0)
}

/// Sets bit `offset` of `value` (which reaches it) to `on`; the bit's previous value.
pub fn set_bit(value: &mut [u8], offset: u64, on: bool) -> bool {
    let byte = &mut value[(offset >> 3) as usize];
    let mask = 0x80 >> (offset & 7);
    let old = *byte & mask != 0;
    if on {
        *byte |= mask;
    } else {
        *byte &= !mask;
    }
    old
}

fn popcount(bytes: &[u8]) -> u64 {
    let mut chunks = bytes.chunks_exact(8);
    let mut count: u64 =
        chunks.by_ref().map(|c| u64::from_ne_bytes(c.try_into().expect("8 bytes")).count_ones() as u64).sum();
    count += chunks.remainder().iter().map(|b| b.count_ones() as u64).sum::<u64>();
    count
}

/// A range of `value` resolved to bytes `start..=end` (empty when `start > end`), with the
/// bits to leave out of the first and the last byte when the range was given in bits.
struct ByteRange {
    start: i64,
    end: i64,
    /// Bits of the first byte before the range.
    first_mask: u8,
    /// Bits of the last byte after the range.
    last_mask: u8,
}

/// Redis's conversion of a user range (negative = from the end, clamped) to bytes.
fn resolve(len: i64, start: i64, end: i64, unit: Unit) -> ByteRange {
    let total = if unit == Unit::Bit { len << 3 } else { len };
    let start = if start < 0 { (total + start).max(0) } else { start };
    let end = if end < 0 { (total + end).max(0) } else { end }.min(total - 1);
    if unit == Unit::Bit && start <= end {
        ByteRange {
            start: start >> 3,
            end: end >> 3,
            first_mask: !((1u16 << (8 - (start & 7))) - 1) as u8,
            last_mask: ((1u16 << (7 - (end & 7))) - 1) as u8,
        }
    } else {
        ByteRange { start, end, first_mask: 0, last_mask: 0 }
    }
}

/// BITCOUNT: set bits in `value`, or in `start..=end` (inclusive, in `unit`s).
pub fn count(value: &[u8], range: Option<(i64, i64, Unit)>) -> u64 {
    let r = match range {
        None => ByteRange { start: 0, end: value.len() as i64 - 1, first_mask: 0, last_mask: 0 },
        // Two negative indexes in the wrong order count nothing, even when both clamp to 0.
        Some((start, end, _)) if start < 0 && end < 0 && start > end => return 0,
        Some((start, end, unit)) => resolve(value.len() as i64, start, end, unit),
    };
    if r.start > r.end {
        return 0;
    }
    let (start, end) = (r.start as usize, r.end as usize);
    popcount(&value[start..=end])
        - (value[start] & r.first_mask).count_ones() as u64
        - (value[end] & r.last_mask).count_ones() as u64
}

/// Redis's `redisBitpos`: the first bit equal to `bit`; if none, -1 when looking for a 1,
/// and the bit just past the end when looking for a 0 (the string is zero-padded).
fn first_bit(bytes: &[u8], bit: bool) -> i64 {
    let skip = if bit { 0x00 } else { 0xff };
    match bytes.iter().position(|&b| b != skip) {
        Some(i) => {
            let within = if bit { bytes[i].leading_zeros() } else { bytes[i].leading_ones() };
            (i as i64) * 8 + within as i64
        }
        None if bit => -1,
        None => bytes.len() as i64 * 8,
    }
}

/// The range BITPOS searches: `start [end [unit]]`, `end` absent when not given.
#[derive(Clone, Copy, Debug)]
pub struct PosRange {
    pub start: i64,
    pub end: Option<i64>,
    pub unit: Unit,
}

/// BITPOS on an existing string: the first bit equal to `bit` in the range, or -1.
pub fn position(value: &[u8], bit: bool, range: Option<PosRange>) -> i64 {
    let len = value.len() as i64;
    let (r, end_given) = match range {
        None => (ByteRange { start: 0, end: len - 1, first_mask: 0, last_mask: 0 }, false),
        Some(PosRange { start, end, unit }) => {
            let end_value = end.unwrap_or(if unit == Unit::Bit { (len << 3) + 7 } else { len - 1 });
            (resolve(len, start, end_value, unit), end.is_some())
        }
    };
    if r.start > r.end {
        return -1;
    }
    let (mut start, end) = (r.start as usize, r.end as usize);
    let mut bytes = end - start + 1;
    // Looking for a 1, masked-out bits read as 0; looking for a 0, as 1.
    let masked = |byte: u8, mask: u8| if bit { byte & !mask } else { byte | mask };
    let pos = 'search: {
        if r.first_mask != 0 {
            let mut first = masked(value[start], r.first_mask);
            if r.last_mask != 0 && bytes == 1 {
                first = masked(first, r.last_mask);
            }
            let pos = first_bit(&[first], bit);
            if bytes == 1 || (pos != -1 && pos != 8) {
                break 'search pos;
            }
            start += 1;
            bytes -= 1;
        }
        let whole = bytes - usize::from(r.last_mask != 0);
        if whole > 0 {
            let pos = first_bit(&value[start..start + whole], bit);
            if bytes == whole || (pos != -1 && pos != (whole as i64) << 3) {
                break 'search pos;
            }
            start += whole;
            bytes -= whole;
        }
        first_bit(&[masked(value[end], r.last_mask)], bit)
    };
    // With an explicit end, the bits past the range are not the zero padding of the string.
    if end_given && !bit && pos == (bytes as i64) << 3 {
        return -1;
    }
    if pos == -1 {
        -1
    } else {
        pos + ((start as i64) << 3)
    }
}

/// A BITOP operation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// BITOP over `sources` (missing keys are empty strings): as long as the longest source,
/// shorter ones zero-padded.
pub fn bitop(op: BitOp, sources: &[&[u8]]) -> Vec<u8> {
    let max_len = sources.iter().map(|s| s.len()).max().unwrap_or(0);
    let byte_at = |s: &[u8], j: usize| s.get(j).copied().unwrap_or(0);
    (0..max_len)
        .map(|j| {
            let first = byte_at(sources[0], j);
            let rest = sources[1..].iter().map(|s| byte_at(s, j));
            match op {
                BitOp::And => rest.fold(first, |acc, b| acc & b),
                BitOp::Or => rest.fold(first, |acc, b| acc | b),
                BitOp::Xor => rest.fold(first, |acc, b| acc ^ b),
                BitOp::Not => !first,
            }
        })
        .collect()
}

/// What BITFIELD does when a value does not fit its type.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Overflow {
    Wrap,
    Sat,
    Fail,
}

/// A BITFIELD integer type: `i1`..`i64` or `u1`..`u63`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FieldType {
    pub signed: bool,
    pub bits: u32,
}

/// The unsigned integer of `bits` bits at bit `offset`; bits past the end read as 0.
pub fn get_unsigned(value: &[u8], offset: u64, bits: u32) -> u64 {
    (0..bits as u64).fold(0, |acc, j| (acc << 1) | u64::from(get_bit(value, offset + j)))
}

/// The signed (two's complement) integer of `bits` bits at bit `offset`.
pub fn get_signed(value: &[u8], offset: u64, bits: u32) -> i64 {
    let raw = get_unsigned(value, offset, bits);
    if bits < 64 && raw & (1 << (bits - 1)) != 0 {
        (raw | (u64::MAX << bits)) as i64
    } else {
        raw as i64
    }
}

/// Writes the low `bits` bits of `field` at bit `offset` of `value` (which reaches them).
pub fn set_field(value: &mut [u8], offset: u64, bits: u32, field: u64) {
    for j in 0..bits as u64 {
        set_bit(value, offset + j, field & (1 << (bits as u64 - 1 - j)) != 0);
    }
}

/// Redis's `checkUnsignedBitfieldOverflow`: `None` when `value + incr` fits `bits` unsigned
/// bits, else `Some(what to store)` under `overflow` (meaningless for `Fail`).
pub fn unsigned_overflow(value: u64, incr: i64, bits: u32, overflow: Overflow) -> Option<u64> {
    let max = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = value.wrapping_neg() as i64;
    let wrapped = || value.wrapping_add(incr as u64) & !(u64::MAX.checked_shl(bits).unwrap_or(0));
    if value > max || (incr > 0 && incr > max_incr) {
        Some(if overflow == Overflow::Sat { max } else { wrapped() })
    } else if incr < 0 && incr < min_incr {
        Some(if overflow == Overflow::Sat { 0 } else { wrapped() })
    } else {
        None
    }
}

/// Redis's `checkSignedBitfieldOverflow`, as [`unsigned_overflow`] for `bits` signed bits.
pub fn signed_overflow(value: i64, incr: i64, bits: u32, overflow: Overflow) -> Option<i64> {
    let max = if bits == 64 { i64::MAX } else { (1i64 << (bits - 1)) - 1 };
    let min = -max - 1;
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    let wrapped = || {
        let sum = (value as u64).wrapping_add(incr as u64);
        if bits == 64 {
            return sum as i64;
        }
        let high = u64::MAX << bits;
        (if sum & (1 << (bits - 1)) != 0 { sum | high } else { sum & !high }) as i64
    };
    if value > max || (bits != 64 && incr > max_incr) || (value >= 0 && incr > 0 && incr > max_incr) {
        Some(if overflow == Overflow::Sat { max } else { wrapped() })
    } else if value < min || (bits != 64 && incr < min_incr) || (value < 0 && incr < 0 && incr < min_incr) {
        Some(if overflow == Overflow::Sat { min } else { wrapped() })
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_numbered_from_the_most_significant() {
        let mut v = vec![0u8; 2];
        assert!(!set_bit(&mut v, 1, true));
        assert!(!set_bit(&mut v, 15, true));
        assert_eq!(v, [0x40, 0x01]);
        assert!(get_bit(&v, 1) && get_bit(&v, 15) && !get_bit(&v, 0) && !get_bit(&v, 100));
        assert!(set_bit(&mut v, 1, false));
        assert_eq!(v, [0x00, 0x01]);
    }

    #[test]
    fn count_follows_bitcount() {
        let v = b"foobar";
        assert_eq!(count(v, None), 26);
        assert_eq!(count(v, Some((0, 0, Unit::Byte))), 4);
        assert_eq!(count(v, Some((1, 1, Unit::Byte))), 6);
        assert_eq!(count(v, Some((5, 30, Unit::Bit))), 17);
        assert_eq!(count(v, Some((-1, -5, Unit::Byte))), 0);
        assert_eq!(count(v, Some((-100, -200, Unit::Byte))), 0);
        assert_eq!(count(v, Some((-100, 100, Unit::Byte))), 26);
        assert_eq!(count(b"", None), 0);
        assert_eq!(count(b"", Some((0, -1, Unit::Bit))), 0);
    }

    #[test]
    fn position_follows_bitpos() {
        assert_eq!(position(b"\xff\xf0\x00", false, None), 12);
        assert_eq!(position(b"\x00\xff\xf0", true, Some(PosRange { start: 0, end: None, unit: Unit::Byte })), 8);
        assert_eq!(position(b"\x00\xff\xf0", true, Some(PosRange { start: 2, end: None, unit: Unit::Byte })), 16);
        assert_eq!(position(b"\x00\xff\xf0", true, Some(PosRange { start: 2, end: Some(-1), unit: Unit::Byte })), 16);
        assert_eq!(position(b"\x00\xff\xf0", true, Some(PosRange { start: 7, end: Some(15), unit: Unit::Bit })), 8);
        assert_eq!(position(b"\xff\xff\xff", false, None), 24);
        assert_eq!(position(b"\xff\xff\xff", false, Some(PosRange { start: 0, end: Some(-1), unit: Unit::Byte })), -1);
        assert_eq!(position(b"\x00\x00", true, None), -1);
        assert_eq!(position(b"", false, None), -1);
    }

    #[test]
    fn bitop_pads_short_sources() {
        assert_eq!(bitop(BitOp::And, &[b"\xff\x0f", b"\x0f"]), b"\x0f\x00");
        assert_eq!(bitop(BitOp::Or, &[b"\xf0", b"\x0f\x01"]), b"\xff\x01");
        assert_eq!(bitop(BitOp::Xor, &[b"\xff", b"\x0f", b"\x01"]), b"\xf1");
        assert_eq!(bitop(BitOp::Not, &[b"\x0f\x00"]), b"\xf0\xff");
        assert!(bitop(BitOp::Or, &[b"", b""]).is_empty());
    }

    #[test]
    fn fields_and_overflow() {
        let mut v = vec![0u8; 2];
        set_field(&mut v, 7, 5, 23);
        assert_eq!(v, [0b0000_0001, 0b0111_0000]);
        assert_eq!(get_unsigned(&v, 7, 5), 23);
        assert_eq!(get_signed(&v, 7, 5), -9);
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Wrap), Some(4));
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Sat), Some(255));
        assert_eq!(unsigned_overflow(5, -10, 8, Overflow::Sat), Some(0));
        assert_eq!(unsigned_overflow(u64::MAX, 0, 8, Overflow::Wrap), Some(255));
        assert_eq!(unsigned_overflow(250, 5, 8, Overflow::Wrap), None);
        assert_eq!(signed_overflow(127, 1, 8, Overflow::Wrap), Some(-128));
        assert_eq!(signed_overflow(-128, -1, 8, Overflow::Sat), Some(-128));
        assert_eq!(signed_overflow(i64::MAX, 1, 64, Overflow::Wrap), Some(i64::MIN));
        assert_eq!(signed_overflow(i64::MAX, 1, 64, Overflow::Sat), Some(i64::MAX));
        assert_eq!(signed_overflow(100, 0, 8, Overflow::Wrap), None);
    }
}
