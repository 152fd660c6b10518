// MovieLens movies as catalogue items: title without its "(1995)" year, genres, numeric year. An item enters the
// catalogue (createdAt) at the movie's first rating in ratings.csv, the moment it became visible on the platform the
// data came from; a movie nobody rated enters at the last rating of the file (the snapshot: it was in the catalogue
// then, and nothing says since when). Release years make poor entry times: most predate the 1990 floor on item times.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { validateCatalogItem, type CatalogItem } from '../core/catalog.ts';
import { DatasetError, parseMoviesCsv, parseRatingsCsv, type Movie, type RatingColumns } from './movielens.ts';

// "Title (1995)", "Series (2006–2007)" (en dash or hyphen), with stray trailing spaces in a few rows.
const YEAR_SUFFIX = /\s*\((\d{4})(?:[–-]\d{0,4})?\)\s*$/;

/** Splits "Toy Story (1995)" into the title and its year (null when the title carries none). */
export function splitTitleYear(raw: string): { title: string; year: number | null } {
  const m = YEAR_SUFFIX.exec(raw);
  if (!m || m.index === 0) return { title: raw.trim(), year: null };
  return { title: raw.slice(0, m.index).trim(), year: Number(m[1]) };
}

/** Earliest rating time per movie (epoch ms), and the latest rating time of the file. */
export function firstRatingTimes(ratings: RatingColumns): { first: Map<number, number>; lastMs: number } {
  const first = new Map<number, number>();
  let lastMs = 0;
  for (let k = 0; k < ratings.movieId.length; k++) {
    const ms = ratings.time[k]! * 1000;
    const movie = ratings.movieId[k]!;
    const seen = first.get(movie);
    if (seen === undefined || ms < seen) first.set(movie, ms);
    if (ms > lastMs) lastMs = ms;
  }
  return { first, lastMs };
}

export interface Rejected {
  itemId: string;
  reason: string;
}

/** Catalogue records of the movies (first occurrence of a repeated movieId); invalid ones rejected with the reason. */
export function movieLensItems(
  movies: readonly Movie[],
  ratings: RatingColumns,
  tenant: string,
  updatedAtMs: number,
): { items: CatalogItem[]; rejected: Rejected[] } {
  const { first, lastMs } = firstRatingTimes(ratings);
  const items: CatalogItem[] = [];
  const rejected: Rejected[] = [];
  const done = new Set<number>();
  for (const movie of movies) {
    if (done.has(movie.movieId)) continue;
    done.add(movie.movieId);
    const { title, year } = splitTitleYear(movie.title);
    const candidate: CatalogItem = {
      tenant,
      itemId: String(movie.movieId),
      attributes: { title: [title], genres: movie.genres },
      numeric: year === null ? {} : { year },
      createdAt: first.get(movie.movieId) ?? lastMs,
      updatedAt: updatedAtMs,
      deleted: false,
    };
    const checked = validateCatalogItem(candidate, updatedAtMs);
    if (checked.ok) items.push(checked.value);
    else rejected.push({ itemId: candidate.itemId, reason: checked.error });
  }
  return { items, rejected };
}

/** Reads movies.csv and ratings.csv of a MovieLens directory into catalogue records. */
export function loadMovieLensCatalog(
  dir: string,
  tenant: string,
  updatedAtMs: number,
): { items: CatalogItem[]; rejected: Rejected[] } {
  const root = resolve(dir);
  const paths = [join(root, 'movies.csv'), join(root, 'ratings.csv')] as const;
  const missing = paths.filter((p) => !existsSync(p));
  if (missing.length > 0)
    throw new DatasetError(
      `MovieLens files not found: ${missing.join(', ')} (expected movies.csv and ratings.csv in ${root})`,
    );
  const movies = parseMoviesCsv(readFileSync(paths[0], 'utf8'), paths[0]);
  const ratings = parseRatingsCsv(readFileSync(paths[1], 'utf8'), paths[1]);
  return movieLensItems(movies, ratings, tenant, updatedAtMs);
}
