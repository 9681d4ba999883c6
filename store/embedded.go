package store

import (
	"bufio"
	"bytes"
	"container/heap"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

const logName = "vectors.log"

// lockName is the file a writer of the store holds an flock on.
const lockName = "LOCK"

type docKey struct{ tenant, doc string }

type verKey struct {
	tenant, doc string
	version     int64
}

type stored struct {
	Chunk
	norm float32
}

// docState is one document: its stored versions and the searchable one.
type docState struct {
	versions map[int64]map[int32]*stored
	live     int64 // the searchable version, when hasLive
	hasLive  bool
}

// op is one line of the log.
type op struct {
	Op string `json:"op"` // "put", "del", "fail", "deldoc" (doc_version: up to) or "dim"
	Chunk
	Vec string `json:"vec,omitempty"` // base64 of little-endian float32s
	Dim int    `json:"dim,omitempty"` // for "dim"
}

// Embedded is the file-backed in-memory store.
type Embedded struct {
	dir      string
	readOnly bool

	mu sync.RWMutex
	// docs holds each tenant's documents.
	docs map[string]map[string]*docState
	n    int // chunks stored
	dim  int // the vectors' dimension; 0 until the first chunk
	// failed holds the document versions that failed (tombstones), each
	// with the delivery that failed.
	failed map[verKey]string
	// deleted holds, per deleted document, the newest version deleted.
	deleted map[docKey]int64
	f       *os.File
	lock    *os.File
	entries int // lines in the log
}

// newEmbedded returns an empty store of dir, not yet opened.
func newEmbedded(dir string, readOnly bool) *Embedded {
	return &Embedded{dir: dir, readOnly: readOnly, docs: map[string]map[string]*docState{},
		failed: map[verKey]string{}, deleted: map[docKey]int64{}}
}

// OpenEmbedded opens (creating if needed) the store in dir.
func OpenEmbedded(dir string, readOnly bool) (*Embedded, error) {
	s := newEmbedded(dir, readOnly)
	path := filepath.Join(dir, logName)
	if readOnly {
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("store: no index at %s (run `ragpipe index` first, or pass --store)", dir)
		}
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		defer f.Close()
		if err := s.load(f); err != nil {
			return nil, err
		}
		return s, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockName), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("store: %s is in use by another writer (%v): %w", dir, err, ErrInUse)
	}
	s.lock = lock
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := s.load(f); err != nil {
		f.Close()
		lock.Close()
		return nil, err
	}
	s.f = f
	if s.entries > 1024 && s.entries > 2*(s.n+len(s.failed)+len(s.deleted)+1) {
		if err := s.compact(); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

func (s *Embedded) load(r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			// A line without its newline is a torn write: ignore it.
			return nil
		}
		if err != nil {
			return fmt.Errorf("store: reading log: %w", err)
		}
		var o op
		if err := json.Unmarshal(bytes.TrimSpace(line), &o); err != nil {
			continue // a corrupt line loses one chunk, which a replay restores
		}
		s.entries++
		switch o.Op {
		case "dim":
			if s.dim == 0 && o.Dim > 0 {
				s.dim = o.Dim
			}
		case "put":
			raw, err := base64.StdEncoding.DecodeString(o.Vec)
			if err != nil || len(raw)%4 != 0 {
				continue
			}
			o.Chunk.Vector = make([]float32, len(raw)/4)
			for i := range o.Chunk.Vector {
				o.Chunk.Vector[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			}
			if s.dim == 0 { // a log from before "dim" lines
				s.dim = len(o.Chunk.Vector)
			}
			s.apply(o.Chunk)
		case "del":
			s.deleteVersion(o.TenantID, o.DocID, o.DocVersion)
		case "fail":
			s.deleteVersion(o.TenantID, o.DocID, o.DocVersion)
			s.failed[verKey{o.TenantID, o.DocID, o.DocVersion}] = o.Delivery
		case "deldoc":
			s.deleteDocument(o.TenantID, o.DocID, o.DocVersion)
		}
	}
}

func (s *Embedded) doc(tenant, doc string) *docState {
	return s.docs[tenant][doc]
}

