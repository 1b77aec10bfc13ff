// Package web is the channel's HTML pages: server-rendered, working without
// JavaScript, over the same service calls as the JSON API. Handlers read
// the form, call the service and render its answer; they never decide who
// may see what. A button shown or hidden here is a convenience, not a rule:
// the service refuses what the caller may not do.
//
// The pages must never put memo content or an author's name in a URL or a
// page title, load anything from another origin, or answer "forbidden" where
// the service said "not found".
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"golang.org/x/text/message/catalog"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
)

//go:embed templates static
var assets embed.FS

// Options tune the pages.
type Options struct {
	Log *slog.Logger
}

// Preload starts parsing the embedded pages in the background, so that a
// server starting up does it while it opens its store; Register then finds
// them parsed, or waits for them.
func Preload() { go loadAssets() }

// parsedAssets is what every handler shares and no configuration changes.
type parsedAssets struct {
	pages map[page]*template.Template
	cat   catalog.Catalog
	// static is the SHA-256 of the static files, for cache busting.
	static []byte
}

// loadAssets parses the pages and builds the catalog once per process.
var loadAssets = sync.OnceValues(func() (*parsedAssets, error) {
	a := &parsedAssets{}
	var err error
	if a.cat, err = newCatalog(); err != nil {
		return nil, err
	}
	if a.pages, err = parsePages(); err != nil {
		return nil, err
	}
	sum := sha256.New()
	err = fs.WalkDir(assets, "static", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(assets, path)
		sum.Write(b)
		return err
	})
	if err != nil {
		return nil, err
	}
	a.static = sum.Sum(nil)
	return a, nil
})

// Register adds the pages to mux. It panics if the embedded templates do not
// parse, which a test rules out.
func Register(mux *http.ServeMux, svc *service.Service, opt Options) {
	h, err := newHandler(svc, opt)
	if err != nil {
		panic(err)
	}
	h.routes(mux)
}

// Pages returns Register as the function server.Handler takes.
func Pages(svc *service.Service, opt Options) func(*http.ServeMux) {
	return func(mux *http.ServeMux) { Register(mux, svc, opt) }
}

type handler struct {
	svc    *service.Service
	log    *slog.Logger
	pages  map[page]*template.Template
	cat    catalog.Catalog
	loc    *time.Location
	cop    *http.CrossOriginProtection
	static http.Handler
	// markingsCSS prints the marking in the margin of every sheet.
	markingsCSS []byte
	version     string // of the static files, for cache busting
	maxForm     int64
	// mux holds the pages' routes, for the page a form's answer stands
	// for (pagePath).
	mux *http.ServeMux
}

func newHandler(svc *service.Service, opt Options) (*handler, error) {
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	parsed, err := loadAssets()
	if err != nil {
		return nil, err
	}
	cfg := svc.Config()
	h := &handler{svc: svc, log: opt.Log, pages: parsed.pages, cat: parsed.cat, loc: cfg.Calendar.Location(),
		cop: http.NewCrossOriginProtection(), maxForm: int64(cfg.MaxBody)*3 + 64<<10}
	sub, err := fs.Sub(assets, "static")
	if err != nil {
		return nil, err
	}
	h.markingsCSS = markingsCSS(cfg.Profile.Markings)
	sum := sha256.New()
	sum.Write(h.markingsCSS)
	sum.Write(parsed.static)
	h.version = hex.EncodeToString(sum.Sum(nil))[:12]
	h.static = http.StripPrefix("/static/", filesOnly(http.FileServerFS(sub)))
	h.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secure(w)
		w.Header().Set("Cache-Control", "no-store")
		v := h.newVisit(r)
		h.optionalActor(r, v)
		h.status(w, r, v, http.StatusForbidden, "This request came from another site",
			"For your safety, Dissent only accepts forms sent from its own pages. Go back, reload the page and try again.")
	}))
	return h, nil
}

// filesOnly serves files and answers 404 for a directory, which
// http.FileServer would list.
func filesOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// The content security policy: nothing from anywhere but this origin, no
// inline script or style, no framing.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// secure sets the headers every page carries.
func secure(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()")
	// The channel is reached over TLS (a proxy's, OPERATIONS.md): a browser
	// that was here once goes on asking for https for two years, so no one
	// on the network can answer a plain-http visit with a look-alike
	// sign-in page. Browsers ignore the header on plain http (the demo).
	hd.Set("Strict-Transport-Security", "max-age=63072000")
}

