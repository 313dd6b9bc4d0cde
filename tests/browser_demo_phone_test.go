package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/keystile/keystile/internal/testutil"
)

// brokenWords lists the words of the claim tables that the layout split
// across lines although they are narrower than half the table: the sign of
// a table that squeezed its columns by breaking words mid-value
// ("demo@e|xample.c|om"). A word too long for any sensible column (a
// 43-character token id) may wrap; nothing else may.
const brokenWords = `(() => {
  const broken = [];
  for (const table of document.querySelectorAll("#id-token-table, #access-token-table")) {
    const walk = document.createTreeWalker(table.tBodies[0], NodeFilter.SHOW_TEXT);
    for (let node = walk.nextNode(); node; node = walk.nextNode()) {
      const words = /\S+/g;
      let m;
      while ((m = words.exec(node.data))) {
        const r = document.createRange();
        r.setStart(node, m.index);
        r.setEnd(node, m.index + m[0].length);
        const rects = Array.from(r.getClientRects()).filter((x) => x.width > 0);
        const width = rects.reduce((sum, x) => sum + x.width, 0);
        if (rects.length > 1 && width <= table.clientWidth / 2) broken.push(m[0]);
      }
    }
  }
  return broken;
})()`

// TestBrowserDemoClaimsOnPhone signs in on the quickstart's demo page at
// 390 CSS pixels, a common phone width, and checks the claim tables keep
// their words whole. The screenshot is demo-phone-claims.png.
func TestBrowserDemoClaimsOnPhone(t *testing.T) {
	chromium := testutil.Chromium(t)
	p, issuer, password := startQuickstart(t)
	ctx := chromiumTab(t, chromium)
	step(t, ctx, "signing in on a phone",
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch),
		chromedp.Navigate(issuer+"/demo/"),
		chromedp.WaitVisible(chromedp.ID("sign-in")),
		chromedp.Click(chromedp.ID("sign-in")),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "demo"),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-state="signed-in"] #session`)),
	)
	artifacts := artifactDir(t)
	screenshot(t, ctx, artifacts, "demo-phone-claims.png")
	table := run(t, ctx, "screenshot of the ID token's claims", chromedp.Screenshot(chromedp.ID("id-token-table")))
	if err := os.WriteFile(filepath.Join(artifacts, "demo-phone-id-token-table.png"), table, 0o644); err != nil {
		t.Fatal(err)
	}
	if rows := run(t, ctx, "counting claim rows", chromedp.Evaluate[int](`document.querySelectorAll("#id-token-table tbody tr").length`)); rows < 5 {
		t.Fatalf("the ID token table has %d rows, want the token's claims", rows)
	}
	if broken := run(t, ctx, "finding broken words", chromedp.Evaluate[[]string](brokenWords)); len(broken) > 0 {
		t.Errorf("the claim tables break %d words that fit their cells: %s", len(broken), strings.Join(broken, ", "))
	}
	if overflow := run(t, ctx, "measuring the page width", chromedp.Evaluate[int](`document.documentElement.scrollWidth - window.innerWidth`)); overflow > 0 {
		t.Errorf("the page is %d px wider than the phone's screen", overflow)
	}
	p.stop()
}
