// The Open Bandit Dataset sample (ZOZOTOWN, Saito et al. 2020): per behaviour policy (random, bts) and campaign (men,
// women), 10,000 logged impressions with the item shown, its slot (1-3), the click and the logging propensity.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { BanditLog } from '../core/eval/off-policy.ts';
import { DatasetError } from './movielens.ts';

export const DEFAULT_OPEN_BANDIT_DIR = '../shared/datasets/open-bandit-dataset';
export const OPEN_BANDIT_POLICIES = ['random', 'bts'] as const;
export const OPEN_BANDIT_CAMPAIGNS = ['men', 'women'] as const;
export type OpenBanditPolicy = (typeof OPEN_BANDIT_POLICIES)[number];
export type OpenBanditCampaign = (typeof OPEN_BANDIT_CAMPAIGNS)[number];
const POSITIONS = 3;

/** The non-empty lines of a CSV file, its header, and a column lookup that names the file when a column is missing. */
function csvWithHeader(
  text: string,
  file: string,
): { lines: string[]; header: string[]; col: (name: string) => number } {
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  const header = lines[0]?.split(',') ?? [];
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new DatasetError(`${file}: no ${name} column in the header`);
    return i;
  };
  return { lines, header, col };
}

/** Parses a `<policy>/<campaign>/<campaign>.csv` file; `nActions` is the campaign's item count (item_context.csv). */
export function parseOpenBanditCsv(text: string, nActions: number, file: string): BanditLog {
  const { lines, col } = csvWithHeader(text, file);
  const [itemCol, positionCol, clickCol, propensityCol] = [
    col('item_id'),
    col('position'),
    col('click'),
    col('propensity_score'),
  ];
  const n = lines.length - 1;
  const log: BanditLog = {
    action: new Int32Array(n),
    context: new Int32Array(n),
    reward: new Float64Array(n),
    propensity: new Float64Array(n),
    nActions,
    nContexts: POSITIONS,
  };
  for (let r = 0; r < n; r++) {
    const f = lines[r + 1]!.split(',');
    const item = Number(f[itemCol]);
    const position = Number(f[positionCol]);
    const click = Number(f[clickCol]);
    const propensity = Number(f[propensityCol]);
    const where = `${file} line ${r + 2}`;
    if (!Number.isInteger(item) || item < 0 || item >= nActions)
      throw new DatasetError(`${where}: item_id ${f[itemCol]} is not one of the campaign's ${nActions} items`);
    if (!Number.isInteger(position) || position < 1 || position > POSITIONS)
      throw new DatasetError(`${where}: position ${f[positionCol]} is not 1-${POSITIONS}`);
    if (click !== 0 && click !== 1) throw new DatasetError(`${where}: click ${f[clickCol]} is not 0/1`);
    if (!(propensity > 0 && propensity <= 1))
      throw new DatasetError(`${where}: propensity_score ${f[propensityCol]} is not in (0, 1]`);
    log.action[r] = item;
    log.context[r] = position - 1;
    log.reward[r] = click;
    log.propensity[r] = propensity;
  }
  return log;
}

export function loadOpenBandit(dir: string, policy: OpenBanditPolicy, campaign: OpenBanditCampaign): BanditLog {
  const root = resolve(dir, policy, campaign);
  const logPath = join(root, `${campaign}.csv`);
  const itemsPath = join(root, 'item_context.csv');
  const missing = [logPath, itemsPath].filter((p) => !existsSync(p));
  if (missing.length > 0)
    throw new DatasetError(
      `Open Bandit files not found: ${missing.join(', ')} (pass --data <open-bandit-dataset dir>)`,
    );
  const nActions =
    readFileSync(itemsPath, 'utf8')
      .split(/\r?\n/)
      .filter((l) => l.length > 0).length - 1;
  return parseOpenBanditCsv(readFileSync(logPath, 'utf8'), nActions, logPath);
}

/** One impression with what a CTR model may use: the user's (hashed) features and affinity to the shown item. */
export interface OpenBanditImpression {
  timestampMs: number;
  item: number;
  position: number;
  click: 0 | 1;
  userFeatures: string[];
  /** user-item_affinity_<item>: past clicks of this user on this item, as published (scaled). */
  affinity: number;
}

export function parseOpenBanditImpressions(text: string, file: string): OpenBanditImpression[] {
  const { lines, header, col } = csvWithHeader(text, file);
  const [tsCol, itemCol, positionCol, clickCol] = [col('timestamp'), col('item_id'), col('position'), col('click')];
  const userCols = header.flatMap((h, i) => (h.startsWith('user_feature_') ? [i] : []));
  return lines.slice(1).map((line, r) => {
    const f = line.split(',');
    const item = Number(f[itemCol]);
    const timestampMs = Date.parse(f[tsCol]!.replace(' ', 'T'));
    if (!Number.isFinite(timestampMs))
      throw new DatasetError(`${file} line ${r + 2}: timestamp ${f[tsCol]} does not parse`);
    const affinityCol = header.indexOf(`user-item_affinity_${item}`);
    return {
      timestampMs,
      item,
      position: Number(f[positionCol]),
      click: f[clickCol] === '1' ? 1 : 0,
      userFeatures: userCols.map((i) => f[i]!),
      affinity: affinityCol >= 0 ? Number(f[affinityCol]) || 0 : 0,
    };
  });
}

export function loadOpenBanditImpressions(
  dir: string,
  policy: OpenBanditPolicy,
  campaign: OpenBanditCampaign,
): OpenBanditImpression[] {
  const path = resolve(dir, policy, campaign, `${campaign}.csv`);
  if (!existsSync(path))
    throw new DatasetError(`Open Bandit file not found: ${path} (pass --data <open-bandit-dataset dir>)`);
  return parseOpenBanditImpressions(readFileSync(path, 'utf8'), path);
}
