//! A bounds check of a Parquet footer before polars-parquet reads it. The footer is Thrift
//! (compact protocol); its reader sizes lists, maps and strings from counts in the bytes, and an
//! allocation it cannot make aborts the process, which nothing can catch (fuzzing found
//! `memory allocation of 2305843009213693664 bytes failed`). This walks the whole structure
//! without allocating: every count must fit in the bytes that are left (an element takes at
//! least one byte), and nesting stops at a depth no real footer reaches.

/// Nesting deeper than this is refused (a real footer nests about five deep).
const MAX_DEPTH: usize = 64;

/// Why a footer was refused, in one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("corrupt footer at byte {at}: {reason}")]
pub struct BadFooter {
    /// Offset in the footer.
    pub at: usize,
    /// What is wrong.
    pub reason: &'static str,
}

struct Walker<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Walker<'_> {
    fn bad(&self, reason: &'static str) -> BadFooter {
        BadFooter { at: self.at, reason }
    }

    fn byte(&mut self) -> Result<u8, BadFooter> {
        let b = *self.bytes.get(self.at).ok_or_else(|| self.bad("ends inside a value"))?;
        self.at += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, BadFooter> {
        let mut out = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            out |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(out);
            }
        }
        Err(self.bad("a varint longer than 10 bytes"))
    }

    fn skip(&mut self, n: u64) -> Result<(), BadFooter> {
        let left = (self.bytes.len() - self.at) as u64;
        if n > left {
            return Err(self.bad("a length past the end of the footer"));
        }
        self.at += n as usize;
        Ok(())
    }

    /// A count of elements that each take at least one byte.
    fn count(&mut self, n: u64) -> Result<u64, BadFooter> {
        if n > (self.bytes.len() - self.at) as u64 {
            return Err(self.bad("a count larger than the bytes left"));
        }
        Ok(n)
    }

    fn value(&mut self, kind: u8, depth: usize) -> Result<(), BadFooter> {
        if depth > MAX_DEPTH {
            return Err(self.bad("nested too deep"));
        }
        match kind {
            1 | 2 => Ok(()),
            3 => self.skip(1),
            4..=6 => self.varint().map(|_| ()),
            7 => self.skip(8),
            8 => {
                let n = self.varint()?;
                self.skip(n)
            }
            9 | 10 => {
                let header = self.byte()?;
                let n = match header >> 4 {
                    15 => self.varint()?,
                    n => u64::from(n),
                };
                let n = self.count(n)?;
                let element = header & 0x0f;
                for _ in 0..n {
                    // Booleans in a list take a byte each.
                    if matches!(element, 1 | 2) { self.skip(1)? } else { self.value(element, depth + 1)? }
                }
                Ok(())
            }
            11 => {
                let n = self.varint()?;
                if n == 0 {
                    return Ok(());
                }
                let n = self.count(n)?;
                let types = self.byte()?;
                for _ in 0..n {
                    self.value(types >> 4, depth + 1)?;
                    self.value(types & 0x0f, depth + 1)?;
                }
                Ok(())
            }
            12 => self.structure(depth + 1),
            _ => Err(self.bad("an unknown field type")),
        }
    }

    fn structure(&mut self, depth: usize) -> Result<(), BadFooter> {
        loop {
            let header = self.byte()?;
            if header == 0 {
                return Ok(());
            }
            if header >> 4 == 0 {
                self.varint()?; // a long-form field id
            }
            self.value(header & 0x0f, depth)?;
        }
    }
}

/// The figures of a page header that readers size their buffers from (absent ones are 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageSizes {
    /// `uncompressed_page_size`.
    pub uncompressed: i64,
    /// `compressed_page_size`.
    pub compressed: i64,
    /// `num_values` of the data, dictionary or v2 data page header.
    pub num_values: i64,
    /// The smallest other integer of the inner header (a v2 data page's `num_nulls`,
    /// `num_rows` and level byte lengths; a v1 page's encodings): never negative in a real file.
    pub least: i64,
    /// The header's own length in bytes.
    pub header_len: usize,
}

impl Walker<'_> {
    /// A struct's fields: `field` reads the ones it knows (returning true) and the rest are skipped.
    fn fields(
        &mut self,
        depth: usize,
        mut field: impl FnMut(&mut Self, i16, u8) -> Result<bool, BadFooter>,
    ) -> Result<(), BadFooter> {
        let mut last = 0i16;
        loop {
            let header = self.byte()?;
            if header == 0 {
                return Ok(());
            }
            let kind = header & 0x0f;
            let id = match header >> 4 {
                0 => zigzag(self.varint()?) as i16,
                delta => last.wrapping_add(i16::from(delta)),
            };
            last = id;
            if !field(self, id, kind)? {
                self.value(kind, depth)?;
            }
        }
    }

    /// An i32 or i64 field's value.
    fn int(&mut self, kind: u8) -> Result<i64, BadFooter> {
        match kind {
            5 | 6 => Ok(zigzag(self.varint()?)),
            _ => Err(self.bad("a size that is not an integer")),
        }
    }
}

fn zigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Reads the page header at the start of `bytes` (the rest of its column chunk).
pub fn page_header(bytes: &[u8]) -> Result<PageSizes, BadFooter> {
    let mut w = Walker { bytes, at: 0 };
    let mut p = PageSizes { least: i64::MAX, ..PageSizes::default() };
    w.fields(1, |w, id, kind| {
        match (id, kind) {
            (2, _) => p.uncompressed = w.int(kind)?,
            (3, _) => p.compressed = w.int(kind)?,
            // DataPageHeader, DictionaryPageHeader, DataPageHeaderV2.
            (5 | 7 | 8, 12) => w.fields(2, |w, id, kind| {
                match (id, kind) {
                    (1, _) => p.num_values = w.int(kind)?,
                    // v2: num_nulls, num_rows and the level byte lengths; v1: encodings.
                    (2 | 3 | 5 | 6, 5 | 6) => p.least = p.least.min(w.int(kind)?),
                    _ => return Ok(false),
                }
                Ok(true)
            })?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if p.least == i64::MAX {
        p.least = 0;
    }
    p.header_len = w.at;
    Ok(p)
}

/// Checks that `footer` (the Thrift `FileMetaData`, without the length and magic) is a
/// well-formed compact-protocol structure whose every count fits in its bytes.
pub fn check_footer(footer: &[u8]) -> Result<(), BadFooter> {
    let mut w = Walker { bytes: footer, at: 0 };
    w.structure(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_must_fit_in_the_bytes_left() {
        // (what, bytes, verdict)
        let cases: &[(&str, &[u8], Result<(), usize>)] = &[
            ("an empty struct", &[0x00], Ok(())),
            ("an i32 field then stop", &[0x15, 0x04, 0x00], Ok(())),
            ("a list of two i32", &[0x19, 0x25, 0x02, 0x04, 0x00], Ok(())),
            (
                "a list claiming 2^60 elements",
                &[0x19, 0xf5, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10],
                Err(11),
            ),
            ("a string longer than the footer", &[0x18, 0x7f, b'a', 0x00], Err(2)),
            ("cut inside a varint", &[0x15, 0x80], Err(2)),
            ("an unknown type", &[0x1d], Err(1)),
        ];
        for (what, bytes, verdict) in cases {
            assert_eq!(check_footer(bytes).map_err(|e| e.at), *verdict, "{what}");
        }
    }
}
