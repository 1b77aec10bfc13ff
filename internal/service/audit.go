package service

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/vault"
)

// event is one audit event, recorded as a ledger leaf in the transaction of
// the change it describes.
type event struct {
	action string
	actor  *Actor // nil for the system or an unknown caller
	// role is the capacity the actor acts in; "" picks one from the roles.
	role string
	memo string
	// keys seal the detail under the memo's current key version.
	keys       memoKeys
	keyVersion int
	// author hides the actor behind a commitment made with nonce: the
	// ledger must not tell the operator who wrote a memo.
	author bool
	// anonymous leaves an author's user id out of the sealed detail: the
	// memo is an anonymous report, whose key the office holds.
	anonymous bool
	nonce     []byte
	content   []byte
	revision  int
	// subject is the account an account event is about.
	subject string
	// anchorOf is whose keys an anchoring entry anchors (a user id or a
	// group), recorded sealed (anchor.go).
	anchorOf string
	detail   map[string]any
	// count is how many events the entry stands for (ledger.Leaf.Count);
	// 0 or 1: one.
	count int
	// due is the deadlines the step set (ledger.Leaf.Due), unix µs.
	due []int64
	// at is when it happened; zero: now.
	at time.Time
}

// record appends ev to the ledger and returns its index.
func (s *Service) record(ctx context.Context, tx store.Tx, ev event) (int64, error) {
	idx, _, _, err := s.recordLeaf(ctx, tx, ev)
	return idx, err
}

// recordLeaf is record that also returns the leaf as appended, for a
// caller that hands it on (a receipt, the reader's own read event).
func (s *Service) recordLeaf(ctx context.Context, tx store.Tx, ev event) (int64, ledger.Leaf, []byte, error) {
	at := ev.at
	if at.IsZero() {
		at = s.now()
	}
	salt, err := ledger.NewSalt()
	if err != nil {
		return 0, ledger.Leaf{}, nil, err
	}
	leaf := ledger.Leaf{Version: 1, Time: at.UTC().Round(0), Action: ev.action, Memo: ev.memo, Revision: ev.revision, Subject: ev.subject, Salt: salt}
	if ev.count > 1 {
		leaf.Count = ev.count
	}
	if len(ev.due) > 0 {
		ts := make([]time.Time, len(ev.due))
		for i, us := range ev.due {
			ts[i] = fromMicros(us)
		}
		leaf.Due = ledger.FormatDue(ts...)
	}
	if len(ev.content) > 0 {
		leaf.Content = hex.EncodeToString(ev.content)
	}
	if ev.anchorOf != "" && !s.unsealedAnchors {
		leaf.AnchorOf = s.sealAnchorOf(ev.anchorOf, leaf.Content)
	}
	detail := map[string]any{}
	switch a := ev.actor; {
	case a == nil:
		leaf.Role = "system"
	case ev.author:
		leaf.Role = "author"
		leaf.ActorCommit = ledger.ActorCommitment(a.User.ID, ev.nonce)
		if ev.anonymous {
			detail["anonymous"] = true
		} else {
			detail["actor"] = a.User.ID
		}
	// An event done in another capacity (the office's, an auditor's, an
	// administrator's) names its role, and its actor with it, even when
	// the account may file too: the capacity is what the ledger must show.
	case protectedMember(a) && ev.role == "":
		// A member's sign-ins are not public: next to a memo's
		// activity they would hint at who wrote it. Each commitment has a
		// nonce of its own, which the member alone can derive again (from
		// the leaf's time), so that no one else can tell that two sign-ins
		// were the same person's.
		leaf.Role = string(channel.RoleMember)
		if a.id != nil {
			nonce := a.id.IndexTag("ledger-member-commitment", leaf.Time.Format(time.RFC3339Nano))
			leaf.ActorCommit = ledger.ActorCommitment(a.User.ID, nonce[:])
		}
	default:
		leaf.Actor = a.User.ID
		leaf.Role = ev.role
		if leaf.Role == "" {
			leaf.Role = primaryRole(a)
		}
	}
	for k, v := range ev.detail {
		detail[k] = v
	}
	var sealed []byte
	if ev.keys != nil && len(detail) > 0 {
		plain, err := json.Marshal(detail)
		if err != nil {
			return 0, ledger.Leaf{}, nil, err
		}
		k, ok := ev.keys[ev.keyVersion]
		if !ok {
			return 0, ledger.Leaf{}, nil, errInternal("no key version %d to seal an event", ev.keyVersion)
		}
		sealed = binary.BigEndian.AppendUint32(nil, uint32(ev.keyVersion))
		sealed = append(sealed, vault.Seal(k, vault.AD("ledger-detail", ev.memo, strconv.Itoa(ev.keyVersion)), plain)...)
		h := sha256.Sum256(sealed)
		leaf.Detail = hex.EncodeToString(h[:])
	}
	data, err := leaf.Encode()
	if err != nil {
		return 0, ledger.Leaf{}, nil, errInternal("encode leaf: %w", err)
	}
	idx, err := ledger.Append(ctx, tx.LedgerStorage(ev.memo, ev.action), data)
	if err != nil {
		return 0, ledger.Leaf{}, nil, err
	}
	if sealed != nil {
		if err := tx.PutLedgerDetail(ctx, idx, sealed); err != nil {
			return 0, ledger.Leaf{}, nil, err
		}
	}
	return idx, leaf, data, nil
}

// audit records ev when the caller needs no index.
func (s *Service) audit(ctx context.Context, tx store.Tx, ev event) error {
	_, err := s.record(ctx, tx, ev)
	return err
}

// openDetail opens the sealed detail of a memo event with the memo's keys
// and decodes the members of it that v has (a pointer to a struct).
// The leaf commits to its detail by hash (leaf.Detail): a detail moved
// beside another leaf of the same memo, which would still open, is refused.
func openDetail(keys memoKeys, memoID string, leaf ledger.Leaf, sealed []byte, v any) bool {
	h := sha256.Sum256(sealed)
	if len(sealed) < 4 || leaf.Detail != hex.EncodeToString(h[:]) {
		return false
	}
	kv := int(binary.BigEndian.Uint32(sealed))
	k, ok := keys[kv]
	if !ok {
		return false
	}
	plain, err := vault.Open(k, vault.AD("ledger-detail", memoID, strconv.Itoa(kv)), sealed[4:])
	if err != nil {
		return false
	}
	return decodeSealed(plain, v) == nil
}

// protectedMember reports whether a holds the member role: who may file
// a memo, whatever other roles they hold, has sign-ins that, named next
// to a memo's activity, would hint at who wrote it. Their steps in another
// role (ev.role set) are named as that role's.
func protectedMember(a *Actor) bool {
	return a.Has(channel.RoleMember)
}

func primaryRole(a *Actor) string {
	for _, r := range []channel.Role{channel.RoleAdmin, channel.RoleOffice, channel.RoleAuditor, channel.RolePrincipal, channel.RoleMember} {
		if a.Has(r) {
			return string(r)
		}
	}
	return "member"
}
