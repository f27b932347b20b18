//! Bounded property tests of the frame decoder, the first thing that touches what a jail
//! writes: random streams of frames, some ending in damage, decoded whole, byte by byte
//! and in random pieces. Asserted: it never panics, every way of cutting the stream gives
//! the same frames and the same verdict, the blocking reader the runner uses agrees, and
//! no allocation grows with what a header announces or with the length of the stream.
//!
//! Seeded: `HOOSEGOW_PROPERTY_SEED` and `HOOSEGOW_PROPERTY_CASES` replay or widen a run; a
//! failure names the seed of its case. `cargo xtask fuzz` explores the same code unbounded.

use hoosegow_wire::frame::{self, Decoder, Frame, FrameError, HEADER_LEN, Kind};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::panic::AssertUnwindSafe;

/// Counts, per thread, the largest single allocation asked for since the last reset.
struct Counting;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    // `try_with`: allocations also happen while thread-locals are torn down.
    let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns its result with the largest allocation it made on this thread.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|l| l.set(0));
    let result = f();
    (result, LARGEST.with(Cell::get))
}

/// SplitMix64: small, seedable, good enough to pick test cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    /// Fewer than `n` random bytes.
    fn some_bytes(&mut self, n: u64) -> Vec<u8> {
        let n = self.below(n) as usize;
        self.bytes(n)
    }
}

/// Runs `cases` seeded cases; a failing case panics with its seed.
fn for_each_case(default_cases: u64, mut case: impl FnMut(&mut Rng)) {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let base = env("HOOSEGOW_PROPERTY_SEED").unwrap_or(0x5eed_f4a3);
    let cases = env("HOOSEGOW_PROPERTY_CASES").unwrap_or(default_cases);
    for i in 0..cases {
        let seed = base.wrapping_add(i);
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| case(&mut Rng(seed))));
        if let Err(panic) = outcome {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!(
                "case {i} failed; replay with HOOSEGOW_PROPERTY_SEED={seed} \
                 HOOSEGOW_PROPERTY_CASES=1: {message}"
            );
        }
    }
}

const KINDS: [Kind; 8] = [
    Kind::Hello,
    Kind::Call,
    Kind::Return,
    Kind::Failure,
    Kind::Callback,
    Kind::Reply,
    Kind::Stdout,
    Kind::Stderr,
];

/// How a generated stream ends.
#[derive(Debug)]
enum Tail {
    Clean,
    Truncated,
    TooLarge,
    TooShort,
    UnknownKind,
    Garbage,
}

/// Random frames within `max`, then a random tail; returns the frames and the bytes.
fn stream(rng: &mut Rng, max: usize) -> (Vec<Frame>, Tail, Vec<u8>) {
    let count = rng.below(40) as usize;
    let frames: Vec<Frame> = (0..count)
        .map(|_| {
            let len = match rng.below(10) {
                0 => max,
                1 => rng.below(max as u64 + 1) as usize,
                _ => rng.below(64.min(max as u64 + 1)) as usize,
            };
            let kind = KINDS[rng.below(KINDS.len() as u64) as usize];
            Frame::new(kind, rng.next() as u32, rng.bytes(len))
        })
        .collect();
    let mut bytes: Vec<u8> = frames.iter().flat_map(Frame::encode).collect();
    let tail = match rng.below(6) {
        0 => Tail::Truncated,
        1 => Tail::TooLarge,
        2 => Tail::TooShort,
        3 => Tail::UnknownKind,
        4 => Tail::Garbage,
        _ => Tail::Clean,
    };
    let header = |len: u32, kind: u8| {
        let mut h = len.to_be_bytes().to_vec();
        h.push(kind);
        h.extend_from_slice(&7u32.to_be_bytes());
        h
    };
    match tail {
        Tail::Clean => {}
        Tail::Truncated => {
            let whole = Frame::new(Kind::Stdout, 1, rng.some_bytes(max as u64 + 1)).encode();
            let cut = 1 + rng.below(whole.len() as u64 - 1) as usize;
            bytes.extend_from_slice(&whole[..cut]);
        }
        Tail::TooLarge => {
            let len = (max + HEADER_LEN - 4 + 1) as u64 + rng.below(u32::MAX as u64 - max as u64);
            bytes.extend(header(len.min(u32::MAX as u64) as u32, 3));
            bytes.extend(rng.some_bytes(32));
        }
        Tail::TooShort => {
            bytes.extend(header(rng.below(5) as u32, 3));
            bytes.extend(rng.some_bytes(32));
        }
        Tail::UnknownKind => {
            let kind = [0u8, 9, 42, 255][rng.below(4) as usize];
            bytes.extend(header(5, kind));
        }
        Tail::Garbage => bytes.extend(rng.some_bytes(200).into_iter().chain([0x42])),
    }
    (frames, tail, bytes)
}

/// Decodes `bytes` pushed in pieces of the sizes `cut` gives, as the host does: after each
/// push, every complete frame is taken. Returns the frames and the verdict.
fn decode(
    bytes: &[u8],
    max: usize,
    mut cut: impl FnMut() -> usize,
) -> (Vec<Frame>, Result<(), FrameError>) {
    let mut decoder = Decoder::new(max);
    let mut frames = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (piece, after) = rest.split_at(cut().clamp(1, rest.len()));
        rest = after;
        decoder.push(piece);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => {
                    assert!(frame.payload.len() <= max, "a frame over the bound");
                    frames.push(frame);
                }
                Ok(None) => break,
                Err(e) => return (frames, Err(e)),
            }
        }
    }
    (frames, decoder.finish())
}

