// The house plan as rules (docs/architecture.md): every import points down, and no circles.
// `npm run lint` runs this after eslint, so CI fails on a wrong import or a cycle.
//
//   cli (commands; cli/start/ is the composition root)       → everything below
//   api (control plane)                                      → domain, platform, schemas
//   ingest | triggers | actions | history (domain, siblings) → platform, schemas
//   platform (ports, adapters, http basics, config, logging)   → schemas
//   schemas                                                  → nothing of ours
// sdk (clients) and console/ (the web console) → schemas only. Tests and benchmarks may import anything; nothing imports them.
const domainNames = 'ingest|triggers|actions|history';
const adapters = '(kafka|postgres|bullmq|embedded)';
const notTest = '\\.test\\.ts$';

/** A forbidden import: from files matching `from` (tests excepted unless said) to files matching `to`. */
function forbid(name, comment, from, to, options = {}) {
  return {
    name,
    severity: 'error',
    comment,
    from: { path: from, ...(options.testsToo ? {} : { pathNot: notTest }) },
    to: { path: to, ...(options.toNot ? { pathNot: options.toNot } : {}) },
  };
}

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'A circle of imports: split the module so that one side only points down.', from: {}, to: { circular: true } },
    forbid('schemas-import-nothing-of-ours', 'schemas/ is the bottom floor: zod schemas and their syntax checks only.', '^schemas/', `^(platform|${domainNames}|api|cli|sdk|test|bench)/`),
    forbid('platform-below-the-domain', 'platform/ holds ports, adapters and shared basics; it must not know the domain or what runs it.', '^platform/', `^(${domainNames}|api|cli|sdk|test|bench)/`),
    forbid('ports-know-no-adapter', 'A port is what the domain sees; the adapters implement it.', '^platform/(ports|http)/', `^platform/${adapters}/`, { testsToo: true }),
    forbid('adapters-are-independent', 'One adapter does not reach into another (the composition root picks them).', `^platform/${adapters}/`, `^platform/${adapters}/`, { toNot: '^platform/$1/' }),
    forbid('domain-folders-are-siblings', 'ingest, triggers, actions and history meet only through schemas/ and the ports.', `^(${domainNames})/`, `^(${domainNames})/`, { toNot: '^$1/' }),
    forbid('domain-below-api-and-cli', 'The domain does not know what serves or runs it.', `^(${domainNames})/`, '^(api|cli|sdk|test|bench)/'),
    forbid('api-below-cli', 'The control plane does not know the process wiring.', '^api/', '^(cli|sdk|test|bench)/'),
    forbid('sdk-uses-schemas-only', 'The client library ships apart from the server: it shares the schemas, nothing else.', '^sdk/', `^(platform|${domainNames}|api|cli|test|bench)/`),
    forbid('console-uses-schemas-only', 'The web console runs in the browser and talks to the public API only: it shares the schemas (types, JSON Schema), nothing else.', '^console/', `^(platform|${domainNames}|api|cli|sdk|test|bench)/`),
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
