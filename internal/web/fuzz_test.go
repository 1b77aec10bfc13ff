package web

// Fuzz targets of what the pages read from a request: the form body, the
// usernames typed in a list, the seq of the notices shown, the index of a
// ledger entry in a path.

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// FuzzSplitNames feeds the usernames typed into a form (readers, signers,
// co-drafters): every name it returns is a trimmed, non-empty piece of
// the input without a separator, each once, at most one more than the
// service takes, in the order typed; and the list, joined again, splits
// to itself.
func FuzzSplitNames(f *testing.F) {
	for _, s := range []string{"carol", "alice, bob", "alice bob\ncarol", "p1;p2\r\np3\tp4", " , ;; \n", "bob,bob, bob", "a\u00a0b, \u00a0c\u00a0", "", strings.Repeat("u,", channel.MaxUsernames+5)} {
		f.Add(s)
	}
	isSep := func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }
	f.Fuzz(func(t *testing.T, s string) {
		out := splitNames(s)
		if len(out) > channel.MaxUsernames+1 {
			t.Fatalf("%d names: more than the service's %d, plus one to refuse", len(out), channel.MaxUsernames)
		}
		var all []string // the distinct names typed, in order
		for _, n := range strings.FieldsFunc(s, isSep) {
			if n = strings.TrimSpace(n); n != "" && !slices.Contains(all, n) {
				all = append(all, n)
			}
		}
		if len(out) < min(len(all), channel.MaxUsernames+1) || !slices.Equal(out, all[:len(out)]) {
			t.Fatalf("splitNames(%q) = %q, want the first of %q", s, out, all)
		}
		for _, n := range out {
			if n == "" || n != strings.TrimSpace(n) || strings.IndexFunc(n, isSep) >= 0 || !strings.Contains(s, n) {
				t.Fatalf("splitNames(%q) gave the name %q", s, n)
			}
		}
		if again := splitNames(strings.Join(out, "\n")); !slices.Equal(again, out) {
			t.Fatalf("splitNames(%q) = %q, which joined splits to %q", s, out, again)
		}
	})
}

// FuzzFormWithin posts bodies of any content type to a form guarded by
// formWithin: never a 5xx; the handler behind it runs, with exactly the
// fields url.ParseQuery reads from the body, only for a well-formed
// urlencoded body within the limit (or a body of another type, which is
// not read); a larger one is refused as too large, a malformed one as a
// bad request.
func FuzzFormWithin(f *testing.F) {
	const limit = 1 << 10
	h, err := newHandler(servicetest.New(f, storetest.OpenSQLite(f)).Svc, Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	var got url.Values
	guarded := h.formWithin(limit, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.PostForm
		w.WriteHeader(http.StatusNoContent)
	}))
	const form = "application/x-www-form-urlencoded"
	for _, c := range []struct{ body, contentType string }{
		{url.Values{"username": {"alice"}, "password": {"alice-password-1"}, "next": {"/memos"}}.Encode(), form},
		{url.Values{"action": {"save"}, "title": {"Zebra policy"}, "body": {"B\r\nline"}, "marking": {"UNCLASSIFIED"}}.Encode(), form + "; charset=utf-8"},
		{url.Values{"usernames": {"carol, bob"}, "reason": {"r"}}.Encode(), form},
		{"seq=3", form},
		{"seq=%zz", form},
		{"a=1;b=2", form},
		{"username=" + strings.Repeat("a", limit), form},
		{"lang=fr", "multipart/form-data; boundary=x"},
		{"seq=3", ""},
		{"seq=3", "text/plain"},
		{"seq=3", form + "; charset"},
		{"seq=3", "application/x-www-form-urlencoded;;"},
	} {
		f.Add([]byte(c.body), c.contentType)
	}
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		got = nil
		req := httptest.NewRequest(http.MethodPost, "https://dissent.test/form", bytes.NewReader(body))
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		w := httptest.NewRecorder()
		guarded.ServeHTTP(w, req)
		ct := contentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		mt, _, merr := mime.ParseMediaType(ct)
		var want int
		var wantForm url.Values
		switch {
		case merr != nil:
			want = http.StatusBadRequest
		case mt != form:
			want, wantForm = http.StatusNoContent, url.Values{}
		case len(body) > limit:
			want = http.StatusRequestEntityTooLarge
		default:
			var err error
			if wantForm, err = url.ParseQuery(string(body)); err != nil {
				want, wantForm = http.StatusBadRequest, nil
			} else {
				want = http.StatusNoContent
			}
		}
		if w.Code != want {
			t.Fatalf("%q as %q: status %d, want %d\n%s", body, contentType, w.Code, want, w.Body)
		}
		if (got != nil) != (want == http.StatusNoContent) || !reflect.DeepEqual(got, wantForm) {
			t.Fatalf("%q as %q: the handler read %v, want %v", body, contentType, got, wantForm)
		}
		if want != http.StatusNoContent && (w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("Content-Security-Policy") != csp) {
			t.Fatalf("%q as %q: a refusal without the pages' headers: %v", body, contentType, w.Header())
		}
	})
}

