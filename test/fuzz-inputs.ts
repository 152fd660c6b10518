// Inputs the bad-input suites share (test/unit/bad-input.test.ts, test/integration/bad-input.test.ts): strings a hostile
// or careless client sends, and the seed every generator starts from (FUZZ_SEED reproduces or explores a run).

export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20261129);

/** Quotes, backslashes, control characters, SQL, template and shell syntax, Redis hash tags, unicode, 256 characters. */
export const nastyStrings = [
  "'",
  "''",
  '"',
  '\\',
  "\\'",
  "'; DROP TABLE ledger; --",
  "' OR '1'='1",
  'a\nb',
  'a\r\nb',
  'tab\there',
  'nul\u0000byte',
  '\\N',
  'NULL',
  '\\0',
  '%_*?[]',
  '{tenant}',
  '${x}',
  '<script>alert(1)</script>',
  'emoji 🎉 ü ß 中文',
  '\u202eRTL',
  'x'.repeat(256),
  '\u0001\u0002\u001f\u007f',
  '`backtick`',
  '$(rm -rf /)',
  '\\x41',
];
