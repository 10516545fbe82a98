//! list: the Are-We-Fast-Yet List benchmark: Takeuchi's function on linked
//! lists (lists of length 15, 10 and 6; the result has length 10); run n
//! times. Without a heap, the elements live in an arena and link by index.

#[derive(Clone, Copy, Default)]
struct Element {
    val: i32,
    next: Option<usize>,
}

/// Room for the three lists of one run.
const CAPACITY: usize = 15 + 10 + 6;

struct Lists {
    elements: [Element; CAPACITY],
    len: usize,
}

impl Lists {
    fn new() -> Self {
        Lists {
            elements: [Element::default(); CAPACITY],
            len: 0,
        }
    }

    fn make_list(&mut self, length: i32) -> Option<usize> {
        if length == 0 {
            return None;
        }
        let e = self.len;
        self.len += 1;
        self.elements[e] = Element {
            val: length,
            next: None,
        };
        self.elements[e].next = self.make_list(length - 1);
        Some(e)
    }

    fn next(&self, e: usize) -> Option<usize> {
        self.elements[e].next
    }

    fn length(&self, e: usize) -> i32 {
        match self.next(e) {
            None => 1,
            Some(next) => 1 + self.length(next),
        }
    }

    fn is_shorter_than(&self, x: Option<usize>, y: Option<usize>) -> bool {
        let mut x_tail = x;
        let mut y_tail = y;
        while let Some(y) = y_tail {
            let Some(x) = x_tail else {
                return true;
            };
            x_tail = self.next(x);
            y_tail = self.next(y);
        }
        false
    }

    /// The lists are never empty where `tail` takes their `next`.
    fn tail(&self, x: Option<usize>, y: Option<usize>, z: Option<usize>) -> Option<usize> {
        if self.is_shorter_than(y, x) {
            if let (Some(xe), Some(ye), Some(ze)) = (x, y, z) {
                return self.tail(
                    self.tail(self.next(xe), y, z),
                    self.tail(self.next(ye), z, x),
                    self.tail(self.next(ze), x, y),
                );
            }
        }
        z
    }
}

/// One run of AWFY's List (which returns the length, 10), with the value
/// at the head of the result (`val` is otherwise never read).
fn list_once() -> i32 {
    let mut lists = Lists::new();
    let x = lists.make_list(15);
    let y = lists.make_list(10);
    let z = lists.make_list(6);
    match lists.tail(x, y, z) {
        None => 0,
        Some(result) => lists.length(result) * 100 + lists.elements[result].val,
    }
}

pub fn benchmark(n: i32) -> i32 {
    (0..n).map(|_| list_once()).sum()
}

pub fn verify(result: i32) -> bool {
    result == 6060
}
