import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DynamicModule, Type } from '@nestjs/common';

/** Where the app's root module is, and who said so (for the error messages). */
export interface AppModuleReference {
  file: string;
  exportName: string | undefined;
  source: string;
}

/** Why the app module could not be found or loaded: exit code 1, with this message only. */
export class ModuleLoadError extends Error {}

const HOW_TO_NAME_IT =
  'Name the compiled module that imports ApiKeyModule with --module dist/app.module.js, KEYBRIDGE_MODULE, or ' +
  '"keybridge": { "module": "dist/app.module.js" } in package.json.';

/** `--module`, else `KEYBRIDGE_MODULE`, else the `keybridge` field of the nearest package.json. */
export function locateAppModule(
  flag: string | undefined,
  env: NodeJS.ProcessEnv,
  cwd: string,
): AppModuleReference {
  if (flag) return { ...splitReference(flag, cwd), source: '--module' };
  if (env.KEYBRIDGE_MODULE)
    return { ...splitReference(env.KEYBRIDGE_MODULE, cwd), source: 'KEYBRIDGE_MODULE' };
  const manifest = nearestPackageJson(cwd);
  if (manifest) {
    const field = keybridgeFieldOf(manifest);
    if (field !== undefined) {
      const { module, export: exportName } = (field ?? {}) as { module?: unknown; export?: unknown };
      if (typeof module !== 'string' || (exportName !== undefined && typeof exportName !== 'string')) {
        throw new ModuleLoadError(
          `The "keybridge" field of ${manifest} must be { "module": "<file>", "export"?: "<name>" }.`,
        );
      }
      return { file: resolve(dirname(manifest), module), exportName, source: manifest };
    }
  }
  throw new ModuleLoadError(`No app module given. ${HOW_TO_NAME_IT}`);
}

/**
 * Imports the file and picks the module: the named export, else `default`, else `AppModule`, else the only
 * export that is a class or a dynamic module. A dynamic module (`AppModule.forRoot(…)`, possibly awaited at
 * the top level of the file) is as good as a class.
 */
export async function loadAppModule(reference: AppModuleReference): Promise<Type | DynamicModule> {
  const { file, exportName, source } = reference;
  if (!existsSync(file)) {
    throw new ModuleLoadError(`The app module ${file} (from ${source}) does not exist: build the app first?`);
  }
  let exports: Record<string, unknown>;
  try {
    exports = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    throw new ModuleLoadError(`Could not load ${file}: ${(error as Error)?.message ?? String(error)}`);
  }
  const candidates = Object.keys(exports).filter((name) => isModule(exports[name]));
  const chosen =
    exportName ??
    ['default', 'AppModule'].find((name) => candidates.includes(name)) ??
    (candidates.length === 1 ? candidates[0] : undefined);
  if (chosen === undefined) {
    throw new ModuleLoadError(
      `${file} exports ${candidates.length === 0 ? 'no Nest module' : `several modules (${candidates.join(', ')})`}: ` +
        'name the one to boot with --module <file>#<export> or "export" in the keybridge field.',
    );
  }
  if (!isModule(exports[chosen])) {
    throw new ModuleLoadError(
      `${file} has no export "${chosen}" that is a Nest module class or dynamic module.`,
    );
  }
  return exports[chosen] as Type | DynamicModule;
}

function isModule(value: unknown): boolean {
  if (typeof value === 'function') return /^class\b/.test(Function.prototype.toString.call(value));
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { module?: unknown }).module === 'function'
  );
}

/** `file#Export` relative to the working directory. */
function splitReference(text: string, cwd: string): { file: string; exportName: string | undefined } {
  const hash = text.lastIndexOf('#');
  const [file, exportName] = hash > 0 ? [text.slice(0, hash), text.slice(hash + 1)] : [text, undefined];
  return { file: resolve(cwd, file), exportName: exportName || undefined };
}

function keybridgeFieldOf(manifest: string): unknown {
  try {
    return (JSON.parse(readFileSync(manifest, 'utf8')) as { keybridge?: unknown }).keybridge;
  } catch {
    throw new ModuleLoadError(`${manifest} could not be read as JSON.`);
  }
}

function nearestPackageJson(from: string): string | undefined {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}
