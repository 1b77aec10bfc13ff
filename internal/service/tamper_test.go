package service_test

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// TestSelfCheckDetectsTampering edits the ledger tables directly in SQL,
// as someone with database access would, and checks that the server's
// self-check names the damage and that /readyz would fail.
func TestSelfCheckDetectsTampering(t *testing.T) {
	cases := []struct {
		name string
		sql  []string
	}{
		{"an edited leaf", []string{`UPDATE ledger_leaves SET data = (SELECT data FROM ledger_leaves WHERE idx = 2) WHERE idx = 7`}},
		{"a deleted leaf", []string{`DELETE FROM ledger_leaves WHERE idx = 5`}},
		{"two leaves swapped", []string{
			`UPDATE ledger_leaves SET idx = -1 WHERE idx = 4`,
			`UPDATE ledger_leaves SET idx = 4 WHERE idx = 5`,
			`UPDATE ledger_leaves SET idx = 5 WHERE idx = -1`}},
		{"an inserted leaf", []string{
			`UPDATE ledger_leaves SET idx = idx + 1000 WHERE idx >= 6`,
			`UPDATE ledger_leaves SET idx = idx - 999 WHERE idx >= 1006`,
			`INSERT INTO ledger_leaves (idx, data) VALUES (6, '{"v":1,"at":"2026-03-02T15:00:00Z","action":"memo.read","role":"system"}')`}},
		{"a rewritten stored hash", []string{`UPDATE ledger_hashes SET hash = (SELECT hash FROM ledger_hashes WHERE idx = 0) WHERE idx = 3`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			storetest.Stores(t, func(t *testing.T, st store.Store) {
				d := servicetest.NewDeployment(t, st)
				alice := d.Member("alice")
				submitted(t, d, alice, "a memo")
				before, err := d.Svc.CheckLedger(d.Ctx, nil)
				if err != nil || !before.OK {
					t.Fatalf("self-check before tampering: %+v %v", before, err)
				}
				if err := d.Svc.Ready(d.Ctx); err != nil {
					t.Fatalf("ready before tampering: %v", err)
				}
				raw := st.(*sqlstore.DB).Raw()
				for _, q := range c.sql {
					if _, err := raw.ExecContext(d.Ctx, q); err != nil {
						t.Fatalf("tamper %q: %v", q, err)
					}
				}
				// The check's own audit event may not append to a damaged
				// ledger (an inserted row takes the next index): that error
				// is fine, a clean report is not.
				after, err := d.Svc.CheckLedger(d.Ctx, nil)
				if after == nil {
					t.Fatalf("self-check: %v", err)
				}
				if after.OK || after.Problem == "" {
					t.Fatalf("self-check passed a tampered ledger: %+v", after)
				}
				t.Logf("detected: %s", after.Problem)
				if err := d.Svc.Ready(d.Ctx); err == nil {
					t.Fatal("the server says ready over a tampered ledger")
				}
				if _, err := d.Svc.ExportLedger(d.Ctx, t.TempDir()); err == nil {
					t.Fatal("a tampered ledger was exported")
				}
			})
		})
	}
}

