package service

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/dissent-channel/dissent/internal/bundle"
	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/vault"
)

// save seals the roster, records ev, writes the memo and returns the view
// the actor gets back, all in tx.
func (s *Service) save(ctx context.Context, tx store.Tx, a *Actor, o *opened, ev event) (*Memo, int64, error) {
	if err := o.sealRoster(); err != nil {
		return nil, 0, err
	}
	idx, err := s.record(ctx, tx, ev)
	if err != nil {
		return nil, 0, err
	}
	if err := s.updateMemo(ctx, tx, o.rec); err != nil {
		return nil, 0, err
	}
	m, err := s.view(ctx, tx, a, o, false)
	return m, idx, err
}

// Receipt is what the authors keep after submitting: enough to prove later,
// offline, what was submitted and when (bundle.VerifyReceipt). It names no
// author.
type Receipt = bundle.Receipt

// Submit sends revision rev to the channel office. Every listed signer has
// signed that revision or is dropped; every signature is verified; the data
// key is wrapped to the office and the standing distribution; the receipt
// carries the ledger index of the submission and a checkpoint covering it.
func (s *Service) Submit(ctx context.Context, a *Actor, memoID string, rev int) (*Receipt, error) {
	var receipt *Receipt
	pre := s.presubmit(ctx, a, memoID, rev)
	// Where the memo goes and whom it is announced to are read with the
	// memo, before the first write.
	ahead := store.Ahead{Settings: []string{settingOffice, settingDistribution}, Group: officeGroup}
	err := s.memoTxAhead(ctx, a, memoID, ahead, func(tx store.Tx, o *opened) error {
		o.pre = pre
		if err := s.requireDrafter(a, o); err != nil {
			return err
		}
		next, err := channel.Transition(channel.State(o.rec.State), channel.ActSubmit)
		if err != nil {
			return err
		}
		if rev != o.rec.Revision {
			return channel.Errorf(channel.ECONFLICT, "revision %d is not the current one (%d)", rev, o.rec.Revision)
		}
		if err := s.requireConfirmedKeys(ctx, tx, a, "submit a memo"); err != nil {
			return err
		}
		c, hash, err := o.content(ctx, tx, rev)
		if err != nil {
			return err
		}
		// The roster as stored, before checkSignatures voids the
		// signatures of those who may no longer file.
		if err := s.signaturesStand(ctx, tx, o, a); err != nil {
			return err
		}
		barred, err := s.checkSignatures(ctx, tx, o, c, hash)
		if err != nil {
			return err
		}
		if err := o.roster.PrepareSubmission(rev, barred); err != nil {
			return err
		}
		o.author = &o.roster.Authors[o.roster.Find(a.User.ID)]
		office, err := s.officeRecipients(ctx, tx)
		if err != nil {
			return err
		}
		principals, withheld, used, err := s.distribute(ctx, tx, o)
		if err != nil {
			return err
		}
		now := s.now()
		d := s.cfg.Profile.Deadlines(s.cfg.Calendar, now)
		o.rec.State, o.rec.UpdatedAt, o.rec.SubmittedAt = string(next), micros(now), micros(now)
		o.rec.AcknowledgeBy, o.rec.ReplyBy, o.rec.ReplyLatest = micros(d.AcknowledgeBy), micros(d.ReplyBy), micros(d.ReplyLatest)
		o.rec.DueAt = o.rec.AcknowledgeBy
		o.rec.AuthorsCount = len(o.roster.Authors)
		ev := authorEvent("memo.submit", a, o)
		ev.content, ev.revision, ev.at = hash, rev, now
		ev.due = []int64{o.rec.AcknowledgeBy, o.rec.ReplyBy, o.rec.ReplyLatest}
		to := make([]string, 0, len(principals))
		for _, p := range principals {
			to = append(to, p.ID)
		}
		// Who the memo went to, for a key rotation to check the access
		// rows against (grantedByLedger).
		ev.detail = map[string]any{"dropped": len(o.roster.Dropped), "to": to}
		// Whom the memo's messages go to, for messageRecipients to check
		// the roster against: the roster is sealed under the memo's key,
		// which the readers hold too.
		if err := s.vouchAuthors(ctx, tx, o, ev.detail); err != nil {
			return err
		}
		if len(withheld) > 0 {
			ev.detail["withheld"] = withheld // what a confirmation may share (shareWithheld)
		}
		if err := o.sealRoster(); err != nil {
			return err
		}
		idx, lf, leaf, err := s.recordLeaf(ctx, tx, ev)
		if err != nil {
			return err
		}
		if err := s.stillWithheld(ctx, tx, withheld); err != nil {
			return err
		}
		if err := distributionUnchanged(ctx, tx, used); err != nil {
			return err
		}
		cp, size, err := s.checkpointAt(ctx, tx)
		if err != nil {
			return err
		}
		proof, err := ledger.ProveInclusion(ctx, tx.LedgerStorage("", ""), idx, size)
		if err != nil {
			return err
		}
		receipt = &Receipt{MemoID: o.rec.ID, Revision: rev, ContentHash: hex.EncodeToString(hash), AuthorsCount: o.rec.AuthorsCount,
			Dropped: len(o.roster.Dropped), SubmittedAt: lf.Time, LedgerIndex: idx, Checkpoint: string(cp),
			Leaf: string(leaf), Proof: hashStrings(proof)}
		if o.rec.Receipt, err = json.Marshal(receipt); err != nil {
			return err
		}
		if err := s.noticeSubmitted(ctx, tx, o.rec, office, principals); err != nil {
			return err
		}
		return s.updateMemo(ctx, tx, o.rec)
	})
	return receipt, err
}