// accepts tells whether a chunk would be stored: not of a failed or
// deleted version, nor older than its document's searchable version.
func (s *Embedded) accepts(c Chunk) bool {
	if s.lateFailed(c) {
		return false
	}
	if upTo, ok := s.deleted[docKey{c.TenantID, c.DocID}]; ok && c.DocVersion <= upTo {
		return false
	}
	d := s.doc(c.TenantID, c.DocID)
	return d == nil || !d.hasLive || c.DocVersion >= d.live
}

// lateFailed tells whether c is a late chunk of a failed version from
// the delivery that failed (or naming none).
func (s *Embedded) lateFailed(c Chunk) bool {
	delivery, failed := s.failed[verKey{c.TenantID, c.DocID, c.DocVersion}]
	return failed && (c.Delivery == "" || c.Delivery == delivery)
}

// revives tells whether c, a chunk of a failed version from another
// delivery than the one that failed (a replay, a fresh ingest), clears
// its tombstone.
func (s *Embedded) revives(c Chunk) bool {
	delivery, failed := s.failed[verKey{c.TenantID, c.DocID, c.DocVersion}]
	return failed && c.Delivery != "" && c.Delivery != delivery
}

// apply stores one chunk; when that completes a version newer than the
// searchable one, the version becomes searchable and older ones go. A
// replay of the log applies the same steps in the same order.
func (s *Embedded) apply(c Chunk) {
	if s.revives(c) {
		delete(s.failed, verKey{c.TenantID, c.DocID, c.DocVersion})
	}
	if !s.accepts(c) || len(c.Vector) != s.dim {
		return
	}
	var n float64
	for _, v := range c.Vector {
		n += float64(v) * float64(v)
	}
	tenant := s.docs[c.TenantID]
	if tenant == nil {
		tenant = map[string]*docState{}
		s.docs[c.TenantID] = tenant
	}
	d := tenant[c.DocID]
	if d == nil {
		d = &docState{versions: map[int64]map[int32]*stored{}}
		tenant[c.DocID] = d
	}
	chunks := d.versions[c.DocVersion]
	if chunks == nil {
		chunks = map[int32]*stored{}
		d.versions[c.DocVersion] = chunks
	}
	if _, ok := chunks[c.ChunkIndex]; !ok {
		s.n++
	}
	chunks[c.ChunkIndex] = &stored{Chunk: c, norm: float32(math.Sqrt(n))}
	if len(chunks) >= int(c.ChunkCount) && (!d.hasLive || c.DocVersion > d.live) {
		d.live, d.hasLive = c.DocVersion, true
		for v, old := range d.versions {
			if v < c.DocVersion {
				s.n -= len(old)
				delete(d.versions, v)
			}
		}
	}
}

func (s *Embedded) deleteVersion(tenant, doc string, version int64) {
	d := s.doc(tenant, doc)
	if d == nil {
		return
	}
	s.n -= len(d.versions[version])
	delete(d.versions, version)
	if d.hasLive && d.live == version {
		d.hasLive = false
	}
	if len(d.versions) == 0 && !d.hasLive {
		delete(s.docs[tenant], doc)
		if len(s.docs[tenant]) == 0 {
			delete(s.docs, tenant)
		}
	}
}

// deleteDocument removes the versions up to upTo and keeps the tombstone.
func (s *Embedded) deleteDocument(tenant, doc string, upTo int64) {
	dk := docKey{tenant, doc}
	if old, ok := s.deleted[dk]; !ok || upTo > old {
		s.deleted[dk] = upTo
	}
	if d := s.doc(tenant, doc); d != nil {
		for v := range d.versions {
			if v <= upTo {
				s.deleteVersion(tenant, doc, v)
			}
		}
		if d.hasLive && d.live <= upTo {
			s.deleteVersion(tenant, doc, d.live)
		}
	}
}

func encodeOp(w *bytes.Buffer, o op) error {
	if o.Op == "put" {
		raw := make([]byte, 4*len(o.Vector))
		for i, v := range o.Vector {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
		}
		o.Vec = base64.StdEncoding.EncodeToString(raw)
	}
	b, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("store: encoding: %w", err)
	}
	w.Write(b)
	w.WriteByte('\n')
	return nil
}

