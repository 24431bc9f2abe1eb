package cpu

import "sync"

// chanLock is a mutex for merging per-goroutine partial sums.
type chanLock struct{ m sync.Mutex }

func (l *chanLock) lock()   { l.m.Lock() }
func (l *chanLock) unlock() { l.m.Unlock() }
