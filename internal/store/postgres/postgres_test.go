package postgres_test

import (
	"testing"

	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// TestStore runs the conformance suite against PostgreSQL; see
// storetest.OpenPostgres for which server, and when a missing one is skipped.
func TestStore(t *testing.T) {
	// Skip (or, in CI, fail) once rather than in every subtest when the
	// server is down.
	storetest.OpenPostgres(t)
	storetest.Run(t, func(t *testing.T) store.Store { return storetest.OpenPostgres(t) })
}

// TestNodes runs the concurrency tests with two app nodes on one database.
func TestNodes(t *testing.T) {
	storetest.OpenPostgres(t)
	storetest.RunNodes(t, func(t *testing.T) []store.Store { return storetest.OpenPostgresNodes(t, 2) })
}
