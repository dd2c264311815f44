package tickets

import "time"

// SetClock replaces a signer's clock, for tests.
func SetClock(s *Signer, now func() time.Time) {
	s.mu.Lock()
	s.now = now
	s.mu.Unlock()
}
