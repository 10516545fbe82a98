//! permute: the Are-We-Fast-Yet Permute benchmark: generates the
//! permutations of six elements recursively, swapping in place, and counts
//! the calls (8660); run n times.

struct Permute {
    count: i32,
    v: [i32; 6],
}

impl Permute {
    fn new() -> Self {
        Permute {
            count: 0,
            v: [0; 6],
        }
    }

    fn permute(&mut self, n: usize) {
        self.count += 1;
        if n != 0 {
            let n1 = n - 1;
            self.permute(n1);
            for i in (0..=n1).rev() {
                self.v.swap(n1, i);
                self.permute(n1);
                self.v.swap(n1, i);
            }
        }
    }
}

pub fn benchmark(n: i32) -> i32 {
    let mut total = 0;
    for _ in 0..n {
        let mut permute = Permute::new();
        permute.permute(6);
        total += permute.count;
    }
    total
}

pub fn verify(result: i32) -> bool {
    result == 51960
}