func (s *Embedded) write(ops []op) error {
	if s.readOnly {
		return errReadOnly
	}
	var buf bytes.Buffer
	for _, o := range ops {
		if err := encodeOp(&buf, o); err != nil {
			return err
		}
	}
	if _, err := s.f.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("store: writing log: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("store: syncing log: %w", err)
	}
	s.entries += len(ops)
	return nil
}

// Upsert implements Store.
func (s *Embedded) Upsert(_ context.Context, chunks []Chunk) error {
	if len(chunks) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	dim := s.dim
	ops := make([]op, 0, len(chunks)+1)
	// Failed versions that a chunk of another delivery in this call revives
	// (apply clears their tombstone): their other chunks go to apply too.
	revived := map[verKey]bool{}
	for _, c := range chunks {
		if s.revives(c) {
			revived[verKey{c.TenantID, c.DocID, c.DocVersion}] = true
		}
	}
	for _, c := range chunks {
		if dim == 0 {
			dim = len(c.Vector)
		}
		if len(c.Vector) != dim {
			return &DimensionError{Got: len(c.Vector), Want: dim, Op: "upsert"}
		}
		if s.accepts(c) || revived[verKey{c.TenantID, c.DocID, c.DocVersion}] { // apply checks again, after the chunks before it
			ops = append(ops, op{Op: "put", Chunk: c})
		}
	}
	if len(ops) == 0 {
		return nil
	}
	if s.dim == 0 {
		ops = append([]op{{Op: "dim", Dim: dim}}, ops...)
	}
	if err := s.write(ops); err != nil {
		return err
	}
	s.dim = dim
	for _, o := range ops {
		if o.Op == "put" {
			s.apply(o.Chunk)
		}
	}
	return nil
}

// Ignores reports whether Upsert would ignore c: a chunk of a failed
// version from the failed delivery (or naming none).
func (s *Embedded) Ignores(_ context.Context, c Chunk) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.lateFailed(c)
}

// DeleteVersion implements Store.
func (s *Embedded) DeleteVersion(_ context.Context, tenantID, docID string, version int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.write([]op{{Op: "del", Chunk: Chunk{TenantID: tenantID, DocID: docID, DocVersion: version}}}); err != nil {
		return err
	}
	s.deleteVersion(tenantID, docID, version)
	return nil
}

// FailVersion implements Store.
func (s *Embedded) FailVersion(_ context.Context, tenantID, docID string, version int64, delivery string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	vk := verKey{tenantID, docID, version}
	if d, done := s.failed[vk]; done && d == delivery {
		return nil
	}
	if err := s.write([]op{{Op: "fail", Chunk: Chunk{TenantID: tenantID, DocID: docID, DocVersion: version, Delivery: delivery}}}); err != nil {
		return err
	}
	s.deleteVersion(tenantID, docID, version)
	s.failed[vk] = delivery
	return nil
}

// DeleteDocument implements Store.
func (s *Embedded) DeleteDocument(_ context.Context, tenantID, docID string, upTo int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.deleted[docKey{tenantID, docID}]; ok && old >= upTo && s.doc(tenantID, docID) == nil {
		return nil
	}
	if err := s.write([]op{{Op: "deldoc", Chunk: Chunk{TenantID: tenantID, DocID: docID, DocVersion: upTo}}}); err != nil {
		return err
	}
	s.deleteDocument(tenantID, docID, upTo)
	return nil
}

// CountVersion implements Store.
func (s *Embedded) CountVersion(_ context.Context, tenantID, docID string, version int64) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.doc(tenantID, docID)
	if d == nil {
		return 0, nil
	}
	return len(d.versions[version]), nil
}

// Len implements Store.
func (s *Embedded) Len(context.Context) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.n, nil
}

// Describe implements Store.
func (s *Embedded) Describe() string { return "embedded:" + s.dir }

// Search implements Store.
func (s *Embedded) Search(ctx context.Context, tenantID string, query []float32, k int) ([]Hit, error) {
	return s.SearchWhere(ctx, tenantID, query, k, nil)
}

