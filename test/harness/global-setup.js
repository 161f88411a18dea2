// Jest globalSetup: one temporary folder per test run, under the TMPDIR the run was started with.
// Every worker inherits it as its TMPDIR, so whatever tests write to os.tmpdir() (synth output,
// terraform work folders and results, npm pack) lands there: two runs, or two checkouts, never share
// a folder, and global-teardown.js removes it (set MLOPS_KEEP_TMP=1 to keep it for a post-mortem).
const fs = require('fs');
const os = require('os');
const path = require('path');

module.exports = async function globalSetup() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-test-run-'));
  process.env.MLOPS_TEST_RUN_DIR = dir;
  process.env.TMPDIR = dir;
  process.env.TMP = dir;
  process.env.TEMP = dir;
};
