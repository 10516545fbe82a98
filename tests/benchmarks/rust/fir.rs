//! fir: a 32-tap low-pass FIR filter in Q15 fixed point, the usual integer
//! DSP of a microcontroller: n samples of a square wave plus noise, each
//! output rounded and saturated to 16 bits, hashed into a checksum.

const TAPS: usize = 32;

/// Windowed-sinc (Hamming) low-pass, cutoff at 0.1 of the sampling rate,
/// in Q15; they add up to 32768 (unit gain). The sum of their magnitudes,
/// 43488, keeps the accumulator within 32 bits.
const COEFFICIENTS: [i32; TAPS] = [
    -17, 20, 73, 135, 164, 91, -129, -466, //
    -783, -850, -435, 588, 2141, 3927, 5501, 6424, //
    6424, 5501, 3927, 2141, 588, -435, -850, -783, //
    -466, -129, 91, 164, 135, 73, 20, -17,
];

struct Fir {
    coefficients: [i32; TAPS],
    /// The last TAPS inputs, the newest at `position`.
    delay: [i32; TAPS],
    position: usize,
}

impl Fir {
    fn new(coefficients: [i32; TAPS]) -> Self {
        Fir {
            coefficients,
            delay: [0; TAPS],
            position: 0,
        }
    }

    /// Filters one sample; the output, rounded and saturated to 16 bits.
    fn filter(&mut self, x: i32) -> i32 {
        self.position = (self.position + 1) & (TAPS - 1);
        self.delay[self.position] = x;
        let mut acc = 16384;
        let mut index = self.position;
        for &c in &self.coefficients {
            acc += c * self.delay[index];
            index = index.wrapping_sub(1) & (TAPS - 1);
        }
        (acc >> 15).clamp(-32768, 32767)
    }
}

pub fn benchmark(n: i32) -> i32 {
    let mut fir = Fir::new(COEFFICIENTS);
    let mut seed = 74755;
    let mut checksum = 0;
    for i in 0..n {
        // A square wave of period 64 (+-28000) plus noise (+-4096): it
        // overshoots past 16 bits at times.
        seed = (seed * 1309 + 13849) & 65535;
        let mut x = (seed >> 3) - 4096;
        if (i & 63) < 32 {
            x += 28000;
        } else {
            x -= 28000;
        }
        let y = fir.filter(x);
        checksum = (checksum * 31 + y) & 0xFF_FFFF;
    }
    checksum
}

pub fn verify(result: i32) -> bool {
    result == 13043979
}
