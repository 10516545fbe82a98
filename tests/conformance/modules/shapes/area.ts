import { Shape, square } from '../geometry.bs'
import { log } from '../log'

export function area(shape: Shape, size: integer): float {
  if (shape == Shape.Square) {
    return square(size)
  }
  return Math.PI * size * size
}

log(0)
print("area.ts loaded")
