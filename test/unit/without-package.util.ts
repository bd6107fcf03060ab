import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

/** The built library, as an app installs it. */
export const BUILT_LIBRARY_URL = pathToFileURL(resolve('dist/lib/index.js')).href;

/** A resolve hook that answers as Node does for a package that is not installed. */
function hideHook(name: string): string {
  return `
export async function resolve(specifier, context, next) {
  if (specifier === ${JSON.stringify(name)} || specifier.startsWith(${JSON.stringify(`${name}/`)})) {
    const error = new Error(\`Cannot find package '\${specifier}'\`);
    error.code = 'ERR_MODULE_NOT_FOUND';
    throw error;
  }
  return next(specifier, context);
}
`;
}

/** Runs the ES module `probe` in a Node process where the package `name` cannot be found; its stdout. */
export async function runWithoutPackage(name: string, probe: string): Promise<string> {
  const library = resolve('dist/lib/index.js');
  if (!existsSync(library)) throw new Error(`${library} is missing: run \`npm run build\` (npm test does).`);
  const dir = mkdtempSync(join(tmpdir(), 'keybridge-without-package-'));
  writeFileSync(join(dir, 'hooks.mjs'), hideHook(name));
  writeFileSync(
    join(dir, 'register.mjs'),
    `import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n`,
  );
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', pathToFileURL(join(dir, 'register.mjs')).href, '--input-type=module', '-e', probe],
    { env: { ...process.env, NODE_OPTIONS: '' } },
  );
  return stdout;
}
