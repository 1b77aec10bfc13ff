package ledger

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by this package wraps one of them,
// so callers (the service, the API's error table) can branch with errors.Is
// without parsing messages.
var (
	// ErrBadLeaf reports a leaf that is not the one canonical encoding of a valid Leaf.
	ErrBadLeaf = errors.New("ledger: malformed leaf")
	// ErrTampered reports stored or exported data that disagrees with itself or with
	// a signed checkpoint. Use errors.As with *TamperError to learn the leaf index.
	ErrTampered = errors.New("ledger: tampered")
	// ErrBadCheckpoint reports a checkpoint that is malformed, unsigned by the
	// ledger key, signed by a wrong key, or that does not match the ledger.
	ErrBadCheckpoint = errors.New("ledger: bad checkpoint")
	// ErrBadProof reports an inclusion or consistency proof that does not verify.
	ErrBadProof = errors.New("ledger: proof does not verify")
	// ErrRange reports an index or tree size outside the ledger.
	ErrRange = errors.New("ledger: index or size out of range")
	// ErrConflict reports an append that lost a race for the next index: the
	// storage's size moved between LockedSize and WriteLeaf, which a correct
	// transactional store prevents with its append lock.
	ErrConflict = errors.New("ledger: concurrent append")
)

// TamperError says where tampering was found. It matches ErrTampered with errors.Is.
type TamperError struct {
	// Index is the first leaf found bad, or -1 when the evidence names no single
	// leaf (for example a root that differs from the checkpoint's while every
	// stored hash agrees with the leaves: a wholesale rewrite).
	Index int64
	// Reason says what disagreed.
	Reason string
}

// Error says where and what.
func (e *TamperError) Error() string {
	if e.Index < 0 {
		return "ledger: tampered: " + e.Reason
	}
	return fmt.Sprintf("ledger: tampered at leaf %d: %s", e.Index, e.Reason)
}

// Unwrap lets errors.Is(err, ErrTampered) match.
func (e *TamperError) Unwrap() error { return ErrTampered }

func tampered(index int64, format string, args ...any) error {
	return &TamperError{Index: index, Reason: fmt.Sprintf(format, args...)}
}
