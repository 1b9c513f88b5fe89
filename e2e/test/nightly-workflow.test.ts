/**
 * The nightly GitHub Actions workflow (.github/workflows/nightly.yml), read as data and by actionlint:
 * it runs nightly and on demand, calls only make targets the Makefile has — `make e2e CLUSTER=kind`, the
 * command a user runs — uploads results/ whatever happens, and is bounded in time and one run at a time.
 * actionlint (pinned, scripts/tools.sh actionlint) accepts it and rejects a broken copy, naming what broke.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { toolPath } from '@skewless/testbed';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const repoRoot = resolve(import.meta.dirname, '..', '..');
const WORKFLOW = join(repoRoot, '.github', 'workflows', 'nightly.yml');
const text = readFileSync(WORKFLOW, 'utf8');

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Workflow {
  on: {
    schedule?: { cron: string }[];
    workflow_dispatch?: { inputs?: Record<string, { required?: boolean; type?: string }> };
    [trigger: string]: unknown;
  };
  concurrency?: { group?: string };
  jobs: Record<string, { 'runs-on': string; 'timeout-minutes'?: number; steps: Step[] }>;
}

// `on:` is a YAML 1.1 boolean in some parsers; the yaml package reads YAML 1.2, where it is a plain key.
const workflow = parse(text) as Workflow;
const steps = Object.values(workflow.jobs).flatMap((job) => job.steps);

/** The Makefile's targets: every `name:` rule at the start of a line (not variables, not special targets). */
function makeTargets(): Set<string> {
  const makefile = readFileSync(join(repoRoot, 'Makefile'), 'utf8');
  return new Set([...makefile.matchAll(/^([a-z0-9][a-z0-9-]*)\s*:(?!=)/gm)].map((m) => m[1] ?? ''));
}

/** Every `make <target> …` command in the steps' shell lines. */
function makeCommands(): { target: string; line: string }[] {
  return steps.flatMap((step) =>
    [...(step.run ?? '').matchAll(/(?:^|[\s;&|(])make\s+(?:-\S+\s+)*([a-z0-9][a-z0-9-]*)([^\n;&|]*)/g)].map((m) => ({
      target: m[1] ?? '',
      line: `make ${m[1]}${m[2] ?? ''}`.trim(),
    })),
  );
}

describe('nightly workflow', () => {
  it('runs on a nightly schedule and on demand, with an optional scenario input', () => {
    expect(Object.keys(workflow.on).sort()).toEqual(['schedule', 'workflow_dispatch']);
    const crons = workflow.on.schedule?.map((s) => s.cron) ?? [];
    expect(crons).toHaveLength(1);
    // Once a day: a fixed minute and hour, every day of every month.
    expect(crons[0]).toMatch(/^\d{1,2} \d{1,2} \* \* \*$/);
    expect(workflow.on.workflow_dispatch?.inputs?.scenario).toMatchObject({ required: false, type: 'string' });
  });

  it('calls only make targets the Makefile has', () => {
    const targets = makeTargets();
    expect(targets.has('e2e')).toBe(true);
    const commands = makeCommands();
    expect(commands.length).toBeGreaterThan(0);
    for (const command of commands)
      expect(targets, `${command.line}: no such Makefile target`).toContain(command.target);
  });

  it('runs `make e2e CLUSTER=kind`, the command a user runs, passing the scenario input through', () => {
    const e2e = makeCommands().filter((c) => c.target === 'e2e');
    expect(e2e).toHaveLength(1);
    expect(e2e[0]?.line).toMatch(/^make e2e CLUSTER=kind(\s|$)/);
    expect(e2e[0]?.line).toContain('SCENARIO="$SCENARIO"');
    const step = steps.find((s) => s.run?.includes('make e2e'));
    // Through the environment, not spliced into the shell line: an input is never run as code.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub Actions expression, not a template
    expect(step?.env?.SCENARIO).toBe('${{ inputs.scenario }}');
    expect(step?.run).not.toContain('${{');
  });

  it('hands CLUSTER to the e2e command in the Makefile, so CLUSTER=kind is what runs', () => {
    const makefile = readFileSync(join(repoRoot, 'Makefile'), 'utf8');
    // The rule up to the next blank line: recipe lines, and any ifeq/else around them.
    const rule = /^e2e:.*\n((?:.+\n)+)/m.exec(makefile)?.[1] ?? '';
    const commands = rule.split('\n').filter((line) => line.startsWith('\t'));
    expect(commands.length).toBeGreaterThan(0);
    expect(commands.some((line) => / e2e\b.*--cluster[ =].*\$\(CLUSTER\)/.test(line))).toBe(true);
  });

  it('uploads results/ after the e2e step, whether it passed or not', () => {
    const e2eAt = steps.findIndex((s) => s.run?.includes('make e2e'));
    const uploadAt = steps.findIndex((s) => s.uses?.startsWith('actions/upload-artifact@'));
    expect(uploadAt).toBeGreaterThan(e2eAt);
    const upload = steps[uploadAt];
    expect(upload?.uses).toMatch(/^actions\/upload-artifact@v\d+$/);
    expect(upload?.if).toBe('always()');
    expect(upload?.with?.path).toBe('results/');
  });

  it('is bounded in time and runs one at a time', () => {
    for (const job of Object.values(workflow.jobs)) {
      expect(job['runs-on']).toMatch(/^ubuntu-/);
      expect(job['timeout-minutes']).toBeGreaterThan(0);
      expect(job['timeout-minutes']).toBeLessThanOrEqual(360);
    }
    expect(workflow.concurrency?.group).toMatch(/^nightly-/);
  });
});

describe('actionlint on the nightly workflow', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skewless-actionlint-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function actionlint(file: string) {
    const result = spawnSync(toolPath('actionlint'), ['-no-color', '-oneline', file], { encoding: 'utf8' });
    return { code: result.status, out: `${result.stdout}${result.stderr}` };
  }

  it('accepts it', () => {
    const result = actionlint(WORKFLOW);
    expect(result.out).toBe('');
    expect(result.code).toBe(0);
  });

  const breakages = [
    {
      what: 'a misspelled job key',
      change: (t: string) => t.replace('timeout-minutes:', 'timeout-minute:'),
      message: /unexpected key "timeout-minute" for "job"/,
    },
    {
      what: 'an impossible cron schedule',
      change: (t: string) => t.replace(/cron: '[^']+'/, "cron: '61 2 * * *'"),
      message: /invalid CRON format "61 2 \* \* \*"/,
    },
    {
      what: 'an input that does not exist',
      change: (t: string) => t.replace('inputs.scenario }}', 'inputs.scenarios }}'),
      message: /property "scenarios" is not defined/,
    },
  ];
  for (const b of breakages) {
    it(`rejects a copy with ${b.what}, saying what is wrong`, () => {
      const broken = b.change(text);
      expect(broken).not.toBe(text);
      const file = join(dir, `${b.what.replaceAll(' ', '-')}.yml`);
      writeFileSync(file, broken);
      const result = actionlint(file);
      expect(result.code).toBe(1);
      expect(result.out).toMatch(b.message);
    });
  }
});
