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

type docKey struct{ tenant, doc string }

type verKey struct {
	docKey
	version int64
}

type stored struct {
	Chunk
	norm float32
}

// op is one line of the log.
type op struct {
	Op string `json:"op"` // "put" or "del"
	Chunk
	Vec string `json:"vec,omitempty"` // base64 of little-endian float32s
}

// Embedded is the file-backed in-memory store.
type Embedded struct {
	dir      string
	readOnly bool

	mu sync.RWMutex
	// docs holds each document's versions, each a map of its chunks.
	docs map[docKey]map[int64]map[int32]*stored
	live int // chunks stored
	// failed holds the document versions that failed (tombstones), each
	// with the delivery that failed.
	failed  map[verKey]string
	f       *os.File
	lock    *os.File
	entries int // lines in the log
}

// OpenEmbedded opens (creating if needed) the store in dir.
func OpenEmbedded(dir string, readOnly bool) (*Embedded, error) {
	s := &Embedded{dir: dir, readOnly: readOnly, docs: map[docKey]map[int64]map[int32]*stored{}, failed: map[verKey]string{}}
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
	lock, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("store: %s is in use by another writer: %w", dir, err)
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
	if s.entries > 1024 && s.entries > 2*(s.live+len(s.failed)) {
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
		case "put":
			raw, err := base64.StdEncoding.DecodeString(o.Vec)
			if err != nil || len(raw)%4 != 0 {
				continue
			}
			o.Chunk.Vector = make([]float32, len(raw)/4)
			for i := range o.Chunk.Vector {
				o.Chunk.Vector[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			}
			s.apply(o.Chunk)
		case "del":
			s.deleteVersion(o.TenantID, o.DocID, o.DocVersion)
		case "fail":
			s.deleteVersion(o.TenantID, o.DocID, o.DocVersion)
			s.failed[verKey{docKey{o.TenantID, o.DocID}, o.DocVersion}] = o.Delivery
		}
	}
}

func (s *Embedded) apply(c Chunk) {
	vk := verKey{docKey{c.TenantID, c.DocID}, c.DocVersion}
	if delivery, failed := s.failed[vk]; failed {
		if c.Delivery == "" || c.Delivery == delivery {
			return // a late chunk of the failed delivery
		}
		delete(s.failed, vk) // another delivery (a replay, a fresh ingest)
	}
	var n float64
	for _, v := range c.Vector {
		n += float64(v) * float64(v)
	}
	dk := docKey{c.TenantID, c.DocID}
	versions := s.docs[dk]
	if versions == nil {
		versions = map[int64]map[int32]*stored{}
		s.docs[dk] = versions
	}
	chunks := versions[c.DocVersion]
	if chunks == nil {
		chunks = map[int32]*stored{}
		versions[c.DocVersion] = chunks
	}
	if _, ok := chunks[c.ChunkIndex]; !ok {
		s.live++
	}
	chunks[c.ChunkIndex] = &stored{Chunk: c, norm: float32(math.Sqrt(n))}
}

func (s *Embedded) deleteVersion(tenant, doc string, version int64) {
	dk := docKey{tenant, doc}
	s.live -= len(s.docs[dk][version])
	delete(s.docs[dk], version)
	if len(s.docs[dk]) == 0 {
		delete(s.docs, dk)
	}
}

// newest returns the chunks of a document's newest version.
func newest(versions map[int64]map[int32]*stored) map[int32]*stored {
	var (
		best  int64
		found bool
	)
	for v := range versions {
		if !found || v > best {
			best, found = v, true
		}
	}
	return versions[best]
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
		return errors.New("store: opened read-only")
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
	ops := make([]op, len(chunks))
	for i, c := range chunks {
		ops[i] = op{Op: "put", Chunk: c}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.write(ops); err != nil {
		return err
	}
	for _, c := range chunks {
		s.apply(c)
	}
	return nil
}

// Ignores reports whether Upsert would ignore c: a chunk of a failed
// version from the failed delivery (or naming none).
func (s *Embedded) Ignores(c Chunk) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	delivery, failed := s.failed[verKey{docKey{c.TenantID, c.DocID}, c.DocVersion}]
	return failed && (c.Delivery == "" || c.Delivery == delivery)
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
	vk := verKey{docKey{tenantID, docID}, version}
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

// CountVersion implements Store.
func (s *Embedded) CountVersion(_ context.Context, tenantID, docID string, version int64) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.docs[docKey{tenantID, docID}][version]), nil
}

// Len implements Store.
func (s *Embedded) Len(context.Context) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.live, nil
}

// Describe implements Store.
func (s *Embedded) Describe() string { return "embedded:" + s.dir }

// Search implements Store.
func (s *Embedded) Search(ctx context.Context, tenantID string, query []float32, k int) ([]Hit, error) {
	if k < 1 {
		return nil, fmt.Errorf("store: k must be at least 1, got %d", k)
	}
	var qn float64
	for _, v := range query {
		qn += float64(v) * float64(v)
	}
	qnorm := float32(math.Sqrt(qn))
	s.mu.RLock()
	defer s.mu.RUnlock()
	h := &hitHeap{}
	for dk, versions := range s.docs {
		if dk.tenant != tenantID {
			continue
		}
		for _, c := range newest(versions) {
			if len(c.Vector) != len(query) {
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

// compact rewrites the log with only the live chunks.
func (s *Embedded) compact() error {
	tmp := filepath.Join(s.dir, logName+".tmp")
	var buf bytes.Buffer
	for vk, delivery := range s.failed {
		if err := encodeOp(&buf, op{Op: "fail", Chunk: Chunk{TenantID: vk.tenant, DocID: vk.doc, DocVersion: vk.version, Delivery: delivery}}); err != nil {
			return err
		}
	}
	for _, versions := range s.docs {
		for _, chunks := range versions {
			for _, c := range chunks {
				if err := encodeOp(&buf, op{Op: "put", Chunk: c.Chunk}); err != nil {
					return err
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
	s.entries = s.live + len(s.failed)
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
