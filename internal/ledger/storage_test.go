package ledger_test

import (
	"context"
	"testing"

	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/ledger/ledgertest"
)

func TestMemStorageConformance(t *testing.T) {
	s := new(ledger.MemStorage)
	ledgertest.TestStorage(t, func(ctx context.Context, fn func(ledger.Storage) error) error {
		return s.Update(ctx, fn)
	})
}
