package web

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The end-to-end tests drive Debian's Chromium against an httptest TLS
// server over the real service and a real SQLite store. They are skipped
// when Chromium or axe-core is missing, unless $CI is set: CI must run them.
//
// DISSENT_SCREENSHOTS=1 also writes screenshots of the main pages to
// docs/screenshots.

// axePath is where `npm ci` in internal/web/e2e puts axe-core.
const axePath = "e2e/node_modules/axe-core/axe.min.js"

// missing skips the test, or fails it in CI.
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf(format+" (CI must run the browser tests)", args...)
	}
	t.Skipf(format, args...)
}

// chrome is one headless Chromium for a test; each person gets a browser
// context of their own, so cookies never mix.
type chrome struct {
	t     *testing.T
	root  context.Context
	base  string
	axe   string
	shots string // folder for screenshots, or ""

	mu       sync.Mutex
	problems []string // console errors and CSP violations
}

func startChrome(t *testing.T, base string, screenshots bool) *chrome {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		missing(t, "no Chromium on PATH")
	}
	axe, err := os.ReadFile(axePath)
	if err != nil {
		missing(t, "no axe-core (run `npm ci` in internal/web/e2e): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.IgnoreCertErrors, // the httptest server's own certificate
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(t.TempDir()),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	quiet := func(string, ...any) {}
	root, cancelRoot := chromedp.NewContext(alloc, chromedp.WithLogf(quiet), chromedp.WithErrorf(quiet))
	t.Cleanup(func() { cancelRoot(); cancelAlloc() })
	if err := chromedp.Do(root); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	c := &chrome{t: t, root: root, base: base, axe: string(axe)}
	if screenshots {
		c.shots = filepath.Join("..", "..", "docs", "screenshots")
		if err := os.MkdirAll(c.shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// tab is one person's browser.
type tab struct {
	c    *chrome
	t    *testing.T
	ctx  context.Context
	name string
}

// person opens a fresh browser context (its own cookies) for name.
func (c *chrome) person(t *testing.T, name string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(c.root, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	// Report console errors, exceptions and the browser's own log (where
	// CSP violations and failed loads go) at the end.
	console := chromedp.Events(ctx, runtime.ConsoleAPICalled)
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	entries := chromedp.Events(ctx, cdplog.EntryAdded)
	enable := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, cdplog.Enable, cdp.Empty{})
		return err
	})
	if err := chromedp.Do(ctx, enable); err != nil {
		t.Fatal(err)
	}
	go func() {
		for ev, err := range entries {
			if err != nil {
				return
			}
			if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning {
				c.report("%s: %s %s: %s (%s)", name, ev.Entry.Source, ev.Entry.Level, ev.Entry.Text, ev.Entry.URL)
			}
		}
	}()
	go func() {
		for ev, err := range console {
			if err != nil {
				return
			}
			if ev.Type == "error" || ev.Type == "warning" {
				c.report("%s: console %s: %v", name, ev.Type, ev.Args)
			}
		}
	}()
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			c.report("%s: %s", name, (&chromedp.ExceptionError{ExceptionDetails: ev.ExceptionDetails}).Error())
		}
	}()
	return &tab{c: c, t: t, ctx: ctx, name: name}
}

func (c *chrome) report(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

// checkConsole fails the test if any page logged an error.
func (c *chrome) checkConsole() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.problems {
		c.t.Errorf("browser: %s", p)
	}
}

// do runs steps with a time limit, failing the test on error.
func (p *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("%s: %s: %v (at %s)", p.name, what, err, p.url())
	}
}

func (p *tab) url() string {
	ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
	defer cancel()
	u, _ := chromedp.Run(ctx, chromedp.Location())
	return u
}

func (p *tab) open(path string) {
	p.t.Helper()
	p.do("open "+path, chromedp.Navigate(p.c.base+path))
}

// click clicks sel and waits for the page it loads.
func (p *tab) click(sel string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(cdppage.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel)))); err != nil {
		p.t.Fatalf("%s: click %s: %v (at %s)", p.name, sel, err, p.url())
	}
}

