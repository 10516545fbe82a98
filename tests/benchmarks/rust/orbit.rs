//! orbit: a planet around a star, integrated with the semi-implicit Euler
//! method; distances by Newton's square root. Counts the steps the planet
//! spends above the x axis.

struct Planet {
    x: f32,
    y: f32,
    vx: f32,
    vy: f32,
}

fn sqrt(a: f32) -> f32 {
    let mut r = 1.0;
    for _ in 0..6 {
        r = 0.5 * (r + a / r);
    }
    r
}

impl Planet {
    fn step(&mut self, dt: f32) {
        let r2 = self.x * self.x + self.y * self.y;
        let k = dt / (r2 * sqrt(r2));
        self.vx -= self.x * k;
        self.vy -= self.y * k;
        self.x += self.vx * dt;
        self.y += self.vy * dt;
    }
}

pub fn benchmark(n: i32) -> i32 {
    let mut planet = Planet {
        x: 1.0,
        y: 0.0,
        vx: 0.0,
        vy: 0.8,
    };
    let mut above = 0;
    for _ in 0..n {
        planet.step(0.01);
        if planet.y > 0.0 {
            above += 1;
        }
    }
    above
}

pub fn verify(result: i32) -> bool {
    result == 9966
}
