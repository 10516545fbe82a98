//! collatz: total length of the Collatz sequences starting at 1..n.

fn collatz_length(start: i32) -> i32 {
    let mut x = start;
    let mut steps = 0;
    while x != 1 {
        if x % 2 == 0 {
            x /= 2;
        } else {
            x = 3 * x + 1;
        }
        steps += 1;
    }
    steps
}

pub fn benchmark(n: i32) -> i32 {
    let mut total = 0;
    for i in 1..=n {
        total += collatz_length(i);
    }
    total
}

pub fn verify(result: i32) -> bool {
    result == 215063
}
