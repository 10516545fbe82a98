//! towers_awfy: the Are-We-Fast-Yet Towers benchmark: Towers of Hanoi with
//! the disks on linked piles, moving 13 disks (8191 moves) from a tower of
//! 14; run n times. Without a heap, the disks live in an array and link
//! by index.

#[derive(Clone, Copy, Default)]
struct Disk {
    size: i32,
    next: Option<usize>,
}

const DISKS: usize = 14;

struct Towers {
    disks: [Disk; DISKS],
    /// The top disk of each pile.
    piles: [Option<usize>; 3],
    moves_done: i32,
    /// AWFY throws on an illegal move; here they are counted.
    errors: i32,
}

impl Towers {
    fn new() -> Self {
        Towers {
            disks: [Disk::default(); DISKS],
            piles: [None; 3],
            moves_done: 0,
            errors: 0,
        }
    }

    fn push_disk(&mut self, disk: usize, pile: usize) {
        let top = self.piles[pile];
        if let Some(top) = top {
            if self.disks[disk].size >= self.disks[top].size {
                self.errors += 1;
            }
        }
        self.disks[disk].next = top;
        self.piles[pile] = Some(disk);
    }

    fn pop_disk_from(&mut self, pile: usize) -> Option<usize> {
        let Some(top) = self.piles[pile] else {
            self.errors += 1;
            return None;
        };
        self.piles[pile] = self.disks[top].next;
        self.disks[top].next = None;
        Some(top)
    }

    fn move_top_disk(&mut self, from_pile: usize, to_pile: usize) {
        if let Some(disk) = self.pop_disk_from(from_pile) {
            self.push_disk(disk, to_pile);
        }
        self.moves_done += 1;
    }

    fn build_tower_at(&mut self, pile: usize, disks: usize) {
        for i in (0..=disks).rev() {
            // Disk i is made when it is pushed: the ith from the top.
            self.disks[i] = Disk {
                size: i as i32,
                next: None,
            };
            self.push_disk(i, pile);
        }
    }

    fn move_disks(&mut self, disks: i32, from_pile: usize, to_pile: usize) {
        if disks == 1 {
            self.move_top_disk(from_pile, to_pile);
        } else {
            let other_pile = (3 - from_pile) - to_pile;
            self.move_disks(disks - 1, from_pile, other_pile);
            self.move_top_disk(from_pile, to_pile);
            self.move_disks(disks - 1, other_pile, to_pile);
        }
    }
}

pub fn benchmark(n: i32) -> i32 {
    let mut total = 0;
    for _ in 0..n {
        let mut towers = Towers::new();
        towers.build_tower_at(0, 13);
        towers.move_disks(13, 0, 1);
        total += towers.moves_done - 100_000 * towers.errors;
    }
    total
}

pub fn verify(result: i32) -> bool {
    result == 32764
}
