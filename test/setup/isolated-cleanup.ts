// After each integration test file: remove the topics, subjects, groups and tables its isolated configs created
// (after the file's own afterAll hooks, which stop its consumers: vitest runs after-hooks in reverse order).
import { afterAll } from 'vitest';
import { removeIsolatedData } from '../support/harness.ts';

afterAll(removeIsolatedData, 120_000);
