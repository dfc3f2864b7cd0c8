/**
 * The layers of drumbeat and the one direction between them (see ARCHITECTURE.md). An area is
 * a folder directly under `src/`, or `queues/`, or `processors/`. The areas below are listed
 * lowest first; an area may import only areas listed before it, so no two areas can import
 * each other, directly or through others. Type-only imports count (`tsPreCompilationDeps`).
 * Run by `npm run lint:deps` and `npm test`.
 */
const layers = [
  { layer: 'core', areas: ['src/core'] },
  { layer: 'infrastructure', areas: ['src/config', 'src/log', 'src/db', 'src/redis', 'src/jobs'] },
  { layer: 'queues', areas: ['queues'] },
  {
    layer: 'domain',
    areas: [
      'src/segments',
      'src/enrollments',
      'src/settings',
      'src/operators',
      'src/channels',
      'src/metrics',
      'src/delivery',
      'src/templates',
      'src/campaigns',
      'src/suppression',
      'src/messages',
      'src/leads',
      'src/events',
      'src/content',
      'src/llm',
      'src/review',
      'src/analytics',
      'src/preflight',
      'src/orchestration',
      'src/maintenance',
      'src/audit',
    ],
  },
  { layer: 'edges', areas: ['processors', 'src/http'] },
  { layer: 'composition root', areas: ['src/runtime'] },
  { layer: 'cli', areas: ['src/cli'] },
];

const ordered = layers.flatMap(({ layer, areas }) => areas.map((area) => ({ layer, area })));
const escapeRegExp = (path) => path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const under = (areas) => `^(${areas.map(escapeRegExp).join('|')})/`;

/** One rule per area: it may not import an area listed after it. */
const upwardImports = ordered.slice(0, -1).map(({ layer, area }, index) => ({
  name: `layers: ${area} (${layer}) imports upward`,
  comment: `${area} may import only areas below it: ${ordered.slice(0, index).map((below) => below.area).join(', ') || 'none'}.`,
  severity: 'error',
  from: { path: `^${escapeRegExp(area)}/` },
  to: { path: under(ordered.slice(index + 1).map((above) => above.area)) },
}));

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'core-imports-nothing-of-the-app',
      comment: 'src/core is vocabulary and leaf utilities: it imports nothing of the app.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: '^(src|queues|processors)/', pathNot: '^src/core/' },
    },
    {
      name: 'queues-import-only-jobs-and-core',
      comment: 'A queue file is a definition: it imports only the job infrastructure (src/jobs) and src/core.',
      severity: 'error',
      from: { path: '^queues/' },
      to: { path: '^(src|processors)/', pathNot: '^src/(jobs|core)/' },
    },
    {
      name: 'no-circular',
      comment: 'No module imports itself through others.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...upwardImports,
  ],
  options: {
    includeOnly: '^(src|queues|processors)/',
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js', '.mjs'] },
  },
};
