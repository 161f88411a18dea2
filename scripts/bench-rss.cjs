// Preloaded into each benchmarked process: reports its peak resident memory when it exits.
process.on('exit', () => {
  const file = process.env.MLOPS_BENCH_RSS_FILE;
  if (file) require('fs').writeFileSync(file, String(process.resourceUsage().maxRSS));
});