// signSteps returns, by actor commitment, the latest signing step
// (memo.sign or memo.unsign) of each actor in o's history: those presubmit
// found, if the memo's latest entry is still the one it read (a step since
// would be a later entry), or else those in the history read now.
func signSteps(ctx context.Context, tx store.Tx, o *opened) (map[string]ledger.Leaf, error) {
	if p := o.pre; p != nil && p.steps != nil && o.latestKnown && p.stepsAt == o.latest {
		return p.steps, nil
	}
	entries, err := o.memoLedger(ctx, tx)
	if err != nil {
		return nil, err
	}
	return latestSignSteps(entries)
}

func latestSignSteps(entries []store.LedgerEntry) (map[string]ledger.Leaf, error) {
	last := map[string]ledger.Leaf{}
	for _, e := range entries {
		l, err := ledger.DecodeLeaf(e.Data)
		if err != nil {
			return nil, errInternal("ledger leaf %d: %w", e.Index, err)
		}
		if l.Action == "memo.sign" || l.Action == "memo.unsign" {
			last[l.ActorCommit] = l
		}
	}
	return last, nil
}

// signaturesStand refuses, as tampering, a roster whose co-signatures are
// not those the memo's ledger last recorded: one holding a signature its
// signer took back since, or lacking one its signer gave the current
// revision last. Each co-signer's latest signing step (memo.sign or
// memo.unsign, filed under their commitment) says which. The roster is
// sealed under the memo's key, but a copy saved before, written back,
// opens as well, and its signatures verify: it would send a memo out with
// a signature taken back, or leave a chosen signer off it. The submitter's
// own are what they just did; a co-signer with no step in the ledger
// signed under a release that kept none, and their signature verifies
// (checkSignatures).
func (s *Service) signaturesStand(ctx context.Context, tx store.Tx, o *opened, a *Actor) error {
	rev := o.rec.Revision
	signed := map[string]bool{} // by commitment: whether the roster says they signed rev
	for _, au := range o.roster.Authors {
		if au.UserID == a.User.ID {
			continue
		}
		if len(au.Nonce) != ledger.ActorNonceSize {
			return errInternal("memo %s: an author's nonce is %d bytes", o.rec.ID, len(au.Nonce))
		}
		signed[ledger.ActorCommitment(au.UserID, au.Nonce)] = au.Signed(rev)
	}
	if len(signed) == 0 {
		return nil
	}
	last, err := signSteps(ctx, tx, o)
	if err != nil {
		return err
	}
	for commit, says := range signed {
		l, ok := last[commit]
		if !ok {
			continue
		}
		if ledgerSays := l.Action == "memo.sign" && l.Revision == rev; ledgerSays != says {
			if err := s.rowStill(ctx, tx, o); err != nil {
				return err
			}
			s.tampered.Store(true)
			s.log.Error("a memo's roster disagrees with its ledger about a co-signature: refused; find who wrote memos.roster", "memo", o.rec.ID)
			return errInternal("memo %s: the roster says a co-signer signed revision %d: %v; their latest step in the ledger, %s of revision %d, says otherwise", o.rec.ID, rev, says, l.Action, l.Revision)
		}
	}
	return nil
}

// checkSignatures goes through the signatures that count for the memo's
// current revision. Those of authors who may no longer file (no longer
// members, made ineligible, disabled, their keys reset since they signed)
// are voided: such a signer is then dropped at submission like one who did
// not sign. A drafter who may no longer file is returned in barred, signed
// or not, for the submission to drop too: they do not go out as an
// author. Every other signature is verified against its signer's public
// key, so that a tampered roster cannot be submitted.
func (s *Service) checkSignatures(ctx context.Context, tx store.Tx, o *opened, c channel.Content, hash []byte) (barred []string, err error) {
	rev := o.rec.Revision
	var ids, drafters []string
	for _, au := range o.roster.Authors {
		if au.Signed(rev) {
			ids = append(ids, au.UserID)
		} else if au.Kind == channel.KindDrafter {
			drafters = append(drafters, au.UserID)
		}
	}
	users, err := tx.UsersByIDs(ctx, append(ids, drafters...)) // in the order asked
	if err != nil {
		return nil, err
	}
	// A drafter goes out as an author even unsigned: not one whose keys
	// await the office, who may be whoever made them, nor one who may no
	// longer file.
	for _, u := range users[len(ids):] {
		if s.mayFile(u) != nil {
			barred = append(barred, u.ID)
			continue
		}
		if held, err := s.keysHeld(ctx, tx, u); err != nil {
			return nil, err
		} else if held {
			return nil, channel.Errorf(channel.ECONFLICT, "%q, a drafter, has new keys that the channel office has not confirmed yet: the memo goes out in their name only once it confirms them", u.Username)
		}
	}
	n := 0
	for i := range o.roster.Authors {
		au := &o.roster.Authors[i]
		if !au.Signed(rev) {
			continue
		}
		u := users[n]
		n++
		if s.mayFile(u) != nil {
			au.SignedRevision, au.Signature, au.SignedAt = 0, nil, time.Time{}
			if au.Kind == channel.KindDrafter {
				barred = append(barred, u.ID)
			}
			continue
		}
		// A signature counts only under keys the ledger anchors for the
		// signer and, when they were made again, the office confirmed.
		if held, err := s.keysHeld(ctx, tx, u); err != nil {
			return nil, err
		} else if held {
			return nil, channel.Errorf(channel.ECONFLICT, "%q signed with new keys that the channel office has not confirmed yet: their signature counts once it confirms them, or they take it back", au.Username)
		}
		st := vault.Statement{MemoID: o.rec.ID, Revision: rev, ContentHash: [32]byte(hash), Marking: c.Marking, Signer: u.Username}
		if !o.pre.verify(u.SignPublic, st, au.Signature) {
			return nil, channel.Errorf(channel.ECONFLICT, "the signature of %q does not verify: ask them to sign again", au.Username)
		}
		au.Keys = &channel.SignerKeys{Sign: u.SignPublic, Box: u.BoxPublic, Anchor: u.KeysAnchor}
	}
	return barred, nil
}

