package service

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/store"
)

// Witnesses' cosignatures are published here: a witness (an inspector
// general, an ombudsman) cosigns a checkpoint it saw the ledger sign and
// that extends the last one it cosigned (`dissent ledger cosign`), and an
// auditor or administrator relays the cosigned note. The service checks it
// against the witnesses' keys the deployment names (channel.witnesses) and
// adds the cosignatures to its own stored checkpoint of that size, so that
// every proof at that size, and every copy of the checkpoint handed out
// after, carries them: an author then proves a submission in a tree that
// parties outside the operator saw, which the operator cannot show one way
// to the author and another way to everyone else.

// settingCosigned holds the size of the largest cosigned checkpoint.
const settingCosigned = "ledger.cosigned"

// Cosigned is the result of publishing cosignatures.
type Cosigned struct {
	Size int64 `json:"size"`
	// Added names the witnesses whose cosignatures were new; Witnesses
	// every witness that has now cosigned the checkpoint of Size entries.
	Added     []string `json:"added"`
	Witnesses []string `json:"witnesses"`
}

// AddCosignatures publishes the witnesses' cosignatures that msg, a
// checkpoint note, carries. Auditors and administrators relay them. The
// note must be one the ledger signed and stored, word for word; a
// different tree signed at the same size is a fork, reported as such and
// logged. Recorded as ledger.cosign.
func (s *Service) AddCosignatures(ctx context.Context, a *Actor, msg []byte) (*Cosigned, error) {
	role := ""
	switch {
	case a.Has(channel.RoleAuditor):
		role = string(channel.RoleAuditor)
	case a.Has(channel.RoleAdmin):
		role = string(channel.RoleAdmin)
	default:
		return nil, channel.Errorf(channel.EFORBIDDEN, "only auditors and administrators publish witnesses' cosignatures")
	}
	if len(s.cfg.Witnesses) == 0 {
		return nil, channel.Errorf(channel.ECONFLICT, "this deployment names no witnesses: add their verifier keys to channel.witnesses first")
	}
	if len(msg) > ledger.MaxCheckpointSize {
		return nil, channel.Invalid("checkpoint", "larger than %d bytes", ledger.MaxCheckpointSize)
	}
	var out *Cosigned
	err := s.inTx(ctx, true, func(tx store.Tx) error {
		vkey, err := tx.Setting(ctx, settingLedgerVKey)
		if err != nil {
			return err
		}
		offered, err := ledger.OpenCheckpoint(msg, string(vkey))
		if err != nil {
			return channel.Invalid("checkpoint", "not a checkpoint this ledger signed: %v", err)
		}
		stored, err := tx.Checkpoint(ctx, offered.Size)
		if errors.Is(err, store.ErrNotFound) {
			return s.unknownCheckpoint(ctx, tx, offered)
		} else if err != nil {
			return err
		}
		merged, cp, added, err := ledger.AddCosignatures(stored, msg, string(vkey), s.cfg.Witnesses)
		switch {
		case errors.Is(err, ledger.ErrTampered):
			return s.forked(offered, err)
		case err != nil:
			return channel.Invalid("checkpoint", "%v", err)
		case len(added) == 0 && len(cp.Signers) == 1:
			return channel.Invalid("checkpoint", "it carries no cosignature of a witness this deployment names")
		}
		out = &Cosigned{Size: cp.Size, Added: append([]string{}, added...), Witnesses: cp.Signers[1:]}
		if len(added) == 0 {
			return nil // nothing new, nothing to record
		}
		if ok, err := tx.CosignCheckpoint(ctx, cp.Size, stored, merged); err != nil {
			return err
		} else if !ok {
			return channel.Errorf(channel.ECONFLICT, "the checkpoint of %d entries was cosigned meanwhile: send it again", cp.Size)
		}
		switch latest, err := tx.Setting(ctx, settingCosigned); {
		case errors.Is(err, store.ErrNotFound) || err == nil && parseSize(latest) < cp.Size:
			if err := tx.PutSetting(ctx, settingCosigned, strconv.AppendInt(nil, cp.Size, 10)); err != nil {
				return err
			}
		case err != nil:
			return err
		}
		return s.audit(ctx, tx, event{action: "ledger.cosign", actor: a, role: role})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// unknownCheckpoint answers a checkpoint the ledger key signed that this
// ledger did not store: a fork if the ledger's tree of that size has
// another root, and refused in any case.
func (s *Service) unknownCheckpoint(ctx context.Context, tx store.Tx, offered ledger.Checkpoint) error {
	cur, err := ledgerSize(ctx, tx)
	if err != nil {
		return err
	}
	if offered.Size <= cur {
		root, err := ledger.TreeHash(ctx, tx.LedgerStorage("", ""), offered.Size)
		if err != nil {
			return err
		}
		if root != offered.Root {
			return s.forked(offered, fmt.Errorf("%w: the ledger key signed a tree of %d entries with root %s; this ledger's is %s: a fork", ledger.ErrTampered, offered.Size, offered.Root, root))
		}
	}
	return channel.Invalid("checkpoint", "this ledger stored no checkpoint of %d entries", offered.Size)
}

// forked reports a checkpoint the ledger key signed over another tree than
// this ledger's: the key leaked, or the ledger was rewritten. This node
// stops reporting ready, and says why in its log.
func (s *Service) forked(offered ledger.Checkpoint, err error) error {
	s.tampered.Store(true)
	s.log.Error("a checkpoint signed by the ledger key disagrees with this ledger", "size", offered.Size, "err", err)
	return channel.Errorf(channel.ECONFLICT, "%v", err)
}

// CosignedCheckpoint returns the largest checkpoint that witnesses have
// cosigned, with their cosignatures; any signed-in user may fetch it.
func (s *Service) CosignedCheckpoint(ctx context.Context, a *Actor) ([]byte, error) {
	var note []byte
	err := s.inTx(ctx, false, func(tx store.Tx) error {
		size, err := tx.Setting(ctx, settingCosigned)
		if errors.Is(err, store.ErrNotFound) {
			return channel.Errorf(channel.ENOTFOUND, "no witness has cosigned a checkpoint yet")
		} else if err != nil {
			return err
		}
		note, err = tx.Checkpoint(ctx, parseSize(size))
		return err
	})
	return note, err
}

// parseSize reads a size setting; anything else is 0.
func parseSize(b []byte) int64 {
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}
