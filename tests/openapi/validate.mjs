// Validates an OpenAPI document (default: ops/openapi.json) against the official
// OpenAPI 3.1 JSON schemas, every $ref resolved. Prints "valid" and exits 0, or
// prints the errors and exits 1. `node tests/openapi/validate.mjs [file]`.
import { Validator } from "@seriousme/openapi-schema-validator";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const file = process.argv[2] || path.join(here, "..", "..", "ops", "openapi.json");
const validator = new Validator();
const res = await validator.validate(file);
if (res.valid && validator.version === "3.1") {
  console.log(`valid OpenAPI ${validator.version}: ${file}`);
  process.exit(0);
}
console.log(JSON.stringify({ version: validator.version, errors: res.errors }, null, 1));
process.exit(1);
