//! Frames: the unit of the runner's stdin/stdout protocol.
//!
//! A frame is `[length: u32 BE][kind: u8][call: u32 BE][payload]`, where `length` counts the
//! kind, call and payload bytes. Docker's attach stream cuts output at arbitrary places, so
//! the host feeds bytes to a [`Decoder`] as they arrive; the runner, which owns plain pipes,
//! reads whole frames with [`read`].
//!
//! Every length is checked against a bound before anything is allocated for it: a peer that
//! announces a 4 GiB frame gets an error, not an allocation.
//!
//! ```
//! use hoosegow_wire::frame::{Decoder, Frame, Kind};
//!
//! let bytes = Frame::new(Kind::Return, 7, b"\"raboof\"".to_vec()).encode();
//! let mut decoder = Decoder::new(1024);
//! decoder.push(&bytes[..3]); // half a header is not a frame yet
//! assert!(decoder.next_frame().unwrap().is_none());
//! decoder.push(&bytes[3..]);
//! let frame = decoder.next_frame().unwrap().unwrap();
//! assert_eq!((frame.kind, frame.call, &frame.payload[..]), (Kind::Return, 7, &b"\"raboof\""[..]));
//! ```

use std::io::{self, Read, Write};

/// Bytes before the payload: length, kind and call id.
pub const HEADER_LEN: usize = 9;

/// What a frame carries; the payload format of each is documented in [`crate::message`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// runner → host, first frame: [`crate::message::Hello`].
    Hello = 1,
    /// host → runner: [`crate::message::Call`].
    Call = 2,
    /// runner → host: the call's result value (JSON).
    Return = 3,
    /// runner → host: [`crate::message::Failure`]; call 0 means the runner itself gave up.
    Failure = 4,
    /// runner → host: [`crate::message::Callback`], an import the inmate called.
    Callback = 5,
    /// host → runner: [`crate::message::Reply`] to the last callback.
    Reply = 6,
    /// runner → host: raw bytes the inmate wrote to stdout.
    Stdout = 7,
    /// runner → host: raw bytes the inmate wrote to stderr.
    Stderr = 8,
}

impl Kind {
    fn from_byte(byte: u8) -> Option<Kind> {
        Some(match byte {
            1 => Kind::Hello,
            2 => Kind::Call,
            3 => Kind::Return,
            4 => Kind::Failure,
            5 => Kind::Callback,
            6 => Kind::Reply,
            7 => Kind::Stdout,
            8 => Kind::Stderr,
            _ => return None,
        })
    }
}

/// One message on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// What the payload is.
    pub kind: Kind,
    /// The call this frame belongs to (0: none).
    pub call: u32,
    /// The payload, at most the decoder's bound.
    pub payload: Vec<u8>,
}

/// Why a byte stream is not a valid sequence of frames.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// The announced payload exceeds the bound.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Announced payload length.
        len: u64,
        /// The bound in force.
        max: usize,
    },
    /// The length field is smaller than the kind and call id it must cover.
    #[error("frame length {0} is shorter than its own header")]
    TooShort(u32),
    /// The kind byte is not one of [`Kind`].
    #[error("unknown frame kind {0}")]
    UnknownKind(u8),
    /// The stream ended in the middle of a frame.
    #[error("stream ended inside a frame ({0} bytes left over)")]
    Truncated(usize),
}

impl Frame {
    /// A frame of `kind` for `call` carrying `payload`.
    pub fn new(kind: Kind, call: u32, payload: Vec<u8>) -> Frame {
        Frame {
            kind,
            call,
            payload,
        }
    }

    /// The frame as bytes ready to write.
    ///
    /// # Panics
    /// If the payload is 4 GiB or more; callers bound their payloads far below that.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.payload.len());
        self.encode_into(&mut out);
        out
    }

    /// Appends the frame's bytes to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let len = u32::try_from(self.payload.len() + HEADER_LEN - 4).expect("frame under 4 GiB");
        out.extend_from_slice(&len.to_be_bytes());
        out.push(self.kind as u8);
        out.extend_from_slice(&self.call.to_be_bytes());
        out.extend_from_slice(&self.payload);
    }
}

/// Parses a header; returns the kind, call and payload length.
fn parse_header(header: &[u8; HEADER_LEN], max: usize) -> Result<(Kind, u32, usize), FrameError> {
    let len = u32::from_be_bytes(header[0..4].try_into().expect("4 bytes"));
    let payload = len
        .checked_sub((HEADER_LEN - 4) as u32)
        .ok_or(FrameError::TooShort(len))? as usize;
    if payload > max {
        return Err(FrameError::TooLarge {
            len: payload as u64,
            max,
        });
    }
    let kind = Kind::from_byte(header[4]).ok_or(FrameError::UnknownKind(header[4]))?;
    let call = u32::from_be_bytes(header[5..9].try_into().expect("4 bytes"));
    Ok((kind, call, payload))
}

