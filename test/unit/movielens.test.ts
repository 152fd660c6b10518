import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DatasetError, loadMovieLens, parseMoviesCsv, parseRatingsCsv } from '../../datasets/movielens.ts';

const movies =
  'movieId,title,genres\r\n1,Toy Story (1995),Adventure|Animation|Children\r\n11,"American President, The (1995)",Comedy|Drama|Romance\r\n' +
  '5,"Say ""Hi"" (2001)",(no genres listed)\r\n';
const ratings = 'userId,movieId,rating,timestamp\r\n7,11,4.5,964982703\r\n3,1,0.5,964981247\r\n7,1,3.0,964982224\r\n';

describe('MovieLens loader', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rankstream-ml-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('parses CRLF files, quoted titles and pipe-separated genres', () => {
    expect(parseMoviesCsv(movies)).toEqual([
      { movieId: 1, title: 'Toy Story (1995)', genres: ['Adventure', 'Animation', 'Children'] },
      { movieId: 11, title: 'American President, The (1995)', genres: ['Comedy', 'Drama', 'Romance'] },
      { movieId: 5, title: 'Say "Hi" (2001)', genres: [] },
    ]);
    const r = parseRatingsCsv(ratings);
    expect(Array.from(r.rating)).toEqual([4.5, 0.5, 3]);
    expect(r.time[0]).toBe(964982703);
  });

  it('rejects malformed content with the line number', () => {
    expect(() => parseRatingsCsv('userId,movieId,rating,timestamp\n1,2,x,3\n')).toThrow(/:2: malformed/);
    expect(() => parseRatingsCsv('user,movie\n')).toThrow(DatasetError);
  });

  it('loads a directory into dense ids, and says clearly when files are missing', () => {
    writeFileSync(join(dir, 'movies.csv'), movies);
    expect(() => loadMovieLens(dir)).toThrow(/ratings\.csv/);
    writeFileSync(join(dir, 'ratings.csv'), ratings);
    const data = loadMovieLens(dir);
    expect(data.log.nUsers).toBe(2);
    expect(data.log.nItems).toBe(3);
    expect(Array.from(data.userIds)).toEqual([7, 3]);
    expect(Array.from(data.log.user)).toEqual([0, 1, 0]);
    expect(Array.from(data.log.item)).toEqual([1, 0, 0]);
    expect(data.genres[2]).toEqual([]);
  });
});
