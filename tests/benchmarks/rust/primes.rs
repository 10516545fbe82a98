//! primes: counts the primes below n by trial division.

fn is_prime(p: i32) -> bool {
    if p < 2 {
        return false;
    }
    let mut d = 2;
    while d * d <= p {
        if p % d == 0 {
            return false;
        }
        d += 1;
    }
    true
}

pub fn benchmark(n: i32) -> i32 {
    let mut count = 0;
    for p in 0..n {
        if is_prime(p) {
            count += 1;
        }
    }
    count
}

pub fn verify(result: i32) -> bool {
    result == 1229
}
