// docs/openapi.yaml against the OpenAPI 3.0 schema, with
// @apidevtools/swagger-parser (a real validator: 19_api only compares the
// routes). Prints what is wrong and exits 1, or says how many paths it
// checked; the closing line counts for tools/check. A path as the
// argument validates that file instead.
import SwaggerParser from '@apidevtools/swagger-parser';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const spec = process.argv[2] || path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'openapi.yaml');
try {
  const api = await SwaggerParser.validate(spec);
  console.log(`ok   ${spec} is valid OpenAPI ${api.openapi}: ${Object.keys(api.paths).length} paths`);
  console.log('1 passed, 0 failed');
} catch (err) {
  console.log(`FAIL ${spec}: ${err.message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
