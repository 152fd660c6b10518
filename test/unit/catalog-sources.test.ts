// Catalogue items derived from the data sets: MovieLens movies and the items of a Taobao log.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadMovieLensCatalog, movieLensItems, splitTitleYear } from '../../datasets/movielens-catalog.ts';
import { parseMoviesCsv, parseRatingsCsv } from '../../datasets/movielens.ts';
import { readTaobaoCatalog, TaobaoCatalog } from '../../datasets/taobao-catalog.ts';
import { parseTaobaoLine } from '../../datasets/taobao.ts';

const now = Date.UTC(2026, 5, 1);

describe('MovieLens items', () => {
  it('splits the year off titles, tolerating spaces, ranges and titles without one', () => {
    expect(splitTitleYear('Toy Story (1995)')).toEqual({ title: 'Toy Story', year: 1995 });
    expect(splitTitleYear('Runaway Brain (1995) ')).toEqual({ title: 'Runaway Brain', year: 1995 });
    expect(splitTitleYear('(500) Days of Summer (2009)')).toEqual({ title: '(500) Days of Summer', year: 2009 });
    expect(splitTitleYear('Death Note: Desu nôto (2006–2007)')).toEqual({ title: 'Death Note: Desu nôto', year: 2006 });
    expect(splitTitleYear('Babylon 5')).toEqual({ title: 'Babylon 5', year: null });
    expect(splitTitleYear('1984')).toEqual({ title: '1984', year: null });
  });

  it('maps movies to items entering the catalogue at their first rating (unrated ones at the last rating)', () => {
    const movies = parseMoviesCsv(
      'movieId,title,genres\r\n1,Toy Story (1995),Adventure|Animation\r\n2,"Say ""Hi"" (2001)",(no genres listed)\r\n3,Babylon 5,Sci-Fi\r\n1,Duplicate (1999),Drama\r\n',
    );
    const ratings = parseRatingsCsv(
      'userId,movieId,rating,timestamp\r\n7,1,4,964982703\r\n8,1,3,964000000\r\n7,3,5,1500000000\r\n',
    );
    const { items, rejected } = movieLensItems(movies, ratings, 'ml', now);
    expect(rejected).toEqual([]);
    expect(items).toEqual([
      {
        tenant: 'ml',
        itemId: '1',
        attributes: { title: ['Toy Story'], genres: ['Adventure', 'Animation'] },
        numeric: { year: 1995 },
        createdAt: 964000000_000,
        updatedAt: now,
        deleted: false,
      },
      {
        tenant: 'ml',
        itemId: '2',
        attributes: { title: ['Say "Hi"'], genres: [] },
        numeric: { year: 2001 },
        createdAt: 1500000000_000,
        updatedAt: now,
        deleted: false,
      },
      {
        tenant: 'ml',
        itemId: '3',
        attributes: { title: ['Babylon 5'], genres: ['Sci-Fi'] },
        numeric: {},
        createdAt: 1500000000_000,
        updatedAt: now,
        deleted: false,
      },
    ]);
  });

  it('rejects an item that breaks the catalogue rules, with the field', () => {
    const movies = parseMoviesCsv(`movieId,title,genres\n1,${'x'.repeat(1100)} (1995),Drama\n`);
    const ratings = parseRatingsCsv('userId,movieId,rating,timestamp\n1,1,4,964982703\n');
    const { items, rejected } = movieLensItems(movies, ratings, 'ml', now);
    expect(items).toEqual([]);
    expect(rejected).toEqual([
      { itemId: '1', reason: expect.stringContaining('attributes.title.0: longer than 1024') },
    ]);
  });

  describe('from files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rankstream-mlcat-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    it('reads movies.csv and ratings.csv, and names missing files', () => {
      writeFileSync(join(dir, 'movies.csv'), 'movieId,title,genres\r\n5,Heat (1995),Action|Crime\r\n');
      writeFileSync(join(dir, 'ratings.csv'), 'userId,movieId,rating,timestamp\r\n1,5,4,964982703\r\n');
      expect(loadMovieLensCatalog(dir, 'ml', now).items.map((i) => i.itemId)).toEqual(['5']);
      expect(() => loadMovieLensCatalog(join(dir, 'nope'), 'ml', now)).toThrow(/movies\.csv.*ratings\.csv/);
    });
  });
});

describe('Taobao items', () => {
  const event = (line: string, n: number) => {
    const p = parseTaobaoLine(line, n, 'f', 'tb');
    if (!p.ok) throw new Error(p.reason);
    return p.event;
  };

  it('derives each item once with its first event time and its latest category', () => {
    const c = new TaobaoCatalog();
    c.add(event('1,100,7,pv,1511658100', 1));
    c.add(event('2,200,8,buy,1511658000', 2));
    c.add(event('3,100,9,cart,1511658050', 3));
    expect(c.size).toBe(2);
    expect(c.items(now)).toEqual({
      items: [
        {
          tenant: 'tb',
          itemId: '100',
          attributes: { category: ['9'] },
          numeric: {},
          createdAt: 1511658050_000,
          updatedAt: now,
          deleted: false,
        },
        {
          tenant: 'tb',
          itemId: '200',
          attributes: { category: ['8'] },
          numeric: {},
          createdAt: 1511658000_000,
          updatedAt: now,
          deleted: false,
        },
      ],
      rejected: [],
    });
  });

  describe('from a log', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rankstream-tbcat-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    it('skips and reports rejected lines, and honours the line limit', async () => {
      const path = join(dir, 'UserBehavior.csv');
      writeFileSync(path, '1,100,7,pv,1511658000\n2,200,8,pv,1511658001\n\n3,300,9,pv,1511658002\n4,400,1,pv,15\n');
      const all = await readTaobaoCatalog(path, 'tb', now);
      expect(all.items.map((i) => i.itemId)).toEqual(['100', '200', '300']);
      expect(all.linesRead).toBe(4);
      expect(all.rejectedLines).toEqual([{ line: 5, reason: expect.stringContaining('unix_ts') }]);
      const two = await readTaobaoCatalog(path, 'tb', now, 2);
      expect(two.items.map((i) => i.itemId)).toEqual(['100', '200']);
    });
  });
});
