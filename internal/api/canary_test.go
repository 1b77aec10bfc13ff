package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/postgres"
	"github.com/dissent-channel/dissent/internal/store/sqlite"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// canary is what the canary scenario left behind: marker strings written
// into every sealed field, the memos, and the authors who must stay
// unlinkable from them.
type canary struct {
	markers []string // each unique; none may appear at rest
	memoIDs []string
	authors map[string]string // username → user id: drafters, co-drafters, invited signers
}

// canaryAuthors hold characters that base32 ids and hex never contain, so
// that a match is never chance.
// controlName is the office's display name: plaintext by design, so the
// scans must find it.
const controlName = "cnrycontrol-office-display"

var canaryAuthors = []string{"author-drafter-1", "author-codrafter-8", "author-signer-9", "author-dropped-0", "author-solo-1"}

// canaryProfile is the NRC's, the profile with appeals: its deployment
// seals everything the others do, and the appeal's reason and decision.
var canaryProfile = servicetest.Options{Profile: "nrc-dpo"}

// runCanary creates users and memos with a unique marker in every field the
// vault must seal: titles and bodies (first and later revisions), replies,
// comments, meeting notes, return, withdraw and appeal reasons, decisions
// on appeal, added and revoked readers' reasons.
func runCanary(t *testing.T, e *env) canary {
	c := canary{authors: map[string]string{}}
	mark := func(field string) string {
		m := "cnry" + field + "-" + strings.ToLower(rand.Text()[:16])
		c.markers = append(c.markers, m)
		return m
	}
	e.user("office", false, "office")
	e.must(http.StatusOK, "admin", "PATCH", "/api/v1/users/office", map[string]string{"display_name": controlName})
	for _, p := range []string{"principal-1", "principal-2", "principal-3"} {
		e.user(p, false, "principal")
	}
	for _, a := range canaryAuthors {
		e.member(a)
	}
	e.distribute("principal-1", "principal-2")
	e.confirm("principal-3") // a reader the office adds below
	drafter, codrafter, signer, dropped, solo := canaryAuthors[0], canaryAuthors[1], canaryAuthors[2], canaryAuthors[3], canaryAuthors[4]

	// A memo through the whole lifecycle.
	m := e.create(drafter, mark("title1"), mark("body1"), codrafter)
	c.memoIDs = append(c.memoIDs, m.ID)
	e.must(http.StatusOK, codrafter, "PUT", memoPath(m.ID), service.EditInput{Title: mark("title2"), Body: mark("body2"), Marking: "SENSITIVE BUT UNCLASSIFIED", ExpectedRevision: 1})
	e.must(http.StatusOK, drafter, "POST", memoPath(m.ID, "signers"), map[string][]string{"usernames": {signer, dropped}})
	e.sign(drafter, m.ID, 2)
	e.sign(signer, m.ID, 2)
	e.submit(codrafter, m.ID, 2)
	e.must(http.StatusOK, "office", "POST", memoPath(m.ID, "acknowledge"), nil)
	e.must(http.StatusOK, "office", "POST", memoPath(m.ID, "distribution"), service.ReadersInput{Usernames: []string{"principal-3"}, Reason: mark("readerreason")})
	e.must(http.StatusCreated, "principal-1", "POST", memoPath(m.ID, "comments"), map[string]string{"body": mark("comment1")})
	e.must(http.StatusCreated, "office", "POST", memoPath(m.ID, "comments"), map[string]string{"body": mark("comment2")})
	e.must(http.StatusCreated, "office", "POST", memoPath(m.ID, "meetings"), map[string]any{
		"held_at": "2026-03-04T11:00:00-05:00", "minutes": 45, "principal": "principal-1", "attendees": []string{drafter, signer}, "notes": mark("meetingnotes")})
	e.must(http.StatusOK, "office", "POST", memoPath(m.ID, "reply"), map[string]string{"body": mark("reply")})
	e.must(http.StatusOK, "office", "POST", memoPath(m.ID, "close"), nil)
	for _, who := range []string{drafter, codrafter, signer, "principal-1", "principal-3", "office"} {
		e.read(who, m.ID)
	}
	e.must(http.StatusOK, drafter, "GET", memoPath(m.ID, "access"), nil)
	e.must(http.StatusOK, codrafter, "GET", memoPath(m.ID, "export"), nil)
	// Taking a reader off rotates the memo's key and mails it to the authors.
	e.must(http.StatusOK, "office", "DELETE", memoPath(m.ID, "distribution", "principal-3"), map[string]string{"reason": mark("revokereason")})
	e.read(signer, m.ID)

	// A memo returned with a reason.
	m = e.create(solo, mark("title3"), mark("body3"))
	c.memoIDs = append(c.memoIDs, m.ID)
	e.sign(solo, m.ID, 1)
	e.submit(solo, m.ID, 1)
	e.must(http.StatusOK, "office", "POST", memoPath(m.ID, "return"), map[string]string{"reason": mark("returnreason")})

	// A memo withdrawn with a reason.
	m = e.create(codrafter, mark("title4"), mark("body4"), drafter)
	c.memoIDs = append(c.memoIDs, m.ID)
	e.sign(drafter, m.ID, 1)
	e.submit(drafter, m.ID, 1)
	e.must(http.StatusOK, codrafter, "POST", memoPath(m.ID, "withdraw"), map[string]string{"reason": mark("withdrawreason")})

	// A memo replied to, appealed and decided on appeal (the NRC
	// profile's appeals).
	m = e.create(solo, mark("title7"), mark("body7"))
	c.memoIDs = append(c.memoIDs, m.ID)
	e.sign(solo, m.ID, 1)
	e.submit(solo, m.ID, 1)
	e.must(http.StatusOK, "office", "POST", memoPath(m.ID, "reply"), map[string]string{"body": mark("reply")})
	e.must(http.StatusOK, solo, "POST", memoPath(m.ID, "appeal"), map[string]string{"reason": mark("appealreason")})
	e.must(http.StatusOK, "office", "POST", memoPath(m.ID, "decision"), map[string]string{"body": mark("decision")})

	// A draft that never leaves its authors, and one still circulating.
	m = e.create(dropped, mark("title5"), mark("body5"), solo)
	c.memoIDs = append(c.memoIDs, m.ID)
	m = e.create(signer, mark("title6"), mark("body6"))
	c.memoIDs = append(c.memoIDs, m.ID)
	e.must(http.StatusOK, signer, "POST", memoPath(m.ID, "signers"), map[string][]string{"usernames": {drafter}})
	e.sign(drafter, m.ID, 1)
	e.must(http.StatusOK, signer, "GET", "/api/v1/memos?box=mine", nil)

	ctx := context.Background()
	tx, err := e.h.Store.Begin(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, a := range canaryAuthors {
		u, err := tx.UserByUsername(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		c.authors[a] = u.ID
	}
	return c
}

// TestCanary (issue 4): a copy of the database — the SQLite file and its
// WAL as they lie in the data folder, or a pg_dump — reveals no memo
// contents and does not link any author to a memo.
func TestCanary(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		st, err := sqlite.Open(t.Context(), filepath.Join(dir, "dissent.db"), sqlite.Options{Migrate: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		e := newEnv(t, st, canaryProfile)
		c := runCanary(t, e)
		checkLedgerLeaves(t, e, c)
		checkLog(t, e, c)

		// The files as they lie, while the store is still open: no
		// checkpoint has folded the WAL into the database.
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		sawWAL := false
		sc := &scanner{t: t, c: c, control: controlOf(t, e, c, controlName)}
		for _, ent := range entries {
			b, err := os.ReadFile(filepath.Join(dir, ent.Name()))
			if err != nil {
				t.Fatal(err)
			}
			var pages [][]byte
			switch {
			case strings.HasSuffix(ent.Name(), "-wal"):
				sawWAL = len(b) > 0
				pages = walPages(t, b)
			case strings.HasSuffix(ent.Name(), ".db"):
				pages = dbPages(t, b)
			default:
				pages = [][]byte{b}
			}
			for i, p := range pages {
				sc.scan(fmt.Sprintf("%s page %d", ent.Name(), i), p)
			}
		}
		sc.done("SQLite files")
		if !sawWAL {
			t.Error("no WAL to scan: the test would miss what is not checkpointed yet")
		}

		// Row by row, on a copy, so that the live files stay untouched.
		cp := t.TempDir()
		for _, ent := range entries {
			b, err := os.ReadFile(filepath.Join(dir, ent.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(cp, ent.Name()), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		db, err := sql.Open("sqlite", "file:"+filepath.Join(cp, "dissent.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		checkRows(t, db, `SELECT name FROM sqlite_master WHERE type = 'table'`, "", c, controlOf(t, e, c, controlName))
	})

	t.Run("postgres", func(t *testing.T) {
		st, pg := openPostgresSchema(t)
		e := newEnv(t, st, canaryProfile)
		c := runCanary(t, e)
		checkLedgerLeaves(t, e, c)
		checkLog(t, e, c)

		pgDump, err := exec.LookPath("pg_dump")
		if err != nil {
			if os.Getenv("CI") != "" {
				t.Fatal("pg_dump is not installed, and CI is set")
			}
			t.Skip("pg_dump is not installed")
		}
		out, err := exec.CommandContext(t.Context(), pgDump, "--schema="+pg.Name, "--no-owner", "--dbname="+pg.Base).Output()
		if err != nil {
			t.Fatalf("pg_dump: %v", err)
		}
		if !bytes.Contains(out, []byte(c.memoIDs[0])) {
			t.Fatalf("the dump holds no memo id: is it the right schema?")
		}
		// A dump has one row per line; bytea columns appear in hex.
		sc := &scanner{t: t, c: c, control: controlOf(t, e, c, controlName), hexToo: true}
		for i, line := range bytes.Split(out, []byte("\n")) {
			sc.scan(fmt.Sprintf("pg_dump line %d", i+1), line)
		}
		sc.done("pg_dump")

		db, err := sql.Open("pgx", pg.DSN)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		checkRows(t, db, `SELECT table_name FROM information_schema.tables WHERE table_schema = $1`, pg.Name, c, controlOf(t, e, c, controlName))
	})
}

// scanBytes reports each marker in b, and each author's username or id
// within 200 bytes of a memo id. b is one database page or one dump line,
// so nearness never crosses from one table to another. With hexToo, the
// hex forms are searched as well (pg_dump's bytea).
func scanBytes(where string, b []byte, c canary, hexToo bool) []string {
	var found []string
	forms := func(s string) [][]byte {
		f := [][]byte{[]byte(s)}
		if hexToo {
			f = append(f, []byte(hex.EncodeToString([]byte(s))))
		}
		return f
	}
	for _, m := range c.markers {
		for _, f := range forms(m) {
			if bytes.Contains(b, f) {
				found = append(found, fmt.Sprintf("%s: marker %q is readable at rest", where, m))
			}
		}
	}
	for _, id := range c.memoIDs {
		for _, f := range forms(id) {
			for off := 0; ; {
				i := bytes.Index(b[off:], f)
				if i < 0 {
					break
				}
				at := off + i
				near := b[max(0, at-200):min(len(b), at+len(f)+200)]
				for name, uid := range c.authors {
					for _, g := range append(forms(name), forms(uid)...) {
						if bytes.Contains(near, g) {
							found = append(found, fmt.Sprintf("%s: author %q within 200 bytes of memo %s", where, name, id))
						}
					}
				}
				off = at + len(f)
			}
		}
	}
	return found
}

// scanner runs scanBytes over many chunks, for the canary and for a
// control that must be found (proof that the scan can see).
type scanner struct {
	t               *testing.T
	c, control      canary
	hexToo          bool
	controlFindings int
}

func (s *scanner) scan(where string, b []byte) {
	for _, f := range scanBytes(where, b, s.c, s.hexToo) {
		s.t.Error(f)
	}
	s.controlFindings += len(scanBytes(where, b, s.control, s.hexToo))
}

// done fails if the control was not found: a scan that cannot see a
// plaintext display name, or a principal beside a memo, proves nothing.
func (s *scanner) done(what string) {
	if s.controlFindings < 2 {
		s.t.Errorf("%s: the scan found %d of the control's plaintext display name and principal-beside-memo: it cannot see", what, s.controlFindings)
	}
}

// controlOf is a canary whose findings are expected: the office's display
// name (plaintext by design: the directory) and a principal, who may sit
// beside a memo.
func controlOf(t *testing.T, e *env, c canary, displayName string) canary {
	t.Helper()
	ctx := context.Background()
	tx, err := e.h.Store.Begin(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	p, err := tx.UserByUsername(ctx, "principal-1")
	if err != nil {
		t.Fatal(err)
	}
	return canary{markers: []string{displayName}, memoIDs: c.memoIDs, authors: map[string]string{"principal-1": p.ID}}
}

// checkRows reads every row of every table and fails if a marker appears in
// one, or if a row that holds a memo id also holds an author's username or
// user id (office and principal ids may sit beside a memo). The control
// must be found, or the scan saw nothing.
func checkRows(t *testing.T, db *sql.DB, tablesQuery, arg string, c, control canary) {
	t.Helper()
	var args []any
	if arg != "" {
		args = append(args, arg)
	}
	rows, err := db.Query(tablesQuery, args...)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(tables) < 10 {
		t.Fatalf("only %d tables: %v", len(tables), tables)
	}
	controls := 0
	for _, table := range tables {
		for i, row := range tableRows(t, db, table) {
			where := fmt.Sprintf("table %s row %d", table, i+1)
			for _, f := range rowFindings(row, c) {
				t.Errorf("%s: %s", where, f)
			}
			controls += len(rowFindings(row, control))
		}
	}
	if controls < 2 {
		t.Errorf("the row scan found %d of the control's plaintext display name and principal-beside-memo: it cannot see", controls)
	}
}

// tableRows returns each row of a table as its columns' bytes, joined by
// 0x1f.
func tableRows(t *testing.T, db *sql.DB, table string) [][]byte {
	t.Helper()
	rows, err := db.Query(`SELECT * FROM "` + table + `"`)
	if err != nil {
		t.Fatalf("%s: %v", table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		var row []byte
		for _, v := range vals {
			row = append(row, 0x1f)
			switch x := v.(type) {
			case []byte:
				row = append(row, x...)
			case string:
				row = append(row, x...)
			case nil:
			default:
				row = fmt.Append(row, x)
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", table, err)
	}
	return out
}

// rowFindings reports the markers in a row, and the authors in a row that
// also holds a memo id.
func rowFindings(row []byte, c canary) []string {
	var found []string
	for _, m := range c.markers {
		if bytes.Contains(row, []byte(m)) {
			found = append(found, fmt.Sprintf("marker %q is readable at rest", m))
		}
	}
	for _, id := range c.memoIDs {
		if !bytes.Contains(row, []byte(id)) {
			continue
		}
		for name, uid := range c.authors {
			if bytes.Contains(row, []byte(name)) || bytes.Contains(row, []byte(uid)) {
				found = append(found, fmt.Sprintf("links author %q to memo %s", name, id))
			}
		}
	}
	return found
}

// checkLedgerLeaves: no ledger leaf names an author, as actor or anywhere.
func checkLedgerLeaves(t *testing.T, e *env, c canary) {
	t.Helper()
	ctx := context.Background()
	tx, err := e.h.Store.Begin(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	ls := tx.LedgerStorage("", "")
	n, err := ls.LockedSize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	leaves, err := ls.ReadLeaves(ctx, 0, n)
	if err != nil {
		t.Fatal(err)
	}
	memoEvents := 0
	for i, b := range leaves {
		l, err := ledger.DecodeLeaf(b)
		if err != nil {
			t.Fatalf("leaf %d: %v", i, err)
		}
		if l.Memo != "" {
			memoEvents++
		}
		// An account event may name its subject, and no memo; a memo
		// event, or any author acting, shows authors only as commitments.
		for name, uid := range c.authors {
			named := bytes.Contains(b, []byte(uid)) || bytes.Contains(b, []byte(name))
			if l.Actor == uid || named && (l.Memo != "" || l.Subject != uid) {
				t.Errorf("leaf %d names author %q: %s", i, name, b)
			}
		}
		for _, m := range c.markers {
			if bytes.Contains(b, []byte(m)) {
				t.Errorf("leaf %d holds marker %q", i, m)
			}
		}
	}
	if memoEvents < 20 {
		t.Errorf("only %d memo events in a ledger of %d leaves", memoEvents, n)
	}
	if err := ledger.SelfCheck(ctx, ls, nil); err != nil {
		t.Errorf("ledger self-check: %v", err)
	}
}

// checkLog: the service's logs hold no memo contents either.
func checkLog(t *testing.T, e *env, c canary) {
	t.Helper()
	log := e.log.Bytes()
	for _, m := range c.markers {
		if bytes.Contains(log, []byte(m)) {
			t.Errorf("the log holds marker %q", m)
		}
	}
}

// dbPages splits a SQLite database file into its pages.
func dbPages(t *testing.T, b []byte) [][]byte {
	t.Helper()
	if len(b) < 100 || !bytes.HasPrefix(b, []byte("SQLite format 3\x00")) {
		t.Fatalf("not a SQLite database (%d bytes)", len(b))
	}
	size := int(binary.BigEndian.Uint16(b[16:18]))
	if size == 1 {
		size = 65536
	}
	var pages [][]byte
	for off := 0; off < len(b); off += size {
		pages = append(pages, b[off:min(len(b), off+size)])
	}
	return pages
}

// walPages splits a SQLite WAL file into its frames' pages (a 32-byte
// header, then frames of a 24-byte header and a page).
func walPages(t *testing.T, b []byte) [][]byte {
	t.Helper()
	if len(b) == 0 {
		return nil
	}
	if len(b) < 32 {
		t.Fatalf("a WAL of %d bytes", len(b))
	}
	size := int(binary.BigEndian.Uint32(b[8:12]))
	if size < 512 || size > 65536 {
		t.Fatalf("WAL page size %d", size)
	}
	var pages [][]byte
	for off := 32 + 24; off < len(b); off += 24 + size {
		pages = append(pages, b[off:min(len(b), off+size)])
	}
	return pages
}

// openPostgresSchema opens a fresh migrated PostgreSQL store in a schema of
// its own, dropped at cleanup, and returns the schema, so that it can be
// dumped and read directly.
func openPostgresSchema(t *testing.T) (store.Store, *storetest.PostgresSchema) {
	t.Helper()
	sc := storetest.NewPostgresSchema(t, "dissent_canary_")
	st, err := postgres.Open(context.WithoutCancel(t.Context()), sc.DSN, postgres.Options{Migrate: true, MaxConns: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st, sc
}
