//! mandelbrot: the Are-We-Fast-Yet Mandelbrot benchmark, in 32-bit floats.

fn mandelbrot(size: i32) -> i32 {
    let mut sum = 0;
    let mut byte_acc = 0;
    let mut bit_num = 0;
    let mut y = 0;
    while y < size {
        let ci = (2.0 * y as f32 / size as f32) - 1.0;
        let mut x = 0;
        while x < size {
            let mut zr;
            let mut zrzr = 0.0f32;
            let mut zi = 0.0f32;
            let mut zizi = 0.0f32;
            let cr = (2.0 * x as f32 / size as f32) - 1.5;
            let mut z = 0;
            let mut not_done = true;
            let mut escape = 0;
            while not_done && z < 50 {
                zr = zrzr - zizi + cr;
                zi = 2.0 * zr * zi + ci;
                zrzr = zr * zr;
                zizi = zi * zi;
                if zrzr + zizi > 4.0 {
                    not_done = false;
                    escape = 1;
                }
                z += 1;
            }
            byte_acc = (byte_acc << 1) + escape;
            bit_num += 1;
            if bit_num == 8 {
                sum ^= byte_acc;
                byte_acc = 0;
                bit_num = 0;
            } else if x == size - 1 {
                byte_acc <<= 8 - bit_num;
                sum ^= byte_acc;
                byte_acc = 0;
                bit_num = 0;
            }
            x += 1;
        }
        y += 1;
    }
    sum
}

pub fn benchmark(n: i32) -> i32 {
    mandelbrot(n)
}

pub fn verify(result: i32) -> bool {
    result == 255
}
