package service

// CommitStats reports how many write transactions the store has committed,
// and in how many database commits (one fsync each), when the store groups
// commits (SQLite); ok is false for a store that does not.
func (s *Service) CommitStats() (commits, syncs int64, ok bool) {
	c, ok := s.store.(interface {
		CommitStats() (commits, syncs int64, ok bool)
	})
	if !ok {
		return 0, 0, false
	}
	return c.CommitStats()
}
