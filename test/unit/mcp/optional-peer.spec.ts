import { BUILT_LIBRARY_URL, runWithoutPackage } from '../without-package.util.js';

/** Loads the built library where the SDK cannot be found, and asks it to serve an MCP request. */
const PROBE = `
const lib = await import(${JSON.stringify(BUILT_LIBRARY_URL)});
console.log('loaded:' + typeof lib.McpToolScopes + ',' + typeof lib.serveMcp);
let built = false;
try {
  await lib.serveMcp(() => { built = true; return {}; }, { method: 'POST' }, {});
} catch (error) {
  console.log(error.name + ': ' + error.message + ' built:' + built);
}
`;

describe('@modelcontextprotocol/sdk as an optional peer dependency', () => {
  it('leaves the library loadable without it, and names the package when a request is served', async () => {
    const stdout = await runWithoutPackage('@modelcontextprotocol/sdk', PROBE);
    expect(stdout).toContain('loaded:function,function');
    expect(stdout).toContain('InvalidOptionsError');
    expect(stdout).toContain(
      'serveMcp() needs @modelcontextprotocol/sdk: run `npm install @modelcontextprotocol/sdk`.',
    );
    // Nothing is built for a request that cannot be served.
    expect(stdout).toContain('built:false');
  });
});