// distribute wraps the memo's keys to the channel office and to every
// principal on the standing distribution, and returns the principals it
// wrapped them to. Principals whose keys await the office's confirmation
// are recorded as withheld, for the confirmation to share it with them,
// and returned by id: the submission's ledger entry names them too.
func (s *Service) distribute(ctx context.Context, tx store.Tx, o *opened) (to []*store.User, withheld []string, used map[string][]byte, err error) {
	office, principals, withheld, used, err := s.distribution(ctx, tx)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := tx.Withhold(ctx, o.rec.ID, withheld...); err != nil {
		return nil, nil, nil, err
	}
	if office == nil {
		if _, err := s.officeFounded(ctx, tx); err != nil {
			return nil, nil, nil, err // the ledger anchors an office the database lost
		}
		return nil, nil, nil, channel.Errorf(channel.ECONFLICT, "%s", officeUnfounded)
	}
	all, err := s.wraps(o, officeGroup, string(office), "system", nil, true)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, p := range principals {
		as, err := s.wraps(o, p.ID, p.BoxPublic, "system", nil, true)
		if err != nil {
			return nil, nil, nil, err
		}
		all, to = append(all, as...), append(to, p)
	}
	return to, withheld, used, tx.PutAccess(ctx, all...)
}

// distribution reads, in one query, where a submission goes: the channel
// office's public key (nil before the office is set up) and the users of
// the standing distribution who may read (actsAsPrincipal). The keys of
// the office and of each principal are proved anchored; a principal whose
// keys the office has not confirmed is left out, and their id returned in
// withheld.
func (s *Service) distribution(ctx context.Context, tx store.Tx) (office []byte, principals []*store.User, withheld []string, used map[string][]byte, err error) {
	set, err := tx.Settings(ctx, distributionSettings...)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if office, err = s.officeBox(ctx, tx, set); err != nil {
		return nil, nil, nil, nil, err
	}
	raw, ok := set[settingDistribution]
	if !ok {
		raw = []byte("[]")
	}
	all, err := distributionUsers(ctx, tx, raw)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	for _, p := range all {
		if !actsAsPrincipal(p) {
			continue
		}
		// A principal whose keys the office has not confirmed is left out
		// (keysconfirm.go).
		if held, err := s.principalHeld(ctx, tx, p); err != nil {
			return nil, nil, nil, nil, err
		} else if held {
			withheld = append(withheld, p.ID)
			continue
		}
		principals = append(principals, p)
	}
	return office, principals, withheld, set, nil
}

// distributionSettings are the settings distribution reads. With them it
// reads settingAccounts, which the account changes that could make a
// principal no longer one to wrap a memo to move (bumpAccounts): so that
// distributionUnchanged, under the ledger's lock, also finds a principal
// changed since the distribution read it, in the query it makes anyway
// (the submission's hot path; other steps check the accounts themselves,
// accountsUnchanged).
var distributionSettings = []string{settingOffice, settingOfficeAnchor, settingDistribution, settingAccounts}

// distributionUnchanged returns store.ErrConflict, for the submission to
// run again, if the settings it was distributed by (used) changed since
// they were read: checked once its ledger entry holds the ledger's lock,
// which a change of them takes too, so that a memo is never submitted,
// after a change of the standing distribution, to the list before it.
func distributionUnchanged(ctx context.Context, tx store.Tx, used map[string][]byte) error {
	now, err := tx.Settings(ctx, distributionSettings...)
	if err != nil {
		return err
	}
	if !maps.EqualFunc(now, used, bytes.Equal) {
		return fmt.Errorf("%w: the standing distribution changed while the memo was submitted", store.ErrConflict)
	}
	return nil
}

// settingAccounts counts the changes of accounts that decide whether a
// memo's key may be wrapped to them (bumpAccounts).
const settingAccounts = "accounts.changed"

// bumpAccounts moves settingAccounts, in a transaction that changes an
// account's roles, state or keys and holds the ledger's lock from its
// start (lockLedger): a submission that read the distribution before then
// runs again (distributionUnchanged).
func bumpAccounts(ctx context.Context, tx store.Tx) error {
	raw, err := setting(ctx, tx, settingAccounts, []byte("0"))
	if err != nil {
		return err
	}
	n, _ := strconv.ParseInt(string(raw), 10, 64)
	return tx.PutSetting(ctx, settingAccounts, []byte(strconv.FormatInt(n+1, 10)))
}

// accountsUnchanged returns store.ErrConflict, for the transaction to run
// again, if an account it read before it held the ledger's lock, and
// wrapped or mailed a memo's key to, has changed since: made an
// administrator, disabled, given new keys on another node (PostgreSQL's
// statements each see the latest commit). Such changes take the ledger's
// lock before they read the account (UpdateUser, NewKeys), so one that
// did not commit before this check waits for this transaction, and then
// sees what it wrote. On SQLite, whose writers take turns, nothing can
// change in between, and nothing is read.
func (s *Service) accountsUnchanged(ctx context.Context, tx store.Tx, read []*store.User) error {
	if !s.writersOverlap || len(read) == 0 {
		return nil
	}
	ids := make([]string, len(read))
	for i, u := range read {
		ids[i] = u.ID
	}
	now, err := tx.UsersByIDs(ctx, ids)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: an account the memo's key went to was deleted meanwhile", store.ErrConflict)
	} else if err != nil {
		return err
	}
	for i, u := range now {
		if u.Version != read[i].Version {
			return fmt.Errorf("%w: an account the memo's key went to changed meanwhile", store.ErrConflict)
		}
	}
	return nil
}

