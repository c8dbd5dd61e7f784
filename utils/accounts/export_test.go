package accounts

// OnUpdated makes f run between each change of a user and its registration
// as an admin, so a test can slip another change into that gap.
func (s *Store) OnUpdated(f func()) { s.updated = f }