// SearchWhere implements Store.
func (s *Embedded) SearchWhere(ctx context.Context, tenantID string, query []float32, k int, where map[string]string) ([]Hit, error) {
	if err := checkSearch(tenantID, query, k); err != nil {
		return nil, err
	}
	var qn float64
	for _, v := range query {
		qn += float64(v) * float64(v)
	}
	qnorm := float32(math.Sqrt(qn))
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.dim != 0 && len(query) != s.dim {
		return nil, &DimensionError{Got: len(query), Want: s.dim, Op: "search"}
	}
	h := &hitHeap{}
	for _, d := range s.docs[tenantID] {
		if !d.hasLive {
			continue
		}
		for _, c := range d.versions[d.live] {
			if !matches(c.Metadata, where) {
				continue
			}
			var dot float32
			for i, v := range c.Vector {
				dot += v * query[i]
			}
			score := float32(0)
			if c.norm > 0 && qnorm > 0 {
				score = dot / (c.norm * qnorm)
			}
			if h.Len() < k {
				heap.Push(h, Hit{Chunk: c.Chunk, Score: score})
			} else if score > (*h)[0].Score {
				(*h)[0] = Hit{Chunk: c.Chunk, Score: score}
				heap.Fix(h, 0)
			}
		}
	}
	out := make([]Hit, h.Len())
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = heap.Pop(h).(Hit)
	}
	return out, ctx.Err()
}

// matches reports whether meta holds every key of where with its value.
func matches(meta, where map[string]string) bool {
	for k, v := range where {
		if got, ok := meta[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// checkSearch validates the arguments of Search common to every store.
func checkSearch(tenantID string, query []float32, k int) error {
	if tenantID == "" {
		return errors.New("store: search needs a tenant")
	}
	if k < 1 {
		return fmt.Errorf("store: k must be at least 1, got %d", k)
	}
	if len(query) == 0 {
		return errors.New("store: empty query vector")
	}
	return nil
}

// compact rewrites the log with only the live chunks.
func (s *Embedded) compact() error {
	tmp := filepath.Join(s.dir, logName+".tmp")
	var buf bytes.Buffer
	entries := 0
	if s.dim != 0 {
		if err := encodeOp(&buf, op{Op: "dim", Dim: s.dim}); err != nil {
			return err
		}
		entries++
	}
	for vk, delivery := range s.failed {
		if err := encodeOp(&buf, op{Op: "fail", Chunk: Chunk{TenantID: vk.tenant, DocID: vk.doc, DocVersion: vk.version, Delivery: delivery}}); err != nil {
			return err
		}
		entries++
	}
	for dk, upTo := range s.deleted {
		if err := encodeOp(&buf, op{Op: "deldoc", Chunk: Chunk{TenantID: dk.tenant, DocID: dk.doc, DocVersion: upTo}}); err != nil {
			return err
		}
		entries++
	}
	// Replaying the puts rebuilds the same searchable versions: a live
	// version is complete, and what else is stored is newer and incomplete.
	for _, docs := range s.docs {
		for _, d := range docs {
			for _, chunks := range d.versions {
				for _, c := range chunks {
					if err := encodeOp(&buf, op{Op: "put", Chunk: c.Chunk}); err != nil {
						return err
					}
					entries++
				}
			}
		}
	}
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("store: compacting: %w", err)
	}
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("store: compacting: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("store: compacting: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, logName)); err != nil {
		f.Close()
		return fmt.Errorf("store: compacting: %w", err)
	}
	s.f.Close()
	s.f = f
	s.entries = entries
	return nil
}

// Close implements Store.
func (s *Embedded) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	if s.f != nil {
		err = s.f.Close()
		s.f = nil
	}
	if s.lock != nil {
		s.lock.Close()
		s.lock = nil
	}
	return err
}

type hitHeap []Hit

func (h hitHeap) Len() int           { return len(h) }
func (h hitHeap) Less(i, j int) bool { return h[i].Score < h[j].Score }
func (h hitHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *hitHeap) Push(x any)        { *h = append(*h, x.(Hit)) }
func (h *hitHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
