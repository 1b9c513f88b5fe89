/** Flags over env over defaults, and every problem named by where its value came from. */
import { describe, expect, it } from 'vitest';
import { loadConfig, parseLoadConfig } from '../src/index.ts';

const SKEWLESS_ENV = {
  LOAD_TARGET: 'skewless:///skewless/echo:50051',
  SKEWLESS_CONTROL_PLANE: '10.96.0.20:18000',
  POD_NAME: 'load-0',
  ZONE: 'zone-a',
};

describe('parseLoadConfig', () => {
  it('reads a pod environment, with defaults for the rest', () => {
    const result = parseLoadConfig({ env: SKEWLESS_ENV });
    expect(result).toEqual({
      ok: true,
      config: {
        mode: 'skewless',
        target: 'skewless:///skewless/echo:50051',
        controlPlane: '10.96.0.20:18000',
        zone: 'zone-a',
        strategy: undefined,
        channels: 1,
        rate: 100,
        durationS: 10,
        deadlineMs: 2000,
        delayMs: 0,
        maxInFlight: 1000,
        warmupS: 0,
        waitReadyS: 30,
        logLevel: 'info',
        client: 'load-0',
        expectedPods: undefined,
      },
    });
  });

  it('lets flags win over env, and treats an empty env variable as unset', () => {
    const result = parseLoadConfig({
      env: { ...SKEWLESS_ENV, LOAD_RATE: '5', LOAD_CHANNELS: '' },
      flags: { rate: '250', mode: 'round-robin', target: 'dns:///echo-headless.skewless.svc.cluster.local:50051' },
    });
    expect(result.ok && result.config).toMatchObject({
      mode: 'round-robin',
      rate: 250,
      channels: 1,
      target: 'dns:///echo-headless.skewless.svc.cluster.local:50051',
    });
  });

  it('lists every problem at once, each under the flag or variable it came from', () => {
    const result = parseLoadConfig({
      env: { LOAD_RATE: 'fast', LOAD_CHANNELS: '0', LOAD_MODE: 'skewless' },
      flags: { durationS: '5000', deadlineMs: '1.5', logLevel: 'loud' },
    });
    expect(result.ok).toBe(false);
    const problems = result.ok ? [] : result.problems;
    expect(problems.map((p) => p.path).sort()).toEqual(
      [
        '--control-plane / SKEWLESS_CONTROL_PLANE',
        '--deadline-ms',
        '--duration-s',
        '--log-level',
        '--target / LOAD_TARGET',
        'LOAD_CHANNELS',
        'LOAD_RATE',
      ].sort(),
    );
    expect(problems.find((p) => p.path === 'LOAD_RATE')?.message).toBe('expected a number (got "fast")');
    expect(problems.find((p) => p.path === '--target / LOAD_TARGET')?.message).toBe('required');
    expect(problems.find((p) => p.path.startsWith('--control-plane'))?.message).toBe('required in skewless mode');
  });

  it('passes a strategy through in skewless mode and refuses one in the baseline modes', () => {
    const ours = parseLoadConfig({ env: { ...SKEWLESS_ENV, LOAD_STRATEGY: 'round-robin' } });
    expect(ours.ok && ours.config.strategy).toBe('round-robin');
    const baseline = parseLoadConfig({
      env: {},
      flags: { mode: 'pick-first', target: '10.96.0.30:50051', strategy: 'p2c' },
    });
    expect(baseline.ok ? [] : baseline.problems).toEqual([
      { path: '--strategy', message: 'only skewless mode has strategies (pick-first is grpc-js\'s own) (got "p2c")' },
    ]);
  });

  it('rejects a bad rate and a missing control plane in skewless mode together', () => {
    const result = parseLoadConfig({
      env: {},
      flags: { target: 'skewless:///skewless/echo:50051', rate: '-3' },
    });
    expect(result.ok ? [] : result.problems.map((p) => p.path)).toEqual([
      '--rate',
      '--control-plane / SKEWLESS_CONTROL_PLANE',
    ]);
  });

  it('keeps skewless targets and skewless mode together', () => {
    const plain = parseLoadConfig({ env: { ...SKEWLESS_ENV, LOAD_TARGET: '10.96.12.34:50051' } });
    expect(plain.ok ? [] : plain.problems).toEqual([
      {
        path: 'LOAD_TARGET',
        message: 'skewless mode needs a skewless:///<namespace>/<service>:<port> target (got "10.96.12.34:50051")',
      },
    ]);
    const baseline = parseLoadConfig({ env: { ...SKEWLESS_ENV, LOAD_MODE: 'pick-first' } });
    expect(baseline.ok ? [] : baseline.problems.map((p) => p.path)).toEqual(['LOAD_TARGET']);
  });

  it('needs no control plane outside skewless mode', () => {
    const result = parseLoadConfig({ env: { LOAD_MODE: 'pick-first', LOAD_TARGET: '10.96.12.34:50051' } });
    expect(result.ok && result.config.controlPlane).toBeUndefined();
  });
});

describe('loadConfig', () => {
  it('applies defaults under the given values', () => {
    const config = loadConfig({ mode: 'round-robin', target: 'ipv4:127.0.0.1:1', rate: 50, expectedPods: ['p'] });
    expect(config).toMatchObject({ rate: 50, durationS: 10, channels: 1, expectedPods: ['p'] });
  });

  it('throws listing every problem', () => {
    expect(() => loadConfig({ mode: 'skewless', target: 'ipv4:127.0.0.1:1', rate: 0 })).toThrow(
      /rate: .*\n.*controlPlane: required in skewless mode\n.*target: skewless mode needs/,
    );
  });
});
