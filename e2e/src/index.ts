export { E2E_SUITES, NOT_YET, runE2e } from './e2e-run.ts';
