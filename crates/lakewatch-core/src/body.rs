//! An object's bytes, all there or still arriving. A validation can start before an object's
//! last byte is read: the caller reads its end first (the Parquet footer), then hands over the
//! body as chunks in order, and the symbol groups' reader joins them as far as the next row group
//! needs. Core sees chunks, never a client: the caller feeds them from wherever it reads (the
//! validator, from S3's response as it streams in).

use bytes::BytesMut;

use crate::decode::DecodeError;

/// A body's chunks, in order from its first byte, each as it arrives (`next` may block until it
/// has); an `Err` says why the read stopped on the way.
pub type Chunks<'a> = Box<dyn Iterator<Item = Result<Chunk, String>> + Send + 'a>;

/// A piece of the body. Pieces cut in turn from one buffer the size of the object
/// (`BytesMut::split`, as the reader writes into it) are joined without a copy, so the body is
/// held once however far ahead of the checks the reader gets; other pieces are copied.
pub type Chunk = BytesMut;

/// What to validate, when its bytes are still arriving: see [`crate::validate_arriving`].
pub struct Arriving<'a> {
    /// Key relative to the lake root.
    pub key: &'a str,
    /// Its length in bytes, as the read announced it (bounded by the caller).
    pub length: u64,
    /// Its last bytes, read on their own (the validator reads them while the body begins to
    /// arrive): at least the Parquet footer and the 12 bytes around it, or the whole object.
    pub tail: &'a [u8],
    /// Its bytes from the first, as they arrive.
    pub chunks: Chunks<'a>,
    /// What decoding it may cost.
    pub budget: crate::Budget,
    /// Rows a symbol group gathers at least.
    pub group_rows: usize,
}

impl std::fmt::Debug for Arriving<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arriving").field("key", &self.key).field("length", &self.length).finish_non_exhaustive()
    }
}

/// The bytes a validation reads.
pub(crate) enum Body<'a> {
    /// All of them.
    Whole(&'a [u8]),
    /// Those arrived so far (`buf`), the rest to come (`chunks`), and the object's end, read first.
    Arriving { tail: &'a [u8], length: usize, buf: BytesMut, chunks: Chunks<'a> },
}

impl std::fmt::Debug for Body<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Whole(bytes) => write!(f, "Whole({} bytes)", bytes.len()),
            Body::Arriving { length, buf, .. } => write!(f, "Arriving({} of {length} bytes)", buf.len()),
        }
    }
}

impl<'a> Body<'a> {
    /// A body arriving as `chunks`, of `length` bytes ending in `tail`.
    pub fn arriving(tail: &'a [u8], length: u64, chunks: Chunks<'a>) -> Self {
        let length = usize::try_from(length).unwrap_or(usize::MAX);
        Body::Arriving { tail, length, buf: BytesMut::new(), chunks }
    }

    /// The object's length.
    pub fn len(&self) -> usize {
        match self {
            Body::Whole(bytes) => bytes.len(),
            Body::Arriving { length, .. } => *length,
        }
    }

    /// The object's last bytes, at least its footer (all of them when whole).
    pub fn tail(&self) -> &[u8] {
        match self {
            Body::Whole(bytes) => bytes,
            Body::Arriving { tail, .. } => tail,
        }
    }

    /// The object's bytes from the first through at least byte `end` (all of them when it is
    /// shorter), waiting for them to arrive. [`DecodeError::Interrupted`] when the chunks fail,
    /// end before the object's length, or run past it.
    pub fn through(&mut self, end: usize) -> Result<&[u8], DecodeError> {
        match self {
            Body::Whole(bytes) => Ok(bytes),
            Body::Arriving { length, buf, chunks, .. } => {
                let end = end.min(*length);
                while buf.len() < end {
                    let chunk = chunks.next().ok_or_else(|| {
                        DecodeError::Interrupted(format!("the body ended after {} of its {length} bytes", buf.len()))
                    })?;
                    let chunk = chunk.map_err(|why| {
                        DecodeError::Interrupted(format!("after {} of {length} bytes: {why}", buf.len()))
                    })?;
                    if buf.len() + chunk.len() > *length {
                        return Err(DecodeError::Interrupted(format!("more than its {length} bytes arrived")));
                    }
                    buf.unsplit(chunk);
                }
                Ok(buf)
            }
        }
    }