// fuzzSession is a browser's session on a site, for requests served in
// the fuzzing process itself (no network).
type fuzzSession struct {
	s       *site
	cookies []*http.Cookie
}

func (s *site) fuzzSession(f *testing.F, username string) *fuzzSession {
	b := s.signedIn(f, username)
	u, err := url.Parse(s.srv.URL)
	if err != nil {
		f.Fatal(err)
	}
	cookies := b.c.Jar.Cookies(u)
	if len(cookies) == 0 {
		f.Fatalf("no cookies for %s", username)
	}
	return &fuzzSession{s: s, cookies: cookies}
}

// serve sends req as the site's own pages would, signed in.
func (fs *fuzzSession) serve(req *http.Request) *httptest.ResponseRecorder {
	for _, c := range fs.cookies {
		req.AddCookie(c)
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", fs.s.srv.URL)
	w := httptest.NewRecorder()
	fs.s.srv.Config.Handler.ServeHTTP(w, req)
	return w
}

// fuzzSubmitted is site.submitted for a fuzz target's set-up.
func fuzzSubmitted(f *testing.F, s *site, title string) *service.Memo {
	alice := s.actor("alice")
	m, err := s.Svc.CreateMemo(s.Ctx, alice, service.MemoInput{Title: title, Body: "Body of " + title, Marking: "UNCLASSIFIED"})
	if err == nil {
		_, err = s.Svc.Sign(s.Ctx, alice, m.ID, m.Revision)
	}
	if err == nil {
		_, err = s.Svc.Submit(s.Ctx, alice, m.ID, m.Revision)
	}
	if err != nil {
		f.Fatal(err)
	}
	return m
}

// FuzzMarkNotificationsRead posts any seq to /notifications/read as the
// office, with three unread notices: a seq that is not a whole number from
// 0 up is refused (422) and marks nothing read; any other marks read
// exactly the notices up to it (all of them for 0).
func FuzzMarkNotificationsRead(f *testing.F) {
	s := newSite(f)
	for _, title := range []string{"Zebra policy", "Yak policy", "Xerus policy"} {
		fuzzSubmitted(f, s, title)
	}
	office := s.fuzzSession(f, "office")
	db, ok := s.Store.(*sqlstore.DB)
	if !ok {
		f.Fatalf("store %T", s.Store)
	}
	officeActor := s.actor("office")
	bell, err := s.Svc.Notifications(s.Ctx, officeActor, 200)
	if err != nil {
		f.Fatal(err)
	}
	var seqs []int64
	for _, n := range bell.Items {
		seqs = append(seqs, n.Seq)
	}
	if len(seqs) < 3 {
		f.Fatalf("the office has %d notices", len(seqs))
	}
	slices.Sort(seqs)
	for _, seq := range []string{strconv.FormatInt(seqs[0], 10), strconv.FormatInt(seqs[1], 10), strconv.FormatInt(seqs[len(seqs)-1]+1, 10), "0", "", "x", "-1", "+2", "007", " 1", "9223372036854775807", "9223372036854775808"} {
		f.Add(seq)
	}
	f.Fuzz(func(t *testing.T, seq string) {
		if _, err := db.Raw().ExecContext(s.Ctx, `UPDATE notifications SET read = 0`); err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPost, s.srv.URL+"/notifications/read", strings.NewReader(url.Values{"seq": {seq}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := office.serve(req)
		bell, err := s.Svc.Notifications(s.Ctx, officeActor, 200)
		if err != nil {
			t.Fatal(err)
		}
		v, perr := strconv.ParseInt(seq, 10, 64)
		if perr != nil || v < 0 {
			if w.Code != http.StatusUnprocessableEntity {
				t.Fatalf("seq %q: status %d, want 422", seq, w.Code)
			}
			if bell.Unread != len(seqs) {
				t.Fatalf("seq %q was refused, yet %d of %d notices are unread", seq, bell.Unread, len(seqs))
			}
			return
		}
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/notifications" {
			t.Fatalf("seq %q: status %d to %q", seq, w.Code, w.Header().Get("Location"))
		}
		for _, n := range bell.Items {
			if read := v == 0 || n.Seq <= v; n.Read != read {
				t.Fatalf("seq %q: notice %d read %v", seq, n.Seq, n.Read)
			}
		}
	})
}

// FuzzProofIndex asks for /memos/{id}/proof/{index} as the memo's author
// with any index: never a 5xx; the proof of an entry is given (200) exactly
// when the index is a number naming one of the memo's own entries, and is
// of that entry; any other index is not found (or, for a path that is not
// clean, redirected) and records nothing.
func FuzzProofIndex(f *testing.F) {
	s := newSite(f)
	m := fuzzSubmitted(f, s, "Zebra policy")
	other := fuzzSubmitted(f, s, "Yak policy")
	alice := s.fuzzSession(f, "alice")
	db, ok := s.Store.(*sqlstore.DB)
	if !ok {
		f.Fatalf("store %T", s.Store)
	}
	size := func(t testing.TB) int64 {
		var n int64
		if err := db.Raw().QueryRowContext(s.Ctx, `SELECT COUNT(*) FROM ledger_leaves`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// The memo's entries, as an auditor reads the ledger.
	auditor := s.actor("audrey")
	mine := map[int64]bool{}
	var otherEntry int64 = -1
	for i := range size(f) {
		p, err := s.Svc.InclusionProof(s.Ctx, auditor, i, 0)
		if err != nil {
			f.Fatal(err)
		}
		l, err := ledger.DecodeLeaf([]byte(p.Leaf))
		if err != nil {
			f.Fatal(err)
		}
		switch l.Memo {
		case m.ID:
			mine[i] = true
		case other.ID:
			otherEntry = i
		}
	}
	if len(mine) == 0 || otherEntry < 0 {
		f.Fatalf("no entries of the memos: %v, %d", mine, otherEntry)
	}
	for i := range mine {
		f.Add(strconv.FormatInt(i, 10))
	}
	for _, index := range []string{strconv.FormatInt(otherEntry, 10), strconv.FormatInt(size(f), 10), "x", "/proof/0", "-1", "+1", "00", "", ".", "..", "1/", "9223372036854775807", "9223372036854775808"} {
		f.Add(index)
	}
	base := "/memos/" + m.ID + "/proof/"
	f.Fuzz(func(t *testing.T, index string) {
		before := size(t)
		req := httptest.NewRequest(http.MethodGet, s.srv.URL+"/", nil)
		req.URL.Path, req.URL.RawPath = base+index, base+url.PathEscape(index)
		w := alice.serve(req)
		after := size(t)
		v, perr := strconv.ParseInt(index, 10, 64)
		want := perr == nil && mine[v]
		switch {
		case w.Code == http.StatusOK:
			if !want {
				t.Fatalf("index %q: a proof of an entry not the memo's", index)
			}
			var p service.Proof
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
			l, err := ledger.DecodeLeaf([]byte(p.Leaf))
			if err != nil || p.Index != v || l.Memo != m.ID {
				t.Fatalf("index %q: the proof of entry %d, of memo %q (%v)", index, p.Index, l.Memo, err)
			}
			if cd := w.Header().Get("Content-Disposition"); cd != `attachment; filename="dissent-proof-`+m.ID+"-"+strconv.FormatInt(v, 10)+`.json"` {
				t.Fatalf("index %q: %s", index, cd)
			}
			// The download is recorded: an entry of the memo, which the
			// author may have in turn.
			if after != before+1 {
				t.Fatalf("index %q: the ledger went from %d to %d entries", index, before, after)
			}
			mine[before] = true
			return
		case want:
			t.Fatalf("index %q: status %d, want the proof of the memo's entry %d\n%s", index, w.Code, v, w.Body)
		case w.Code == http.StatusMovedPermanently || w.Code == http.StatusTemporaryRedirect:
			if p := req.URL.Path; path.Clean(p) == p {
				t.Fatalf("index %q: redirected to %q", index, w.Header().Get("Location"))
			}
		case w.Code != http.StatusNotFound:
			t.Fatalf("index %q: status %d\n%s", index, w.Code, w.Body)
		}
		if after != before {
			t.Fatalf("index %q: refused (%d), yet the ledger went from %d to %d entries", index, w.Code, before, after)
		}
		if b, _ := io.ReadAll(w.Body); bytes.Contains(b, []byte("Zebra")) {
			t.Fatalf("index %q: the page names the memo's title", index)
		}
	})
}