// TestMovedEventDetailNamesNoAuthor moves the sealed detail of one author's
// event beside another author's event of the same memo, as someone with
// database access could: the detail still opens with the memo's key, but the
// leaf commits to its own detail by hash, so the history must name no author
// for either event rather than the wrong one.
func TestMovedEventDetailNamesNoAuthor(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice, bob := d.Member("alice"), d.Member("bob")
		m, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "t", Body: "b", Marking: "UNCLASSIFIED"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.InviteSigners(d.Ctx, alice, m.ID, []string{"bob"}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.Sign(d.Ctx, bob, m.ID, 1); err != nil {
			t.Fatal(err)
		}
		actors := func() map[string]string {
			t.Helper()
			got, err := d.Svc.GetMemo(d.Ctx, alice, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]string{}
			for _, ev := range got.Events {
				if ev.Action == "memo.create" || ev.Action == "memo.sign" {
					out[ev.Action] = ev.Actor
				}
			}
			return out
		}
		if got := actors(); got["memo.create"] != "alice" || got["memo.sign"] != "bob" {
			t.Fatalf("before: %v, want alice created and bob signed", got)
		}
		raw := st.(*sqlstore.DB).Raw()
		var create, sign int64
		rows, err := raw.QueryContext(d.Ctx, `SELECT idx, data FROM ledger_leaves WHERE memo_id = '`+m.ID+`'`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var idx int64
			var data []byte
			if err := rows.Scan(&idx, &data); err != nil {
				t.Fatal(err)
			}
			switch {
			case bytes.Contains(data, []byte(`"action":"memo.create"`)):
				create = idx
			case bytes.Contains(data, []byte(`"action":"memo.sign"`)):
				sign = idx
			}
		}
		if err := rows.Close(); err != nil || create == 0 || sign == 0 {
			t.Fatalf("leaves of create %d and sign %d: %v", create, sign, err)
		}
		for _, q := range []string{
			fmt.Sprintf(`UPDATE ledger_details SET idx = -1 WHERE idx = %d`, create),
			fmt.Sprintf(`UPDATE ledger_details SET idx = %d WHERE idx = %d`, create, sign),
			fmt.Sprintf(`UPDATE ledger_details SET idx = %d WHERE idx = -1`, sign),
		} {
			if _, err := raw.ExecContext(d.Ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		if got := actors(); got["memo.create"] != "" || got["memo.sign"] != "" {
			t.Fatalf("after swapping the details: %v, want no author named", got)
		}
	})
}

// TestForgedCheckpointStopsSubmissions replaces the latest stored
// checkpoint with one signed by another key, as someone with database
// access could: the next submission must refuse to sign a checkpoint over
// it, even though this node signed the one that was there a moment ago.
func TestForgedCheckpointStopsSubmissions(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice := d.Member("alice")
		submitted(t, d, alice, "first")
		raw := st.(*sqlstore.DB).Raw()
		var size int64
		if err := raw.QueryRowContext(d.Ctx, `SELECT MAX(size) FROM checkpoints`).Scan(&size); err != nil {
			t.Fatal(err)
		}
		skey, _, err := ledger.GenerateKey("dissent.test")
		if err != nil {
			t.Fatal(err)
		}
		forged, err := ledger.SignCheckpoint(skey, "dissent.test", size, tlog.Hash{1})
		if err != nil {
			t.Fatal(err)
		}
		q := st.(*sqlstore.DB).Rebind(`UPDATE checkpoints SET note = ? WHERE size = ?`)
		if _, err := raw.ExecContext(d.Ctx, q, forged, size); err != nil {
			t.Fatal(err)
		}
		m, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "second", Body: "b", Marking: "UNCLASSIFIED"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.Sign(d.Ctx, alice, m.ID, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.Submit(d.Ctx, alice, m.ID, 1); err == nil || !strings.Contains(err.Error(), "checkpoint does not verify") {
			t.Fatalf("submit over a forged checkpoint: %v, want it refused", err)
		}
	})
}

