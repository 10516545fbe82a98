export function triple(n: integer): integer {
  return n * 3
}
