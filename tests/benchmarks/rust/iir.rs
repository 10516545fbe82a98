//! iir: a 4th-order Butterworth low-pass IIR filter (cutoff at 0.05 of the
//! sampling rate) as a cascade of two biquads, in 32-bit floats: n samples
//! of a square wave plus noise. The checksum is the output's energy
//! (hundredths, truncated) plus the number of its zero crossings.

/// One second-order section, in transposed direct form II.
struct Biquad {
    b0: f32,
    b1: f32,
    b2: f32,
    a1: f32,
    a2: f32,
    s1: f32,
    s2: f32,
}

impl Biquad {
    fn new(b0: f32, b1: f32, b2: f32, a1: f32, a2: f32) -> Self {
        Biquad {
            b0,
            b1,
            b2,
            a1,
            a2,
            s1: 0.0,
            s2: 0.0,
        }
    }

    fn process(&mut self, x: f32) -> f32 {
        let y = self.b0 * x + self.s1;
        self.s1 = self.b1 * x - self.a1 * y + self.s2;
        self.s2 = self.b2 * x - self.a2 * y;
        y
    }
}

pub fn benchmark(n: i32) -> i32 {
    // Coefficients by the bilinear transform (RBJ's cookbook), for Q =
    // 0.5412 and 1.3066.
    let mut sections = [
        Biquad::new(
            0.019036831,
            0.038073663,
            0.019036831,
            -1.4796742,
            0.55582154,
        ),
        Biquad::new(0.021883853, 0.043767706, 0.021883853, -1.7009643, 0.7884998),
    ];
    let mut seed = 74755;
    let mut energy = 0.0f32;
    let mut crossings = 0;
    let mut previous = 0.0f32;
    for i in 0..n {
        // A square wave of period 100 (+-0.5) plus noise (+-0.25).
        seed = (seed * 1309 + 13849) & 65535;
        let mut x = (seed - 32768) as f32 / 131072.0;
        if i % 100 < 50 {
            x += 0.5;
        } else {
            x -= 0.5;
        }
        let y = sections.iter_mut().fold(x, |y, section| section.process(y));
        energy += y * y;
        if (y >= 0.0) != (previous >= 0.0) {
            crossings += 1;
        }
        previous = y;
    }
    (energy * 100.0) as i32 + crossings
}

pub fn verify(result: i32) -> bool {
    result == 1162865
}
