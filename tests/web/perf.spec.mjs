// First paint, largest paint, layout shift and script weight of the studio's first
// page, measured in the browser and written to RESULTS/perf.json (reported by
// scripts/test; a budget is checked for layout shift only: timings never fail CI).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RESULTS, expect, test } from './fixtures.mjs';

test('paint timings and weight of the sign-in page', async ({ page }) => {
  let js = 0;
  page.on('response', async (r) => {
    if (r.url().endsWith('.js')) js += (await r.body()).length;
  });
  await page.goto('/signin');
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  const m = await page.evaluate(() => new Promise((done) => {
    const out = { fcp: null, lcp: null, cls: 0 };
    out.fcp = performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null;
    new PerformanceObserver((l) => { for (const e of l.getEntries()) out.lcp = e.startTime; }).observe({ type: 'largest-contentful-paint', buffered: true });
    new PerformanceObserver((l) => { for (const e of l.getEntries()) if (!e.hadRecentInput) out.cls += e.value; }).observe({ type: 'layout-shift', buffered: true });
    setTimeout(() => done(out), 500);
  }));
  const result = { fcpMs: Math.round(m.fcp), lcpMs: Math.round(m.lcp), cls: Number(m.cls.toFixed(4)), jsBytes: js };
  writeFileSync(join(RESULTS, 'perf.json'), JSON.stringify(result, null, 2));
  console.log(`web perf: FCP ${result.fcpMs} ms, LCP ${result.lcpMs} ms, CLS ${result.cls}, JS ${result.jsBytes} B`);
  expect(m.fcp).not.toBeNull();
  expect(m.cls).toBeLessThan(0.1);
});