// TestSwappedLedgerKeyIsNotTrusted puts a key of someone else's in the
// ledger.vkey setting and the latest checkpoint signed with it, over the
// very tree the ledger holds: a node must not take that checkpoint as the
// one it signs over (a rewritten history would pass the same way), but
// refuse, and say it is not ready.
func TestSwappedLedgerKeyIsNotTrusted(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice := d.Member("alice")
		submitted(t, d, alice, "first")
		db := st.(*sqlstore.DB)
		var note []byte
		if err := db.Raw().QueryRowContext(d.Ctx, `SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1`).Scan(&note); err != nil {
			t.Fatal(err)
		}
		cp, err := ledger.OpenCheckpoint(note, d.LedgerVKey)
		if err != nil {
			t.Fatal(err)
		}
		skey, vkey, err := ledger.GenerateKey("dissent.test")
		if err != nil {
			t.Fatal(err)
		}
		forged, err := ledger.SignCheckpoint(skey, "dissent.test", cp.Size, cp.Root)
		if err != nil {
			t.Fatal(err)
		}
		for q, arg := range map[string][]byte{`UPDATE checkpoints SET note = ? WHERE size = ` + strconv.FormatInt(cp.Size, 10): forged,
			`UPDATE settings SET value = ? WHERE name = 'ledger.vkey'`: []byte(vkey)} {
			if _, err := db.Raw().ExecContext(d.Ctx, db.Rebind(q), arg); err != nil {
				t.Fatal(err)
			}
		}
		m, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "second", Body: "b", Marking: "UNCLASSIFIED"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.Sign(d.Ctx, alice, m.ID, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.Submit(d.Ctx, alice, m.ID, 1); err == nil {
			t.Fatal("a submission signed a checkpoint over one made with a key put in the database")
		}
		if err := d.Svc.Ready(d.Ctx); err == nil {
			t.Error("the node stays ready")
		}
	})
}

// TestSwappedSigningKeyStopsSubmission replaces a co-drafter's public
// signing key in the users table after they signed, as someone with
// database access could to pass off a signature as another's: the
// submission must be refused, since the ledger anchors another key, and
// change nothing; one with the key put back goes through.
func TestSwappedSigningKeyStopsSubmission(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice, bob := d.Member("alice"), d.Member("bob")
		d.Member("mallory") // whose key is put in bob's place
		m, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "co-drafted", Body: "b", Marking: "UNCLASSIFIED", Codrafters: []string{"bob"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range []*service.Actor{alice, bob} {
			if _, err := d.Svc.Sign(d.Ctx, a, m.ID, 1); err != nil {
				t.Fatal(err)
			}
		}
		db := st.(*sqlstore.DB)
		raw := db.Raw()
		var bobKey, malloryKey []byte
		for name, key := range map[string]*[]byte{"bob": &bobKey, "mallory": &malloryKey} {
			if err := raw.QueryRowContext(d.Ctx, db.Rebind(`SELECT sign_public FROM users WHERE username = ?`), name).Scan(key); err != nil {
				t.Fatal(err)
			}
		}
		setBobKey := func(key []byte) {
			t.Helper()
			if _, err := raw.ExecContext(d.Ctx, db.Rebind(`UPDATE users SET sign_public = ? WHERE username = ?`), key, "bob"); err != nil {
				t.Fatal(err)
			}
		}
		var leaves, after int64
		count := func(n *int64) {
			t.Helper()
			if err := raw.QueryRowContext(d.Ctx, `SELECT COUNT(*) FROM ledger_leaves`).Scan(n); err != nil {
				t.Fatal(err)
			}
		}
		setBobKey(malloryKey)
		count(&leaves)
		// The ledger anchors bob's keys, so the swapped one is refused
		// before any signature is checked with it (anchor.go).
		_, err = d.Svc.Submit(d.Ctx, alice, m.ID, 1)
		if !errors.Is(err, service.ErrNotAnchored) {
			t.Fatalf("submit with bob's key swapped: %v, want the key refused", err)
		}
		count(&after)
		if after != leaves {
			t.Fatalf("the refused submission wrote %d ledger leaves", after-leaves)
		}
		if got, err := d.Svc.GetMemo(d.Ctx, alice, m.ID); err != nil || got.State == "submitted" || got.Receipt != nil {
			t.Fatalf("after the refused submission the memo is %+v, %v", got, err)
		}
		setBobKey(bobKey)
		if _, err := d.Svc.Submit(d.Ctx, alice, m.ID, 1); err != nil {
			t.Fatalf("submit with bob's key back: %v", err)
		}
	})
}

