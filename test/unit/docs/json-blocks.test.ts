import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDeploymentConfig } from '../../../lib/config/deployment.js';

/**
 * Readers copy the docs' JSON into files; a block that is not JSON (comments, `...`) fails
 * only when someone pastes it. Every ```json block in README.md and docs/ must parse, and a
 * block that looks like a deployment config must pass the config schema too.
 */
const root = join(import.meta.dirname, '..', '..', '..');
const files = ['README.md', ...readdirSync(join(root, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];

function fencedBlocks(text: string): { info: string; body: string; line: number }[] {
  const blocks: { info: string; body: string; line: number }[] = [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index += 1) {
    const open = /^\s*```(\S*)/.exec(lines[index] ?? '');
    if (open === null) continue;
    const start = index;
    const body: string[] = [];
    for (index += 1; index < lines.length && !/^\s*```\s*$/.test(lines[index] ?? ''); index += 1) body.push(lines[index] ?? '');
    blocks.push({ info: open[1] ?? '', body: body.join('\n'), line: start + 1 });
  }
  return blocks;
}

const blocks = files.flatMap((file) => fencedBlocks(readFileSync(join(root, file), 'utf8')).map((block) => ({ file, ...block })));

describe('JSON in the docs', () => {
  it('has no jsonc blocks (readers paste them into .json files)', () => {
    expect(blocks.filter((block) => block.info.startsWith('jsonc')).map((block) => `${block.file}:${block.line}`)).toEqual([]);
  });

  it.each(blocks.filter((block) => block.info === 'json').map((block) => [`${block.file}:${block.line}`, block] as const))(
    '%s is valid JSON',
    (_where, block) => {
      expect(() => JSON.parse(block.body) as unknown).not.toThrow();
    },
  );

  it('the deploy chapter’s config passes the deployment config schema', () => {
    const configs = blocks.filter((block) => block.file === 'docs/deploy.md' && block.info === 'json' && block.body.includes('"parties"'));
    expect(configs.length).toBeGreaterThan(0);
    for (const block of configs) expect(() => parseDeploymentConfig(JSON.parse(block.body), `${block.file}:${block.line}`)).not.toThrow();
  });
});

describe('references a user can follow', () => {
  // A user got "as DESIGN.md allows" on stderr; no DESIGN.md ships in this repository.
  it('no shipped code or doc cites DESIGN.md', () => {
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
        const path = `${dir}/${entry.name}`;
        if (entry.isDirectory()) walk(path);
        else if (/\.(ts|mjs|js|md)$/.test(entry.name) && readFileSync(join(root, path), 'utf8').includes('DESIGN.md')) offenders.push(path);
      }
    };
    for (const dir of ['lib', 'cdk', 'bin', 'functions', 'docs', 'scripts']) walk(dir);
    if (readFileSync(join(root, 'README.md'), 'utf8').includes('DESIGN.md')) offenders.push('README.md');
    expect(offenders).toEqual([]);
  });
});
