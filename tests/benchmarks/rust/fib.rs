//! fib: doubly recursive Fibonacci.

fn fib(n: i32) -> i32 {
    if n < 2 {
        return n;
    }
    fib(n - 1) + fib(n - 2)
}

pub fn benchmark(n: i32) -> i32 {
    fib(n)
}

pub fn verify(result: i32) -> bool {
    result == 46368
}
