package sqlstore

// Hooks for the external tests of group commit.

// OnGroupCommit calls f with what each committed group held: whether it
// wrote user rows and author-index rows, and how many transactions it had.
func OnGroupCommit(db *DB, f func(users, index bool, members int)) {
	db.group.onCommit = func(g *group) { f(g.kinds&writesPerson != 0, g.kinds&writesIndex != 0, g.members) }
}

// Waiting reports how many writers wait for the write connection.
func Waiting(db *DB) int {
	db.group.mu.Lock()
	defer db.group.mu.Unlock()
	return db.group.waiting
}
