package service

import (
	"context"
	"errors"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/store"
)

// LatestCheckpoint returns the newest signed checkpoint, signing a fresh one
// first if the ledger has grown past it.
func (s *Service) LatestCheckpoint(ctx context.Context, a *Actor) ([]byte, error) {
	var note []byte
	err := s.inTx(ctx, false, func(tx store.Tx) error {
		size, n, err := tx.LatestCheckpoint(ctx)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		cur, err := ledgerSize(ctx, tx)
		if err != nil {
			return err
		}
		if err == nil && n != nil && size == cur {
			note = n
		}
		return nil
	})
	if err != nil || note != nil {
		return note, err
	}
	return s.SignCheckpoint(ctx)
}

// SignCheckpoint signs and stores a checkpoint of the ledger as it is now;
// the scheduler calls it, and so does LatestCheckpoint on demand.
func (s *Service) SignCheckpoint(ctx context.Context) ([]byte, error) {
	var note []byte
	err := s.inTx(ctx, true, func(tx store.Tx) error {
		var err error
		note, err = s.checkpoint(ctx, tx)
		return err
	})
	return note, err
}

func ledgerSize(ctx context.Context, tx store.Tx) (int64, error) {
	ls := tx.LedgerStorage("", "")
	if sz, ok := ls.(ledger.Sizer); ok {
		return sz.Size(ctx)
	}
	return ls.LockedSize(ctx)
}

// Proof is an inclusion proof: the hashes that link leaf Index to the tree
// of Size leaves. With the leaf and the signed checkpoint of that size it
// is a file `dissent verify` checks offline (bundle.VerifyEntry).
type Proof struct {
	Index      int64    `json:"index"`
	Size       int64    `json:"size"`
	Leaf       string   `json:"leaf,omitempty"` // to those who may see it (InclusionProof)
	Hashes     []string `json:"hashes"`
	Checkpoint string   `json:"checkpoint,omitempty"` // the signed checkpoint of Size leaves, when one is stored
}

// entryProof reads ledger entry index and proves it in the tree of size
// entries: the leaf as stored, and its inclusion proof.
func entryProof(ctx context.Context, tx store.Tx, index, size int64) ([]byte, tlog.RecordProof, error) {
	ls := tx.LedgerStorage("", "")
	proof, err := ledger.ProveInclusion(ctx, ls, index, size)
	if err != nil {
		return nil, nil, err
	}
	leaves, err := ls.ReadLeaves(ctx, index, index+1)
	if err != nil {
		return nil, nil, err
	}
	return leaves[0], proof, nil
}

// InclusionProof proves that leaf index is in the tree of the given size;
// size 0 asks for the latest checkpoint's, signing one first if the ledger
// has grown past it. The hashes reveal nothing, so any signed-in user may
// ask: an author checks a receipt, whose leaf it carries, against a newer
// checkpoint.
//
// The leaf itself names no author and holds no content, but page through
// them all and they tell who read which memo when and how many signed it,
// which the figures withhold. So it goes to auditors and administrators,
// and otherwise only when it is about a memo and the actor may see that
// memo's history and access log: its authors and the office (AccessLog's
// rule), who can then prove, offline, any step of the memo their own, a
// co-signer their signature. That is an access to the memo, recorded as
// memo.proof; a proof without its leaf is not.
func (s *Service) InclusionProof(ctx context.Context, a *Actor, index, size int64) (*Proof, error) {
	return s.proveEntry(ctx, a, index, size, "")
}

// MemoEntryProof is InclusionProof of entry index, in the latest
// checkpoint, for the web's memo pages: the entry must be memoID's and the
// leaf the actor's to have, or the answer is channel.ErrNotFound, the same
// for every reason, and nothing is recorded.
func (s *Service) MemoEntryProof(ctx context.Context, a *Actor, memoID string, index int64) (*Proof, error) {
	p, err := s.proveEntry(ctx, a, index, 0, memoID)
	switch {
	case channel.ErrorCode(err) == channel.EINVALID:
		return nil, channel.ErrNotFound // no such entry (yet)
	case err != nil:
		return nil, err
	case p.Leaf == "":
		return nil, channel.ErrNotFound
	}
	return p, nil
}

