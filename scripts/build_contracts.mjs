#!/usr/bin/env node
// Compile contracts/**/*.sol with solcjs (standard JSON input) and write one JSON file per
// deployable contract (ABI, bytecode, deployedBytecode) into src/hexavatar/chain/build/.
//
//   node scripts/build_contracts.mjs           rebuild and write the files
//   node scripts/build_contracts.mjs --check   rebuild in memory; exit 1 if the committed
//                                              files differ (CI runs this)
//
// The output is deterministic: fixed settings, sorted keys where order is ours, 2-space JSON.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const solc = require("solc");

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const CONTRACTS_DIR = path.join(ROOT, "contracts");
const BUILD_DIR = path.join(ROOT, "src", "hexavatar", "chain", "build");
const NODE_MODULES = path.join(ROOT, "node_modules");

const SETTINGS = {
  evmVersion: "cancun",
  optimizer: { enabled: true, runs: 10000 },
  outputSelection: {
    "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] },
  },
};

function listSources(dir) {
  const found = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...listSources(full));
    else if (entry.name.endsWith(".sol")) found.push(full);
  }
  return found.sort();
}

function sourceUnitName(file) {
  return path.relative(ROOT, file).split(path.sep).join("/");
}

function findImports(importPath) {
  const candidates = [path.join(ROOT, importPath), path.join(NODE_MODULES, importPath)];
  for (const candidate of candidates) {
    if (fs.existsSync(candidate)) return { contents: fs.readFileSync(candidate, "utf8") };
  }
  return { error: `import not found: ${importPath}` };
}

function compile() {
  const sources = {};
  for (const file of listSources(CONTRACTS_DIR)) {
    sources[sourceUnitName(file)] = { content: fs.readFileSync(file, "utf8") };
  }
  const input = { language: "Solidity", sources, settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  const problems = (output.errors ?? []).filter((e) => e.severity === "error");
  for (const e of output.errors ?? []) {
    if (e.severity !== "error") process.stderr.write(`${e.formattedMessage}\n`);
  }
  if (problems.length > 0) {
    for (const e of problems) process.stderr.write(`${e.formattedMessage}\n`);
    process.exit(2);
  }
  return { output, ownSources: Object.keys(sources) };
}

function artifacts({ output, ownSources }) {
  const files = new Map();
  for (const sourceName of ownSources) {
    const contracts = output.contracts[sourceName] ?? {};
    for (const name of Object.keys(contracts).sort()) {
      const c = contracts[name];
      if (!c.evm.bytecode.object) continue; // abstract contracts and interfaces
      const fileName = `${name}.json`;
      if (files.has(fileName)) {
        process.stderr.write(`two contracts are named ${name}; names must be unique\n`);
        process.exit(2);
      }
      const artifact = {
        contractName: name,
        sourceName,
        compiler: { solc: solc.version(), settings: { evmVersion: SETTINGS.evmVersion, optimizer: SETTINGS.optimizer } },
        abi: c.abi,
        bytecode: `0x${c.evm.bytecode.object}`,
        deployedBytecode: `0x${c.evm.deployedBytecode.object}`,
      };
      files.set(fileName, `${JSON.stringify(artifact, null, 2)}\n`);
    }
  }
  return files;
}

function existing() {
  const files = new Map();
  if (!fs.existsSync(BUILD_DIR)) return files;
  for (const name of fs.readdirSync(BUILD_DIR).sort()) {
    if (name.endsWith(".json")) files.set(name, fs.readFileSync(path.join(BUILD_DIR, name), "utf8"));
  }
  return files;
}

function check(built) {
  const committed = existing();
  const stale = [];
  for (const [name, text] of built) {
    if (committed.get(name) !== text) stale.push(`${name}: differs from a fresh build`);
  }
  for (const name of committed.keys()) {
    if (!built.has(name)) stale.push(`${name}: no contract of that name in contracts/`);
  }
  if (stale.length > 0) {
    process.stderr.write(`contract build output is stale (run: node scripts/build_contracts.mjs):\n`);
    for (const line of stale) process.stderr.write(`  ${line}\n`);
    process.exit(1);
  }
  process.stdout.write(`contract build output is up to date (${built.size} contracts, solc ${solc.version()})\n`);
}

function write(built) {
  fs.mkdirSync(BUILD_DIR, { recursive: true });
  for (const name of existing().keys()) {
    if (!built.has(name)) fs.unlinkSync(path.join(BUILD_DIR, name));
  }
  for (const [name, text] of built) fs.writeFileSync(path.join(BUILD_DIR, name), text);
  process.stdout.write(`wrote ${built.size} contracts to ${path.relative(ROOT, BUILD_DIR)}\n`);
}

const built = artifacts(compile());
if (process.argv.includes("--check")) check(built);
else write(built);
