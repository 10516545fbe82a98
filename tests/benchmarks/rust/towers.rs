//! towers: Towers of Hanoi, moved recursively, counting the moves and
//! hashing them into a checksum.

struct Towers {
    moves: i32,
    checksum: i32,
}

impl Towers {
    /// Moves `disks` disks from peg `from` to peg `to` (pegs 0, 1, 2).
    fn move_disks(&mut self, disks: i32, from: i32, to: i32) {
        if disks == 0 {
            return;
        }
        let other = 3 - from - to;
        self.move_disks(disks - 1, from, other);
        self.moves += 1;
        self.checksum = (self.checksum * 31 + from * 3 + to) & 0xFF_FFFF;
        self.move_disks(disks - 1, other, to);
    }
}

pub fn benchmark(n: i32) -> i32 {
    let mut towers = Towers {
        moves: 0,
        checksum: 0,
    };
    towers.move_disks(n, 0, 1);
    towers.moves + towers.checksum
}

pub fn verify(result: i32) -> bool {
    result == 11052533
}