/// An incremental decoder: push bytes as they arrive, take frames as they complete.
#[derive(Debug)]
pub struct Decoder {
    buf: Vec<u8>,
    start: usize,
    max_payload: usize,
}

impl Decoder {
    /// A decoder refusing payloads over `max_payload` bytes.
    pub fn new(max_payload: usize) -> Decoder {
        Decoder {
            buf: Vec::new(),
            start: 0,
            max_payload,
        }
    }

    /// Adds bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, `None` if more bytes are needed, or why the stream is bad.
    ///
    /// A bad header is reported as soon as its nine bytes are in, before its payload.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        let pending = &self.buf[self.start..];
        let Some(header) = pending.first_chunk::<HEADER_LEN>() else {
            return Ok(None);
        };
        let (kind, call, len) = parse_header(header, self.max_payload)?;
        let Some(payload) = pending[HEADER_LEN..].get(..len) else {
            return Ok(None);
        };
        let frame = Frame::new(kind, call, payload.to_vec());
        self.start += HEADER_LEN + len;
        if self.start > 64 * 1024 && self.start * 2 > self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        Ok(Some(frame))
    }

    /// Call at end of stream: an error if a partial frame is left over.
    pub fn finish(&self) -> Result<(), FrameError> {
        match self.buf.len() - self.start {
            0 => Ok(()),
            left => Err(FrameError::Truncated(left)),
        }
    }
}

/// Reads one whole frame from a blocking reader; `Ok(None)` at a clean end of stream.
pub fn read(reader: &mut impl Read, max_payload: usize) -> io::Result<Option<Frame>> {
    let mut header = [0u8; HEADER_LEN];
    let mut got = 0;
    while got < HEADER_LEN {
        match reader.read(&mut header[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(invalid(FrameError::Truncated(got))),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let (kind, call, len) = parse_header(&header, max_payload).map_err(invalid)?;
    let mut payload = vec![0u8; len];
    reader
        .read_exact(&mut payload)
        .map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => invalid(FrameError::Truncated(HEADER_LEN)),
            _ => e,
        })?;
    Ok(Some(Frame::new(kind, call, payload)))
}

/// Writes one frame and flushes it.
pub fn write(writer: &mut impl Write, frame: &Frame) -> io::Result<()> {
    writer.write_all(&frame.encode())?;
    writer.flush()
}

fn invalid(e: FrameError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_by_byte_decoding_matches_the_frames_sent() {
        let frames: Vec<Frame> = (0..50u32)
            .map(|i| Frame::new(Kind::Stdout, i, vec![i as u8; i as usize * 7]))
            .collect();
        let bytes: Vec<u8> = frames.iter().flat_map(Frame::encode).collect();
        let mut decoder = Decoder::new(1 << 20);
        let mut got = Vec::new();
        for b in bytes {
            decoder.push(&[b]);
            while let Some(f) = decoder.next_frame().unwrap() {
                got.push(f);
            }
        }
        decoder.finish().unwrap();
        assert_eq!(got, frames);
    }

    #[test]
    fn oversized_frame_is_refused_from_its_header() {
        let mut decoder = Decoder::new(16);
        decoder.push(&[0xff, 0xff, 0xff, 0xff, 3, 0, 0, 0, 1]);
        assert_eq!(
            decoder.next_frame(),
            Err(FrameError::TooLarge {
                len: 0xffff_ffff - 5,
                max: 16
            })
        );
    }

    #[test]
    fn unknown_kind_and_short_length_are_errors() {
        let mut decoder = Decoder::new(16);
        decoder.push(&[0, 0, 0, 5, 99, 0, 0, 0, 1]);
        assert_eq!(decoder.next_frame(), Err(FrameError::UnknownKind(99)));
        let mut decoder = Decoder::new(16);
        decoder.push(&[0, 0, 0, 2, 3, 0, 0, 0, 1]);
        assert_eq!(decoder.next_frame(), Err(FrameError::TooShort(2)));
    }

    #[test]
    fn blocking_read_sees_clean_end_and_truncation() {
        let frame = Frame::new(Kind::Call, 1, b"{}".to_vec());
        let bytes = frame.encode();
        assert_eq!(read(&mut &bytes[..], 64).unwrap(), Some(frame));
        assert_eq!(read(&mut &b""[..], 64).unwrap(), None);
        let err = read(&mut &bytes[..bytes.len() - 1], 64).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
