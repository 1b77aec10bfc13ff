package service

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/dissent-channel/dissent/internal/store"
)

// Failed sign-ins are counted in the ledger, not each written there.
//
// Every failed sign-in is an audit event (session.fail, naming no one:
// next to a memo's activity a member's would hint at who wrote it). One
// entry each would let anyone grow the ledger, and every copy and proof of
// it, at the rate the password check allows (made-up usernames each get an
// allowance of their own), for as long as they like. So a node writes the
// first failed sign-in after a calm minute at once, as before, and counts
// the rest: the next entry, written at the first failure a minute or more
// after the last entry or by the node's background work (FlushSignInFailures)
// once that minute has passed, carries how many it stands for (the leaf's
// count). A steady flood costs one entry a minute a node; the ledger still
// says how many sign-ins failed, within a minute of when. A node killed
// loses the count of its last minute at most, which its sign-in metrics
// and request log still show.

// failCalm is how long after a session.fail entry a node counts failed
// sign-ins before it writes the next.
const failCalm = time.Minute

// failTally is the count of this node's failed sign-ins not yet written.
type failTally struct {
	mu      sync.Mutex
	pending int       // failures counted since the last entry
	last    time.Time // when the last entry was taken to write
}

// fail counts a failed sign-in at now and returns how many failures an
// entry written now must stand for: this one and those counted since the
// last entry, or 0 while the calm lasts.
func (f *failTally) fail(now time.Time) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pending++
	return f.takeLocked(now, false)
}

// due returns the failures counted and not written, for an entry written
// now: all of them if all is set, else only once the calm has passed.
func (f *failTally) due(now time.Time, all bool) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.takeLocked(now, all)
}

func (f *failTally) takeLocked(now time.Time, all bool) int {
	if f.pending == 0 || !all && now.Sub(f.last) < failCalm {
		return 0
	}
	n := f.pending
	f.pending, f.last = 0, now
	return n
}

// putBack returns n failures whose entry could not be written: the next
// failure, or the next flush, writes them.
func (f *failTally) putBack(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pending += n
	f.last = time.Time{}
}

// recordFailedSignIn counts a failed sign-in, writes its audit event when
// one is due, and returns the error the caller sees.
func (s *Service) recordFailedSignIn(ctx context.Context) error {
	if err := s.writeSignInFailures(ctx, s.fails.fail(s.now())); err != nil {
		// Still a wrong password, counted as one (SignInFrom); the ledger
		// gets it with the next entry (putBack).
		return errors.Join(errBadCredentials, err)
	}
	return errBadCredentials
}

// FlushSignInFailures writes the failed sign-ins this node counted and
// did not write yet, once a minute has passed since its last entry about
// them, or at once if all is set (the node is stopping). The node's
// background work calls it on every tick.
func (s *Service) FlushSignInFailures(ctx context.Context, all bool) error {
	return s.writeSignInFailures(ctx, s.fails.due(s.now(), all))
}

// writeSignInFailures writes one session.fail entry standing for n failed
// sign-ins; none for n = 0.
func (s *Service) writeSignInFailures(ctx context.Context, n int) error {
	if n == 0 {
		return nil
	}
	err := s.inTx(ctx, true, func(tx store.Tx) error {
		return s.audit(ctx, tx, event{action: "session.fail", count: n})
	})
	if err != nil {
		s.fails.putBack(n)
	}
	return err
}
