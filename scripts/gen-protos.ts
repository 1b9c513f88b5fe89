/**
 * Regenerates shared/src/generated/ (TypeScript types for the xDS protos) with proto-loader-gen-types,
 * from the same .proto files and loader options the runtime uses.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { PROTO_FILES, PROTO_INCLUDE_DIRS } from '../shared/src/xds-protos.ts';

const require = createRequire(import.meta.url);
const root = path.resolve(import.meta.dirname, '..');
const out = path.join(root, 'shared/src/generated');
const generator = path.join(
  path.dirname(require.resolve('@grpc/proto-loader/package.json')),
  'build/bin/proto-loader-gen-types.js',
);

rmSync(out, { recursive: true, force: true });
const args = [
  generator,
  '--keepCase',
  '--longs=String',
  '--enums=String',
  '--defaults',
  '--oneofs',
  '--includeComments=false',
  '--grpcLib=@grpc/grpc-js',
  ...PROTO_INCLUDE_DIRS.flatMap((dir) => ['-I', path.relative(root, dir)]),
  '-O',
  path.relative(root, out),
  ...PROTO_FILES,
];
execFileSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
console.log(`regenerated ${path.relative(root, out)}`);