// visit is one request: who asks, in which language.
type visit struct {
	*locale
	actor *service.Actor
	flash string
	path  string
}

func (h *handler) newVisit(r *http.Request) *visit {
	return &visit{locale: h.chooseLocale(r), path: h.pagePath(r)}
}

// pagePath is the address of the page r shows: its own for a GET; for a
// form posted and shown again refused, the nearest address above it that
// is a page (/memos/ID for /memos/ID/comment), or the start page, so that
// the language switch, which goes back to it, never lands on an address
// that answers only forms (the catch-all "/" answers "not found").
func (h *handler) pagePath(r *http.Request) string {
	p := r.URL.Path
	if r.Method == http.MethodGet || h.mux == nil {
		return p
	}
	for p != "/" && p != "" && localPath(p) {
		get := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: p}, Host: r.Host}
		if _, pattern := h.mux.Handler(get); pattern != "" && pattern != "/" && pattern != "GET /{$}" {
			return p
		}
		p = path.Dir(p)
	}
	return "/"
}

// optionalActor signs the visitor in from their cookie if they have a
// working session, for pages that anyone may see. Only for a page the
// person opened (pageRequest): signing in extends the session's idle
// time, which an image another host of the site loads must not do.
func (h *handler) optionalActor(r *http.Request, v *visit) {
	if !pageRequest(r) {
		return
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		if a, err := h.svc.Authenticate(r.Context(), c.Value); err == nil {
			v.actor = a
		}
	}
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, v *visit)

// public serves a page anyone may see.
func (h *handler) public(fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secure(w)
		w.Header().Set("Cache-Control", "no-store")
		v := h.newVisit(r)
		h.optionalActor(r, v)
		fn(w, r, v)
	})
}

// authed serves a page for signed-in users; others are sent to sign in.
func (h *handler) authed(fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secure(w)
		w.Header().Set("Cache-Control", "no-store")
		v := h.newVisit(r)
		if !pageRequest(r) {
			h.status(w, r, v, http.StatusForbidden, "This request came from another site",
				"Dissent's pages open only from its own pages, or from a link you follow. Open the page again from Dissent.")
			return
		}
		c, err := r.Cookie(sessionCookie)
		if err != nil {
			h.signedOut(w, r, v, false)
			return
		}
		a, err := h.svc.Authenticate(r.Context(), c.Value)
		if err != nil {
			if channel.ErrorCode(err) == channel.EUNAUTHORIZED {
				clearCookie(w, sessionCookie)
				h.signedOut(w, r, v, true)
				return
			}
			h.fail(w, r, v, err)
			return
		}
		v.actor = a
		v.flash = takeFlash(w, r)
		fn(w, r, v)
	})
}

// pageRequest reports whether a signed-in page may be served to r. The
// session cookie is SameSite=Strict, but another host of the same site
// (any intranet server under the same domain) still gets it sent along
// with an image or a fetch it makes the browser send; and opening a memo
// records a read in the ledger, which no third party may cause. So a
// request that the browser says came from elsewhere must be a page the
// person navigated to, whose result they see. A prefetch or prerender
// (Sec-Purpose, or the older Purpose) is neither, from any site: the
// person has not opened the page. Browsers that send no fetch metadata
// are let through; forms are guarded by form's check as well.
func pageRequest(r *http.Request) bool {
	if r.Header.Get("Sec-Purpose") != "" || r.Header.Get("Purpose") != "" {
		return false
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return true
	}
	return r.Header.Get("Sec-Fetch-Mode") == "navigate" && r.Header.Get("Sec-Fetch-Dest") == "document"
}

// form guards a state-changing route: cross-origin requests are refused,
// and the body is bounded and parsed before the handler runs.
func (h *handler) form(next http.Handler) http.Handler { return h.formWithin(h.maxForm, next) }

// publicForm is form for a page anyone may post to (signing in, choosing a
// language), whose fields are all short: nobody is made to read a large
// body before anyone is signed in.
func (h *handler) publicForm(next http.Handler) http.Handler {
	return h.formWithin(maxPublicForm, next)
}

// maxPublicForm bounds a public form: a username, a password of
// channel.MaxPassword characters (each up to nine bytes encoded), a page
// to return to.
const maxPublicForm = 16 << 10

