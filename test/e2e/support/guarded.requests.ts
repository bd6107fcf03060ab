import request from 'supertest';

/**
 * The requests the suites send again and again: `GET /orders` of a fixture app (any app with that route)
 * with an API key or a bearer token, and an RFC 7009 revocation by the token's own key.
 */
export function withKey(app: { url: string }, key: { key: string }): request.Test {
  return request(app.url).get('/orders').set('X-API-Key', key.key);
}

export function withToken(app: { url: string }, token: string): request.Test {
  return request(app.url).get('/orders').set('Authorization', `Bearer ${token}`);
}

export function revokeToken(
  app: { url: string },
  key: { id: string; key: string },
  token: string,
): request.Test {
  return request(app.url).post('/oauth/revoke').auth(key.id, key.key).type('form').send({ token });
}
