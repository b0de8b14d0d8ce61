// The house plan as rules (docs/architecture.md): every import points down, and no circles.
// `npm run lint` runs this after eslint, so CI fails on a wrong import or a cycle.
//
//   cli (commands; cli/start/ is the composition root)       → everything below
//   api (control plane)                                      → domain, platform, schemas
//   ingest | triggers | actions | history (domain, siblings) → platform, schemas
//   platform (ports, adapters, http basics, config, logging)   → schemas
//   schemas                                                  → nothing of ours
// sdk (clients) and console/src (the web console) → schemas only. Tests and benchmarks may
// import anything; nothing imports them.
const domain = '(ingest|triggers|actions|history)';
const adapters = '(kafka|postgres|bullmq|embedded)';
const notTest = '\\.test\\.ts$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A circle of imports: split the module so that one side only points down.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'schemas-import-nothing-of-ours',
      severity: 'error',
      comment: 'schemas/ is the bottom floor: zod schemas and their syntax checks only.',
      from: { path: '^schemas/', pathNot: notTest },
      to: { path: '^(platform|ingest|triggers|actions|history|api|cli|sdk|test|bench)/' },
    },
    {
      name: 'platform-below-the-domain',
      severity: 'error',
      comment: 'platform/ holds ports, adapters and shared basics; it must not know the domain or what runs it.',
      from: { path: '^platform/', pathNot: notTest },
      to: { path: `^(${domain.slice(1, -1)}|api|cli|sdk|test|bench)/` },
    },
    {
      name: 'ports-know-no-adapter',
      severity: 'error',
      from: { path: '^platform/(ports|http)/' },
      to: { path: `^platform/${adapters}/` },
    },
    {
      name: 'adapters-are-independent',
      severity: 'error',
      comment: 'One adapter does not reach into another (the composition root picks them).',
      from: { path: `^platform/${adapters}/`, pathNot: notTest },
      to: { path: `^platform/${adapters}/`, pathNot: '^platform/$1/' },
    },
    {
      name: 'domain-folders-are-siblings',
      severity: 'error',
      comment: 'ingest, triggers, actions and history meet only through schemas/ and the ports.',
      from: { path: `^${domain}/`, pathNot: notTest },
      to: { path: `^${domain}/`, pathNot: '^$1/' },
    },
    {
      name: 'domain-below-api-and-cli',
      severity: 'error',
      from: { path: `^${domain}/`, pathNot: notTest },
      to: { path: '^(api|cli|sdk|test|bench)/' },
    },
    {
      name: 'api-below-cli',
      severity: 'error',
      from: { path: '^api/', pathNot: notTest },
      to: { path: '^(cli|sdk|test|bench)/' },
    },
    {
      name: 'sdk-uses-schemas-only',
      severity: 'error',
      comment: 'The client library ships apart from the server: it shares the schemas, nothing else.',
      from: { path: '^sdk/', pathNot: notTest },
      to: { path: `^(platform|${domain.slice(1, -1)}|api|cli|test|bench)/` },
    },
    {
      name: 'console-uses-schemas-only',
      severity: 'error',
      comment: 'The web console runs in the browser and talks to the public API only: it shares the schemas (types, JSON Schema), nothing else.',
      from: { path: '^console/' },
      to: { path: `^(platform|${domain.slice(1, -1)}|api|cli|sdk|test|bench)/` },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|\\.tools|\\.services|\\.vigil|\\.python|console/dist)/' },
    // Type-only imports count: a type is a dependency too.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.tsx', '.js', '.json'] },
  },
};
