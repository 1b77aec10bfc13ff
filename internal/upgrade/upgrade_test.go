// Package upgrade checks that a data folder written by the first release
// opens with today's code: the migrations apply, every memo still opens for
// its authors and verifies, and the ledger still checks.
package upgrade

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/bundle"
	"github.com/dissent-channel/dissent/internal/config"
	"github.com/dissent-channel/dissent/internal/server"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// copyDir copies the fixture so the test never changes it.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// isOpen tells whether a memo in this state still owes the office an
// acknowledgment or a reply.
func isOpen(state string) bool { return state == "submitted" || state == "acknowledged" }

// TestReleaseOneDataFolderUpgrades upgrades a deployment of the first
// release on each store: testdata/release1 keeps its store in the folder
// (SQLite), testdata/release1-postgres in a PostgreSQL database, loaded
// here from the dump release one's database gave (make-release1.py says
// how both were made).
func TestReleaseOneDataFolderUpgrades(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { upgradeReleaseOne(t, "testdata/release1", "") })
	t.Run("postgres", func(t *testing.T) {
		if _, err := exec.LookPath("psql"); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatal("psql is not installed, and CI is set")
			}
			t.Skip("psql is not installed")
		}
		base, admin := storetest.PostgresAdmin(t)
		db := "dissent_release1_" + strings.ToLower(rand.Text()[:10])
		if _, err := admin.ExecContext(t.Context(), "CREATE DATABASE "+db); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = admin.ExecContext(context.Background(), "DROP DATABASE "+db+" WITH (FORCE)") })
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/" + db
		out, err := exec.Command("psql", "--quiet", "--no-psqlrc", "--set=ON_ERROR_STOP=1", "--file=testdata/release1-postgres/dump.sql", u.String()).CombinedOutput()
		if err != nil {
			t.Fatalf("psql: loading release one's database: %v\n%s", err, out)
		}
		upgradeReleaseOne(t, "testdata/release1-postgres", u.String())
	})
}

