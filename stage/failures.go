package stage

import (
	"sync"
)

// Failures remembers the document versions that failed in this worker, so
// that the remaining chunks of a failed version are skipped instead of
// being embedded and indexed in vain. It holds at most its capacity,
// forgetting the oldest first; a forgotten version only costs wasted work,
// because the index stage removes a failed version on its DocumentFailed.
//
// A failure is remembered per delivery (event.Delivery: the replay id of a
// replayed record, else the ingest run id): a replay or a fresh ingest of
// a failed version is a new delivery and is processed again.
type Failures struct {
	mu    sync.Mutex
	cap   int
	set   map[versionKey]struct{}
	order []versionKey
}

type versionKey struct {
	tenant, doc string
	version     int64
	delivery    string
}

// NewFailures returns a tracker holding up to capacity versions (default
// 100,000 when capacity < 1).
func NewFailures(capacity int) *Failures {
	if capacity < 1 {
		capacity = 100_000
	}
	return &Failures{cap: capacity, set: map[versionKey]struct{}{}}
}

// Add records a failed version of one delivery.
func (f *Failures) Add(tenant, doc string, version int64, delivery string) {
	k := versionKey{tenant, doc, version, delivery}
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

// Has reports whether the version failed in the same delivery.
func (f *Failures) Has(tenant, doc string, version int64, delivery string) bool {
	if f == nil {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.set[versionKey{tenant, doc, version, delivery}]
	return ok
}