// proveEntry is InclusionProof; with memoID set, an entry of another memo
// gets no leaf and records nothing.
//
// The proof carries the signed checkpoint of its size when that is the
// latest, which it signs first if the ledger has grown past it, or the one
// the witnesses last cosigned (published); of another size, only for
// auditors and administrators. A submission signs one in its own
// transaction, so which earlier sizes have one would tell anyone who polls
// when memos are submitted.
func (s *Service) proveEntry(ctx context.Context, a *Actor, index, size int64, memoID string) (*Proof, error) {
	if _, err := s.LatestCheckpoint(ctx, a); err != nil {
		return nil, err
	}
	var p *Proof
	var leaf []byte
	err := s.inTx(ctx, false, func(tx store.Tx) error {
		latest, _, err := tx.LatestCheckpoint(ctx)
		if err != nil {
			return err
		}
		if size == 0 {
			size = latest
		}
		cur, err := ledgerSize(ctx, tx)
		if err != nil {
			return err
		}
		if index < 0 || size <= index || size > cur {
			return channel.Invalid("index", "need 0 <= index < size <= %d", cur)
		}
		var proof tlog.RecordProof
		if leaf, proof, err = entryProof(ctx, tx, index, size); err != nil {
			return err
		}
		p = &Proof{Index: index, Size: size, Hashes: hashStrings(proof)}
		if size != latest && !a.Has(channel.RoleAuditor) && !a.Has(channel.RoleAdmin) {
			switch cosigned, err := tx.Setting(ctx, settingCosigned); {
			case errors.Is(err, store.ErrNotFound):
				return nil
			case err != nil:
				return err
			case parseSize(cosigned) != size:
				return nil
			}
		}
		switch note, err := tx.Checkpoint(ctx, size); {
		case err == nil:
			p.Checkpoint = string(note)
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	auditor := a.Has(channel.RoleAuditor) || a.Has(channel.RoleAdmin)
	if auditor && memoID == "" {
		p.Leaf = string(leaf) // as stored, even one that does not decode
		return p, nil
	}
	l, err := ledger.DecodeLeaf(leaf)
	if err != nil || l.Memo == "" || memoID != "" && l.Memo != memoID {
		return p, err
	}
	if auditor {
		p.Leaf = string(leaf)
		return p, nil
	}
	// Who may have the leaf is decided reading; only then is it written
	// down, so that asking about entries one may not see holds up no writer.
	entitled := func(o *opened, err error) (bool, error) {
		switch {
		case errors.Is(err, channel.ErrNotFound):
			return false, nil
		case err != nil:
			return false, err
		}
		return o.rel == relAuthor || o.rel == relOffice, nil
	}
	mayHave := func() (ok bool, err error) {
		err = s.readRetry(ctx, func(tx store.Tx) error {
			ok, err = entitled(s.openMemo(ctx, tx, a, l.Memo, false))
			return err
		})
		return ok, err
	}
	ok, err := mayHave()
	if err == nil && !ok && a.id != nil {
		// An author whose mail holds the memo's newest key (the office
		// removed a reader since they last looked) opens it once that is
		// collected.
		if err := s.collectPending(ctx, a); err != nil {
			return p, err
		}
		ok, err = mayHave()
	}
	if err != nil || !ok {
		return p, err
	}
	err = s.withMail(ctx, a, func(ctx context.Context) error {
		return s.retry(ctx, func(tx store.Tx) error {
			o, err := s.openMemo(ctx, tx, a, l.Memo, true)
			if ok, err := entitled(o, err); err != nil || !ok {
				return err // the hashes only
			}
			ev := event{action: "memo.proof", actor: a, role: string(channel.RoleOffice), memo: l.Memo}
			if o.rel == relAuthor {
				ev = authorEvent("memo.proof", a, o)
			}
			if _, err := s.record(ctx, tx, ev); err != nil {
				return err
			}
			p.Leaf = string(leaf)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// ConsistencyProof proves that the tree of size to extends the one of size from.
func (s *Service) ConsistencyProof(ctx context.Context, a *Actor, from, to int64) (*Proof, error) {
	var p *Proof
	err := s.inTx(ctx, false, func(tx store.Tx) error {
		cur, err := ledgerSize(ctx, tx)
		if err != nil {
			return err
		}
		if from < 1 || to < from || to > cur {
			return channel.Invalid("from", "need 1 <= from <= to <= %d", cur)
		}
		proof, err := ledger.ProveConsistency(ctx, tx.LedgerStorage("", ""), from, to)
		if err != nil {
			return err
		}
		p = &Proof{Index: from, Size: to, Hashes: hashStrings(proof)}
		return nil
	})
	return p, err
}

func hashStrings(hs []tlog.Hash) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.String()
	}
	return out
}

// ExportLedger writes the whole ledger, as tiles and the latest checkpoint,
// to dir for offline verification (`dissent verify DIR`). It is an
// operator's action on the server (CLI), by whoever holds the database the
// leaves are read from, and it records nothing: the leaves hold ids,
// hashes and times only, which auditors and administrators may read
// through the API too, and an entry for the export would not be in it.
func (s *Service) ExportLedger(ctx context.Context, dir string) (*ledger.Checkpoint, error) {
	note, err := s.SignCheckpoint(ctx)
	if err != nil {
		return nil, err
	}
	var cp ledger.Checkpoint
	err = s.inTx(ctx, false, func(tx store.Tx) error {
		vkey, err := tx.Setting(ctx, settingLedgerVKey)
		if err != nil {
			return err
		}
		if cp, err = ledger.OpenCheckpoint(note, string(vkey)); err != nil {
			return err
		}
		// Signing checked the stored hashes against the last checkpoint;
		// the leaves are checked against those hashes here, before any goes out.
		ls := tx.LedgerStorage("", "")
		if err := ledger.SelfCheck(ctx, ls, &cp); err != nil {
			return err
		}
		return ledger.Export(ctx, ls, dir, note)
	})
	return &cp, err
}
