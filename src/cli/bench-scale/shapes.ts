/** A gang: `replicas` pods of `gpus` GPUs each. */
export interface Shape {
  replicas: number;
  gpus: number;
}

/**
 * 50 jobs of mixed shapes from 1×1 to 4×8, mostly small as rented jobs are (159 GPUs, 3.2 per job), visited
 * with a stride coprime with 50 so that big gangs are spread over the burst.
 */
const PATTERN: [Shape, number][] = [
  [{ replicas: 1, gpus: 1 }, 27],
  [{ replicas: 1, gpus: 2 }, 10],
  [{ replicas: 1, gpus: 4 }, 6],
  [{ replicas: 2, gpus: 4 }, 3],
  [{ replicas: 1, gpus: 8 }, 2],
  [{ replicas: 2, gpus: 8 }, 1],
  [{ replicas: 4, gpus: 8 }, 1],
];
const BLOCK: Shape[] = PATTERN.flatMap(([s, n]) => Array.from({ length: n }, () => s));

export function jobMix(count: number): Shape[] {
  return Array.from({ length: count }, (_, i) => BLOCK[(i * 31) % BLOCK.length]!);
}

export const gpusOf = (shapes: readonly Shape[]): number =>
  shapes.reduce((a, s) => a + s.replicas * s.gpus, 0);
export const podsOf = (shapes: readonly Shape[]): number => shapes.reduce((a, s) => a + s.replicas, 0);
