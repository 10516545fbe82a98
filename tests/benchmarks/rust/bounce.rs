//! bounce: the Are-We-Fast-Yet Bounce benchmark: 100 balls bounce around a
//! 500 x 500 box for 50 steps, counting the bounces; run n times.

/// AWFY's random number generator.
struct Random {
    seed: i32,
}

impl Random {
    fn new() -> Self {
        Random { seed: 74755 }
    }

    fn next(&mut self) -> i32 {
        self.seed = (self.seed * 1309 + 13849) & 65535;
        self.seed
    }
}

#[derive(Clone, Copy, Default)]
struct Ball {
    x: i32,
    y: i32,
    x_vel: i32,
    y_vel: i32,
}

const BALL_COUNT: usize = 100;

impl Ball {
    fn new(random: &mut Random) -> Self {
        let x = random.next() % 500;
        let y = random.next() % 500;
        let x_vel = random.next() % 300 - 150;
        let y_vel = random.next() % 300 - 150;
        Ball { x, y, x_vel, y_vel }
    }

    /// Moves the ball one step; whether it hit a wall.
    fn bounce(&mut self) -> bool {
        let x_limit = 500;
        let y_limit = 500;
        let mut bounced = false;
        self.x += self.x_vel;
        self.y += self.y_vel;
        if self.x > x_limit {
            self.x = x_limit;
            self.x_vel = -self.x_vel.abs();
            bounced = true;
        }
        if self.x < 0 {
            self.x = 0;
            self.x_vel = self.x_vel.abs();
            bounced = true;
        }
        if self.y > y_limit {
            self.y = y_limit;
            self.y_vel = -self.y_vel.abs();
            bounced = true;
        }
        if self.y < 0 {
            self.y = 0;
            self.y_vel = self.y_vel.abs();
            bounced = true;
        }
        bounced
    }
}

/// One run of AWFY's Bounce: 1331 bounces.
fn bounce_balls() -> i32 {
    let mut random = Random::new();
    let mut balls = [Ball::default(); BALL_COUNT];
    for ball in balls.iter_mut() {
        *ball = Ball::new(&mut random);
    }
    let mut bounces = 0;
    for _ in 0..50 {
        for ball in balls.iter_mut() {
            if ball.bounce() {
                bounces += 1;
            }
        }
    }
    bounces
}

pub fn benchmark(n: i32) -> i32 {
    (0..n).map(|_| bounce_balls()).sum()
}

pub fn verify(result: i32) -> bool {
    result == 19965
}
