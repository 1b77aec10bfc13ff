package service

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"

	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/vault"
)

// precomputed is the costly crypto of a submission — a check of every
// signature, a wrap of the memo's keys to the office and to each principal
// (51 Ed25519 verifications and 7 age wraps for the seed case) — done before
// its write transaction, in a read transaction on the memo as it was a
// moment earlier. There it runs beside other requests, instead of holding
// the single writer while it does.
//
// The write transaction still does every check itself, on what it reads:
// it takes a result from here only when the inputs are, byte for byte, the
// ones it would compute from (the same public key, statement and signature;
// the same key wrapped to the same recipient), found under a SHA-256 of
// them, and computes anything else. So a memo, signature, key or
// distribution that changed in between is checked or wrapped afresh.
type precomputed struct {
	verified map[[32]byte]bool
	wraps    map[[32]byte][]byte
	// steps are the co-signers' latest signing steps in the memo's
	// history when its latest entry was stepsAt (signSteps): read here,
	// they spare the write transaction reading the history again.
	steps   map[string]ledger.Leaf
	stepsAt int64
}

// verify is vault.VerifySignature, remembered. A nil p computes.
func (p *precomputed) verify(pub ed25519.PublicKey, st vault.Statement, sig []byte) bool {
	if p == nil {
		return vault.VerifySignature(pub, st, sig)
	}
	k := sha256.Sum256(vault.AD("verify", string(pub), string(st.Canonical()), string(sig)))
	if ok, seen := p.verified[k]; seen {
		return ok
	}
	ok := vault.VerifySignature(pub, st, sig)
	p.verified[k] = ok
	return ok
}

// wrap is vault.WrapKey, remembered. A nil p computes.
func (p *precomputed) wrap(box string, key vault.Key) ([]byte, error) {
	if p == nil {
		return vault.WrapKey(box, key)
	}
	k := sha256.Sum256(vault.AD("wrap", box, string(key[:])))
	if w, ok := p.wraps[k]; ok {
		return w, nil
	}
	w, err := vault.WrapKey(box, key)
	if err == nil {
		p.wraps[k] = w
	}
	return w, err
}

// presubmit does the crypto of submitting revision rev of memoID as the
// memo is now. Whatever stands in the way (it is not the actor's, not that
// revision, not signed) just leaves less precomputed: the write transaction
// finds it again and says so.
//
// At most one fewer than the cores run at once: the write transactions,
// one at a time behind SQLite's single writer, are the narrowest part of a
// burst of submissions, and they must not wait for a core behind a crowd
// of these.
func (s *Service) presubmit(ctx context.Context, a *Actor, memoID string, rev int) *precomputed {
	pre := &precomputed{verified: map[[32]byte]bool{}, wraps: map[[32]byte][]byte{}}
	select {
	case s.crypto <- struct{}{}:
		defer func() { <-s.crypto }()
	case <-ctx.Done():
		return pre
	}
	_ = s.inTx(ctx, false, func(tx store.Tx) error {
		o, err := s.openMemo(ctx, tx, a, memoID, false)
		if err != nil || o.rel != relAuthor || o.rec.Revision != rev {
			return err
		}
		o.pre = pre
		if o.latestKnown {
			entries, err := o.memoLedger(ctx, tx)
			if err != nil {
				return err
			}
			if pre.steps, err = latestSignSteps(entries); err != nil {
				return err
			}
			pre.stepsAt = o.latest
		}
		c, hash, err := o.content(ctx, tx, rev)
		if err != nil {
			return err
		}
		barred, err := s.checkSignatures(ctx, tx, o, c, hash)
		if err != nil {
			return err
		}
		if err := o.roster.PrepareSubmission(rev, barred); err != nil {
			return err
		}
		boxes := []string{}
		office, principals, _, _, err := s.distribution(ctx, tx)
		if err != nil {
			return err
		}
		if office != nil {
			boxes = append(boxes, string(office))
		}
		for _, p := range principals {
			boxes = append(boxes, p.BoxPublic)
		}
		for _, box := range boxes {
			for _, k := range o.keys {
				if _, err := pre.wrap(box, k); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return pre
}
