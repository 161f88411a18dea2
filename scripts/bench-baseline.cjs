// The plain-cdktf baseline of the same shape: the resources a synthesized stack holds, declared
// the way the cdktf template does (the @cdktf/provider-aws barrel, one class per resource, the
// configuration set as is). Usage: node bench-baseline.cjs <cdk.tf.json> <outdir>
const fs = require('fs');
const { App, TerraformStack } = require('cdktf'); // eslint-disable-line no-restricted-syntax -- the baseline is plain cdktf on purpose
const aws = require('@cdktf/provider-aws'); // eslint-disable-line no-restricted-syntax -- the baseline measures the barrel

const [input, outdir] = process.argv.slice(2);
const config = JSON.parse(fs.readFileSync(input, 'utf8'));
const classes = new Map();
for (const ns of Object.values(aws)) {
  for (const cls of Object.values(ns)) if (cls && cls.tfResourceType) classes.set(cls.tfResourceType, cls);
}
const app = new App({ outdir });
const stack = new TerraformStack(app, 'baseline');
new aws.provider.AwsProvider(stack, 'aws', { region: 'eu-west-1' });
for (const [type, resources] of Object.entries(config.resource ?? {})) {
  const Cls = classes.get(type);
  for (const [name, body] of Object.entries(resources)) {
    const r = new Cls(stack, name, {});
    r.overrideLogicalId(name);
    for (const [key, value] of Object.entries(body)) if (key !== '//') r.addOverride(key, value);
  }
}
app.synth();
