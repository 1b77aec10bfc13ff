package store_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/dissent-channel/dissent/internal/store"
)

// sqlState is an error that carries a SQLSTATE, as PostgreSQL's do.
type sqlState string

func (s sqlState) Error() string    { return "ERROR: (SQLSTATE " + string(s) + ")" }
func (s sqlState) SQLState() string { return string(s) }

func TestRetryable(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{store.ErrConflict, true},
		{fmt.Errorf("sqlstore: %w", store.ErrConflict), true},
		{fmt.Errorf("ledger: append: sqlstore: %w", sqlState("40P01")), true}, // deadlock
		{fmt.Errorf("sqlstore: %w", sqlState("40001")), true},                 // serialization failure
		{fmt.Errorf("sqlstore: %w", sqlState("23503")), false},                // a foreign key
		{fmt.Errorf("sqlstore: %v", sqlState("40P01")), false},                // the cause dropped: not ours to guess
		{store.ErrNotFound, false},
		{errors.New("disk full"), false},
		{nil, false},
	} {
		if got := store.Retryable(c.err); got != c.want {
			t.Errorf("Retryable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