// stillWithheld reads again, now that the submission holds the ledger's
// lock (recordLeaf), the principals the distribution withheld the memo
// from. A member of the office on another node may have confirmed one in
// between: that confirmation could not see this memo to share it, and
// none to come would. The submission then starts again (store.ErrConflict,
// retried by memoTxAhead) and reaches them.
func (s *Service) stillWithheld(ctx context.Context, tx store.Tx, withheld []string) error {
	if len(withheld) == 0 {
		return nil
	}
	us, err := tx.UsersByIDs(ctx, withheld)
	if err != nil {
		return err
	}
	for _, u := range us {
		if !actsAsPrincipal(u) {
			continue
		}
		if held, err := s.principalHeld(ctx, tx, u); err != nil {
			return err
		} else if !held {
			return fmt.Errorf("%w: the office confirmed a principal's keys while the memo was submitted", store.ErrConflict)
		}
	}
	return nil
}

// wraps wraps every key version of o to one grantee, for PutAccess.
func (s *Service) wraps(o *opened, grantee, box, addedBy string, reason []byte, standing bool) ([]*store.Access, error) {
	var out []*store.Access
	for kv, k := range o.keys {
		w, err := o.pre.wrap(box, k)
		if err != nil {
			return nil, err
		}
		out = append(out, &store.Access{MemoID: o.rec.ID, Grantee: grantee, KeyVersion: kv, Wrapped: w, AddedBy: addedBy, Reason: reason, Standing: standing, AddedAt: micros(s.now())})
	}
	return out, nil
}

// checkpoint signs the ledger's current tree and stores the checkpoint.
func (s *Service) checkpoint(ctx context.Context, tx store.Tx) ([]byte, error) {
	note, _, err := s.checkpointAt(ctx, tx)
	return note, err
}

// checkpointAt is checkpoint that also returns the tree size it signed.
func (s *Service) checkpointAt(ctx context.Context, tx store.Tx) ([]byte, int64, error) {
	ls := tx.LedgerStorage("", "")
	size, err := ls.LockedSize(ctx)
	if err != nil {
		return nil, 0, err
	}
	// Never sign a tree that does not extend the last one signed: stored
	// hashes rewritten since would otherwise be blessed. That holds at the
	// same size too (the root must not have changed) and for a ledger now
	// smaller than the last checkpoint (its tail was cut).
	if _, oldNote, err := tx.LatestCheckpoint(ctx); err == nil {
		old, err := s.openLatest(ctx, tx, oldNote)
		if err != nil {
			return nil, 0, err
		}
		if err := ledger.CheckConsistent(ctx, ls, old); err != nil {
			return nil, 0, err
		}
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, 0, err
	}
	root, err := ledger.TreeHash(ctx, ls, size)
	if err != nil {
		return nil, 0, err
	}
	note, err := ledger.SignCheckpoint(s.cfg.LedgerKey, s.cfg.Origin, size, root)
	if err != nil {
		return nil, 0, err
	}
	s.signed.Store(&signedCheckpoint{note: note, cp: ledger.Checkpoint{Origin: s.cfg.Origin, Size: size, Root: root, Signers: []string{s.cfg.Origin}}})
	return note, size, tx.PutCheckpoint(ctx, size, note, micros(s.now()))
}

// signedCheckpoint is a checkpoint this node signed, and what it says.
type signedCheckpoint struct {
	note []byte
	cp   ledger.Checkpoint
}

// openLatest verifies the latest stored checkpoint before a new one is
// signed over it. When the store hands back, byte for byte, the last one
// this node signed (each submission signs one, so the next finds it), what
// it says is known without checking the signature again; any other bytes,
// such as another node's checkpoint or a forged row, are verified.
func (s *Service) openLatest(ctx context.Context, tx store.Tx, note []byte) (ledger.Checkpoint, error) {
	if last := s.signed.Load(); last != nil && bytes.Equal(last.note, note) {
		return last.cp, nil
	}
	// The node's own key, not whatever the settings row holds: a key put
	// there would let its holder's checkpoint decide what this node signs
	// over.
	vkey, problem, err := s.ownLedgerVKey(ctx, tx)
	if err != nil {
		return ledger.Checkpoint{}, err
	} else if problem != "" {
		s.tampered.Store(true)
		return ledger.Checkpoint{}, errInternal("%s", problem)
	}
	cp, err := ledger.OpenCheckpoint(note, vkey)
	if err != nil {
		return ledger.Checkpoint{}, errInternal("the latest checkpoint does not verify: %w", err)
	}
	return cp, nil
}

// officeStep is a lifecycle step only the office takes.
func (s *Service) officeStep(ctx context.Context, a *Actor, memoID string, act channel.Action, fn func(tx store.Tx, o *opened, now time.Time) (map[string]any, error)) (*Memo, error) {
	var out *Memo
	err := s.memoTx(ctx, a, memoID, func(tx store.Tx, o *opened) error {
		if err := requireOffice(o); err != nil {
			return err
		}
		if err := s.requireConfirmedKeys(ctx, tx, a, "act for the office"); err != nil {
			return err
		}
		next, err := channel.Transition(channel.State(o.rec.State), act)
		if err != nil {
			return err
		}
		now := s.now()
		o.rec.State, o.rec.UpdatedAt = string(next), micros(now)
		detail, err := fn(tx, o, now)
		if err != nil {
			return err
		}
		ev := memberEvent("memo."+string(act), a, o, channel.RoleOffice)
		ev.detail = detail
		out, _, err = s.save(ctx, tx, a, o, ev)
		return err
	})
	return out, err
}

