import { resolve } from 'node:path';
import madge from 'madge';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../src');

describe('imports in src/ form no cycle (npx madge --circular --extensions ts src)', () => {
  it('madge reads the whole import graph, dynamic imports included, and finds no cycle', async () => {
    const graph = await madge(SRC, { fileExtensions: ['ts'] });
    const edges: Record<string, string[]> = graph.obj();
    // Guards against a graph that is empty because madge resolved nothing.
    expect(Object.keys(edges).length).toBeGreaterThan(100);
    expect(edges['cli/commands/reset.ts']).toContain('jobs/reset-all.ts'); // a dynamic import()
    expect(graph.circular()).toEqual([]);
  }, 120_000);
});
