// What one setting declares (its env var is its key in a section's table): what it means, how its text is validated and
// converted (zod), and its default. config/config.ts parses with it and config/docs.ts renders docs/configuration.md
// from it, so the validation, the default and the documentation cannot drift apart.
import { z } from 'zod';

/** One env var: its meaning, validator and default. */
export interface Setting<S extends z.ZodType = z.ZodType, P extends z.ZodType = z.ZodType> {
  /** What the variable means, its unit, and when to change it: one or two sentences (docs/configuration.md). */
  doc: string;
  /** Validates the variable's text and converts it; the default is not part of it. */
  schema: S;
  /** The (converted) value when the variable is unset; undefined for an optional setting, which loadConfig derives. */
  default: z.output<S> | undefined;
  /** How the docs show the default when the value alone says too little (a derived path, a file). */
  defaultText?: string;
  /** What loadConfig parses the variable with: schema with the default applied (or made optional). */
  parser: P;
}

/** A setting whose value, when the variable is unset, is its default. */
export function setting<S extends z.ZodType>(spec: {
  /** What the variable means, its unit, and when to change it. */
  doc: string;
  /** Validates the variable's text and converts it. */
  schema: S;
  /** The converted value when the variable is unset. */
  default: z.output<S>;
  /** How the docs show the default, where the value alone says too little. */
  defaultText?: string;
}): Setting<S, z.ZodDefault<S>> {
  return { ...spec, parser: spec.schema.default(spec.default as never) as z.ZodDefault<S> };
}

/** A setting that may stay unset: loadConfig derives its value from others (defaultText says how). */
export function optionalSetting<S extends z.ZodType>(spec: {
  /** What the variable means, its unit, and when to change it. */
  doc: string;
  /** Validates the variable's text and converts it. */
  schema: S;
  /** How the docs show the derived default. */
  defaultText: string;
}): Setting<S, z.ZodOptional<S>> {
  return { ...spec, default: undefined, parser: spec.schema.optional() };
}

/** A titled group of settings: one table in docs/configuration.md. */
export interface Section<T extends Record<string, Setting> = Record<string, Setting>> {
  /** The table's heading. */
  title: string;
  /** One sentence under the heading: what the group is about. */
  about: string;
  /** The settings, keyed by env var, in the order the docs list them. */
  settings: T;
}

// Value types shared by several settings.
export const positiveInt = z.coerce.number().int().positive();
export const nonNegativeInt = z.coerce.number().int().min(0);
/** A TCP port; 0 = any free port. */
export const port = z.coerce.number().int().min(0).max(65535);
/** Comma-separated values, trimmed, empty entries dropped. */
export const list = z.string().transform((s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x.length > 0),
);
/** `true` or `false`. */
export const flag = z.enum(['true', 'false']).transform((v) => v === 'true');
/** A ClickHouse database or table name: a plain identifier. */
export const sqlName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/);
