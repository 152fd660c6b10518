// Writes docs/configuration.md from the settings table (config/settings.ts). Run after adding or changing a setting;
// test/unit/config-docs.test.ts fails while the file is out of date.
import { writeFileSync } from 'node:fs';
import { renderConfigurationDocs } from '../config/docs.ts';

const target = new URL('../docs/configuration.md', import.meta.url);
writeFileSync(target, renderConfigurationDocs());
console.log(`wrote ${target.pathname}`);
