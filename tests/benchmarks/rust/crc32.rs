//! crc32: CRC-32 (bitwise, reflected polynomial 0xEDB88320) of n bytes
//! drawn from a linear congruential generator.

fn crc32_byte(crc: u32, byte: u32) -> u32 {
    let mut crc = crc ^ byte;
    for _ in 0..8 {
        crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
    }
    crc
}

pub fn benchmark(n: i32) -> i32 {
    let mut crc = !0u32;
    let mut seed = 42u32;
    for _ in 0..n {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
        crc = crc32_byte(crc, (seed >> 16) & 0xFF);
    }
    !crc as i32
}

pub fn verify(result: i32) -> bool {
    result == 402645936
}