// Acknowledge tells the authors their memo was received; the reply clock
// keeps running from submission.
func (s *Service) Acknowledge(ctx context.Context, a *Actor, memoID string) (*Memo, error) {
	return s.officeStep(ctx, a, memoID, channel.ActAcknowledge, func(tx store.Tx, o *opened, now time.Time) (map[string]any, error) {
		o.rec.AcknowledgedAt, o.rec.DueAt = micros(now), o.rec.ReplyBy
		return nil, nil
	})
}

// Return sends a memo back as out of scope, with a stated reason.
func (s *Service) Return(ctx context.Context, a *Actor, memoID, reason string) (*Memo, error) {
	if err := channel.ValidateText("reason", reason, channel.MaxReason); err != nil {
		return nil, err
	}
	return s.officeStep(ctx, a, memoID, channel.ActReturn, func(tx store.Tx, o *opened, now time.Time) (map[string]any, error) {
		o.rec.EndedAt, o.rec.DueAt = micros(now), 0
		return nil, s.addItem(ctx, tx, a, o, "return", reasonItem{Reason: reason}, now)
	})
}

// Reply records the office's substantive reply; the authors read it.
func (s *Service) Reply(ctx context.Context, a *Actor, memoID, body string) (*Memo, error) {
	if err := channel.ValidateText("body", body, s.cfg.MaxBody); err != nil {
		return nil, err
	}
	return s.officeStep(ctx, a, memoID, channel.ActReply, func(tx store.Tx, o *opened, now time.Time) (map[string]any, error) {
		o.rec.RepliedAt, o.rec.DueAt = micros(now), 0
		if o.rec.AcknowledgedAt == 0 {
			o.rec.AcknowledgedAt = micros(now) // a reply acknowledges too
		}
		if p := s.cfg.Profile; p.Appeals() {
			o.rec.AppealBy = micros(p.AppealBy(s.cfg.Calendar, now))
		}
		return nil, s.addItem(ctx, tx, a, o, "reply", textItem{Body: body}, now)
	})
}

// Close ends a replied memo's case.
func (s *Service) Close(ctx context.Context, a *Actor, memoID string) (*Memo, error) {
	return s.officeStep(ctx, a, memoID, channel.ActClose, func(tx store.Tx, o *opened, now time.Time) (map[string]any, error) {
		o.rec.EndedAt = micros(now)
		return nil, nil
	})
}

// Withdraw lets the drafters take a memo back before the reply.
func (s *Service) Withdraw(ctx context.Context, a *Actor, memoID, reason string) (*Memo, error) {
	if err := channel.ValidateText("reason", reason, channel.MaxReason); err != nil {
		return nil, err
	}
	var out *Memo
	err := s.memoTx(ctx, a, memoID, func(tx store.Tx, o *opened) error {
		if err := s.requireDrafter(a, o); err != nil {
			return err
		}
		next, err := channel.Transition(channel.State(o.rec.State), channel.ActWithdraw)
		if err != nil {
			return err
		}
		if err := s.requireConfirmedKeys(ctx, tx, a, "withdraw a memo"); err != nil {
			return err
		}
		now := s.now()
		o.rec.State, o.rec.UpdatedAt, o.rec.EndedAt, o.rec.DueAt = string(next), micros(now), micros(now), 0
		if err := s.addItem(ctx, tx, a, o, "withdraw", reasonItem{Reason: reason}, now); err != nil {
			return err
		}
		out, _, err = s.save(ctx, tx, a, o, authorEvent("memo.withdraw", a, o))
		return err
	})
	return out, err
}

// ReadersInput adds readers beyond the standing distribution.
type ReadersInput struct {
	Usernames []string `json:"usernames"`
	Reason    string   `json:"reason"`
}

