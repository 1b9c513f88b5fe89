/**
 * Regenerates e2e/schema/scenario-result.schema.json from the zod schema the report validates with:
 * `node e2e/src/report/write-schema.ts`. The report test fails while the committed file differs.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { scenarioResultJsonSchema } from './scenario-result.ts';

export const SCHEMA_FILE = path.join(import.meta.dirname, '..', '..', 'schema', 'scenario-result.schema.json');

export function schemaFileText(): string {
  return `${JSON.stringify(scenarioResultJsonSchema(), null, 2)}\n`;
}

if (import.meta.main) {
  writeFileSync(SCHEMA_FILE, schemaFileText());
  process.stdout.write(`${path.relative(process.cwd(), SCHEMA_FILE)}\n`);
}