// TestRewrittenTailIsNeverSigned rewrites the ledger's newest leaf and the
// stored hashes above it, which anyone with database access can compute
// (no key needed), leaving its size alone; and, apart, cuts the newest leaf
// off. The node must refuse to sign a checkpoint over either, keep the
// checkpoint it signed before, refuse an export, and say it is not ready.
func TestRewrittenTailIsNeverSigned(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(t *testing.T, db *sqlstore.DB, last int64)
	}{
		{"the newest leaf rewritten, same size", func(t *testing.T, db *sqlstore.DB, last int64) {
			forged, err := ledger.Leaf{Version: 1, Time: time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC), Action: "ledger.selfcheck", Role: "system"}.Encode()
			if err != nil {
				t.Fatal(err)
			}
			hashes, err := tlog.StoredHashesForRecordHash(last, tlog.RecordHash(forged), storedHashes{t, db})
			if err != nil {
				t.Fatal(err)
			}
			execSQL(t, db, `UPDATE ledger_leaves SET data = ? WHERE idx = ?`, forged, last)
			first := tlog.StoredHashIndex(0, last)
			for i, h := range hashes {
				execSQL(t, db, `UPDATE ledger_hashes SET hash = ? WHERE idx = ?`, h[:], first+int64(i))
			}
		}},
		{"the newest leaf cut off", func(t *testing.T, db *sqlstore.DB, last int64) {
			execSQL(t, db, `DELETE FROM ledger_details WHERE idx = ?`, last)
			execSQL(t, db, `DELETE FROM ledger_leaves WHERE idx = ?`, last)
			execSQL(t, db, `DELETE FROM ledger_hashes WHERE idx >= ?`, tlog.StoredHashIndex(0, last))
			execSQL(t, db, `UPDATE ledger_head SET size = ?`, last)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			storetest.Stores(t, func(t *testing.T, st store.Store) {
				d := servicetest.NewDeployment(t, st)
				submitted(t, d, d.Member("alice"), "a memo")
				note, err := d.Svc.SignCheckpoint(d.Ctx)
				if err != nil {
					t.Fatal(err)
				}
				vkey, err := d.Svc.LedgerPublicKey(d.Ctx)
				if err != nil {
					t.Fatal(err)
				}
				cp, err := ledger.OpenCheckpoint(note, vkey)
				if err != nil {
					t.Fatal(err)
				}
				db := st.(*sqlstore.DB)
				c.edit(t, db, cp.Size-1)

				if _, err := d.Svc.SignCheckpoint(d.Ctx); !errors.Is(err, ledger.ErrTampered) {
					t.Errorf("signing over the edited ledger: %v, want it refused as tampered", err)
				}
				if _, err := d.Svc.ExportLedger(d.Ctx, t.TempDir()); err == nil {
					t.Error("the edited ledger was exported")
				}
				var stored []byte
				if err := db.Raw().QueryRowContext(d.Ctx, db.Rebind(`SELECT note FROM checkpoints WHERE size = ?`), cp.Size).Scan(&stored); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(stored, note) {
					t.Errorf("the checkpoint of size %d was replaced:\n%s", cp.Size, stored)
				}
				if res, err := d.Svc.CheckLedger(d.Ctx, nil); res == nil || res.OK {
					t.Errorf("self-check over the edited ledger: %+v %v", res, err)
				}
				if err := d.Svc.Ready(d.Ctx); err == nil {
					t.Error("the server says ready over the edited ledger")
				}
			})
		})
	}
}

// storedHashes reads the ledger's stored hashes straight from the table,
// as the one editing it would.
type storedHashes struct {
	t  *testing.T
	db *sqlstore.DB
}

func (r storedHashes) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		var b []byte
		if err := r.db.Raw().QueryRowContext(r.t.Context(), r.db.Rebind(`SELECT hash FROM ledger_hashes WHERE idx = ?`), x).Scan(&b); err != nil {
			return nil, err
		}
		out[i] = tlog.Hash(b)
	}
	return out, nil
}

func execSQL(t *testing.T, db *sqlstore.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.Raw().ExecContext(t.Context(), db.Rebind(query), args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}