// AddReaders extends a memo's distribution by a recorded decision of the
// office. Readers must be principals.
func (s *Service) AddReaders(ctx context.Context, a *Actor, memoID string, in ReadersInput) (*Memo, error) {
	if err := channel.ValidateUsernames("usernames", in.Usernames, false); err != nil {
		return nil, err
	}
	if err := channel.ValidateText("reason", in.Reason, channel.MaxReason); err != nil {
		return nil, err
	}
	var out *Memo
	err := s.memoTx(ctx, a, memoID, func(tx store.Tx, o *opened) error {
		if err := requireOffice(o); err != nil {
			return err
		}
		if st := channel.State(o.rec.State); !st.Delivered() || st == channel.Returned {
			return channel.Errorf(channel.ECONFLICT, "a memo that is %s cannot be distributed further", st)
		}
		if err := s.requireConfirmedKeys(ctx, tx, a, "add readers"); err != nil {
			return err
		}
		us, err := tx.UsersByUsernames(ctx, in.Usernames)
		if errors.Is(err, store.ErrNotFound) {
			return channel.Invalid("usernames", "every name must be an existing user")
		} else if err != nil {
			return err
		}
		for _, u := range us {
			if !slices.Contains(u.Roles, string(channel.RolePrincipal)) {
				return channel.Invalid("usernames", "%q is not a principal", u.Username)
			}
			if hasRole(u, channel.RoleAdmin) {
				return channel.Invalid("usernames", "%q is an administrator, and administrators must never read a memo", u.Username)
			}
			if u.Disabled || u.KeyState != keysActive {
				return channel.Invalid("usernames", "%q cannot read memos until %s", u.Username, notActive(u))
			}
			if _, err := tx.AccessFor(ctx, o.rec.ID, u.ID, o.rec.KeyVersion); err == nil {
				return channel.Invalid("usernames", "%q already reads this memo", u.Username)
			}
			if o.roster.Find(u.ID) >= 0 {
				return channel.Invalid("usernames", "%q is an author of this memo", u.Username)
			}
			// Like the distribution, a reader's keys must be confirmed as
			// a principal's (keysconfirm.go).
			if held, err := s.principalHeld(ctx, tx, u); err != nil {
				return err
			} else if held {
				return errAwaitingConfirmation("usernames", u.Username)
			}
			reason, err := sealJSON(o.keys, o.rec.KeyVersion, o.rec.ID, readerReasonField(u.ID, a.User.ID), reasonItem{Reason: in.Reason})
			if err != nil {
				return err
			}
			as, err := s.wraps(o, u.ID, u.BoxPublic, a.User.ID, reason, false)
			if err != nil {
				return err
			}
			if err := tx.PutAccess(ctx, as...); err != nil {
				return err
			}
		}
		if err := s.noticeReaders(ctx, tx, o.rec, us); err != nil {
			return err
		}
		o.rec.UpdatedAt = micros(s.now())
		ev := memberEvent("memo.distribute", a, o, channel.RoleOffice)
		ev.detail = map[string]any{"added": in.Usernames, "reason": in.Reason}
		if out, _, err = s.save(ctx, tx, a, o, ev); err != nil {
			return err
		}
		return s.accountsUnchanged(ctx, tx, us)
	})
	return out, err
}

// Comment lets the office and the memo's readers write to the office.
func (s *Service) Comment(ctx context.Context, a *Actor, memoID, body string) (*Memo, error) {
	if err := channel.ValidateText("body", body, channel.MaxComment); err != nil {
		return nil, err
	}
	var out *Memo
	err := s.memoTx(ctx, a, memoID, func(tx store.Tx, o *opened) error {
		if o.rel != relOffice && o.rel != relReader {
			return channel.Errorf(channel.EFORBIDDEN, "only the channel office and the memo's readers comment")
		}
		if err := s.requireConfirmedKeys(ctx, tx, a, "comment"); err != nil {
			return err
		}
		now := s.now()
		o.rec.UpdatedAt = micros(now)
		if err := s.addItem(ctx, tx, a, o, "comment", textItem{Body: body}, now); err != nil {
			return err
		}
		role := channel.RolePrincipal
		if o.rel == relOffice {
			role = channel.RoleOffice
		}
		var err error
		out, _, err = s.save(ctx, tx, a, o, memberEvent("memo.comment", a, o, role))
		return err
	})
	return out, err
}

// MeetingInput records a meeting of a principal with some of the authors.
type MeetingInput struct {
	HeldAt    time.Time `json:"held_at"`
	Minutes   int       `json:"minutes"`
	Principal string    `json:"principal"`
	Attendees []string  `json:"attendees"`
	Notes     string    `json:"notes"`
}

// RecordMeeting records a meeting (office only). The principal must read
// the memo and the attendees must be its authors.
func (s *Service) RecordMeeting(ctx context.Context, a *Actor, memoID string, in MeetingInput) (*Memo, error) {
	if in.HeldAt.IsZero() {
		return nil, channel.Invalid("held_at", "say when the meeting was held")
	}
	// A meeting is recorded once held, or set down when planned: not
	// further ahead than a year (a year past 9999 would not even seal).
	if in.HeldAt.After(s.now().AddDate(1, 0, 0)) {
		return nil, channel.Invalid("held_at", "a meeting is recorded when it is held or planned, at most a year ahead")
	}
	if in.Minutes < 1 || in.Minutes > 24*60 {
		return nil, channel.Invalid("minutes", "a meeting lasts 1 to 1440 minutes")
	}
	if err := channel.ValidateUsername("principal", in.Principal); err != nil {
		return nil, err
	}
	// None for an anonymous report, whose author the office cannot name
	// (checked with the memo).
	if err := channel.ValidateUsernames("attendees", in.Attendees, true); err != nil {
		return nil, err
	}
	if in.Notes != "" {
		if err := channel.ValidateText("notes", in.Notes, channel.MaxComment); err != nil {
			return nil, err
		}
	}
	var out *Memo
	err := s.memoTx(ctx, a, memoID, func(tx store.Tx, o *opened) error {
		if err := requireOffice(o); err != nil {
			return err
		}
		if !channel.State(o.rec.State).Delivered() {
			return channel.Errorf(channel.ECONFLICT, "a memo that is %s has no meetings", o.rec.State)
		}
		if err := s.requireConfirmedKeys(ctx, tx, a, "record a meeting"); err != nil {
			return err
		}
		p, err := tx.UserByUsername(ctx, in.Principal)
		if err != nil {
			return channel.Invalid("principal", "%q is not on this memo's distribution", in.Principal)
		}
		if _, err := tx.AccessFor(ctx, o.rec.ID, p.ID, o.rec.KeyVersion); err != nil {
			return channel.Invalid("principal", "%q is not on this memo's distribution", in.Principal)
		}
		switch {
		case o.roster.Anonymous && len(in.Attendees) > 0:
			return channel.Invalid("attendees", "the authors of an anonymous report are not known: a meeting about it names no attendee")
		case !o.roster.Anonymous && len(in.Attendees) == 0:
			return channel.Invalid("attendees", "name at least one person")
		}
		for _, name := range in.Attendees {
			if !slices.ContainsFunc(o.roster.Authors, func(au channel.Author) bool { return au.Username == name }) {
				return channel.Invalid("attendees", "%q is not an author of this memo", name)
			}
		}
		if micros(in.HeldAt) < o.rec.CreatedAt {
			return channel.Invalid("held_at", "the meeting was held before the memo was written")
		}
		now := s.now()
		o.rec.UpdatedAt = micros(now)
		m := meetingItem{HeldAt: in.HeldAt.UTC(), Minutes: in.Minutes, Principal: in.Principal, Attendees: in.Attendees, Notes: in.Notes}
		if err := s.addItem(ctx, tx, a, o, "meeting", m, now); err != nil {
			return err
		}
		out, _, err = s.save(ctx, tx, a, o, memberEvent("memo.meeting", a, o, channel.RoleOffice))
		return err
	})
	return out, err
}

