// Jest globalTeardown: removes the run's temporary folder (see global-setup.js).
const fs = require('fs');

module.exports = async function globalTeardown() {
  const dir = process.env.MLOPS_TEST_RUN_DIR;
  if (!dir || process.env.MLOPS_KEEP_TMP === '1') return;
  fs.rmSync(dir, { recursive: true, force: true });
};
