package service

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dissent-channel/dissent/internal/bundle"
	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/store"
)

// ExportMemo returns a memo as a bundle anyone can verify offline with the
// ledger's public key: the text, the signatures that count for it with the
// signers' public keys, and once submitted the receipt, the submission leaf
// and its inclusion proof. Any entitled reader may export; it is audited.
func (s *Service) ExportMemo(ctx context.Context, a *Actor, memoID string) (*bundle.Bundle, error) {
	var bd *bundle.Bundle
	err := s.memoTx(ctx, a, memoID, func(tx store.Tx, o *opened) error {
		c, hash, err := o.content(ctx, tx, o.rec.Revision)
		if err != nil {
			return err
		}
		bd = &bundle.Bundle{Format: bundle.Format, MemoID: o.rec.ID, Revision: o.rec.Revision, Title: c.Title, Body: c.Body,
			Marking: c.Marking, ContentHash: hexString(hash), State: o.rec.State, Signatures: []bundle.Signature{}, ExportedAt: s.now()}
		var signed []channel.Author
		var ids []string
		for _, au := range o.roster.Authors {
			if au.Signed(o.rec.Revision) {
				signed, ids = append(signed, au), append(ids, au.UserID)
			}
		}
		users, err := tx.UsersByIDs(ctx, ids) // in the order asked
		if err != nil {
			return err
		}
		// The keys each signature was checked with at the submission,
		// kept in the roster: the signer's keys may have changed since (a
		// reset), and the memo must still verify. Before the submission,
		// and for memos submitted before the roster kept them, the
		// signer's keys now, which a signature must verify with then.
		keys := make([]channel.SignerKeys, len(signed))
		for i, au := range signed {
			if au.Keys != nil {
				keys[i] = *au.Keys
				continue
			}
			if err := s.checkUserKeys(ctx, tx, users[i]); err != nil {
				return err
			}
			keys[i] = channel.SignerKeys{Sign: users[i].SignPublic, Box: users[i].BoxPublic, Anchor: users[i].KeysAnchor}
		}
		anchors, err := s.keyAnchors(ctx, tx, ids, keys)
		if err != nil {
			return err
		}
		for i, au := range signed {
			bd.Signatures = append(bd.Signatures, bundle.Signature{Username: au.Username, Kind: string(au.Kind),
				PublicKey: base64.StdEncoding.EncodeToString(keys[i].Sign), Signature: base64.StdEncoding.EncodeToString(au.Signature),
				Anchor: anchors[i]})
		}
		if len(o.rec.Receipt) > 0 {
			if bd.Submission, err = s.submissionProof(ctx, tx, o.rec.Receipt); err != nil {
				return err
			}
		}
		ev := memberEvent("memo.export", a, o, channel.RoleOffice)
		switch o.rel {
		case relAuthor:
			ev = authorEvent("memo.export", a, o)
		case relReader:
			ev.role = string(channel.RolePrincipal)
		}
		return s.audit(ctx, tx, ev)
	})
	return bd, err
}

// keyAnchors returns the entries that anchor each signer's keys (of the
// account ids[i]), with their inclusion proofs in the latest checkpoint,
// for a bundle: a verifier then knows the ledger recorded each signer's
// key as the key of an account of that name. The caller has proved keys
// the accounts hold now anchored (checkUserKeys); keys kept in a roster
// the bundle's verifier checks against their entry.
func (s *Service) keyAnchors(ctx context.Context, tx store.Tx, ids []string, keys []channel.SignerKeys) ([]*bundle.KeyAnchor, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	note, cp, problem, err := s.ownLatest(ctx, tx)
	if err != nil {
		return nil, err
	} else if problem != "" {
		return nil, errInternal("%s", problem)
	}
	out := make([]*bundle.KeyAnchor, len(keys))
	for i, k := range keys {
		leaf, proof, err := entryProof(ctx, tx, k.Anchor, cp.Size)
		if err != nil {
			return nil, err
		}
		out[i] = &bundle.KeyAnchor{UserID: ids[i], BoxKey: k.Box, Index: k.Anchor, Leaf: string(leaf), Proof: hashStrings(proof), Checkpoint: string(note)}
	}
	return out, nil
}

func (s *Service) submissionProof(ctx context.Context, tx store.Tx, rawReceipt []byte) (*bundle.Submission, error) {
	var rc Receipt
	if err := json.Unmarshal(rawReceipt, &rc); err != nil {
		return nil, err
	}
	vkey, err := tx.Setting(ctx, settingLedgerVKey)
	if err != nil {
		return nil, err
	}
	cp, err := ledger.OpenCheckpoint([]byte(rc.Checkpoint), string(vkey))
	if err != nil {
		return nil, errInternal("receipt checkpoint: %w", err)
	}
	leaf, proof, err := entryProof(ctx, tx, rc.LedgerIndex, cp.Size)
	if err != nil {
		return nil, err
	}
	return &bundle.Submission{Receipt: rawReceipt, Leaf: string(leaf), Index: rc.LedgerIndex, Proof: hashStrings(proof), Checkpoint: rc.Checkpoint}, nil
}

// LedgerPublicKey is the key that verifies checkpoints (public; anyone
// signed in may fetch it to verify offline).
func (s *Service) LedgerPublicKey(ctx context.Context) (string, error) {
	var v []byte
	err := s.inTx(ctx, false, func(tx store.Tx) error {
		var err error
		v, err = tx.Setting(ctx, settingLedgerVKey)
		return err
	})
	return string(v), err
}

// CheckLedgerKey fails when this node's signing key is not the private
// half of the verifier key the store recorded at set-up: a node with
// another deployment's key (a restored snapshot's, a copied folder's) would
// sign receipts and checkpoints that verify under no key anyone holds. A
// store not yet set up has no key to compare.
func (s *Service) CheckLedgerKey(ctx context.Context) error {
	vkey, err := s.LedgerPublicKey(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return fmt.Errorf("service: read the ledger's public key: %w", err)
	}
	if err := ledger.CheckKeyPair(s.cfg.LedgerKey, vkey); err != nil {
		return fmt.Errorf("refusing to start: the ledger key (channel.ledger_key_file) is not this database's, whose public key is %q; put back the ledger.key that was set up with this database", vkey)
	}
	return CheckOrigin(s.cfg.LedgerKey, s.cfg.Origin)
}

// CheckOrigin refuses a ledger key that cannot sign checkpoints for origin
// (channel.origin): the key is named for the origin at `dissent init`, and
// a deployment whose origin changed since would start, and then fail at
// every checkpoint, every submission's included.
func CheckOrigin(ledgerKey, origin string) error {
	name, err := ledger.KeyName(ledgerKey)
	if err != nil {
		return fmt.Errorf("the ledger key: %w", err)
	}
	if name != origin {
		return fmt.Errorf("refusing to start: channel.origin is %q, but the ledger key was made for %q at set-up and signs checkpoints only under that name: set channel.origin back to %q", origin, name, name)
	}
	return nil
}
