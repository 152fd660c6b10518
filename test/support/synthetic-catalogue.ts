// A generated item catalogue for benchmarks: item i belongs to topic i % topics (as in synthetic-interactions.ts), and
// its content says so most of the time: a category per topic, brands and title words drawn mostly from the topic's
// own, prices by topic. Seeded.
import type { CatalogItem } from '../../core/catalog.ts';
import { seededRandom } from '../../core/math/seeded-random.ts';

export function* syntheticCatalogue(
  tenant: string,
  items: number,
  topics: number,
  createdBefore: number,
  seed = 5,
): Generator<CatalogItem> {
  const random = seededRandom(seed);
  const words = Array.from({ length: topics }, (_, t) => Array.from({ length: 40 }, (_, w) => `w${t}x${w}`));
  for (let i = 0; i < items; i++) {
    const topic = i % topics;
    const t = random() < 0.8 ? topic : Math.floor(random() * topics);
    const title = Array.from(
      { length: 4 },
      () => words[random() < 0.7 ? topic : Math.floor(random() * topics)]![Math.floor(random() * 40)]!,
    ).join(' ');
    yield {
      tenant,
      itemId: `i${i}`,
      attributes: { category: [`c${topic}`], brand: [`b${t}-${Math.floor(random() * 20)}`], title: [title] },
      numeric: { price: Math.round((10 + topic * 3) * Math.exp(random() - 0.5) * 100) / 100 },
      createdAt: createdBefore - (items - i) * 1000,
      updatedAt: createdBefore,
      deleted: false,
    };
  }
}
