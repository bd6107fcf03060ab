import { BUILT_LIBRARY_URL, runWithoutPackage } from '../without-package.util.js';

/** Loads the built library in a Node process where @nestjs/swagger cannot be found. */
const PROBE = `
const lib = await import(${JSON.stringify(BUILT_LIBRARY_URL)});
console.log('loaded:' + typeof lib.ApiKeyModule + ',' + typeof lib.KeybridgeSwagger);
try {
  await lib.KeybridgeSwagger.createDocument({}, {});
} catch (error) {
  console.log(error.name + ': ' + error.message);
}
`;

describe('@nestjs/swagger as an optional peer dependency', () => {
  it('leaves the library loadable without it, and names the package when a document is asked for', async () => {
    const stdout = await runWithoutPackage('@nestjs/swagger', PROBE);
    expect(stdout).toContain('loaded:function,function');
    expect(stdout).toContain('InvalidOptionsError');
    expect(stdout).toContain('needs @nestjs/swagger: run `npm install @nestjs/swagger`');
  });
});
