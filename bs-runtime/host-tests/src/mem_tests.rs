//! The memory routines that replace compiler-builtins' (`memcpy`,
//! `memmove`, `memset`): every length up to a few words at every
//! alignment of source and destination, against the standard library's.

use crate::mem::{copy_forward, copy_overlapping, fill};

/// Longest copy or fill tried: several words past any misalignment.
const MAX_LEN: usize = 40;
/// A buffer with room for every offset and length, and a margin after.
const BUFFER: usize = 64;

/// Distinct bytes, so that a byte copied from the wrong place shows.
fn pattern(seed: u8) -> [u8; BUFFER] {
    core::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(seed))
}

/// Word-aligned storage, so that offsets 0..4 are every misalignment.
#[repr(align(4))]
struct Aligned([u8; BUFFER]);

#[test]
fn copies_between_disjoint_buffers_at_every_alignment() {
    for len in 0..=MAX_LEN {
        for src_offset in 0..8 {
            for dest_offset in 0..8 {
                let src = Aligned(pattern(1));
                let mut dest = Aligned(pattern(200));
                let mut expected = dest.0;
                expected[dest_offset..dest_offset + len]
                    .copy_from_slice(&src.0[src_offset..src_offset + len]);
                // SAFETY: both ranges are inside their buffers.
                unsafe {
                    copy_forward(
                        dest.0.as_mut_ptr().add(dest_offset),
                        src.0.as_ptr().add(src_offset),
                        len,
                    )
                };
                assert_eq!(
                    dest.0, expected,
                    "len {len}, src +{src_offset}, dest +{dest_offset}"
                );
            }
        }
    }
}

#[test]
fn moves_within_one_buffer_in_both_directions() {
    for len in 0..=MAX_LEN {
        for src_offset in 0..(BUFFER - len).min(12) {
            for dest_offset in 0..(BUFFER - len).min(12) {
                let mut buffer = Aligned(pattern(7));
                let mut expected = buffer.0;
                expected.copy_within(src_offset..src_offset + len, dest_offset);
                let base = buffer.0.as_mut_ptr();
                // SAFETY: both ranges are inside the buffer.
                unsafe { copy_overlapping(base.add(dest_offset), base.add(src_offset), len) };
                assert_eq!(
                    buffer.0, expected,
                    "len {len}, src +{src_offset}, dest +{dest_offset}"
                );
            }
        }
    }
}

#[test]
fn fills_every_length_at_every_alignment() {
    for len in 0..=MAX_LEN {
        for offset in 0..8 {
            for byte in [0, 0x5a, 0xff] {
                let mut buffer = Aligned(pattern(3));
                let mut expected = buffer.0;
                expected[offset..offset + len].fill(byte);
                // SAFETY: the range is inside the buffer.
                unsafe { fill(buffer.0.as_mut_ptr().add(offset), byte, len) };
                assert_eq!(
                    buffer.0, expected,
                    "len {len}, offset +{offset}, byte {byte:#x}"
                );
            }
        }
    }
}
