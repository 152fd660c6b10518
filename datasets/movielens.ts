// Loads MovieLens "latest-small" (ratings.csv: userId,movieId,rating,timestamp; movies.csv: movieId,title,genres with
// pipe-separated genres and quoted titles; CRLF line endings) into an InteractionLog over dense ids. Reads only;
// the dataset stays where it is.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { InteractionLog } from '../core/eval/interaction-log.ts';

export const DEFAULT_MOVIELENS_DIR = '../shared/datasets/ml-latest-small';

/** MovieLens's placeholder for a movie without genres: treated as an empty genre set. */
const NO_GENRES = '(no genres listed)';

export interface Movie {
  movieId: number;
  title: string;
  genres: string[];
}

export interface RatingColumns {
  userId: Int32Array;
  movieId: Int32Array;
  rating: Float64Array;
  /** Seconds since the epoch. */
  time: Float64Array;
}

export interface MovieLensDataset {
  dir: string;
  log: InteractionLog;
  /** Dense user index -> MovieLens userId. */
  userIds: Int32Array;
  /** Dense item index -> MovieLens movieId (movies.csv order; rated movies missing from it are appended). */
  movieIds: Int32Array;
  titles: string[];
  /** Genres of each dense item (empty for "(no genres listed)"). */
  genres: string[][];
}

export class DatasetError extends Error {}

function lines(text: string): string[] {
  return text.split(/\r?\n/).filter((l) => l.length > 0);
}

function expectHeader(actual: string | undefined, expected: string, file: string): void {
  if (actual?.replace(/^\uFEFF/, '') !== expected)
    throw new DatasetError(`${file}: expected header "${expected}", got ${JSON.stringify(actual)}`);
}

export function parseRatingsCsv(text: string, file = 'ratings.csv'): RatingColumns {
  const rows = lines(text);
  expectHeader(rows[0], 'userId,movieId,rating,timestamp', file);
  const n = rows.length - 1;
  const out: RatingColumns = {
    userId: new Int32Array(n),
    movieId: new Int32Array(n),
    rating: new Float64Array(n),
    time: new Float64Array(n),
  };
  for (let k = 0; k < n; k++) {
    const parts = rows[k + 1]!.split(',');
    const [user, movie, rating, ts] = parts.map(Number) as [number, number, number, number];
    if (
      parts.length !== 4 ||
      !Number.isInteger(user) ||
      !Number.isInteger(movie) ||
      !(rating >= 0 && rating <= 5) ||
      !Number.isFinite(ts)
    ) {
      throw new DatasetError(`${file}:${k + 2}: malformed rating line ${JSON.stringify(rows[k + 1])}`);
    }
    out.userId[k] = user;
    out.movieId[k] = movie;
    out.rating[k] = rating;
    out.time[k] = ts;
  }
  return out;
}

/** movieId is the first field and genres the last (neither holds commas); the title is what lies between. */
export function parseMoviesCsv(text: string, file = 'movies.csv'): Movie[] {
  const rows = lines(text);
  expectHeader(rows[0], 'movieId,title,genres', file);
  return rows.slice(1).map((line, k) => {
    const first = line.indexOf(',');
    const last = line.lastIndexOf(',');
    const movieId = Number(line.slice(0, first));
    if (first < 0 || last <= first || !Number.isInteger(movieId))
      throw new DatasetError(`${file}:${k + 2}: malformed movie line ${JSON.stringify(line)}`);
    let title = line.slice(first + 1, last);
    if (title.startsWith('"') && title.endsWith('"')) title = title.slice(1, -1).replaceAll('""', '"');
    const genreField = line.slice(last + 1);
    const genres = genreField === NO_GENRES || genreField === '' ? [] : genreField.split('|');
    return { movieId, title, genres };
  });
}

export function loadMovieLens(dir: string = DEFAULT_MOVIELENS_DIR): MovieLensDataset {
  const root = resolve(dir);
  const ratingsPath = join(root, 'ratings.csv');
  const moviesPath = join(root, 'movies.csv');
  const missing = [ratingsPath, moviesPath].filter((p) => !existsSync(p));
  if (missing.length > 0) {
    throw new DatasetError(
      `MovieLens files not found: ${missing.join(', ')} (expected ml-latest-small's ratings.csv and movies.csv in ${root}; pass --data <dir>)`,
    );
  }
  const ratings = parseRatingsCsv(readFileSync(ratingsPath, 'utf8'), ratingsPath);
  const movies = parseMoviesCsv(readFileSync(moviesPath, 'utf8'), moviesPath);

  const itemOf = new Map<number, number>();
  const movieIds: number[] = [];
  const titles: string[] = [];
  const genres: string[][] = [];
  for (const m of movies) {
    if (itemOf.has(m.movieId)) continue;
    itemOf.set(m.movieId, movieIds.length);
    movieIds.push(m.movieId);
    titles.push(m.title);
    genres.push(m.genres);
  }
  const userOf = new Map<number, number>();
  const userIds: number[] = [];
  const n = ratings.userId.length;
  const user = new Int32Array(n);
  const item = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const uid = ratings.userId[k]!;
    let u = userOf.get(uid);
    if (u === undefined) {
      u = userIds.length;
      userOf.set(uid, u);
      userIds.push(uid);
    }
    const mid = ratings.movieId[k]!;
    let i = itemOf.get(mid);
    if (i === undefined) {
      i = movieIds.length;
      itemOf.set(mid, i);
      movieIds.push(mid);
      titles.push(`movie ${mid}`);
      genres.push([]);
    }
    user[k] = u;
    item[k] = i;
  }
  return {
    dir: root,
    log: { nUsers: userIds.length, nItems: movieIds.length, user, item, rating: ratings.rating, time: ratings.time },
    userIds: Int32Array.from(userIds),
    movieIds: Int32Array.from(movieIds),
    titles,
    genres,
  };
}
