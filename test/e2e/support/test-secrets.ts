import { generateKeyPairSync } from 'node:crypto';

export const TEST_PEPPER = 'test-pepper-0123456789abcdefghijklmnopqrstuvwxyz';

/** One Ed25519 signing key per test process, shared by every app a suite starts so their tokens agree. */
export const TEST_SIGNING_KEY = generateKeyPairSync('ed25519')
  .privateKey.export({ format: 'pem', type: 'pkcs8' })
  .toString();