// key presses keys on the focused element and waits for a page load.
func (p *tab) keyLoad(keys string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(cdppage.LoadEventFired, nil, chromedp.KeyEvent(keys))); err != nil {
		p.t.Fatalf("%s: keys %q: %v (at %s)", p.name, keys, err, p.url())
	}
}

func (p *tab) typeInto(sel, text string) {
	p.t.Helper()
	clear := chromedp.Evaluate[chromedp.Void](fmt.Sprintf("document.querySelector(%q).value = ''", sel))
	p.do("type into "+sel, clear, chromedp.SendKeys(chromedp.CSS(sel), text))
}

func (p *tab) text(sel string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	// A document replaced while its node was read (a navigation that was
	// still finishing) is read again, as it is now.
	for tries := 1; err != nil && strings.Contains(err.Error(), "No node with given id found") && tries < 3; tries++ {
		s, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	}
	if err != nil {
		p.t.Fatalf("%s: text of %s: %v (at %s)", p.name, sel, err, p.url())
	}
	return s
}

// see fails unless the page's main text contains each of want.
func (p *tab) see(want ...string) {
	p.t.Helper()
	body := p.text("body")
	for _, w := range want {
		if !strings.Contains(body, w) {
			p.t.Fatalf("%s: %s does not show %q:\n%s", p.name, p.url(), w, body)
		}
	}
}

func (p *tab) eval(js string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("%s: eval: %v", p.name, err)
	}
	return s
}

// signIn signs name in through the form.
func (p *tab) signIn(username, password string) {
	p.t.Helper()
	p.open("/sign-in")
	p.typeInto("#username", username)
	p.typeInto("#password", password)
	p.click("form[action='/sign-in'] button[type=submit]")
	if strings.Contains(p.url(), "/sign-in") {
		p.t.Fatalf("%s could not sign in: %s", username, p.text("main"))
	}
}

type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// check runs axe-core on the page, failing on serious or critical
// violations, and takes a screenshot named name when asked to.
func (p *tab) check(name string) {
	p.t.Helper()
	p.do("inject axe", chromedp.Evaluate[chromedp.Void](p.c.axe))
	raw := p.eval(`axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(r.violations.map(v => ({
		id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(" "))}))))`)
	var vs []axeViolation
	if err := json.Unmarshal([]byte(raw), &vs); err != nil {
		p.t.Fatalf("axe: %v: %s", err, raw)
	}
	for _, v := range vs {
		if v.Impact == "serious" || v.Impact == "critical" {
			p.t.Errorf("axe on %s (%s): %s %s: %s at %v", name, p.url(), v.Impact, v.ID, v.Help, v.Nodes)
		} else {
			p.t.Logf("axe on %s: %s %s: %s at %v", name, v.Impact, v.ID, v.Help, v.Nodes)
		}
	}
	if p.c.shots != "" {
		ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
		defer cancel()
		buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			p.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p.c.shots, name+".png"), buf, 0o644); err != nil {
			p.t.Fatal(err)
		}
	}
}

// tabTo presses Tab until the element matching sel has the focus.
func (p *tab) tabTo(sel string) {
	p.t.Helper()
	js := fmt.Sprintf("document.activeElement !== null && document.activeElement.matches(%q)", sel)
	for range 120 {
		p.do("tab", chromedp.KeyEvent("\t"))
		ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		cancel()
		if err != nil {
			p.t.Fatal(err)
		}
		if ok {
			return
		}
	}
	p.t.Fatalf("%s: Tab never reaches %s on %s", p.name, sel, p.url())
}

// focusVisible fails unless the focused element shows a focus ring.
func (p *tab) focusVisible() {
	p.t.Helper()
	style := p.eval(`(() => { const s = getComputedStyle(document.activeElement); return s.outlineStyle + " " + s.outlineWidth + " " + s.boxShadow })()`)
	if strings.HasPrefix(style, "none") || strings.HasPrefix(style, "auto 0px") {
		p.t.Errorf("%s: the focused element on %s has no visible focus: %s", p.name, p.url(), style)
	}
}

// chromedpSelect chooses value in the select sel.
func chromedpSelect(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.SetValue(chromedp.CSS(sel), value)
}
