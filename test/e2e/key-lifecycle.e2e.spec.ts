import { KeyConflictError } from 'nestjs-keybridge';
import request from 'supertest';
import { databaseTargets } from './support/databases.js';
import { expectInvalidToken, mintToken } from './support/oauth.js';
import { startApp, type RunningApp } from './support/app-starter.js';

/** Rotation with a grace period, and disable / enable, through the service. */
describe.each(databaseTargets().map((t) => [t.name, t] as const))('key lifecycle on %s', (_name, target) => {
  let running: RunningApp;

  beforeAll(async () => {
    running = await startApp('express', await target.fresh());
  });

  afterAll(() => running.close());

  const reader = (name: string) => running.keys.create({ name, scopes: ['orders:read'] });
  const withKey = (key: { key: string }) => request(running.url).get('/orders').set('X-API-Key', key.key);
  const withToken = (token: string) =>
    request(running.url).get('/orders').set('Authorization', `Bearer ${token}`);
  const lastFailure = () => running.events.filter((e) => e.type === 'auth.failed').at(-1);

  describe('rotate', () => {
    it('keeps both keys working through the grace period, then only the new one', async () => {
      const old = await reader('rotating');
      const token = await mintToken(running.url, old);
      const fresh = await running.keys.rotate(old.id, { grace: '10m' });
      expect(fresh.key).not.toBe(old.key);
      expect(fresh).toMatchObject({ name: 'rotating', scopes: ['orders:read'], rotatedFromId: old.id });
      const view = await running.keys.get(old.id);
      expect(view).toMatchObject({ rotatedToId: fresh.id, status: 'active' });
      expect(view.graceEndsAt!.getTime()).toBe(running.clock.now + 10 * 60_000);
      await withKey(old).expect(200);
      await withKey(fresh).expect(200);
      await withToken(token).expect(200);
      expect(running.events).toContainEqual(
        expect.objectContaining({ type: 'key.rotated', keyId: old.id, newKeyId: fresh.id }),
      );

      running.clock.now += 10 * 60_000; // the grace is over; the token (15 min) has not expired by itself
      await withKey(old).expect(401);
      expect(lastFailure()).toMatchObject({ reason: 'expired', keyId: old.id });
      expectInvalidToken(await withToken(token));
      expect(lastFailure()).toMatchObject({ reason: 'token_key_expired' });
      await withKey(fresh).expect(200);
      expect((await running.keys.get(old.id)).status).toBe('expired');
    });

    it('revokes the old key and its tokens at once with grace 0', async () => {
      const old = await reader('grace zero');
      const token = await mintToken(running.url, old);
      const fresh = await running.keys.rotate(old.id, { grace: 0 });
      await withKey(old).expect(401);
      expectInvalidToken(await withToken(token));
      expect(lastFailure()).toMatchObject({ reason: 'token_key_revoked' });
      await withKey(fresh).expect(200);
      expect(await running.keys.get(old.id)).toMatchObject({ status: 'revoked', revokedReason: 'rotated' });
    });

    it("keeps the earlier key's own deadline when its successor is rotated, and refuses rotating it twice", async () => {
      const first = await reader('chain');
      const second = await running.keys.rotate(first.id, { grace: '2h' });
      const deadline = (await running.keys.get(first.id)).graceEndsAt!.getTime();
      running.clock.now += 10 * 60_000;
      const third = await running.keys.rotate(second.id, { grace: '24h' });
      expect((await running.keys.get(first.id)).graceEndsAt!.getTime()).toBe(deadline);
      await expect(running.keys.rotate(first.id)).rejects.toBeInstanceOf(KeyConflictError);
      await withKey(first).expect(200);
      await withKey(third).expect(200);
    });

    it('refuses to rotate a revoked or a disabled key with 409', async () => {
      const revoked = await reader('revoked');
      await running.keys.revoke(revoked.id);
      await expect(running.keys.rotate(revoked.id)).rejects.toMatchObject({ status: 409 });
      const disabled = await reader('disabled');
      await running.keys.disable(disabled.id);
      await expect(running.keys.rotate(disabled.id)).rejects.toMatchObject({ status: 409 });
    });

    it('leaves exactly one new key when rotations race', async () => {
      const old = await reader('race');
      const results = await Promise.allSettled(
        Array.from({ length: 5 }, () => running.keys.rotate(old.id, { grace: '1h' })),
      );
      const won = results.filter((r) => r.status === 'fulfilled');
      expect(won).toHaveLength(1);
      for (const lost of results.filter((r) => r.status === 'rejected')) {
        expect((lost as PromiseRejectedResult).reason).toBeInstanceOf(KeyConflictError);
      }
      const successors = (await running.keys.list({ limit: 1000 })).filter((k) => k.rotatedFromId === old.id);
      expect(successors).toHaveLength(1);
      expect((await running.keys.get(old.id)).rotatedToId).toBe(successors[0].id);
    });

    it('refuses a grace outside 0 to 30 days with 400', async () => {
      const key = await reader('bad grace');
      for (const grace of ['31d', '-1s', 'soon']) {
        await expect(running.keys.rotate(key.id, { grace })).rejects.toMatchObject({ status: 400 });
      }
      expect((await running.keys.get(key.id)).rotatedToId).toBeNull();
    });
  });

  describe('disable and enable', () => {
    it('stops the key and its tokens until enabled again', async () => {
      const key = await reader('switch');
      const token = await mintToken(running.url, key);
      await running.keys.disable(key.id);
      await withKey(key).expect(401);
      expect(lastFailure()).toMatchObject({ reason: 'disabled', keyId: key.id });
      expectInvalidToken(await withToken(token));
      expect(lastFailure()).toMatchObject({ reason: 'token_key_disabled' });
      expect((await running.keys.get(key.id)).status).toBe('disabled');
      await running.keys.enable(key.id);
      await withKey(key).expect(200);
      await withToken(token).expect(200);
      expect(running.events.map((e) => e.type)).toEqual(
        expect.arrayContaining(['key.disabled', 'key.enabled']),
      );
    });

    it('refuses to change a revoked key with 409', async () => {
      const key = await reader('gone');
      await running.keys.revoke(key.id);
      await expect(running.keys.enable(key.id)).rejects.toMatchObject({ status: 409 });
      await expect(running.keys.disable(key.id)).rejects.toMatchObject({ status: 409 });
    });
  });
});
