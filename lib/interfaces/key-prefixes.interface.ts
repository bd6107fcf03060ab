/** Which kind of key: `live` for production traffic, `test` for everything else. */
export type KeyEnvironment = 'live' | 'test';

/** The prefix each kind of key starts with, such as `kb_live_`. */
export interface KeyPrefixes {
  live: string;
  test: string;
}