// Items as sealed.
type (
	textItem struct {
		Body string `json:"body"`
		By   string `json:"by,omitempty"`
		From string `json:"from,omitempty"` // a message's side: fromOffice or fromAuthors
		// Box is a message's body sealed to the office and the authors
		// (message.go), in place of Body, since December 2026.
		Box []byte `json:"box,omitempty"`
	}
	reasonItem struct {
		Reason string `json:"reason"`
		By     string `json:"by,omitempty"`
	}
	meetingItem struct {
		HeldAt    time.Time `json:"held_at"`
		Minutes   int       `json:"minutes"`
		Principal string    `json:"principal"`
		Attendees []string  `json:"attendees"`
		Notes     string    `json:"notes,omitempty"`
		By        string    `json:"by,omitempty"`
	}
)

// addItem seals and stores an item; By records the actor inside the seal.
func (s *Service) addItem(ctx context.Context, tx store.Tx, a *Actor, o *opened, kind string, v any, now time.Time) error {
	if err := s.roomFor(ctx, tx, o, kind); err != nil {
		return err
	}
	by := a.User.ID
	if o.anonymousAuthor() {
		by = ""
	}
	switch it := v.(type) {
	case textItem:
		it.By = by
		v = it
	case reasonItem:
		it.By = by
		v = it
	case meetingItem:
		it.By = by
		v = it
	}
	id := newID()
	sealed, err := sealJSON(o.keys, o.rec.KeyVersion, o.rec.ID, itemField(kind, id), v)
	if err != nil {
		return err
	}
	return tx.AddItem(ctx, &store.Item{ID: id, MemoID: o.rec.ID, Kind: kind, KeyVersion: o.rec.KeyVersion, Sealed: sealed, CreatedAt: micros(now)})
}

// roomFor refuses an item of kind on o once the memo holds
// channel.MaxThread of them (s.caps.thread), or twice that when the office
// adds it: the messages and comments one side writes cannot keep the
// office from answering. Items of the lifecycle (a reply, a reason) come
// once a step and never near it.
func (s *Service) roomFor(ctx context.Context, tx store.Tx, o *opened, kind string) error {
	n, err := tx.CountItems(ctx, o.rec.ID, kind)
	if err != nil {
		return err
	}
	limit := s.caps.thread
	if o.rel == relOffice {
		limit *= 2
	}
	switch {
	case n < limit:
		return nil
	case o.rel == relOffice:
		return channel.Errorf(channel.ECONFLICT, "the memo holds %d %ss, the most a memo takes", n, kind)
	default:
		return channel.Errorf(channel.ECONFLICT, "the memo holds %d %ss, the most it takes from its authors and readers; the channel office can still write to it", n, kind)
	}
}

// RevokeReader takes a reader off a memo's distribution (office only). Their
// wraps are deleted and the memo's key is rotated: what is written from now
// on is sealed under a key they never held. What they already read, they
// may have kept; the ledger shows when they read it.
func (s *Service) RevokeReader(ctx context.Context, a *Actor, memoID, username, reason string) (*Memo, error) {
	if err := channel.ValidateUsername("username", username); err != nil {
		return nil, err
	}
	if err := channel.ValidateText("reason", reason, channel.MaxReason); err != nil {
		return nil, err
	}
	var out *Memo
	err := s.memoTx(ctx, a, memoID, func(tx store.Tx, o *opened) error {
		if err := requireOffice(o); err != nil {
			return err
		}
		if err := s.requireConfirmedKeys(ctx, tx, a, "remove a reader"); err != nil {
			return err
		}
		reads, withheldFrom := false, false
		var withheld, heldAuthors []string
		var sent []*store.User
		u, err := tx.UserByUsername(ctx, username)
		if err == nil {
			_, err := tx.AccessFor(ctx, o.rec.ID, u.ID, o.rec.KeyVersion)
			reads = err == nil
		}
		if err == nil && !reads {
			ids, err := tx.WithheldFrom(ctx, u.ID)
			if err != nil {
				return err
			}
			withheldFrom = slices.Contains(ids, o.rec.ID)
		}
		detail := map[string]any{"revoked": username, "reason": reason}
		switch {
		case reads:
			if err := tx.DeleteAccess(ctx, o.rec.ID, u.ID); err != nil {
				return err
			}
			withheld, heldAuthors, sent, err = s.rotate(ctx, tx, o)
			if err != nil {
				return err
			}
			if len(withheld) > 0 {
				detail["withheld"] = withheld
			}
		case withheldFrom:
			// Withheld while their keys await the office: the office may
			// decide now that they are not to read it after all.
			if err := tx.Unwithhold(ctx, u.ID, o.rec.ID); err != nil {
				return err
			}
		default:
			return channel.Invalid("username", "%q does not read this memo", username)
		}
		o.rec.UpdatedAt = micros(s.now())
		ev := memberEvent("memo.revoke", a, o, channel.RoleOffice)
		ev.detail = detail
		if out, _, err = s.save(ctx, tx, a, o, ev); err != nil {
			return err
		}
		// Who was passed by as awaiting the office was read before the
		// ledger's lock; a confirmation that committed since would have
		// found nothing rotated to give them.
		if err := s.stillWithheld(ctx, tx, withheld); err != nil {
			return err
		}
		if err := s.accountsUnchanged(ctx, tx, sent); err != nil {
			return err
		}
		return s.stillHeld(ctx, tx, heldAuthors)
	})
	return out, err
}

