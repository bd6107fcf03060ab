import { setTimeout as sleep } from 'node:timers/promises';
import { NestFactory } from '@nestjs/core';
import { Module } from '@nestjs/common';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import {
  ApiKeyModule,
  CreateKeybridgeApiKeys1763800000000,
  DenylistEntryEntity,
  TokenDenylist,
  type CreatedApiKey,
} from 'nestjs-keybridge';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { fixtureDatabase } from './apps/database.options.js';
import { databaseTargets } from './support/databases.js';
import { mintToken } from './support/oauth.js';
import { startApp, type RunningApp } from './support/app-starter.js';
import { TEST_PEPPER, TEST_SIGNING_KEY } from './support/test-secrets.js';

const MINUTE = 60_000;

/** The database denylist: rows stamped by the database's clock, a periodic full read, and a missing table. */
describe.each(databaseTargets().map((t) => [t.name, t] as const))(
  'database denylist on %s',
  (_name, target) => {
    describe('reading revocations', () => {
      let running: RunningApp;
      let dataSource: DataSource;
      let key: CreatedApiKey;

      beforeAll(async () => {
        running = await startApp('express', await target.fresh(), { denylistPollInterval: '50ms' });
        dataSource = running.app.get<DataSource>(getDataSourceToken());
        key = await running.keys.create({ name: 'reader', scopes: ['orders:read'] });
      });

      afterAll(() => running.close());

      const withToken = (token: string) =>
        request(running.url).get('/orders').set('Authorization', `Bearer ${token}`);
      const revoke = (token: string) =>
        request(running.url).post('/oauth/revoke').auth(key.id, key.key).type('form').send({ token });
      const rows = () => dataSource.getRepository(DenylistEntryEntity).find();

      it("stamps rows with the database's clock, not the writer's", async () => {
        running.clock.now += 10 * MINUTE; // the library's clock runs ten minutes ahead of the world
        const token = await mintToken(running.url, key);
        await revoke(token).expect(200);
        const [row] = (await rows()).filter((r) => r.id.startsWith('token:'));
        expect(Math.abs(row.createdAt - Date.now())).toBeLessThan(5000);
      });

      it('reads a row stamped before the newest one seen (a commit that landed late) by the periodic full read', async () => {
        // A revocation read first moves the incremental read's starting point to the database's present.
        await revoke(await mintToken(running.url, key)).expect(200);
        await sleep(200);
        const token = await mintToken(running.url, key);
        await withToken(token).expect(200);
        const jti = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')).jti as string;
        await dataSource.getRepository(DenylistEntryEntity).insert({
          id: `token:${jti}`,
          expiresAt: running.clock.now + 15 * MINUTE,
          createdAt: 1,
        });
        // Every 30th poll reads the whole table: with a 50 ms poll, within about 1.5 s.
        const deadline = Date.now() + 10_000;
        let status = 200;
        while (status === 200 && Date.now() < deadline) {
          await sleep(20);
          status = (await withToken(token)).status;
        }
        expect(status).toBe(401);
      });

      it('stamps a revocation again when it is repeated, so a retry is read like a new one', async () => {
        // As after an insert that timed out for its writer but committed late, with an old stamp.
        const denylist = running.app.get(TokenDenylist);
        const expiresAt = running.clock.now + 15 * MINUTE;
        await denylist.revokeToken('retried', expiresAt);
        const repository = dataSource.getRepository(DenylistEntryEntity);
        await repository.update({ id: 'token:retried' }, { createdAt: 1 });
        await denylist.revokeToken('retried', expiresAt);
        const row = await repository.findOneByOrFail({ id: 'token:retried' });
        expect(Math.abs(row.createdAt - Date.now())).toBeLessThan(5000);
      });
    });

    it('stops the app at boot when the denylist table is missing, naming the migration', async () => {
      const url = await target.fresh();
      @Module({
        imports: [
          TypeOrmModule.forRoot({
            ...fixtureDatabase(url),
            migrations: [CreateKeybridgeApiKeys1763800000000],
          }),
          ApiKeyModule.forRoot({
            pepper: TEST_PEPPER,
            signing: { alg: 'EdDSA', privateKey: TEST_SIGNING_KEY },
          }),
        ],
      })
      class MissingTableModule {}
      const app = await NestFactory.create(MissingTableModule, { logger: false, abortOnError: false });
      await expect(app.init()).rejects.toThrow(/keybridge_denylist.*CreateKeybridgeDenylist1763900000000/s);
      await app.close();
    });

    it('starts without the table when bearer tokens are off (oauth: false): nothing to poll', async () => {
      const url = await target.fresh();
      @Module({
        imports: [
          TypeOrmModule.forRoot({
            ...fixtureDatabase(url),
            migrations: [CreateKeybridgeApiKeys1763800000000],
          }),
          ApiKeyModule.forRoot({ pepper: TEST_PEPPER, oauth: false }),
        ],
      })
      class KeysOnlyModule {}
      const app = await NestFactory.create(KeysOnlyModule, { logger: false, abortOnError: false });
      await app.init();
      await app.close();
    });
  },
);
