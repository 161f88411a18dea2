#!/usr/bin/env node
// `platform-review <base> <head>` (here: `npm run review -- <base> <head>`): the review report of the
// change from one synth output to another, e.g. a checkout of the base branch and the working tree,
// each synthesized first. Exits 1 when a stateful resource would be destroyed or replaced.
import { readSynthesis, reviewChanges, reviewReport } from './report';

/** Runs the command on `args` (base and head folders), writing to `out`/`err`; returns the exit code. */
export function reviewCommand(args: string[], out: (text: string) => void, err: (text: string) => void): number {
  const [base, head] = args;
  if (!base || !head) {
    err('usage: platform-review <base-dir> <head-dir>\n  each a project folder holding cdktf.out (and k8s.out), or a cdktf.out folder\n');
    return 2;
  }
  try {
    const before = readSynthesis(base);
    const after = readSynthesis(head);
    out(reviewReport(before, after));
    return reviewChanges(before, after).statefulLosses.length > 0 ? 1 : 0;
  } catch (e) {
    err(`platform-review: ${(e as Error).message}\n`);
    return 2;
  }
}

if (require.main === module) {
  process.exitCode = reviewCommand(process.argv.slice(2), (t) => process.stdout.write(t), (t) => process.stderr.write(t));
}
