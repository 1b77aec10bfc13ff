package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/store"
)

// settingSelfCheck holds the outcome of the latest ledger self-check.
const settingSelfCheck = "ledger.selfcheck"

// LedgerStatus is the ledger at a glance, for auditors.
type LedgerStatus struct {
	Size       int64  `json:"size"`
	Checkpoint string `json:"checkpoint"` // the latest signed checkpoint note
	Origin     string `json:"origin"`
	// CheckpointSize and Root are what the checkpoint signs.
	CheckpointSize int64  `json:"checkpoint_size"`
	Root           string `json:"root"`
	// Verified reports whether the checkpoint's signature verifies with the
	// deployment's ledger key, recorded at set-up.
	Verified  bool       `json:"verified"`
	LastCheck *SelfCheck `json:"last_self_check,omitempty"`
}

// SelfCheck is the outcome of recomputing every ledger hash and comparing
// the root with the latest checkpoint.
type SelfCheck struct {
	At   time.Time `json:"at"`
	Size int64     `json:"size"`
	OK   bool      `json:"ok"`
	// Problem says where tampering was found; empty when OK.
	Problem string `json:"problem,omitempty"`
}

func mayAudit(a *Actor) error {
	if !a.Has(channel.RoleAuditor) && !a.Has(channel.RoleAdmin) {
		return channel.Errorf(channel.EFORBIDDEN, "the ledger status is for auditors and administrators")
	}
	return nil
}

// LedgerStatus returns the ledger's size, its latest checkpoint (signing a
// fresh one if the ledger grew) and the last self-check (auditors and
// administrators). It shows no memo.
func (s *Service) LedgerStatus(ctx context.Context, a *Actor) (*LedgerStatus, error) {
	if err := mayAudit(a); err != nil {
		return nil, err
	}
	note, err := s.LatestCheckpoint(ctx, a)
	if err != nil {
		return nil, err
	}
	st := &LedgerStatus{Checkpoint: string(note)}
	err = s.inTx(ctx, false, func(tx store.Tx) error {
		if st.Size, err = ledgerSize(ctx, tx); err != nil {
			return err
		}
		vkey, err := tx.Setting(ctx, settingLedgerVKey)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if cp, err := ledger.OpenCheckpoint(note, string(vkey)); err == nil {
			st.Verified, st.Origin, st.CheckpointSize, st.Root = true, cp.Origin, cp.Size, cp.Root.String()
		}
		raw, err := tx.Setting(ctx, settingSelfCheck)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		st.LastCheck = new(SelfCheck)
		if err := json.Unmarshal(raw, st.LastCheck); err != nil {
			return errInternal("self-check setting: %w", err)
		}
		return nil
	})
	return st, err
}

// selfCheckBatch is how many leaves CheckLedger compares with their filing
// at a time.
const selfCheckBatch = 4096

// CheckLedger recomputes every hash of the ledger and compares the root
// with the latest checkpoint. Auditors run it on demand; the server runs it
// as the system (a nil actor) at start, in the background so start-up stays
// fast. The outcome is kept for LedgerStatus and /readyz, and is itself an
// audited event. It also checks that each leaf is filed under its own memo
// and action (LeafIndexMismatch).
func (s *Service) CheckLedger(ctx context.Context, a *Actor) (*SelfCheck, error) {
	if a != nil && !a.Has(channel.RoleAuditor) {
		return nil, channel.Errorf(channel.EFORBIDDEN, "only auditors run the ledger self-check")
	}
	role := string(channel.RoleAuditor)
	if a == nil {
		role = "system"
	}
	res := &SelfCheck{At: s.now()}
	note, err := s.LatestCheckpoint(ctx, a)
	if errors.Is(err, ledger.ErrTampered) {
		// No checkpoint could be signed: the ledger does not extend the
		// last one (rewritten, or cut short).
		res.Problem = err.Error()
	} else if err != nil {
		return nil, err
	}
	// Read in its own transaction: the check reads the whole ledger and must
	// not hold the writer lock while it does.
	err = s.inTx(ctx, false, func(tx store.Tx) error {
		var err error
		if res.Size, err = ledgerSize(ctx, tx); err != nil || res.Problem != "" {
			return err
		}
		vkey, err := tx.Setting(ctx, settingLedgerVKey)
		if err != nil {
			return err
		}
		cp, err := ledger.OpenCheckpoint(note, string(vkey))
		if err != nil {
			res.Problem = "the latest checkpoint does not verify with the ledger key"
			return nil
		}
		// Anything that stops the check once the ledger's size is known is
		// damage to report: a missing row shows up as a read error.
		if err := ledger.SelfCheck(ctx, tx.LedgerStorage("", ""), &cp); err != nil && ctx.Err() == nil {
			res.Problem = err.Error()
			return nil
		}
		// A memo's history is read by the memo and action each leaf is
		// filed under, which the leaves' hashes do not cover: a leaf filed
		// elsewhere would drop out of it (a removal of a reader, which a
		// key rotation reads) unseen.
		for from := int64(0); from < res.Size && ctx.Err() == nil; from += selfCheckBatch {
			bad, err := tx.LeafIndexMismatch(ctx, from, min(from+selfCheckBatch, res.Size))
			if err != nil {
				return err
			}
			if bad >= 0 {
				res.Problem = fmt.Sprintf("ledger: tampered at leaf %d: it is filed under a memo or an action that is not its own, which hides it from a memo's history or adds it to another's", bad)
				return nil
			}
		}
		// Rows past the head are covered by no hash: nothing the service
		// commits leaves one there, and one put there could stand as a
		// step in a memo's history where that is not bounded (review 57).
		if bad, err := tx.RowPastHead(ctx); err != nil {
			return err
		} else if bad >= 0 && ctx.Err() == nil {
			res.Problem = fmt.Sprintf("ledger: tampered: a row at index %d lies past the ledger's head, where no hash or checkpoint covers it", bad)
			return nil
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, err
	}
	res.OK = res.Problem == ""
	raw, err := json.Marshal(res)
	if err != nil {
		return nil, err
	}
	err = s.inTx(ctx, true, func(tx store.Tx) error {
		if err := tx.PutSetting(ctx, settingSelfCheck, raw); err != nil {
			return err
		}
		return s.audit(ctx, tx, event{action: "ledger.selfcheck", actor: a, role: role})
	})
	if !res.OK {
		// Remembered on this node too: a ledger damaged enough that even the
		// record of this check cannot be appended must still fail /readyz.
		s.tampered.Store(true)
		s.log.Error("ledger self-check failed", "problem", res.Problem)
	}
	return res, err
}

// ledgerHealthy fails if the last self-check found tampering.
func (s *Service) ledgerHealthy(ctx context.Context) error {
	if s.tampered.Load() {
		return channel.Errorf(channel.EUNAVAILABLE, "the ledger self-check failed: see the auditor's ledger page")
	}
	return s.inTx(ctx, false, func(tx store.Tx) error {
		raw, err := tx.Setting(ctx, settingSelfCheck)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		var c SelfCheck
		if json.Unmarshal(raw, &c) != nil || !c.OK {
			return channel.Errorf(channel.EUNAVAILABLE, "the ledger self-check failed: see the auditor's ledger page")
		}
		return nil
	})
}
