// Install step (package.json "postinstall"; the Dockerfile runs it after copying the sources):
// runs PGlite's initdb once into node_modules/.cache/vigil-pglite-template/, so that a first
// `vigil start` copies a store instead of running initdb (docs/decisions/0300). Never fails the
// install: without a template Vigil still works, its first start is only slower.
//   node platform/embedded/prepare-store-template.ts
import { embeddedStartParams } from './pglite-database.ts';
import { prepareStoreTemplate } from './store-creation.ts';

const started = performance.now();
try {
  const template = await prepareStoreTemplate(embeddedStartParams());
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(
    template.created
      ? `vigil: embedded store template for PGlite ${template.pgliteVersion} created in ${template.dir} (${seconds} s)`
      : `vigil: embedded store template for PGlite ${template.pgliteVersion} already in ${template.dir}`,
  );
} catch (error) {
  console.warn(
    `vigil: could not prepare the embedded store template (${error instanceof Error ? error.message : String(error)}); ` +
      'a first `vigil start` will run initdb instead (a few seconds slower)',
  );
}