    /// Every byte of the object, once arrived; the chunks must end there.
    pub fn all(&mut self) -> Result<&[u8], DecodeError> {
        self.through(usize::MAX)?;
        if let Body::Arriving { length, chunks, .. } = self {
            for chunk in chunks {
                match chunk {
                    Ok(c) if c.is_empty() => {}
                    Ok(_) => return Err(DecodeError::Interrupted(format!("more than its {length} bytes arrived"))),
                    Err(why) => return Err(DecodeError::Interrupted(format!("after all {length} bytes: {why}"))),
                }
            }
        }
        self.through(usize::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: Vec<Result<&'static [u8], &'static str>>) -> Chunks<'static> {
        Box::new(parts.into_iter().map(|p| p.map(BytesMut::from).map_err(str::to_string)))
    }

    #[test]
    fn a_body_is_read_as_far_as_asked_and_no_further() {
        let mut body = Body::arriving(b"ef", 6, chunks(vec![Ok(b"ab"), Ok(b""), Ok(b"cd"), Ok(b"ef")]));
        assert_eq!(body.through(1).unwrap(), b"ab");
        assert_eq!(body.through(3).unwrap(), b"abcd");
        assert_eq!(body.through(100).unwrap(), b"abcdef");
        assert_eq!(body.all().unwrap(), b"abcdef");
        assert_eq!((body.len(), body.tail()), (6, &b"ef"[..]));
    }

    #[test]
    fn a_body_that_is_short_long_or_fails_is_interrupted_naming_how_far_it_came() {
        // (what, chunks, asked through, the error)
        type Case = (&'static str, Vec<Result<&'static [u8], &'static str>>, usize, &'static str);
        let cases: Vec<Case> = vec![
            ("short", vec![Ok(b"abc")], 6, "the body ended after 3 of its 6 bytes"),
            ("long in a chunk", vec![Ok(b"abcd"), Ok(b"efg")], 6, "more than its 6 bytes arrived"),
            ("long after the end", vec![Ok(b"abcdef"), Ok(b"g")], usize::MAX, "more than its 6 bytes arrived"),
            ("failed", vec![Ok(b"ab"), Err("connection reset")], 6, "after 2 of 6 bytes: connection reset"),
        ];
        for (what, parts, end, want) in cases {
            let mut body = Body::arriving(b"", 6, chunks(parts));
            let got = if end == usize::MAX { body.all().map(|_| ()) } else { body.through(end).map(|_| ()) };
            assert_eq!(got, Err(DecodeError::Interrupted(want.into())), "{what}");
        }
    }

    #[test]
    fn pieces_cut_from_one_buffer_are_joined_in_place() {
        let mut whole = BytesMut::with_capacity(6);
        let mut pieces = Vec::new();
        for part in [&b"ab"[..], b"cd", b"ef"] {
            whole.extend_from_slice(part);
            pieces.push(Ok(whole.split()));
        }
        let start = pieces[0].as_ref().map(|p: &BytesMut| p.as_ptr()).unwrap();
        let mut body = Body::arriving(b"ef", 6, Box::new(pieces.into_iter()));
        let all = body.all().unwrap();
        assert_eq!((all, all.as_ptr()), (&b"abcdef"[..], start), "the buffer the pieces were cut from");
    }

    #[test]
    fn a_whole_body_is_its_bytes() {
        let mut body = Body::Whole(b"abc");
        assert_eq!(body.len(), 3);
        assert_eq!(body.through(1).unwrap(), b"abc");
        assert_eq!(body.all().unwrap(), b"abc");
    }
}
