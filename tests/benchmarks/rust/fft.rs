//! fft: radix-2 fast Fourier transforms of 256 complex points, in 32-bit
//! floats: n times, a forward transform, a brick-wall low-pass (the bins
//! above 1/8 of the sampling rate cleared) and the inverse transform, on
//! a square wave plus noise. The checksum is the energy of the result
//! (ten-thousandths, truncated).

const SIZE: usize = 256;

/// Newton's method from above: the iterates decrease towards the root;
/// stops where they no longer do. (`core` has no `f32::sqrt`; the script
/// computes the same.)
fn sqrt(a: f32) -> f32 {
    if a <= 0.0 {
        return 0.0;
    }
    let mut x = if a < 1.0 { 1.0 } else { a };
    let mut next = 0.5 * (x + a / x);
    while next < x {
        x = next;
        next = 0.5 * (x + a / x);
    }
    x
}

struct Fft {
    re: [f32; SIZE],
    im: [f32; SIZE],
}

impl Fft {
    /// In place; the inverse transform scales by 1 / SIZE.
    fn transform(&mut self, inverse: bool) {
        let n = SIZE;
        let (re, im) = (&mut self.re, &mut self.im);
        // Bit-reversal permutation.
        let mut j = 0;
        for i in 1..n {
            let mut bit = n >> 1;
            while j & bit != 0 {
                j ^= bit;
                bit >>= 1;
            }
            j ^= bit;
            if i < j {
                re.swap(i, j);
                im.swap(i, j);
            }
        }
        // Butterflies; (c, s): the cosine and sine of 2 pi / length.
        let mut c = -1.0f32;
        let mut s = 0.0f32;
        let mut length = 2;
        while length <= n {
            let half = length >> 1;
            let step_re = c;
            let step_im = if inverse { s } else { -s };
            let mut w_re = 1.0f32;
            let mut w_im = 0.0f32;
            for k in 0..half {
                for i in (k..n).step_by(length) {
                    let m = i + half;
                    let tr = w_re * re[m] - w_im * im[m];
                    let ti = w_re * im[m] + w_im * re[m];
                    re[m] = re[i] - tr;
                    im[m] = im[i] - ti;
                    re[i] += tr;
                    im[i] += ti;
                }
                let t = w_re * step_re - w_im * step_im;
                w_im = w_re * step_im + w_im * step_re;
                w_re = t;
            }
            s = sqrt((1.0 - c) * 0.5);
            c = sqrt((1.0 + c) * 0.5);
            length *= 2;
        }
        if inverse {
            let scale = 1.0 / n as f32;
            for (r, i) in re.iter_mut().zip(im.iter_mut()) {
                *r *= scale;
                *i *= scale;
            }
        }
    }
}

pub fn benchmark(n: i32) -> i32 {
    let mut fft = Fft {
        re: [0.0; SIZE],
        im: [0.0; SIZE],
    };
    // A square wave of period 32 (+-0.5) plus noise (+-0.25).
    let mut seed = 74755;
    for (i, re) in fft.re.iter_mut().enumerate() {
        seed = (seed * 1309 + 13849) & 65535;
        *re = (seed - 32768) as f32 / 131072.0 + if i & 16 == 0 { 0.5 } else { -0.5 };
    }
    let cutoff = SIZE / 8;
    for _ in 0..n {
        fft.transform(false);
        fft.re[cutoff + 1..SIZE - cutoff].fill(0.0);
        fft.im[cutoff + 1..SIZE - cutoff].fill(0.0);
        fft.transform(true);
    }
    let energy = fft
        .re
        .iter()
        .zip(fft.im.iter())
        .fold(0.0f32, |e, (r, i)| e + (r * r + i * i));
    (energy * 10000.0) as i32
}

pub fn verify(result: i32) -> bool {
    result == 591728
}
