// GraphiQL, as served by the service, in a real browser (headless Chromium): a subscription run
// from the page with the token in the Headers editor shows a new follower live.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import puppeteer from 'puppeteer-core';
import { url, users } from '../env.mjs';

const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const subscription = 'subscription Followers { followEvents { id kind actor { id name } } }';

// The value of the editor that `selector` finds (a CodeMirror 5 instance, as GraphiQL 3 has).
async function setEditor(page, selector, value) {
  await page.waitForSelector(selector);
  await page.$eval(selector, (element, text) => element.CodeMirror.setValue(text), value);
}

// Clicks the button whose text or label has `label`, found and clicked in one step in the page
// (React re-renders GraphiQL as the schema arrives, which detaches handles held across steps).
async function clickButton(page, label) {
  await page.waitForFunction((text) => {
    const buttons = [...document.querySelectorAll('button')];
    const button = buttons.find((b) => `${b.textContent}|${b.getAttribute('aria-label') ?? ''}`.includes(text));
    button?.click();
    return Boolean(button);
  }, { timeout: 10000 }, label);
}

async function follow(actor, target) {
  const response = await fetch(`${url}/app/v1_0/user/followings`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${actor.token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ target: Number(target.id) }),
  });
  assert.equal(response.status, 201);
}

// Outside CI a machine without Chromium skips it; CI installs it (.ci/run).
const skip = !existsSync(chromium) && !process.env.CI && `no ${chromium}`;

test('GraphiQL shows a new follower live', { skip }, async () => {
  const [a, b, c] = users;
  const browser = await puppeteer.launch({
    executablePath: chromium,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    const page = await browser.newPage();
    await page.goto(`${url}/graphql`, { waitUntil: 'networkidle0' });
    await setEditor(page, '.graphiql-query-editor .CodeMirror', subscription);
    await clickButton(page, 'Headers');
    await page.waitForFunction(() =>
      [...document.querySelectorAll('button.active')].some((b) => b.textContent === 'Headers'));
    await setEditor(page, '.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror',
      JSON.stringify({ Authorization: `Bearer ${c.token}` }));
    // GraphiQL reads the editors into its state on their change events: let it before running.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await clickButton(page, 'Execute query');
    await new Promise((resolve) => setTimeout(resolve, 500));
    // A and B may follow C already (other tests): unfollow first, so that the follow is new.
    for (const actor of [a, b]) {
      await fetch(`${url}/app/v1_0/user/followings/${c.id}`, { method: 'DELETE', headers: { Authorization: `Bearer ${actor.token}` } });
    }
    await follow(b, c);
    const shown = page.waitForFunction(
      (id) => {
        const result = document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue() ?? '';
        return result.includes('FOLLOWED') && result.includes(`"id": "${id}"`) && result;
      },
      { timeout: 15000 },
      b.id,
    );
    const result = await (await shown).jsonValue();
    assert.match(result, /"kind": "FOLLOWED"/);
    assert.match(result, new RegExp(`"name": "[^"]+"`));
  } finally {
    await browser.close();
  }
});
