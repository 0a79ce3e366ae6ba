//! LCS: the longest common subsequence of two strings, computed and walked back exactly as
//! Redis 7.0's `lcsCommand` does, so the subsequence and the match ranges it reports (and
//! their order: from the end of the strings backwards) are the same.

/// Largest dynamic-programming table LCS allocates (`(len_a + 1) * (len_b + 1)` cells of 4
/// bytes). Redis tries any size and fails when the allocation fails; a bound keeps one
/// request from taking the host's memory. 1 GiB is two strings of 16 KB each.
pub const MAX_TABLE_BYTES: u64 = 1 << 30;

/// A run of matching bytes: `a[a_start..=a_end]` equals `b[b_start..=b_end]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Match {
    pub a_start: u32,
    pub a_end: u32,
    pub b_start: u32,
    pub b_end: u32,
}

impl Match {
    pub fn length(&self) -> u32 {
        self.a_end - self.a_start + 1
    }
}

/// What LCS reports.
#[derive(Debug, PartialEq, Eq)]
pub struct Lcs {
    /// The subsequence's length.
    pub len: u32,
    /// The subsequence itself.
    pub subsequence: Vec<u8>,
    /// The runs, last first, as Redis emits them (before MINMATCHLEN filtering).
    pub matches: Vec<Match>,
}

/// Why LCS cannot run on these strings, with Redis's texts.
#[derive(Debug, PartialEq, Eq)]
pub enum LcsError {
    TooLong,
    TableTooLarge,
}

impl LcsError {
    pub fn message(&self) -> &'static str {
        match self {
            LcsError::TooLong => "String too long for LCS",
            LcsError::TableTooLarge => "Insufficient memory, failed allocating transient memory for LCS",
        }
    }
}

/// Checks the sizes as Redis does (lengths must fit in u32 minus the table's border), and
/// the table against [`MAX_TABLE_BYTES`].
fn table_dimensions(a: &[u8], b: &[u8]) -> Result<(usize, usize), LcsError> {
    if a.len() as u64 >= u32::MAX as u64 - 1 || b.len() as u64 >= u32::MAX as u64 - 1 {
        return Err(LcsError::TooLong);
    }
    let cells = (a.len() as u64 + 1) * (b.len() as u64 + 1);
    if cells.saturating_mul(4) > MAX_TABLE_BYTES {
        return Err(LcsError::TableTooLarge);
    }
    Ok((a.len(), b.len()))
}

/// The length only, in two rows of memory (LEN needs no walk back). The table's bound still
/// applies: it is Redis's limit, and it bounds the time (one step per cell).
pub fn length(a: &[u8], b: &[u8]) -> Result<u32, LcsError> {
    let (_, blen) = table_dimensions(a, b)?;
    let mut previous = vec![0u32; blen + 1];
    let mut current = vec![0u32; blen + 1];
    for &ca in a {
        for j in 1..=blen {
            current[j] = if ca == b[j - 1] { previous[j - 1] + 1 } else { previous[j].max(current[j - 1]) };
        }
        std::mem::swap(&mut previous, &mut current);
    }
    Ok(previous[blen])
}

/// The subsequence and its runs (Redis's full table and walk back).
pub fn compute(a: &[u8], b: &[u8]) -> Result<Lcs, LcsError> {
    let (alen, blen) = table_dimensions(a, b)?;
    let width = blen + 1;
    let cells = (alen + 1) * width;
    let mut table = Vec::new();
    table.try_reserve_exact(cells).map_err(|_| LcsError::TableTooLarge)?;
    table.resize(cells, 0u32);
    for i in 1..=alen {
        for j in 1..=blen {
            table[i * width + j] = if a[i - 1] == b[j - 1] {
                table[(i - 1) * width + j - 1] + 1
            } else {
                table[(i - 1) * width + j].max(table[i * width + j - 1])
            };
        }
    }
    let len = table[alen * width + blen];
    let mut subsequence = vec![0u8; len as usize];
    let mut matches = Vec::new();
    let mut current: Option<Match> = None;
    let (mut i, mut j, mut idx) = (alen, blen, len as usize);
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            subsequence[idx - 1] = a[i - 1];
            let (ai, bj) = ((i - 1) as u32, (j - 1) as u32);
            match current.as_mut() {
                None => current = Some(Match { a_start: ai, a_end: ai, b_start: bj, b_end: bj }),
                // Consecutive matches walk back diagonally, so a run only ever grows backwards.
                Some(run) if run.a_start == ai + 1 && run.b_start == bj + 1 => {
                    run.a_start = ai;
                    run.b_start = bj;
                }
                Some(_) => emit = true,
            }
            // A run touching the start of either string cannot grow further.
            if current.is_some_and(|run| run.a_start == 0 || run.b_start == 0) {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if table[(i - 1) * width + j] > table[i * width + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            emit = current.is_some();
        }
        if emit {
            if let Some(run) = current.take() {
                matches.push(run);
            }
        }
    }
    Ok(Lcs { len, subsequence, matches })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example() {
        let lcs = compute(b"ohmytext", b"mynewtext").unwrap();
        assert_eq!(lcs.subsequence, b"mytext");
        assert_eq!(lcs.len, 6);
        assert_eq!(
            lcs.matches,
            vec![
                Match { a_start: 4, a_end: 7, b_start: 5, b_end: 8 },
                Match { a_start: 2, a_end: 3, b_start: 0, b_end: 1 }
            ]
        );
        assert_eq!(length(b"ohmytext", b"mynewtext").unwrap(), 6);
    }

    #[test]
    fn empty_and_disjoint_strings() {
        assert_eq!(compute(b"", b"abc").unwrap(), Lcs { len: 0, subsequence: vec![], matches: vec![] });
        assert_eq!(compute(b"abc", b"xyz").unwrap().len, 0);
        assert_eq!(length(b"", b"").unwrap(), 0);
    }

    #[test]
    fn length_agrees_with_the_table() {
        let samples: [&[u8]; 5] = [b"abcbdab", b"bdcaba", b"\x00\xff\x00", b"aaaa", b"xaxbxc"];
        for a in samples {
            for b in samples {
                assert_eq!(length(a, b).unwrap(), compute(a, b).unwrap().len);
            }
        }
    }
}
