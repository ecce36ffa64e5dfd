package bolt

// countReads adds n records read to Options.ReadCounter, when one is set.
func (s *Store) countReads(n int) {
	if s.reads != nil {
		s.reads.Add(int64(n))
	}
}