// upgradeReleaseOne copies the release-one folder fixture (its store at
// storeURL if not "") and upgrades it.
func upgradeReleaseOne(t *testing.T, fixture, storeURL string) {
	ctx := context.Background()
	data := t.TempDir()
	copyDir(t, fixture, data)
	var manifest struct {
		Memos []struct {
			ID, Title, State string
			Authors          []string
			Readers          []string // the office and the standing distribution, once submitted
		}
	}
	b, err := os.ReadFile(filepath.Join(fixture, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &manifest); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(data, func(k string) string {
		if k == "DISSENT_STORE_URL" {
			return storeURL
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("a stale schema is refused without migrating", func(t *testing.T) {
		if _, err := server.OpenStore(ctx, cfg, false); err == nil || !strings.Contains(err.Error(), "dissent migrate") {
			t.Fatalf("opening release one's schema without migrating: %v", err)
		}
	})

	// As serve does: the process that applies the migration starting key
	// anchors anchors the keys release one made.
	anchor := false
	st, err := server.OpenStoreMigrating(ctx, cfg, true, func(name string, _ time.Duration) {
		anchor = anchor || name == server.KeyAnchorMigration
	})
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	defer st.Close()
	if !anchor {
		t.Fatalf("the upgrade did not apply %s", server.KeyAnchorMigration)
	}
	key, err := server.ReadLedgerKey(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Three nodes anchor at once (on PostgreSQL each with connections of
	// its own): they take turns, one anchors every key release one made,
	// the others find nothing left, and none fails.
	nodes := make([]*service.Service, 3)
	for i := range nodes {
		nst := st
		if storeURL != "" {
			if nst, err = server.OpenStore(ctx, cfg, false); err != nil {
				t.Fatal(err)
			}
			defer nst.Close()
		}
		if nodes[i], err = server.NewService(cfg, nst, key, nil, false); err != nil {
			t.Fatal(err)
		}
	}
	counts, errs := make([]int, len(nodes)), make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, node := range nodes {
		wg.Go(func() { counts[i], errs[i] = node.AnchorKeys(ctx) })
	}
	wg.Wait()
	anchoring := 0
	for i := range nodes {
		if errs[i] != nil {
			t.Fatalf("node %d anchoring the keys of release one: %v", i, errs[i])
		}
		if counts[i] > 0 {
			anchoring++
		}
	}
	if anchoring != 1 {
		t.Fatalf("%d nodes anchored keys (%v), want one", anchoring, counts)
	}
	// A node started later anchors nothing and finds nothing unanchored,
	// and a replayed anchoring has nothing to do.
	svc, err := server.NewService(cfg, st, key, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Ready(ctx); err != nil {
		t.Fatalf("a node started after the upgrade is not ready: %v", err)
	}
	if n, err := svc.AnchorKeys(ctx); n != 0 || err != nil {
		t.Fatalf("anchoring again: %d, %v; want nothing to do", n, err)
	}
	if res, err := svc.CheckLedger(ctx, nil); err != nil || !res.OK {
		t.Fatalf("ledger self-check after the upgrade: %+v %v", res, err)
	}
	// The first release's rows say what its ledger does of where each
	// memo is.
	if checked, bad, err := svc.CheckLifecycles(ctx); err != nil || bad != 0 || checked == 0 {
		t.Fatalf("lifecycle check after the upgrade: %d checked, %d disagree, %v", checked, bad, err)
	}
	vkey, err := os.ReadFile(filepath.Join(data, "ledger.pub"))
	if err != nil {
		t.Fatal(err)
	}
	actors := map[string]*service.Actor{}
	as := func(u string) *service.Actor {
		if a, ok := actors[u]; ok {
			return a
		}
		tok, _, err := svc.SignIn(ctx, u, u+"-password-1")
		if err != nil {
			t.Fatalf("sign in %s after the upgrade: %v", u, err)
		}
		a, err := svc.Authenticate(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		actors[u] = a
		return a
	}
	for _, m := range manifest.Memos {
		// Authors open a memo with their own keys, the office with the
		// office's group key and the principal with the key wrapped to
		// them when it was submitted: release one wrote all three.
		for _, u := range append(slices.Clone(m.Authors), m.Readers...) {
			got, err := svc.GetMemo(ctx, as(u), m.ID)
			if err != nil {
				t.Fatalf("%s cannot open %q after the upgrade: %v", u, m.Title, err)
			}
			if got.Title != m.Title || got.Body != "Body of "+m.Title || got.State != m.State {
				t.Fatalf("memo %s reads %q / %q in state %q, want %q", m.ID, got.Title, got.Body, got.State, m.State)
			}
			if sent := len(m.Readers) > 0; sent != (got.Deadlines != nil && !got.Deadlines.ReplyBy.IsZero()) {
				t.Fatalf("memo %q (%s) after the upgrade shows deadlines %+v", m.Title, m.State, got.Deadlines)
			}
			// Migration 0005 sorted release one's leaves into the memo's
			// history by their action: a leaf left without one would be
			// in neither the history nor the reads.
			if n := len(got.Events); n < 2 || got.Events[0].Action != "memo.create" || got.Events[n-1].Action != "memo.read" || slices.ContainsFunc(got.Events[:n-1], func(e service.Event) bool { return e.Action == "memo.read" }) {
				t.Fatalf("memo %q's history after the upgrade: %+v", m.Title, got.Events)
			}
			// Release one kept no headings apart: its lists open the text.
			// The office's box holds the memos still owing it something.
			box, listed := service.BoxMine, true
			if !slices.Contains(m.Authors, u) {
				box = map[string]string{"office": service.BoxOffice, "p1": service.BoxDistribution}[u]
				listed = u != "office" || isOpen(m.State)
			}
			page, err := svc.ListMemos(ctx, as(u), box, nil, "", 50)
			if err != nil {
				t.Fatal(err)
			}
			if slices.ContainsFunc(page.Items, func(s service.MemoSummary) bool { return s.ID == m.ID && s.Title == m.Title }) != listed {
				t.Fatalf("%s's list %q after the upgrade: %q listed %v, want %v: %+v", u, box, m.Title, !listed, listed, page.Items)
			}
		}
		log, err := svc.AccessLog(ctx, as(m.Authors[0]), m.ID, "", 200)
		if err != nil {
			t.Fatal(err)
		}
		var reads int
		for _, e := range log.Items {
			if e.Action == "read" {
				reads++
			}
		}
		if want := len(m.Authors) + len(m.Readers); reads != want {
			t.Fatalf("memo %q's access log lists %d reads; its authors and readers read it once each, %d in all: %+v", m.Title, reads, want, log.Items)
		}
		bd, err := svc.ExportMemo(ctx, as(m.Authors[0]), m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bundle.Verify(bd, strings.TrimSpace(string(vkey))); err != nil {
			t.Fatalf("memo %q does not verify after the upgrade: %v", m.Title, err)
		}
	}
	// Release one kept no next check on its memos: the first reminders
	// run after the upgrade works one out for each memo still owing an
	// acknowledgment or a reply, and sends what is already due (what is
	// due depends on the day the test runs); the next run has nothing left
	// to move or send.
	open := 0
	for _, m := range manifest.Memos {
		if isOpen(m.State) {
			open++
		}
	}
	if open == 0 {
		t.Fatal("the fixture holds no memo still open from release one")
	}
	if run, err := svc.RunReminders(ctx); err != nil || run.Rescheduled != open {
		t.Fatalf("first reminders run after the upgrade: %+v %v; want %d memos scheduled", run, err, open)
	}
	if run, err := svc.RunReminders(ctx); err != nil || *run != (service.ReminderRun{}) {
		t.Fatalf("second reminders run: %+v %v; want nothing to do", run, err)
	}
	// Release one's work carries on: the office answers the memos it
	// left open, and the circulating memo can be submitted, which wraps to
	// the office's and the principal's keys and checks the signers': keys
	// release one made, anchored in the ledger as the node started.
	for _, m := range manifest.Memos {
		var got *service.Memo
		switch m.State {
		case "submitted":
			got, err = svc.Acknowledge(ctx, as("office"), m.ID)
		case "acknowledged":
			got, err = svc.Reply(ctx, as("office"), m.ID, "Reply after the upgrade")
		default:
			continue
		}
		if err != nil {
			t.Fatalf("the office answers %q after the upgrade: %v", m.Title, err)
		}
		if got.State == m.State {
			t.Fatalf("memo %q is still %s", m.Title, got.State)
		}
	}
	circ := manifest.Memos[1]
	if _, err := svc.Sign(ctx, as("alice"), circ.ID, 1); err != nil {
		t.Fatal(err)
	}
	rc, err := svc.Submit(ctx, as("alice"), circ.ID, 1)
	if err != nil {
		t.Fatalf("submit after the upgrade: %v", err)
	}
	if rc.AuthorsCount != 3 {
		t.Fatalf("receipt authors %d, want 3 (2 drafters and the signer)", rc.AuthorsCount)
	}
	// The reminders' first run finds no schedule recorded (release one
	// kept no next check on memos) and works every open memo's out: the
	// one submitted since has its own already.
	if run, err := svc.RunReminders(ctx); err != nil || run.Rescheduled != 0 {
		t.Fatalf("reminders after the upgrade: %+v %v", run, err)
	}
	if res, err := svc.CheckLedger(ctx, nil); err != nil || !res.OK {
		t.Fatalf("ledger self-check after new work: %+v %v", res, err)
	}
}
