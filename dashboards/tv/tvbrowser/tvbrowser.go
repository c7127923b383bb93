// Package tvbrowser drives Debian's chromium (installed by
// .ci/deps.d/chromium.sh) headless through chromedp for the TV page's
// tests: open /tv at a given screen size, measure what a person in the
// room would see (scroll bars, tile sizes, font sizes, states), watch a
// tile change state and take screenshots.
//
// It exists so that dashboards/tv's own tests and the end-to-end test of
// the binary in cmd/copenhagen measure the page the same way. Without
// chromium a test skips, except under CI=true where it fails.
package tvbrowser

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/copenhagen-obs/copenhagen/translate/storage/storagetest"
)

// Browser is one headless chromium with its own profile directory.
type Browser struct {
	ctx    context.Context
	cancel func()
}

// Start launches chromium for the test and stops it at the end.
func Start(t testing.TB) *Browser {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "chromium-headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		storagetest.Need(t, "chromium", "bash .ci/deps.d/chromium.sh", errors.New("no chromium, chromium-browser or chromium-headless-shell in $PATH"))
		return nil // a testing.TB that does not stop on Skip
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox, // tests run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", false),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		cancel()
		acancel()
		t.Fatalf("starting %s: %v", path, err)
	}
	b := &Browser{ctx: ctx, cancel: func() { cancel(); acancel() }}
	t.Cleanup(b.cancel)
	return b
}

// Page is one tab showing a URL at a fixed viewport.
type Page struct {
	ctx    context.Context
	cancel func()

	mu       sync.Mutex
	requests []string
}

// Open opens u in a new tab with a width x height viewport (device
// scale 1, as a TV's browser). headers are sent with every request
// (Authorization for basic auth). It records every URL the page loads.
func (b *Browser) Open(t testing.TB, u string, width, height int, headers map[string]any) *Page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	p := &Page{ctx: ctx, cancel: cancel}
	t.Cleanup(cancel)
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			p.mu.Lock()
			p.requests = append(p.requests, e.Request.URL)
			p.mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("listening to the tab: %v", err)
	}
	if len(headers) > 0 {
		if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers(headers)}); err != nil {
			t.Fatalf("setting headers: %v", err)
		}
	}
	if err := p.do(30*time.Second, chromedp.EmulateViewport(int64(width), int64(height)), chromedp.Navigate(u), chromedp.WaitReady(chromedp.CSS("body"))); err != nil {
		t.Fatalf("opening %s: %v", u, err)
	}
	return p
}

func (p *Page) do(timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(p.ctx, timeout)
	defer cancel()
	return chromedp.Do(ctx, actions...)
}

// Eval evaluates a JavaScript expression in the page into T.
func Eval[T any](p *Page, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr))
}

// Requests are the URLs the page loaded so far.
func (p *Page) Requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.requests...)
}

// ForeignRequests are the loaded URLs not on origin's host (CDNs, fonts).
func (p *Page) ForeignRequests(origin string) []string {
	o, _ := url.Parse(origin)
	var out []string
	for _, r := range p.Requests() {
		u, err := url.Parse(r)
		if err != nil || (u.Scheme != "data" && u.Host != o.Host) {
			out = append(out, r)
		}
	}
	return out
}

// Layout is what the page looks like, measured in the browser.
type Layout struct {
	InnerWidth   float64 `json:"innerWidth"`
	InnerHeight  float64 `json:"innerHeight"`
	ScrollWidth  float64 `json:"scrollWidth"`
	ScrollHeight float64 `json:"scrollHeight"`
	Updated      string  `json:"updated"`
	Connection   string  `json:"connection"`
	Tiles        []Tile  `json:"tiles"`
}

// Tile is one tile as displayed.
type Tile struct {
	ID        string  `json:"id"`
	State     string  `json:"state"`
	LastState string  `json:"lastState"`
	Name      string  `json:"name"`
	Value     string  `json:"value"`
	Detail    string  `json:"detail"`
	ValuePx   float64 `json:"valuePx"`
	NamePx    float64 `json:"namePx"`
	DetailPx  float64 `json:"detailPx"`
	X         float64 `json:"x"`
	Y         float64 `json:"y"`
	W         float64 `json:"w"`
	H         float64 `json:"h"`
	// ValueClipped: the value's text is wider than its box.
	ValueClipped bool   `json:"valueClipped"`
	Background   string `json:"background"`
	BadgeShown   bool   `json:"badgeShown"`
}

