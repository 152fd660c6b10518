// Folder layering, checked by `npm run lint` (dependency-cruiser). Each folder imports only from the layers below it;
// folders on the same layer are siblings and import none of each other (what two of them share moves down).
// Type-only imports count like any other (tsPreCompilationDeps).
/** Bottom to top. */
const layers = [
  ['core'],
  ['config'],
  ['platform', 'infra'],
  ['schemas'],
  ['streams'],
  ['datasets'],
  ['state'],
  ['processors', 'jobs', 'serving'],
  ['apps'],
  ['cli', 'bench', 'test/support'],
  ['test'],
];

const folderPattern = (folders) => `^(${folders.map((f) => f.replace('/', '\\/')).join('|')})/`;

// test/ is the top layer: everything under it except test/support/.
const fromPath = (folder) =>
  folder === 'test' ? { path: '^test/', pathNot: '^test/support/' } : { path: `^${folder.replace('/', '\\/')}/` };

const layerRules = layers
  .flatMap((layer, i) =>
    layer.map((folder) => {
      const above = layers.slice(i + 1).flat();
      const siblings = layer.filter((f) => f !== folder);
      // bench shares test/support's helpers (the harness, process control, reports): the one sibling import allowed.
      const forbidden = [...above, ...siblings.filter((s) => !(folder === 'bench' && s === 'test/support'))];
      const to = forbidden.includes('test')
        ? { path: folderPattern(forbidden.filter((f) => f !== 'test')), pathNot: '^test/support/' }
        : { path: folderPattern(forbidden) };
      if (forbidden.includes('test')) to.path = `${to.path.slice(0, -1)}|^test/`;
      return {
        name: `layer-${folder.replace('/', '-')}`,
        comment: `${folder}/ imports only from the layers below it (${layers.slice(0, i).flat().join(', ') || 'none'}) and itself`,
        severity: 'error',
        from: fromPath(folder),
        to,
      };
    }),
  )
  .filter((r) => r.to.path !== '^()/');

// The pure core does no I/O: no network, file or process modules of Node, and no service clients.
const ioBuiltins = [
  'fs',
  'fs/promises',
  'net',
  'http',
  'http2',
  'https',
  'child_process',
  'worker_threads',
  'dgram',
  'dns',
  'tls',
  'cluster',
];
const ioPackages = [
  'kafkajs',
  'ioredis',
  '@clickhouse/client',
  'bullmq',
  'hnswlib-node',
  'fastify',
  'pino',
  'prom-client',
  '@kafkajs/confluent-schema-registry',
  'testcontainers',
];
const escapeRegex = (s) => s.replace(/[/.@-]/g, (c) => `\\${c}`);

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'core-no-io',
      comment: 'core/ is plain synchronous logic over plain data: no I/O modules',
      severity: 'error',
      from: { path: '^core/' },
      to: {
        path: `^((node:)?(${ioBuiltins.map(escapeRegex).join('|')})|node_modules/(${ioPackages.map(escapeRegex).join('|')})/.*)$`,
      },
    },
    {
      name: 'no-circular',
      comment: 'no import cycles, between folders or between modules',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(\\.rankstream|dist|coverage)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      extensions: ['.ts', '.js', '.json'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
