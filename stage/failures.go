package stage

import (
	"sync"
)

// Failures remembers the document versions that failed in this worker, so
// that the remaining chunks of a failed version are skipped instead of
// being embedded and indexed in vain. It holds at most its capacity,
// forgetting the oldest first; a forgotten version only costs wasted work,
// because the index stage removes a failed version on its DocumentFailed.
type Failures struct {
	mu    sync.Mutex
	cap   int
	set   map[versionKey]struct{}
	order []versionKey
}

type versionKey struct {
	tenant, doc string
	version     int64
}

// NewFailures returns a tracker holding up to capacity versions (default
// 100,000 when capacity < 1).
func NewFailures(capacity int) *Failures {
	if capacity < 1 {
		capacity = 100_000
	}
	return &Failures{cap: capacity, set: map[versionKey]struct{}{}}
}

// Add records a failed version.
func (f *Failures) Add(tenant, doc string, version int64) {
	k := versionKey{tenant, doc, version}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.set[k]; ok {
		return
	}
	if len(f.order) >= f.cap {
		delete(f.set, f.order[0])
		f.order = f.order[1:]
	}
	f.set[k] = struct{}{}
	f.order = append(f.order, k)
}

// Has reports whether the version failed.
func (f *Failures) Has(tenant, doc string, version int64) bool {
	if f == nil {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.set[versionKey{tenant, doc, version}]
	return ok
}
