import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createHttpAdapter } from '../../adapters/http/server.ts';
import { createSupportBot, type SupportBot } from '../../src/app.ts';
import { loadConfig, projectRoot } from '../../src/config/load.ts';
import { syncKnowledgeSource } from '../../src/knowledge/sync-source.ts';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const workDir = mkdtempSync(path.join(tmpdir(), 'web-chat-it-'));

describe('the web chat in headless Chromium, offline provider (no API key)', () => {
  let bot: SupportBot;
  let server: Server;
  let browser: Browser;
  let url: string;

  beforeAll(async () => {
    if (!existsSync(chromiumPath)) {
      throw new Error(
        `Chromium not found at ${chromiumPath}: apt-get install chromium, or set CHROMIUM_PATH`,
      );
    }
    const config = loadConfig({
      env: {
        CHROMA_URL: inject('chromaUrl'),
        KB_COLLECTION: `it-web-${process.pid}-${Date.now()}`,
        DATA_DIR: workDir,
        LLM_PROVIDER: 'offline',
        EMBEDDINGS_PROVIDER: 'offline',
        LOG_LEVEL: 'silent',
      },
      loadDotEnv: false,
    });
    bot = await createSupportBot({ config });
    await syncKnowledgeSource({
      knowledgeBase: bot.knowledgeBase,
      source: path.join(projectRoot, 'config', 'knowledge'),
      chunkTokens: 200,
      batchSize: 64,
    });
    server = createHttpAdapter({ agent: bot.agent, metrics: bot.metrics });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox'] });
  });

  afterAll(async () => {
    await browser?.close();
    server?.closeAllConnections();
    server?.close();
    await (await bot?.knowledgeBase.store())?.drop();
    await bot?.close();
    rmSync(workDir, { recursive: true, force: true });
  });

  it('streams an answer to a refund-policy question, citing the document, then serves it cached', async () => {
    const page = await browser.newPage();
    await page.goto(url);
    // Record every length the answer goes through, to see it grow in place rather than appear at once.
    await page.evaluate(`(() => {
      const lengths = [];
      window.answerLengths = lengths;
      new MutationObserver(() => {
        const text = document.querySelector('.message.bot .text')?.textContent ?? '';
        if (text.length !== lengths.at(-1)) lengths.push(text.length);
      }).observe(document.getElementById('log'), { subtree: true, childList: true, characterData: true });
    })()`);
    await page.fill('#question', 'What is your refund policy? How long do refunds take?');
    await page.press('#question', 'Enter');

    const reply = page.locator('.message.bot').last();
    await expect
      .poll(() => reply.evaluate((element) => element.classList.contains('pending')), { timeout: 15_000 })
      .toBe(false);
    const lengths = (await page.evaluate('window.answerLengths')) as number[];
    expect(lengths.filter((length) => length > 0).length).toBeGreaterThan(5);

    expect(await reply.locator('.text').innerText()).toMatch(/3 business days|5 to 10 business days/);
    expect(await reply.locator('[data-name="intent"]').innerText()).toBe('policy question');
    expect(await reply.locator('[data-name="cache"]').innerText()).toBe('fresh');
    expect(await reply.locator('[data-name="provider"]').innerText()).toMatch(/offline/);
    expect(await reply.locator('.sources').innerText()).toContain('policies/refunds');

    await page.fill('#question', 'what is your refund policy how long do refunds take');
    await page.press('#question', 'Enter');
    const second = page.locator('.message.bot').nth(1);
    await expect
      .poll(() => second.evaluate((element) => element.classList.contains('pending')), { timeout: 15_000 })
      .toBe(false);
    expect(await second.locator('[data-name="cache"]').innerText()).toBe('cached');
    await page.close();
  });
});