func (h *handler) formWithin(limit int64, next http.Handler) http.Handler {
	return h.cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		if err := r.ParseForm(); err != nil {
			secure(w)
			w.Header().Set("Cache-Control", "no-store")
			v := h.newVisit(r)
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				h.status(w, r, v, http.StatusRequestEntityTooLarge, "That was too long", "What you sent is larger than this service accepts. Shorten it and try again.")
				return
			}
			h.status(w, r, v, http.StatusBadRequest, "That did not work", "The form could not be read. Reload the page and try again.")
			return
		}
		next.ServeHTTP(w, r)
	}))
}

// signedOut answers a visitor without a working session. Text they were
// sending (a memo, a reply) is shown back to them rather than lost: the
// session may have timed out while they wrote. It is never stored.
func (h *handler) signedOut(w http.ResponseWriter, r *http.Request, v *visit, ended bool) {
	if r.Method == http.MethodPost && strings.TrimSpace(r.PostForm.Get("body")) != "" {
		next := "/"
		if p := r.URL.Path; p == "/memos/new" || strings.HasSuffix(p, "/edit") && localPath(p) {
			next = p
		}
		d := signInData{Next: next, Ended: true, KeptTitle: r.PostForm.Get("title"), KeptBody: r.PostForm.Get("body")}
		h.render(w, r, v, http.StatusUnauthorized, pageSignIn, &view{Title: v.T("Sign in"), Data: d})
		return
	}
	h.toSignIn(w, r, ended)
}

func (h *handler) toSignIn(w http.ResponseWriter, r *http.Request, ended bool) {
	q := url.Values{}
	if r.Method == http.MethodGet && r.URL.Path != "/" {
		q.Set("next", r.URL.Path)
	}
	if ended {
		q.Set("ended", "1")
	}
	target := "/sign-in"
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// localPath reports whether p is a path on this site that a redirect may
// go to: absolute, not scheme-relative, short, and plain.
func localPath(p string) bool {
	return len(p) < 200 && strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "//") && !strings.ContainsAny(p, "\\?#:\r\n\t ")
}