// stillHeld returns store.ErrConflict, for the transaction to run again,
// if an author whose keys a rotation found awaiting the office's
// confirmation (and so mailed nothing) is confirmed now.
func (s *Service) stillHeld(ctx context.Context, tx store.Tx, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	us, err := tx.UsersByIDs(ctx, ids)
	if err != nil {
		return err
	}
	for _, u := range us {
		if held, err := s.keysHeld(ctx, tx, u); err != nil {
			return err
		} else if !held {
			return fmt.Errorf("%w: the office confirmed an author's keys while the memo's key was rotated", store.ErrConflict)
		}
	}
	return nil
}

// rotate gives o a new key version, wrapped to the office and to every
// remaining reader that o's own ledger entries gave the memo to
// (grantedByLedger), and mailed to every author. Older versions stay, so nothing
// already written becomes unreadable to those still entitled. Readers
// whose keys await the office's confirmation are recorded as withheld
// and returned by id, for the confirmation to give them the new version;
// an author whose keys await it gets the new version at the confirmation
// too (mailRotatedKeys), with nothing recorded that names them.
func (s *Service) rotate(ctx context.Context, tx store.Tx, o *opened) (withheld, heldAuthors []string, sent []*store.User, err error) {
	key, err := vault.NewKey()
	if err != nil {
		return nil, nil, nil, err
	}
	prev := o.rec.KeyVersion
	kv := prev + 1
	o.keys[kv] = key
	o.rec.KeyVersion = kv
	access, err := tx.AccessList(ctx, o.rec.ID)
	if err != nil {
		return nil, nil, nil, err
	}
	steps, err := s.readersSteps(ctx, tx, o)
	if err != nil {
		return nil, nil, nil, err
	}
	granted := grantedByLedger(steps)
	for _, acc := range access {
		if acc.KeyVersion != prev || acc.Grantee == authorsGroup {
			continue // the authors' box is wrapped to below
		}
		box := ""
		if acc.Grantee == officeGroup {
			b, err := s.readOfficeBox(ctx, tx)
			if err != nil {
				return nil, nil, nil, err
			}
			if b == nil {
				return nil, nil, nil, errInternal("the memo is shared with the office, which has no key")
			}
			box = string(b)
		} else {
			u, err := tx.UserByID(ctx, acc.Grantee)
			if err != nil {
				return nil, nil, nil, err
			}
			// A reader reads as a principal: an account that is not one
			// now (an administrator, one that lost the role) gets no new
			// key, and one whose keys the office has not confirmed as a
			// principal's gets it at the confirmation.
			if hasRole(u, channel.RoleAdmin) || !hasRole(u, channel.RolePrincipal) {
				continue
			}
			// The access list is the database's word: a row the memo's
			// ledger entries do not grant was written by someone else.
			if !granted(u) {
				s.log.Warn("a memo's access row that its ledger entries do not grant: the new key is not wrapped to it; find who wrote the row", "memo", o.rec.ID, "grantee", u.ID)
				continue
			}
			if held, err := s.principalHeld(ctx, tx, u); err != nil {
				return nil, nil, nil, err
			} else if held {
				withheld = append(withheld, u.ID)
				continue
			}
			box = u.BoxPublic
			sent = append(sent, u)
		}
		w, err := vault.WrapKey(box, key)
		if err != nil {
			return nil, nil, nil, err
		}
		next := *acc
		next.KeyVersion, next.Wrapped = kv, w
		if err := tx.PutAccess(ctx, &next); err != nil {
			return nil, nil, nil, err
		}
	}
	if err := s.wrapToAuthors(ctx, tx, o, kv, key); err != nil {
		return nil, nil, nil, err
	}
	// The new key is mailed to the roster's authors: a reader (who holds
	// the memo's key) who wrote themself into it would keep the memo at
	// their own removal.
	var vouched map[string]string
	if !o.roster.Anonymous {
		if vouched, err = s.authorsVouched(ctx, tx, o); err != nil {
			return nil, nil, nil, err
		}
	}
	ids := make([]string, len(o.roster.Authors))
	for i, au := range o.roster.Authors {
		ids[i] = au.UserID
	}
	authors, err := tx.UsersByIDs(ctx, ids)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, u := range authors {
		if _, ok := vouched[u.ID]; vouched != nil && !ok {
			continue // the submission's entry vouches for no one: its detail is gone
		}
		if held, err := s.keysHeld(ctx, tx, u); err != nil {
			return nil, nil, nil, err
		} else if held {
			heldAuthors = append(heldAuthors, u.ID)
			continue
		}
		if err := s.postMail(ctx, tx, u, o.rec.ID, memoKeys{kv: key}); err != nil {
			return nil, nil, nil, err
		}
		sent = append(sent, u)
	}
	return withheld, heldAuthors, sent, tx.Withhold(ctx, o.rec.ID, withheld...)
}
