package storetest

import (
	"context"
	"testing"

	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/ledger/ledgertest"
	"github.com/dissent-channel/dissent/internal/store"
)

// testLedgerSuite runs the ledger package's own storage suite against the
// store's ledger tables, each update in one write transaction.
func testLedgerSuite(t *testing.T, open func(t *testing.T) store.Store) {
	st := open(t)
	ledgertest.TestStorage(t, func(ctx context.Context, fn func(ledger.Storage) error) error {
		tx, err := st.Begin(ctx, true)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback() }()
		if err := fn(tx.LedgerStorage("", "")); err != nil {
			return err
		}
		return tx.Commit()
	})
}
