import { existsSync } from 'node:fs';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { startSwaggerApp, type RunningSwaggerApp } from './support/swagger-app.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A browser start and a page load on a busy machine: room, not a measure of speed. */
const BROWSER_TIMEOUT_MS = 120_000;

const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  console.warn(
    `Swagger UI browser suite SKIPPED: ${CHROMIUM} is missing. Install it with \`apt-get install -y chromium\`.`,
  );
}
const describeInBrowser = hasChromium ? describe : describe.skip;

/** Swagger UI's block of one operation. */
function operationBlock(page: Page, method: string, path: string) {
  return page.locator(`.opblock.opblock-${method}`, { has: page.locator(`[data-path="${path}"]`) });
}

/** "Try it out" then "Execute" on an operation, as a user clicks them; returns the status and body shown. */
async function tryItOut(page: Page, method: string, path: string): Promise<{ status: string; body: string }> {
  const block = operationBlock(page, method, path);
  await block.locator('.opblock-summary').first().click();
  await block.locator('button.try-out__btn').click();
  await block.locator('button.execute').click();
  const live = block.locator('.live-responses-table');
  const status = live.locator('.response .response-col_status').first();
  await status.waitFor();
  return {
    status: /^\d{3}/.exec((await status.textContent()) ?? '')?.[0] ?? '',
    body: (await live.locator('.response-col_description pre').first().textContent()) ?? '',
  };
}

/**
 * Opens Swagger UI's "Authorize" dialog, fills and submits the form of one security scheme, waits until the
 * dialog says "Authorized", and closes it.
 */
async function authorize(
  page: Page,
  scheme: string,
  submit: (form: Locator) => Promise<void>,
): Promise<void> {
  await page.locator('.scheme-container button.authorize').click();
  const form = page.locator('.auth-container', {
    has: page.locator('h4', { hasText: new RegExp(`^${scheme}\\s+\\(`) }),
  });
  await submit(form);
  await form.getByText('Authorized').waitFor();
  await form.locator('button.btn-done').click();
}

describeInBrowser(`Swagger UI in ${CHROMIUM}`, () => {
  let running: RunningSwaggerApp;
  let browser: Browser;
  let key: string;
  let keyId: string;

  beforeAll(async () => {
    running = await startSwaggerApp('express', true);
    ({ id: keyId, key } = await running.keys.create({
      name: 'swagger-ui',
      scopes: ['catalog:read'],
      subject: 'team:docs',
    }));
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
  }, BROWSER_TIMEOUT_MS);
  afterAll(async () => {
    await browser?.close();
    await running?.close();
  });

  async function openDocs(): Promise<Page> {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${running.url}/docs`);
    await operationBlock(page, 'get', '/catalog').waitFor();
    return page;
  }

  it(
    'answers 401 to "Try it out" on a guarded route before Authorize',
    async () => {
      const page = await openDocs();
      const { status, body } = await tryItOut(page, 'get', '/catalog');
      expect(status).toBe('401');
      expect(body).toContain('missing_credentials');
    },
    BROWSER_TIMEOUT_MS,
  );

  it(
    'answers 200 once a key is entered through Authorize',
    async () => {
      const page = await openDocs();
      await authorize(page, 'apiKey', async (form) => {
        await form.locator('#api_key_value').fill(key);
        await form.locator('button[type="submit"]').click();
      });

      const { status, body } = await tryItOut(page, 'get', '/catalog');
      expect(status).toBe('200');
      expect(JSON.parse(body)).toEqual({ items: ['lamp', 'desk'], subject: 'team:docs' });
    },
    BROWSER_TIMEOUT_MS,
  );

  it(
    'answers 200 with a token Swagger UI fetched through the client-credentials flow',
    async () => {
      const page = await openDocs();
      await authorize(page, 'oauth2', async (form) => {
        await form.locator('input[id^="client_id_"]').fill(keyId);
        await form.locator('input[id^="client_secret_"]').fill(key);
        await form.locator('button.authorize').click();
      });

      const { status, body } = await tryItOut(page, 'get', '/catalog');
      expect(status).toBe('200');
      expect(JSON.parse(body)).toEqual({ items: ['lamp', 'desk'], subject: 'team:docs' });
    },
    BROWSER_TIMEOUT_MS,
  );
});
