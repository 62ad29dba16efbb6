// Drive a real headless Chromium (Debian's `chromium`, through playwright-core; never `playwright install`)
// through a sign-in: open the authorization URL, log in and consent on oidc-provider's pages, land on the CLI's
// loopback listener, and save a screenshot of the page we end on.
// Usage: node browser_login.mjs <authorize-url> <screenshot.png>
import { chromium } from 'playwright-core';

const [url, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  await page.goto(url);
  await page.fill('input[name=login]', 'chromium-user');
  await page.fill('input[name=password]', 'any-password');
  await page.click('button[type=submit]');
  await page.waitForSelector('input[name=prompt][value=consent]', { state: 'attached' });
  await page.click('button[type=submit]');
  await page.waitForURL(/\/oauth\/done$/, { timeout: 20000 });
  await page.waitForSelector('h1');
  await page.screenshot({ path: screenshot });
  console.log(JSON.stringify({ url: page.url(), title: await page.title(), heading: await page.textContent('h1') }));
} finally {
  await browser.close();
}
