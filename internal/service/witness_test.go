package service_test

import (
	"encoding/json"
	"slices"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/dissent-channel/dissent/internal/bundle"
	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// TestWitnessCosignaturesPublished: an auditor relays a witness's
// cosignature of a checkpoint the ledger signed; the stored checkpoint
// carries it from then on, so an author's proof at that size shows the
// witness saw the tree. Members may not publish; a note without a named
// witness's cosignature is refused; a deployment that names no witnesses
// says so; and the ledger key's signature over another tree of the same
// size is a fork, which takes the node out of readiness.
func TestWitnessCosignaturesPublished(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice := d.Member("alice")
		auditor := d.Create("auditor", false, "auditor")
		_, rc := d.Submitted(alice, "a memo")
		note, err := d.Svc.LatestCheckpoint(d.Ctx, auditor)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := ledger.OpenCheckpoint(note, d.LedgerVKey)
		if err != nil {
			t.Fatal(err)
		}
		wskey, wvkey, err := ledger.GenerateKey("oig.example")
		if err != nil {
			t.Fatal(err)
		}
		cosigned, err := ledger.Cosign(note, wskey, d.LedgerVKey)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.AddCosignatures(d.Ctx, auditor, cosigned); channel.ErrorCode(err) != channel.ECONFLICT {
			t.Errorf("no witnesses named: %v, want a conflict", err)
		}

		cfg := d.Svc.Config()
		cfg.Witnesses = []string{wvkey}
		svc := d.WithConfig(cfg)
		if _, err := svc.CosignedCheckpoint(d.Ctx, alice); channel.ErrorCode(err) != channel.ENOTFOUND {
			t.Errorf("nothing cosigned yet: %v", err)
		}
		if _, err := svc.AddCosignatures(d.Ctx, alice, cosigned); channel.ErrorCode(err) != channel.EFORBIDDEN {
			t.Errorf("a member published: %v", err)
		}
		if _, err := svc.AddCosignatures(d.Ctx, auditor, note); channel.ErrorCode(err) != channel.EINVALID {
			t.Errorf("the ledger's note alone: %v", err)
		}
		got, err := svc.AddCosignatures(d.Ctx, auditor, cosigned)
		if err != nil || got.Size != cp.Size || !slices.Equal(got.Added, []string{"oig.example"}) || !slices.Equal(got.Witnesses, []string{"oig.example"}) {
			t.Fatalf("published: %+v, %v", got, err)
		}
		if again, err := svc.AddCosignatures(d.Ctx, d.Admin, cosigned); err != nil || len(again.Added) != 0 || len(again.Witnesses) != 1 {
			t.Errorf("published again: %+v, %v", again, err)
		}
		pub, err := svc.CosignedCheckpoint(d.Ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		if c, err := ledger.OpenCheckpoint(pub, d.LedgerVKey, wvkey); err != nil || c.Size != cp.Size || len(c.Signers) != 2 {
			t.Errorf("the cosigned checkpoint handed out: %+v, %v\n%s", c, err, pub)
		}

		// The author proves her submission in the witnessed tree.
		p, err := svc.InclusionProof(d.Ctx, alice, rc.LedgerIndex, cp.Size)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		e, err := bundle.VerifyEntry(b, d.LedgerVKey, wvkey)
		if err != nil || !slices.Equal(e.Cosigners, []string{"oig.example"}) || e.Leaf.Action != "memo.submit" {
			t.Fatalf("the author's proof in the cosigned tree: %+v, %v", e, err)
		}

		// The ledger key over another tree of the same size: a fork.
		fork, err := ledger.SignCheckpoint(cfg.LedgerKey, cp.Origin, cp.Size, tlog.RecordHash([]byte("not the tree")))
		if err != nil {
			t.Fatal(err)
		}
		forkCosigned, err := ledger.Cosign(fork, wskey, d.LedgerVKey)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AddCosignatures(d.Ctx, auditor, forkCosigned); channel.ErrorCode(err) != channel.ECONFLICT {
			t.Errorf("a fork: %v, want a conflict", err)
		}
		if err := svc.Ready(d.Ctx); err == nil {
			t.Error("the node stays ready after a fork was shown to it")
		}
		// ... and at a size the ledger signed no checkpoint of.
		d.Submitted(alice, "another memo")
		svc2 := d.WithConfig(cfg)
		unstored, err := ledger.SignCheckpoint(cfg.LedgerKey, cp.Origin, cp.Size+1, tlog.RecordHash([]byte("not the tree either")))
		if err != nil {
			t.Fatal(err)
		}
		if unstored, err = ledger.Cosign(unstored, wskey, d.LedgerVKey); err != nil {
			t.Fatal(err)
		}
		if _, err := svc2.AddCosignatures(d.Ctx, auditor, unstored); channel.ErrorCode(err) != channel.ECONFLICT || svc2.Ready(d.Ctx) == nil {
			t.Errorf("a fork at a size never stored: %v", err)
		}
		if after, err := svc.CosignedCheckpoint(d.Ctx, alice); err != nil || string(after) != string(pub) {
			t.Errorf("the fork changed the published checkpoint: %v\n%s", err, after)
		}
	})
}
