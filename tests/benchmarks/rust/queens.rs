//! queens: the Are-We-Fast-Yet Queens benchmark: places eight queens on a
//! chess board by backtracking (the first solution), n times; the checksum
//! adds up the solutions found (sum of (row + 1) * column of each queen).

struct Queens {
    free_rows: [bool; 8],
    free_maxs: [bool; 16],
    free_mins: [bool; 16],
    queen_rows: [i32; 8],
}

impl Queens {
    fn new() -> Self {
        Queens {
            free_rows: [true; 8],
            free_maxs: [true; 16],
            free_mins: [true; 16],
            queen_rows: [-1; 8],
        }
    }

    fn queens(&mut self) -> bool {
        *self = Queens::new();
        self.place_queen(0)
    }

    fn place_queen(&mut self, c: usize) -> bool {
        for r in 0..8 {
            if self.get_row_column(r, c) {
                self.queen_rows[r] = c as i32;
                self.set_row_column(r, c, false);
                if c == 7 {
                    return true;
                }
                if self.place_queen(c + 1) {
                    return true;
                }
                self.set_row_column(r, c, true);
            }
        }
        false
    }

    fn get_row_column(&self, r: usize, c: usize) -> bool {
        self.free_rows[r] && self.free_maxs[c + r] && self.free_mins[c + 7 - r]
    }

    fn set_row_column(&mut self, r: usize, c: usize, v: bool) {
        self.free_rows[r] = v;
        self.free_maxs[c + r] = v;
        self.free_mins[c + 7 - r] = v;
    }
}

pub fn benchmark(n: i32) -> i32 {
    let mut queens = Queens::new();
    let mut total = 0;
    for _ in 0..n {
        if queens.queens() {
            for (r, &c) in queens.queen_rows.iter().enumerate() {
                total += (r as i32 + 1) * c;
            }
        }
    }
    total
}

pub fn verify(result: i32) -> bool {
    result == 18900
}
