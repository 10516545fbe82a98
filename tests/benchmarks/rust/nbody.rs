//! nbody: the Are-We-Fast-Yet NBody benchmark (the Sun and the four giant
//! planets), in 32-bit floats: n steps of 0.01 days, then the energy of
//! the system, as an integer checksum (millionths, truncated).

const PI: f32 = core::f32::consts::PI;
const SOLAR_MASS: f32 = 4.0 * PI * PI;
const DAYS_PER_YEAR: f32 = 365.24;

/// Newton's method from above: the iterates decrease towards the root;
/// stops where they no longer do. (`core` has no `f32::sqrt`; the script
/// computes the same.)
fn sqrt(a: f32) -> f32 {
    if a <= 0.0 {
        return 0.0;
    }
    let mut x = if a < 1.0 { 1.0 } else { a };
    let mut next = 0.5 * (x + a / x);
    while next < x {
        x = next;
        next = 0.5 * (x + a / x);
    }
    x
}

#[derive(Clone, Copy)]
struct Body {
    x: f32,
    y: f32,
    z: f32,
    vx: f32,
    vy: f32,
    vz: f32,
    mass: f32,
}

// The script has AWFY's literals, with f64's digits; here they are the
// shortest that give the same f32.
impl Body {
    fn new(x: f32, y: f32, z: f32, vx: f32, vy: f32, vz: f32, mass: f32) -> Self {
        Body {
            x,
            y,
            z,
            vx: vx * DAYS_PER_YEAR,
            vy: vy * DAYS_PER_YEAR,
            vz: vz * DAYS_PER_YEAR,
            mass: mass * SOLAR_MASS,
        }
    }

    fn offset_momentum(&mut self, px: f32, py: f32, pz: f32) {
        self.vx = 0.0 - (px / SOLAR_MASS);
        self.vy = 0.0 - (py / SOLAR_MASS);
        self.vz = 0.0 - (pz / SOLAR_MASS);
    }

    fn jupiter() -> Self {
        Body::new(
            4.8414316,
            -1.16032,
            -0.10362204,
            0.0016600767,
            0.0076990114,
            -6.9046e-5,
            0.00095479196,
        )
    }

    fn saturn() -> Self {
        Body::new(
            8.343367,
            4.124799,
            -0.40352342,
            -0.002767425,
            0.004998528,
            2.304173e-5,
            0.00028588597,
        )
    }

    fn uranus() -> Self {
        Body::new(
            12.894369,
            -15.111152,
            -0.22330758,
            0.0029646014,
            0.0023784717,
            -2.9658957e-5,
            4.366244e-5,
        )
    }

    fn neptune() -> Self {
        Body::new(
            15.379697,
            -25.919315,
            0.17925878,
            0.0026806777,
            0.0016282417,
            -9.515922e-5,
            5.151389e-5,
        )
    }

    fn sun() -> Self {
        Body::new(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)
    }
}

struct NBodySystem {
    bodies: [Body; 5],
}

impl NBodySystem {
    fn new() -> Self {
        let mut bodies = [
            Body::sun(),
            Body::jupiter(),
            Body::saturn(),
            Body::uranus(),
            Body::neptune(),
        ];
        let (mut px, mut py, mut pz) = (0.0, 0.0, 0.0);
        for b in &bodies {
            px += b.vx * b.mass;
            py += b.vy * b.mass;
            pz += b.vz * b.mass;
        }
        bodies[0].offset_momentum(px, py, pz);
        NBodySystem { bodies }
    }

    fn advance(&mut self, dt: f32) {
        for i in 0..self.bodies.len() {
            let (left, right) = self.bodies.split_at_mut(i + 1);
            let i_body = &mut left[i];
            for j_body in right.iter_mut() {
                let dx = i_body.x - j_body.x;
                let dy = i_body.y - j_body.y;
                let dz = i_body.z - j_body.z;
                let d_squared = dx * dx + dy * dy + dz * dz;
                let distance = sqrt(d_squared);
                let mag = dt / (d_squared * distance);
                i_body.vx -= dx * j_body.mass * mag;
                i_body.vy -= dy * j_body.mass * mag;
                i_body.vz -= dz * j_body.mass * mag;
                j_body.vx += dx * i_body.mass * mag;
                j_body.vy += dy * i_body.mass * mag;
                j_body.vz += dz * i_body.mass * mag;
            }
        }
        for body in self.bodies.iter_mut() {
            body.x += dt * body.vx;
            body.y += dt * body.vy;
            body.z += dt * body.vz;
        }
    }

    fn energy(&self) -> f32 {
        let mut e = 0.0;
        for (i, i_body) in self.bodies.iter().enumerate() {
            e += 0.5
                * i_body.mass
                * (i_body.vx * i_body.vx + i_body.vy * i_body.vy + i_body.vz * i_body.vz);
            for j_body in &self.bodies[i + 1..] {
                let dx = i_body.x - j_body.x;
                let dy = i_body.y - j_body.y;
                let dz = i_body.z - j_body.z;
                let distance = sqrt(dx * dx + dy * dy + dz * dz);
                e -= (i_body.mass * j_body.mass) / distance;
            }
        }
        e
    }
}

pub fn benchmark(n: i32) -> i32 {
    let mut system = NBodySystem::new();
    for _ in 0..n {
        system.advance(0.01);
    }
    (-system.energy() * 1_000_000.0) as i32
}

pub fn verify(result: i32) -> bool {
    result == 169007
}
