// The API's 4xx answers: every one is {error, field} and names the offending field; and the checks of query strings
// and ids that come before any work.
import type { FastifyReply } from 'fastify';

export const MAX_ID_LENGTH = 256;

export interface ErrorBody {
  error: string;
  field: string;
}

export function fail(reply: FastifyReply, status: number, field: string, error: string): ErrorBody {
  void reply.code(status);
  return { error, field };
}

export function badQuery(q: Record<string, string | string[] | undefined>): { field: string; error: string } | null {
  for (const [name, value] of Object.entries(q)) {
    if (Array.isArray(value)) return { field: name, error: `${name}: given more than once` };
  }
  return null;
}

export function badId(field: string, value: string): { field: string; error: string } | null {
  return value.length > MAX_ID_LENGTH ? { field, error: `${field}: longer than ${MAX_ID_LENGTH} characters` } : null;
}
