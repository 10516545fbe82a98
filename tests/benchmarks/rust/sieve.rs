//! sieve: the Are-We-Fast-Yet Sieve benchmark: the sieve of Eratosthenes,
//! counting the primes; run n times. On 4000 flags (550 primes), where
//! AWFY has 5000 (669): see the script.

const SIZE: usize = 4000;

fn sieve(flags: &mut [bool]) -> i32 {
    let size = flags.len();
    let mut prime_count = 0;
    for i in 2..=size {
        if flags[i - 1] {
            prime_count += 1;
            for k in (i + i..=size).step_by(i) {
                flags[k - 1] = false;
            }
        }
    }
    prime_count
}

pub fn benchmark(n: i32) -> i32 {
    let mut total = 0;
    for _ in 0..n {
        let mut flags = [true; SIZE];
        total += sieve(&mut flags);
    }
    total
}

pub fn verify(result: i32) -> bool {
    result == 3850
}
