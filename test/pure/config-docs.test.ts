import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { configurationDocPath, renderConfigurationDoc } from '../../scripts/config-docs.js';
import { configSchema } from '../../src/config.js';

test('docs/configuration.md is what scripts/config-docs.ts generates from the schema (npm run docs:config)', () => {
  const committed = readFileSync(configurationDocPath, 'utf8');
  assert.equal(committed, renderConfigurationDoc(), 'docs/configuration.md is stale: run `npm run docs:config`');
});

test('every variable of the schema has a row, with the default the schema applies', () => {
  const page = renderConfigurationDoc();
  for (const name of Object.keys(configSchema.shape)) {
    assert.match(page, new RegExp(`^\\| \`${name}\` \\| `, 'm'), `${name} has no row`);
  }
  assert.match(page, /^\| `PORT` \| `8080` \|/m);
  assert.match(page, /^\| `DELIVERY_RETRY_SCHEDULE` \| `5,300,1800,7200,18000,36000,36000` \|/m);
  assert.match(page, /^\| `FETCH_ALLOW_HOSTS` \| empty \|/m);
  assert.match(page, /^\| `MONGODB_URI` \| required \|/m);
  assert.match(page, /^\| `CODEC_TOKEN` \| the codec endpoint is off \(404\) \|/m);
});

test('rows stay short enough to read: the detail belongs in the linked prose', () => {
  const long = renderConfigurationDoc()
    .split('\n')
    .filter((line) => line.startsWith('| `') && line.length > 200);
  assert.deepEqual(long, []);
});
