/** The official MCP Registry schemas vendored in test/fixtures/mcp-registry, compiled with ajv as they are. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsImport from 'ajv-formats';
import { SERVER_SCHEMA_URL } from '../../src/catalog/registry.ts';

export const REGISTRY_FIXTURES = join(import.meta.dirname, '../fixtures/mcp-registry');
const readJson = (file: string) => JSON.parse(readFileSync(join(REGISTRY_FIXTURES, file), 'utf8'));
const addFormats = addFormatsImport as unknown as (ajv: Ajv) => Ajv;
const API = 'https://mcp-operator.invalid/schemas/registry-api.schema.json';

/** strict off: the official schema carries OpenAPI's `example` keyword, which draft-07 does not define. */
export function registryValidators(): Record<'server' | 'list' | 'response' | 'error', ValidateFunction> {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(readJson('server.schema.json'));
  ajv.addSchema(readJson('registry-api.schema.json'));
  const get = (ref: string) => {
    const fn = ajv.getSchema(ref);
    if (!fn) throw new Error(`no schema ${ref}`);
    return fn;
  };
  return {
    server: get(SERVER_SCHEMA_URL),
    list: get(`${API}#/definitions/ServerList`),
    response: get(`${API}#/definitions/ServerResponse`),
    error: get(`${API}#/definitions/Error`),
  };
}
