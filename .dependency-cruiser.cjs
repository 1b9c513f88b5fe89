/**
 * Import cycles and package boundaries, checked by `make test` (npm run deps).
 * The layering: shared ← control-plane, client ← testbed ← load ← e2e ← cli.
 */
const pkg = (name) => `^(${name})/`;

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'shared-stands-alone',
      comment: 'shared is the bottom layer: it imports no other workspace package.',
      severity: 'error',
      from: { path: pkg('shared') },
      to: { path: pkg('control-plane|client|testbed|load|e2e|cli') },
    },
    {
      name: 'control-plane-not-client',
      comment: 'The control plane and the client meet only on the wire (xDS) and in shared.',
      severity: 'error',
      from: { path: '^control-plane/src/' },
      to: { path: pkg('client|testbed|load|e2e|cli') },
    },
    {
      name: 'client-not-control-plane',
      comment: 'The client library ships without the control plane; only its tests start one.',
      severity: 'error',
      from: { path: '^client/src/' },
      to: { path: pkg('control-plane|testbed|load|e2e|cli') },
    },
    {
      name: 'protocol-apart-from-kubernetes',
      comment: 'The xDS code never touches Kubernetes; the Kubernetes code never touches gRPC.',
      severity: 'error',
      from: { path: '^control-plane/src/xds-' },
      to: { path: '(^control-plane/src/kube-|@kubernetes/client-node)' },
    },
    {
      name: 'kubernetes-apart-from-protocol',
      severity: 'error',
      from: { path: '^control-plane/src/(kube-|translate-slices)' },
      to: { path: '(^control-plane/src/xds-|@grpc/)' },
    },
    {
      name: 'translation-is-pure',
      comment: 'translate-*.ts are pure functions: no I/O modules.',
      severity: 'error',
      from: { path: '^control-plane/src/translate-' },
      to: { path: '^(node:)?(fs|net|http|http2|child_process|dgram)$|@grpc/grpc-js$|@kubernetes/client-node' },
    },
    {
      name: 'generated-through-shared',
      comment: 'Generated proto types are reached through shared, never by deep relative paths from other packages.',
      severity: 'error',
      from: { pathNot: '^shared/' },
      to: { path: '^shared/src/generated/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)src/generated/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'node', 'default'] },
    combinedDependencies: true,
    reporterOptions: { text: { highlightFocused: true } },
  },
};
