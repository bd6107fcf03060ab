import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const LIBRARY = resolve('dist/lib/index.js');

/** A resolve hook that answers as Node does for a package that is not installed. */
const HIDE_SWAGGER = `
export async function resolve(specifier, context, next) {
  if (specifier === '@nestjs/swagger' || specifier.startsWith('@nestjs/swagger/')) {
    const error = new Error(\`Cannot find package '\${specifier}'\`);
    error.code = 'ERR_MODULE_NOT_FOUND';
    throw error;
  }
  return next(specifier, context);
}
`;

/** Loads the built library in a Node process where @nestjs/swagger cannot be found. */
const PROBE = `
const lib = await import(${JSON.stringify(pathToFileURL(LIBRARY).href)});
console.log('loaded:' + typeof lib.ApiKeyModule + ',' + typeof lib.KeybridgeSwagger);
try {
  await lib.KeybridgeSwagger.createDocument({}, {});
} catch (error) {
  console.log(error.name + ': ' + error.message);
}
`;

describe('@nestjs/swagger as an optional peer dependency', () => {
  it('leaves the library loadable without it, and names the package when a document is asked for', async () => {
    if (!existsSync(LIBRARY))
      throw new Error(`${LIBRARY} is missing: run \`npm run build\` (npm test does).`);
    const dir = mkdtempSync(join(tmpdir(), 'keybridge-no-swagger-'));
    writeFileSync(join(dir, 'hooks.mjs'), HIDE_SWAGGER);
    writeFileSync(
      join(dir, 'register.mjs'),
      `import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n`,
    );
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', pathToFileURL(join(dir, 'register.mjs')).href, '--input-type=module', '-e', PROBE],
      { env: { ...process.env, NODE_OPTIONS: '' } },
    );
    expect(stdout).toContain('loaded:function,function');
    expect(stdout).toContain('InvalidOptionsError');
    expect(stdout).toContain('needs @nestjs/swagger: run `npm install @nestjs/swagger`');
  });
});