#[test]
fn decoding_agrees_however_the_stream_is_cut_and_finds_every_kind_of_damage() {
    for_each_case(600, |rng| {
        let max = [0, 1, 9, 64, 300, 4096][rng.below(6) as usize];
        let (sent, tail, bytes) = stream(rng, max);
        let whole = decode(&bytes, max, || usize::MAX);
        let single = decode(&bytes, max, || 1);
        let mut piece_rng = Rng(rng.next());
        let pieces = decode(&bytes, max, || 1 + piece_rng.below(700) as usize);
        assert_eq!(whole, single, "whole vs byte by byte ({tail:?})");
        assert_eq!(whole, pieces, "whole vs random pieces ({tail:?})");

        let (frames, verdict) = whole;
        match tail {
            // Garbage may happen to parse as more frames; what came before must not move.
            Tail::Garbage => assert_eq!(frames[..sent.len()], sent[..]),
            _ => assert_eq!(frames, sent, "{tail:?}"),
        }
        match (&tail, &verdict) {
            (Tail::Clean, Ok(())) => {}
            (Tail::Truncated, Err(FrameError::Truncated(_))) => {}
            (Tail::TooLarge, Err(FrameError::TooLarge { max: m, .. })) => assert_eq!(*m, max),
            (Tail::TooShort, Err(FrameError::TooShort(_))) => {}
            (Tail::UnknownKind, Err(FrameError::UnknownKind(_))) => {}
            (Tail::Garbage, _) => {}
            (tail, verdict) => panic!("{tail:?} ended as {verdict:?}"),
        }

        // The runner reads its stdin with the blocking reader: same frames, same verdict.
        let mut reader = &bytes[..];
        let mut read = Vec::new();
        let read_verdict = loop {
            match frame::read(&mut reader, max) {
                Ok(Some(frame)) => read.push(frame),
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        assert_eq!(read, frames, "the blocking reader disagrees ({tail:?})");
        assert_eq!(
            read_verdict.is_ok(),
            verdict.is_ok(),
            "{read_verdict:?} vs {verdict:?}"
        );
    });
}

#[test]
fn random_bytes_never_panic_and_decode_the_same_in_any_pieces() {
    for_each_case(2000, |rng| {
        let max = rng.below(512) as usize;
        let mut bytes = rng.some_bytes(400);
        // Plausible headers now and then, so that the payload paths are reached too.
        if rng.percent(50) && bytes.len() >= HEADER_LEN {
            let len = rng.below(max as u64 + 8) as u32;
            bytes[..4].copy_from_slice(&len.to_be_bytes());
            bytes[4] = 1 + rng.below(8) as u8;
        }
        let whole = decode(&bytes, max, || usize::MAX);
        let single = decode(&bytes, max, || 1);
        assert_eq!(whole, single);
        let re_encoded: Vec<u8> = whole.0.iter().flat_map(Frame::encode).collect();
        assert!(
            bytes.starts_with(&re_encoded),
            "frames re-encode to their bytes"
        );
    });
}

#[test]
fn a_header_announcing_a_huge_frame_allocates_nothing_for_it() {
    for announced in [u32::MAX, 1 << 31, (64 << 20) + 6, 4096 + 6] {
        let mut header = announced.to_be_bytes().to_vec();
        header.extend_from_slice(&[3, 0, 0, 0, 1]);
        let (verdict, largest) = largest_allocation(|| {
            let mut decoder = Decoder::new(4096);
            decoder.push(&header);
            decoder.push(&[0; 100]);
            decoder.next_frame()
        });
        assert!(
            matches!(verdict, Err(FrameError::TooLarge { max: 4096, .. })),
            "{verdict:?}"
        );
        assert!(
            largest <= 1024,
            "announcing {announced} bytes allocated {largest}"
        );
        // The blocking reader too: no buffer for the announced payload.
        let (verdict, largest) = largest_allocation(|| frame::read(&mut &header[..], 4096));
        assert!(verdict.is_err());
        assert!(largest <= 1024, "read allocated {largest}");
    }
}

#[test]
fn the_decoders_memory_stays_bounded_however_long_the_stream() {
    for_each_case(40, |rng| {
        let max = [16, 300, 4096][rng.below(3) as usize];
        let chunk = 1 + rng.below(2048) as usize;
        // Megabytes of frames, fed in chunks as Docker's attach stream would.
        let mut bytes = Vec::new();
        while bytes.len() < (4 << 20) {
            let len = rng.below(max as u64 + 1) as usize;
            Frame::new(Kind::Stdout, 1, vec![0x5a; len]).encode_into(&mut bytes);
        }
        let (count, largest) = largest_allocation(|| {
            let mut decoder = Decoder::new(max);
            let mut count = 0usize;
            for piece in bytes.chunks(chunk) {
                decoder.push(piece);
                while let Some(frame) = decoder.next_frame().unwrap() {
                    count += frame.payload.len() + 1;
                }
            }
            decoder.finish().unwrap();
            count
        });
        assert!(count > 0);
        // The buffer holds at most one partial frame, one chunk and the consumed prefix it
        // drops past 64 KiB; a growing Vec may double that.
        let bound = 2 * (64 * 1024 + 2 * (HEADER_LEN + max) + chunk);
        assert!(
            largest <= bound,
            "max {max}, chunks of {chunk}: allocated {largest} at once (bound {bound}) \
             while decoding {} bytes",
            bytes.len()
        );
    });
}