// redirect answers a successful form with a redirect to target, leaving a
// notice for the next page.
func redirect(w http.ResponseWriter, r *http.Request, target string, note flash) {
	if note != "" {
		setFlash(w, note)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// render writes page p with status, wrapped in the layout.
func (h *handler) render(w http.ResponseWriter, r *http.Request, v *visit, status int, p page, vw *view) {
	t, ok := h.pages[p]
	if !ok {
		h.log.Error("web: no template", "page", string(p))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h.fill(r.Context(), v, vw)
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", vw); err != nil {
		h.log.Error("web: render", "page", string(p), "err", err)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(v.T("Something went wrong on our side.")))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// status writes a page that only says something: an error or a refusal.
func (h *handler) status(w http.ResponseWriter, r *http.Request, v *visit, code int, heading, text string, detail ...string) {
	// The page does not echo the address: a 404 for a memo one may not see
	// must be byte for byte the 404 for one that does not exist.
	v.path = "/"
	vw := &view{Title: v.T(heading), Data: statusData{Heading: v.T(heading), Text: v.T(text), Code: code}}
	if len(detail) > 0 {
		vw.Data = statusData{Heading: v.T(heading), Text: v.T(text), Code: code, Detail: detail[0]}
	}
	h.render(w, r, v, code, pageStatus, vw)
}

type statusData struct {
	Heading, Text, Detail string
	Code                  int
}

// notFound is the one answer for a page that does not exist and a memo the
// visitor may not know exists.
func (h *handler) notFound(w http.ResponseWriter, r *http.Request, v *visit) {
	h.status(w, r, v, http.StatusNotFound, "Not found",
		"There is nothing here, or nothing you may see. Check the address, or go back to your start page.")
}

// fail answers an error from the service on a page that has no form to
// show it in.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, v *visit, err error) {
	switch channel.ErrorCode(err) {
	case channel.ENOTFOUND:
		h.notFound(w, r, v)
	case channel.EUNAUTHORIZED:
		clearCookie(w, sessionCookie)
		h.toSignIn(w, r, true)
	case channel.EFORBIDDEN:
		if v.actor != nil && v.actor.KeysPending() {
			h.status(w, r, v, http.StatusForbidden, "This needs your keys", "You have no keys yet: choose your own password on your account page, and they are made.")
			return
		}
		if v.actor != nil && v.actor.KeysLocked() {
			// Not the role but the locked keys; the layout's notice says
			// what to do about them.
			h.status(w, r, v, http.StatusForbidden, "This needs your keys", "Your keys are locked after a password reset, so this page cannot open.")
			return
		}
		h.status(w, r, v, http.StatusForbidden, "You may not do this", "Your role does not allow this step.", channel.ErrorMessage(err))
	case channel.ECONFLICT:
		h.status(w, r, v, http.StatusConflict, "This has changed", "The memo is no longer in the state this page expected. Go back and reload it.", channel.ErrorMessage(err))
	case channel.EINVALID, channel.EMALFORMED:
		h.status(w, r, v, http.StatusUnprocessableEntity, "That did not work", "Something in the form needs correcting.", channel.ErrorMessage(err))
	case channel.ETOOLARGE:
		h.status(w, r, v, http.StatusRequestEntityTooLarge, "That was too long", "What you sent is larger than this service accepts. Shorten it and try again.")
	case channel.ERATELIMIT:
		h.status(w, r, v, http.StatusTooManyRequests, "Too many attempts", "Wait a while and try again.")
	default:
		h.log.Error("web: internal error", "route", r.Pattern, "err", err)
		h.status(w, r, v, http.StatusInternalServerError, "Something went wrong on our side.", "Nothing you did caused this. Try again in a little while; if it keeps happening, tell your administrator the time it happened.")
	}
}

// formError is an error shown above a form that is shown again.
type formError struct {
	Heading string            // translated
	Text    string            // translated summary
	Detail  string            // the service's own words
	Fields  map[string]string // field name → the service's message
}

// asFormError turns a service error into what a form shows, or returns
// false if the error is not about the form (then call fail).
func asFormError(v *visit, err error) (*formError, bool) {
	var ce *channel.Error
	if !errors.As(err, &ce) {
		return nil, false
	}
	fe := &formError{Heading: v.T("There is a problem"), Detail: ce.Message, Fields: map[string]string{}}
	switch ce.Code {
	case channel.EINVALID, channel.EMALFORMED:
		fe.Text = v.T("Something in the form needs correcting.")
	case channel.ECONFLICT:
		fe.Text = v.T("This could not be done as things stand.")
	case channel.ETOOLARGE:
		fe.Text = v.T("What you sent is larger than this service accepts. Shorten it and try again.")
	case channel.ERATELIMIT:
		fe.Text = v.T("Wait a while and try again.")
	case channel.EFORBIDDEN:
		fe.Text = v.T("Your role does not allow this step.")
	default:
		return nil, false
	}
	for _, f := range ce.Fields {
		fe.Fields[f.Field] = f.Message
	}
	return fe, true
}

// formStatus is the HTTP status of a form shown again with an error.
func formStatus(err error) int {
	switch channel.ErrorCode(err) {
	case channel.ECONFLICT:
		return http.StatusConflict
	case channel.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case channel.ERATELIMIT:
		return http.StatusTooManyRequests
	case channel.EFORBIDDEN:
		return http.StatusForbidden
	case channel.EUNAUTHORIZED:
		return http.StatusUnauthorized
	}
	return http.StatusUnprocessableEntity
}

// markingsCSS is a stylesheet with a named page for each handling marking,
// whose top and bottom margins carry the marking on every printed sheet.
// It is made once from the configuration: the policy forbids inline style.
func markingsCSS(markings []string) []byte {
	var b bytes.Buffer
	b.WriteString("/* Made at start-up from the deployment's handling markings. */\n")
	for i, m := range markings {
		q := cssString(m)
		fmt.Fprintf(&b, "@page marked-%d {\n  margin: 2cm 1.5cm;\n", i)
		for _, box := range []string{"top-center", "bottom-center"} {
			fmt.Fprintf(&b, "  @%s { content: %s; font: bold 10pt system-ui, sans-serif; letter-spacing: 0.06em; }\n", box, q)
		}
		fmt.Fprintf(&b, "}\n@media print { body.marked-%d { page: marked-%d; } }\n", i, i)
	}
	return b.Bytes()
}

// cssString quotes s as a CSS string, escaping everything but plain
// letters, digits and spaces.
func cssString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if r == ' ' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, "\\%x ", r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
