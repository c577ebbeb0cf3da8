import type { Options } from 'msgpackr'

/**
 * msgpackr set up to be as wire-compatible with @msgpack/msgpack (and so our codec) as it goes, for issue 13's A/B:
 * plain msgpack maps (no records), the smallest map header, `undefined` map values left out and `undefined`
 * elsewhere as nil (like `Encoder({ ignoreUndefined: true })`), 64-bit integers read as numbers, no extra types.
 * (`skipValues` is in msgpackr's README but not in its typings, 2.1.4.)
 */
export const MSGPACKR_OPTIONS: Options & { skipValues: unknown[] } = {
  useRecords: false,
  moreTypes: false,
  mapsAsObjects: true,
  variableMapSize: true,
  skipValues: [undefined],
  encodeUndefinedAsNil: true,
  int64AsType: 'number',
}
