//! isqrt: integer square roots by Newton's method, summed.

fn isqrt(n: i32) -> i32 {
    if n < 2 {
        return n;
    }
    let mut x = n;
    let mut y = (x + 1) / 2;
    while y < x {
        x = y;
        y = (x + n / x) / 2;
    }
    x
}

pub fn benchmark(n: i32) -> i32 {
    let mut sum = 0;
    for i in 0..n {
        sum += isqrt(i * 1000 + 7);
    }
    sum
}

pub fn verify(result: i32) -> bool {
    result == 7449906
}