const measureJS = `(() => {
  const px = (e) => e ? parseFloat(getComputedStyle(e).fontSize) : 0;
  const tiles = [...document.querySelectorAll('.tile')].map((t) => {
    const v = t.querySelector('.value'), n = t.querySelector('.name'), d = t.querySelector('.detail'), b = t.querySelector('.badge');
    const r = t.getBoundingClientRect();
    return {
      id: t.getAttribute('data-check-id'), state: t.getAttribute('data-state'), lastState: t.getAttribute('data-last-state'),
      name: n ? n.textContent : '', value: v ? v.textContent : '', detail: d ? d.textContent.replace(/\s+/g, ' ').trim() : '',
      valuePx: px(v), namePx: px(n), detailPx: px(d),
      x: r.x, y: r.y, w: r.width, h: r.height,
      valueClipped: v ? v.scrollWidth > v.clientWidth + 1 : false,
      background: getComputedStyle(t).backgroundColor,
      badgeShown: b ? getComputedStyle(b).display !== 'none' : false,
    };
  });
  const de = document.documentElement;
  return {
    innerWidth: window.innerWidth, innerHeight: window.innerHeight,
    scrollWidth: Math.max(de.scrollWidth, document.body.scrollWidth),
    scrollHeight: Math.max(de.scrollHeight, document.body.scrollHeight),
    updated: (document.getElementById('updated') || {}).textContent || '',
    connection: document.body.getAttribute('data-connection') || '',
    tiles,
  };
})()`

// Measure reads the page's layout.
func (p *Page) Measure(t testing.TB) Layout {
	t.Helper()
	l, err := Eval[Layout](p, measureJS)
	if err != nil {
		t.Fatalf("measuring the page: %v", err)
	}
	return l
}

// Tile returns the tile with the id, and whether there is one.
func (l Layout) Tile(id string) (Tile, bool) {
	for _, t := range l.Tiles {
		if t.ID == id {
			return t, true
		}
	}
	return Tile{}, false
}

// WaitState waits until the tile with the id has data-state state and
// returns the layout then.
func (p *Page) WaitState(t testing.TB, id, state string, timeout time.Duration) Layout {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var l Layout
	for {
		l = p.Measure(t)
		if tile, ok := l.Tile(id); ok && tile.State == state {
			return l
		}
		if time.Now().After(deadline) {
			tile, _ := l.Tile(id)
			t.Fatalf("tile %s: data-state %q after %v, want %q (tile %+v)", id, tile.State, timeout, state, tile)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Screenshot writes a PNG of the viewport to path.
func (p *Page) Screenshot(t testing.TB, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// BasicAuth is the Authorization header for Open.
func BasicAuth(user, password string) map[string]any {
	return map[string]any{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))}
}

// CheckFits reports what keeps the layout from fitting its screen: scroll
// bars, tiles outside the viewport or overlapping, values clipped.
func (l Layout) CheckFits() []string {
	var probs []string
	if l.ScrollHeight > l.InnerHeight || l.ScrollWidth > l.InnerWidth {
		probs = append(probs, fmt.Sprintf("scrolls: content %vx%v in a %vx%v viewport", l.ScrollWidth, l.ScrollHeight, l.InnerWidth, l.InnerHeight))
	}
	for i, a := range l.Tiles {
		if a.X < 0 || a.Y < 0 || a.X+a.W > l.InnerWidth+0.5 || a.Y+a.H > l.InnerHeight+0.5 {
			probs = append(probs, fmt.Sprintf("tile %s at %v,%v %vx%v is outside the viewport", a.ID, a.X, a.Y, a.W, a.H))
		}
		if a.ValueClipped {
			probs = append(probs, fmt.Sprintf("tile %s: value %q clipped", a.ID, a.Value))
		}
		for _, b := range l.Tiles[i+1:] {
			if a.X < b.X+b.W-0.5 && b.X < a.X+a.W-0.5 && a.Y < b.Y+b.H-0.5 && b.Y < a.Y+a.H-0.5 {
				probs = append(probs, fmt.Sprintf("tiles %s and %s overlap", a.ID, b.ID))
			}
		}
	}
	return probs
}

// Summary is a one-line description of the layout for test logs.
func (l Layout) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%vx%v, %d tiles", l.InnerWidth, l.InnerHeight, len(l.Tiles))
	if len(l.Tiles) > 0 {
		t := l.Tiles[0]
		fmt.Fprintf(&b, ", first %vx%v value %vpx (%.1f%% of the height) name %vpx", t.W, t.H, t.ValuePx, 100*t.ValuePx/l.InnerHeight, t.NamePx)
	}
	return b.String()
}
