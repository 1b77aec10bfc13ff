package sqlstore

// Hooks for the external tests of group commit.

// OnGroupCommit calls f with what each committed group was: a group of its
// own for a transaction begun by BeginIndex (alone), and how many
// transactions it had.
func OnGroupCommit(db *DB, f func(alone bool, members int)) {
	db.group.onCommit = func(g *group) { f(g.alone, g.members) }
}

// Waiting reports how many writers wait for the write connection.
func Waiting(db *DB) int {
	db.group.mu.Lock()
	defer db.group.mu.Unlock()
	return db.group.waiting
}
